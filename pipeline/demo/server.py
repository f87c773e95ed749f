"""The bundled demo news web: four fictional outlets served from one loopback HTTP server.

Usage from code (tests, ``make run``)::

    from pipeline.demo.server import DemoSite
    with DemoSite(host="127.0.0.1", port=0) as site:   # port 0 = pick a free port
        site.base_url                                  # "http://127.0.0.1:54321"

By hand: ``python -m pipeline.demo.server --port 8765`` (prints the base URL, runs until
Ctrl-C / SIGTERM).

Everything is rendered at request time against the server's own base URL, so absolute links in
feeds, sitemaps and pages always point back at this server. The site map:

========================================  ==============================================
``/robots.txt``                           disallows ``/courier/private/`` and ``/search``
``/sitemap_index.xml``                    -> Coastline news sitemap + gzip archive sitemap
``/harbor/rss.xml``                       RSS 2.0 (item links carry utm params)
``/harbor/YYYY/MM/DD/<slug>.html``        JSON-LD NewsArticle + OpenGraph
``/harbor/amp/YYYY/MM/DD/<slug>.html``    AMP variant of one article
``/ledger/atom.xml``                      Atom 1.0
``/ledger/<section>/YYYY/MM/DD/<slug>``   OpenGraph only
``/coastline/sitemap-news.xml``           Google-News sitemap
``/coastline/sitemap-archive.xml.gz``     gzip urlset
``/coastline/news/<slug>-<id>``           JSON-LD only
``/courier/stories/<id>/<slug>``          no structured metadata at all
``/courier/section/region``               a section index (not an article)
========================================  ==============================================
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import html
import json
import signal
import socket
import string
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

from pipeline.demo.catalog import (
    OUTLET_PREFIXES,
    ROBOTS_DISALLOW,
    SECTION_INDEX_PATH,
    PageRecord,
    load_records,
)

__all__ = ["DemoSite", "main"]

HTML_TYPE = "text/html; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
XML_TYPE = "application/xml; charset=utf-8"
GZIP_TYPE = "application/gzip"
TEXT_TYPE = "text/plain; charset=utf-8"

OUTLET_NAMES = {
    "harbor-times": "The Harbor Times",
    "northgate-ledger": "Northgate Ledger",
    "coastline-post": "Coastline Post",
    "valley-courier": "Valley Courier",
}

# A 1x1 transparent GIF, served for every /static/img/*.gif
_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@dataclass(frozen=True)
class Response:
    body: bytes
    content_type: str
    last_modified: datetime | None = None
    status: int = 200

    @functools.cached_property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:20] + '"'


# --------------------------------------------------------------------------------------------
# small helpers


def _esc(text: str) -> str:
    """Escape for an HTML text node (keeps quotes and apostrophes as typed)."""
    return html.escape(text, quote=False)


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _xml(text: str) -> str:
    return html.escape(text, quote=True)


def _q(text: str) -> str:
    return quote(text, safe="")


def _slug(text: str) -> str:
    out = "".join(ch if ch.isalnum() else "-" for ch in text.lower())
    return "-".join(part for part in out.split("-") if part)


def _jsonld(data: Any) -> str:
    payload = json.dumps(data, ensure_ascii=False, indent=2).replace("</", "<\\/")
    return f'<script type="application/ld+json">\n{payload}\n</script>'


def _z(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _excerpt(text: str, words: int = 30) -> str:
    parts = text.split()
    return text if len(parts) <= words else " ".join(parts[:words]) + "…"


def _description(rec: PageRecord) -> str:
    return rec.dek or _excerpt(rec.article.paragraphs[0])


@functools.cache
def _template(name: str) -> string.Template:
    folder = resources.files("pipeline.demo") / "content" / "templates"
    return string.Template((folder / name).read_text(encoding="utf-8"))


def _records_for(outlet: str) -> list[PageRecord]:
    return [r for r in load_records() if r.article.outlet == outlet]


def _newest_first(records: Iterable[PageRecord]) -> list[PageRecord]:
    return sorted(records, key=lambda r: (r.article.published_at, r.article.path), reverse=True)


def _visible(records: Iterable[PageRecord]) -> list[PageRecord]:
    return [r for r in records if not r.article.robots_disallowed]


def _others(rec: PageRecord, count: int, *, offset: int = 0) -> list[PageRecord]:
    """Deterministic pick of other articles of the same outlet (for related/most-read lists)."""
    pool = [
        r
        for r in _visible(_records_for(rec.article.outlet))
        if r.article.path != rec.article.path and r.article.title != rec.article.title
    ]
    pool.sort(key=lambda r: hashlib.md5((r.article.path + str(offset)).encode()).hexdigest())
    picked: list[PageRecord] = []
    for r in pool:  # one entry per headline (the Ledger cross-post has two URLs)
        if all(p.article.title != r.article.title for p in picked):
            picked.append(r)
    return picked[:count]


def _harbor_time(dt: datetime) -> str:
    hour = dt.hour % 12 or 12
    suffix = "a.m." if dt.hour < 12 else "p.m."
    return f"{dt:%B} {dt.day}, {dt.year} at {hour}:{dt:%M} {suffix} EST"


def _ledger_time(dt: datetime) -> str:
    return f"{dt:%a} {dt.day} {dt:%b} {dt.year} {dt:%H.%M} CET"


def _coastline_time(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return f"{dt.day} {dt:%B} {dt.year}, {dt:%H:%M} UTC"


def _courier_time(dt: datetime) -> str:
    return f"{dt:%d.%m.%Y}, {dt:%H:%M}"


# --------------------------------------------------------------------------------------------
# article pages, one renderer per outlet


def _common(rec: PageRecord, base: str) -> dict[str, str]:
    a = rec.article
    url = base + a.path
    return {
        "base": base,
        "url": url,
        "url_q": _q(url),
        "title_q": _q(a.title),
        "headline": _esc(a.title),
        "section": _esc(rec.section),
        "section_slug": _slug(rec.section),
        "story_id": hashlib.md5(a.path.encode()).hexdigest()[:8],
        "published_iso": a.published_at.isoformat(),
        "comment_count": str(len(rec.comments)),
        "body_class": "",
    }


def _page(outlet_key: str, values: dict[str, str]) -> bytes:
    return _template(f"{outlet_key}-page.html").substitute(values).encode("utf-8")


def _render_harbor(rec: PageRecord, base: str) -> bytes:
    a = rec.article
    v = _common(rec, base)
    canonical = base + a.path
    body: list[str] = []
    related = _others(rec, 3)
    for i, para in enumerate(a.paragraphs, start=1):
        body.append(f"      <p>{_esc(para)}</p>")
        if i == 2:
            body.append(
                '      <div class="ad-slot ad-slot--inline" data-ad-unit="ht_inline_300x250">'
                '<span class="ad-slot__label">Advertisement</span></div>'
            )
        if i == 3 and len(a.paragraphs) >= 5 and related:
            r = related[0].article
            body.append(
                '      <aside class="inline-related"><strong>Read more:</strong> '
                f'<a href="{base}{r.path}">{_esc(r.title)}</a></aside>'
            )
    byline = " and ".join(
        f'<a class="byline__author" href="{base}/harbor/staff/{_slug(n)}">{_esc(n)}</a>'
        for n in a.authors
    )
    agency = ""
    if rec.agency and rec.agency not in a.authors:
        agency = f'<span class="byline__agency">, {_esc(rec.agency)}</span>'
    updated = ""
    if rec.modified_at:
        updated = (
            ' <span class="byline-block__updated">| Updated '
            f'<time datetime="{rec.modified_at.isoformat()}">'
            f"{_harbor_time(rec.modified_at)}</time></span>"
        )
    figure = ""
    image_url = None
    if rec.image:
        image_url = f"{base}/static/img/{rec.image.src}"
        figure = (
            '<figure class="lead-art">'
            f'<img src="{image_url}" alt="{_attr(rec.image.alt)}" width="1200" height="800" '
            'loading="eager">'
            f'<figcaption><span class="lead-art__caption">{_esc(rec.image.caption)}</span> '
            f'<span class="lead-art__credit">{_esc(rec.image.credit)}</span></figcaption>'
            "</figure>"
        )
    if rec.comments:
        comments = "\n".join(
            f'  <div class="comment"><p class="comment__meta"><strong>{_esc(c.author)}</strong>'
            f" &middot; {_esc(c.posted)}</p>"
            f'<div class="comment__text">{_esc(c.text)}</div></div>'
            for c in rec.comments
        )
    else:
        comments = '  <p class="comments__empty">No comments yet. Be the first to comment.</p>'
    jsonld: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": canonical},
        "headline": a.title,
        "description": _description(rec),
        "datePublished": a.published_at.isoformat(),
        "dateModified": rec.last_modified.isoformat(),
        "author": [{"@type": "Person", "name": n} for n in a.authors],
        "publisher": {
            "@type": "NewsMediaOrganization",
            "name": "The Harbor Times",
            "logo": {"@type": "ImageObject", "url": f"{base}/static/img/harbor-logo.gif"},
        },
        "articleSection": rec.section,
        "inLanguage": "en-US",
        "isAccessibleForFree": True,
        # Truncated, as many real sites do: only the first two paragraphs.
        "articleBody": "\n\n".join(a.paragraphs[:2]),
    }
    if image_url:
        jsonld["image"] = [image_url]
    head = [
        f'<link rel="canonical" href="{canonical}">',
        f'<meta name="description" content="{_attr(_description(rec))}">',
        '<meta property="og:type" content="article">',
        '<meta property="og:site_name" content="The Harbor Times">',
        f'<meta property="og:title" content="{_attr(a.title)}">',
        f'<meta property="og:description" content="{_attr(_description(rec))}">',
        f'<meta property="og:url" content="{canonical}">',
        f'<meta property="article:published_time" content="{a.published_at.isoformat()}">',
        f'<meta property="article:modified_time" content="{rec.last_modified.isoformat()}">',
        f'<meta property="article:section" content="{_attr(rec.section)}">',
        '<meta name="twitter:card" content="summary_large_image">',
    ]
    if image_url:
        head.append(f'<meta property="og:image" content="{image_url}">')
    if rec.amp_path:
        head.append(f'<link rel="amphtml" href="{base}{rec.amp_path}">')
    head.append(_jsonld(jsonld))
    v.update(
        page_title=_esc(f"{a.title} | The Harbor Times"),
        head_meta="\n".join(head),
        body_class="ht--article",
        dek=f'<p class="story-header__dek">{_esc(rec.dek)}</p>' if rec.dek else "",
        byline=byline,
        agency=agency,
        published_human=_harbor_time(a.published_at),
        updated=updated,
        figure=figure,
        body="\n".join(body),
        most_read=_list_items(base, _others(rec, 5, offset=1), "most-read__item"),
        related=_list_items(base, related, "related-stories__item"),
        comments=comments,
    )
    v["main"] = _template("harbor-article.html").substitute(v)
    return _page("harbor", v)


def _render_harbor_amp(rec: PageRecord, base: str) -> bytes:
    a = rec.article
    v = _common(rec, base)
    canonical = base + a.path
    figure = ""
    if rec.image:
        figure = (
            f'<figure><amp-img src="{base}/static/img/{rec.image.src}" width="1200" '
            f'height="800" layout="responsive" alt="{_attr(rec.image.alt)}"></amp-img>'
            f"<figcaption>{_esc(rec.image.caption)} {_esc(rec.image.credit)}</figcaption>"
            "</figure>"
        )
    jsonld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": canonical,
        "headline": a.title,
        "datePublished": a.published_at.isoformat(),
        "dateModified": rec.last_modified.isoformat(),
        "author": [{"@type": "Person", "name": n} for n in a.authors],
        "publisher": {"@type": "NewsMediaOrganization", "name": "The Harbor Times"},
    }
    v.update(
        page_title=_esc(f"{a.title} | The Harbor Times"),
        canonical_url=canonical,
        jsonld=_jsonld(jsonld),
        byline=_esc(" and ".join(a.authors)),
        published_human=_harbor_time(a.published_at),
        figure=figure,
        body="\n".join(f"    <p>{_esc(p)}</p>" for p in a.paragraphs),
    )
    return _template("harbor-amp.html").substitute(v).encode("utf-8")


def _render_ledger(rec: PageRecord, base: str) -> bytes:
    a = rec.article
    v = _common(rec, base)
    canonical = base + a.path
    related = _others(rec, 4)
    body: list[str] = []
    for i, para in enumerate(a.paragraphs, start=1):
        body.append(f"      <p>{_esc(para)}</p>")
        if i == 2 and related:
            r = related[0].article
            body.append(
                '      <aside class="lg-rich-link" data-component="rich-link">'
                f'<a href="{base}{r.path}"><span class="lg-rich-link__kicker">Related:</span> '
                f"{_esc(r.title)}</a></aside>"
            )
        if i == 4 and len(a.paragraphs) > 4:
            body.append(
                '      <div class="lg-ad lg-ad--inline" data-slot-name="inline1" '
                'aria-hidden="true"></div>'
            )
    byline = ", ".join(
        f'<a rel="author" class="lg-contributor" href="{base}/ledger/profile/{_slug(n)}">'
        f"{_esc(n)}</a>"
        for n in a.authors
    )
    agency = ""
    if rec.agency and rec.agency not in a.authors:
        agency = f'<div class="lg-meta__agency">with {_esc(rec.agency)}</div>'
    dateline = _ledger_time(a.published_at)
    if rec.modified_at:
        dateline += (
            ' <span class="lg-meta__modified">Last modified on '
            f"{_ledger_time(rec.modified_at)}</span>"
        )
    figure = ""
    image_url = None
    if rec.image:
        image_url = f"{base}/static/img/{rec.image.src}"
        figure = (
            '<figure class="lg-figure"><picture>'
            f'<img class="lg-figure__img" src="{image_url}" alt="{_attr(rec.image.alt)}" '
            'width="940" height="564"></picture>'
            f'<figcaption class="lg-caption">{_esc(rec.image.caption)} '
            f'<span class="lg-credit">{_esc(rec.image.credit)}</span></figcaption></figure>'
        )
    head = [
        f'<link rel="canonical" href="{canonical}">',
        f'<meta name="description" content="{_attr(_description(rec))}">',
        '<meta property="og:type" content="article">',
        '<meta property="og:site_name" content="Northgate Ledger">',
        f'<meta property="og:title" content="{_attr(a.title)}">',
        f'<meta property="og:url" content="{canonical}">',
        f'<meta property="og:description" content="{_attr(_description(rec))}">',
        f'<meta property="article:published_time" content="{a.published_at.isoformat()}">',
        f'<meta property="article:modified_time" content="{rec.last_modified.isoformat()}">',
        f'<meta property="article:section" content="{_attr(rec.section)}">',
    ]
    head += [f'<meta property="article:author" content="{_attr(n)}">' for n in a.authors]
    if image_url:
        head.append(f'<meta property="og:image" content="{image_url}">')
    cards = "\n".join(
        f'    <div class="lg-card"><a class="lg-card__link" href="{base}{r.article.path}">'
        f'<span class="lg-card__kicker">{_esc(r.section)}</span> '
        f'<span class="lg-card__headline">{_esc(r.article.title)}</span></a>'
        f'<time class="lg-card__age" datetime="{r.article.published_at.isoformat()}">'
        f"{r.article.published_at:%d %b}</time></div>"
        for r in related[1:]
    )
    v.update(
        page_title=_esc(f"{a.title} | {rec.section} | Northgate Ledger"),
        head_meta="\n".join(head),
        body_class="lg-body--article",
        today=f"{a.published_at:%A} {a.published_at.day} {a.published_at:%B %Y}",
        standfirst=(f'<div class="lg-standfirst"><p>{_esc(rec.dek)}</p></div>' if rec.dek else ""),
        figure=figure,
        byline=byline,
        agency=agency,
        published_human=dateline,
        body="\n".join(body),
        most_read=_list_items(base, _others(rec, 5, offset=1), "lg-mostread__item"),
        related=cards,
    )
    v["main"] = _template("ledger-article.html").substitute(v)
    return _page("ledger", v)


def _render_coastline(rec: PageRecord, base: str) -> bytes:
    a = rec.article
    v = _common(rec, base)
    canonical = base + a.path
    body: list[str] = []
    for i, para in enumerate(a.paragraphs, start=1):
        body.append(f'<p class="Paragraph_root__d2Sx1">{_esc(para)}</p>')
        if i == 3:
            if rec.section == "World":
                plug = (
                    "<strong>World Briefing:</strong> <span>the stories shaping the world, "
                    "explained in five minutes every weekday morning.</span>"
                )
            else:
                plug = (
                    "<strong>Tide Times:</strong> <span>the news, weather and tides from "
                    "along the Saltcoast, free in your inbox every morning.</span>"
                )
            body.append(
                '<aside class="InlineNewsletter_root__b8Lp2" data-component="newsletter-inline">'
                f'{plug} <a class="Button_root__2hK0c" href="{base}/coastline/newsletters">'
                "Sign up</a></aside>"
            )
    names = ", ".join(
        f'<a class="ArticleMeta_author__Gm1bL" href="{base}/coastline/authors/{_slug(n)}">'
        f"{_esc(n)}</a>"
        for n in a.authors
    )
    byline = f"By {names}"
    agency = ""
    if rec.agency and rec.agency not in a.authors:
        agency = f'<div class="ArticleMeta_agency__sP9qe">{_esc(rec.agency)}</div>'
    figure = ""
    image_url = None
    if rec.image:
        image_url = f"{base}/static/img/{rec.image.src}"
        figure = (
            '<figure class="ArticleImage_root__Lq3sE">'
            f'<img src="{image_url}" alt="{_attr(rec.image.alt)}" width="1024" height="576" '
            'decoding="async"/>'
            f'<figcaption class="ArticleImage_caption__xN1vP"><span>{_esc(rec.image.caption)}'
            f'</span> <span class="ArticleImage_credit__Uw5bD">{_esc(rec.image.credit)}</span>'
            "</figcaption></figure>"
        )
    if rec.comments:
        comments = "\n".join(
            f'<div class="Comment_root__q2Ze9"><span class="Comment_author__Tk4pL">'
            f'{_esc(c.author)}</span> <span class="Comment_age__e0Ghs">{_esc(c.posted)}</span>'
            f'<div class="Comment_text__hY8wA">{_esc(c.text)}</div></div>'
            for c in rec.comments
        )
    else:
        comments = '<div class="Comments_empty__r5Kd1">Comments are closed on this article.</div>'
    article_ld: dict[str, Any] = {
        "@type": "NewsArticle",
        "@id": canonical + "#article",
        "url": canonical,
        "headline": a.title,
        "datePublished": _z(a.published_at),
        "dateModified": _z(rec.last_modified),
        "author": [
            {"@type": "Organization" if n == rec.agency else "Person", "name": n} for n in a.authors
        ],
        "publisher": {"@id": base + "/coastline/#publisher"},
        "articleSection": rec.section,
        "description": _description(rec),
        "articleBody": "\n\n".join(a.paragraphs),
        "inLanguage": "en-GB",
    }
    if image_url:
        article_ld["image"] = {"@type": "ImageObject", "url": image_url}
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {
                "@type": "NewsMediaOrganization",
                "@id": base + "/coastline/#publisher",
                "name": "Coastline Post",
                "url": base + "/coastline/",
            },
            {
                "@type": "BreadcrumbList",
                "itemListElement": [
                    {
                        "@type": "ListItem",
                        "position": 1,
                        "name": "Home",
                        "item": base + "/coastline/",
                    },
                    {"@type": "ListItem", "position": 2, "name": rec.section},
                ],
            },
            article_ld,
        ],
    }
    head = [
        f'<link rel="canonical" href="{canonical}"/>',
        f'<meta name="description" content="{_attr(_description(rec))}"/>',
        '<meta name="robots" content="max-image-preview:large"/>',
        _jsonld(graph),
    ]
    related = _others(rec, 4)
    v.update(
        page_title=_esc(f"{a.title} | Coastline Post"),
        head_meta="\n".join(head),
        body_class="Layout_article__f3QzA",
        page_type="article",
        byline=byline,
        agency=agency,
        published_human=_coastline_time(a.published_at),
        figure=figure,
        body="\n".join(body),
        most_read=_list_items(base, _others(rec, 5, offset=1), "TrendingList_item__aZ3m1"),
        related="\n".join(
            f'<a class="StoryCard_root__nM6dQ" href="{base}{r.article.path}">'
            f'<span class="StoryCard_section__p8Bv2">{_esc(r.section)}</span>'
            f'<h3 class="StoryCard_headline__sK0hT">{_esc(r.article.title)}</h3></a>'
            for r in related
        ),
        comments=comments,
    )
    v["main"] = _template("coastline-article.html").substitute(v)
    return _page("coastline", v)


def _render_courier(rec: PageRecord, base: str) -> bytes:
    a = rec.article
    v = _common(rec, base)
    figure = ""
    if rec.image:
        figure = (
            '<table class="photo" cellpadding="0" cellspacing="0"><tr><td>'
            f'<img src="{base}/static/img/{rec.image.src}" width="540" height="320" '
            f'alt="{_attr(rec.image.alt)}"></td></tr><tr><td class="caption">'
            f"{_esc(rec.image.caption)} ({_esc(rec.image.credit)})</td></tr></table>"
        )
    v.update(
        page_title=_esc(f"{a.title} - Valley Courier"),
        body_class="story",
        byline=_esc(" and ".join(a.authors)),
        published_human=_courier_time(a.published_at),
        figure=figure,
        body="\n".join(f"    <p>{_esc(p)}</p>" for p in a.paragraphs),
        related=_list_items(base, _others(rec, 3), "related-item"),
        most_read=_list_items(base, _others(rec, 5, offset=1), "mostread-item"),
    )
    v["main"] = _template("courier-article.html").substitute(v)
    return _page("courier", v)


def _list_items(base: str, records: Sequence[PageRecord], css_class: str) -> str:
    return "\n".join(
        f'        <li class="{css_class}"><a href="{base}{r.article.path}">'
        f"{_esc(r.article.title)}</a></li>"
        for r in records
    )


_ARTICLE_RENDERERS: dict[str, Callable[[PageRecord, str], bytes]] = {
    "harbor-times": _render_harbor,
    "northgate-ledger": _render_ledger,
    "coastline-post": _render_coastline,
    "valley-courier": _render_courier,
}


# --------------------------------------------------------------------------------------------
# outlet home pages and the Courier section index


def _listing_html(base: str, outlet: str, records: Sequence[PageRecord], heading: str) -> str:
    items = []
    for r in records:
        a = r.article
        items.append(
            f'<li class="teaser"><a class="teaser__link" href="{base}{a.path}">{_esc(a.title)}</a>'
            f' <time class="teaser__time" datetime="{a.published_at.isoformat()}">'
            f"{a.published_at:%d %b %Y %H:%M}</time>"
            f'<span class="teaser__summary">{_esc(_excerpt(a.paragraphs[0], 24))}</span></li>'
        )
    head = (
        f'<section class="listing listing--{outlet}">'
        f'<h1 class="listing__heading">{_esc(heading)}</h1>\n<ul class="listing__items">\n'
    )
    return head + "\n".join(items) + "\n</ul></section>"


def _render_listing(outlet: str, base: str, heading: str, records: Sequence[PageRecord]) -> bytes:
    key = OUTLET_PREFIXES[outlet].strip("/")
    name = OUTLET_NAMES[outlet]
    values = {
        "base": base,
        "page_title": _esc(f"{heading} - {name}" if heading != name else name),
        "head_meta": f'<meta name="description" content="{_attr(name)}: latest news">',
        "body_class": "listing-page",
        "main": _listing_html(base, outlet, records, heading),
        "today": "Thursday 12 March 2026",
        "section_slug": _slug(heading),
        "page_type": "section",
        "most_read": _list_items(base, records[:5], "mostread-item"),
    }
    return _page(key, values)


def _render_root(base: str) -> bytes:
    rows = "\n".join(
        f'<li><a href="{base}{OUTLET_PREFIXES[o]}">{_esc(OUTLET_NAMES[o])}</a></li>'
        for o in OUTLET_NAMES
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>news-ingest demo web</title></head><body>"
        "<h1>news-ingest demo web</h1><p>Four fictional outlets for testing the pipeline.</p>"
        f'<ul>\n{rows}\n</ul><p><a href="{base}/robots.txt">robots.txt</a> &middot; '
        f'<a href="{base}/sitemap_index.xml">sitemap index</a></p></body></html>'
    ).encode()


# --------------------------------------------------------------------------------------------
# feeds, sitemaps, robots


def _newest(records: Iterable[PageRecord]) -> datetime:
    return max(r.last_modified for r in records)


def _render_rss(base: str) -> bytes:
    records = _newest_first(_records_for("harbor-times"))
    items = []
    for r in records:
        a = r.article
        guid = "harbortimes-" + hashlib.md5(a.path.encode()).hexdigest()[:12]
        items.append(
            "    <item>\n"
            f"      <title>{_xml(a.title)}</title>\n"
            f"      <link>{_xml(base + a.path + '?utm_source=rss&utm_medium=feed')}</link>\n"
            f'      <guid isPermaLink="false">{guid}</guid>\n'
            f"      <pubDate>{format_datetime(a.published_at)}</pubDate>\n"
            + "".join(f"      <dc:creator>{_xml(n)}</dc:creator>\n" for n in a.authors)
            + f"      <category>{_xml(r.section)}</category>\n"
            f"      <description>{_xml(_description(r))}</description>\n"
            "    </item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        "  <channel>\n"
        "    <title>The Harbor Times</title>\n"
        f"    <link>{base}/harbor/</link>\n"
        "    <description>News from Kestrel Harbor and beyond</description>\n"
        "    <language>en-us</language>\n"
        f"    <lastBuildDate>{format_datetime(_newest(records))}</lastBuildDate>\n"
        f'    <atom:link href="{base}/harbor/rss.xml" rel="self" type="application/rss+xml"/>\n'
        + "\n".join(items)
        + "\n  </channel>\n</rss>\n"
    ).encode("utf-8")


def _render_atom(base: str) -> bytes:
    records = _newest_first(_records_for("northgate-ledger"))
    entries = []
    for r in records:
        a = r.article
        tag = a.path.removeprefix("/ledger/")
        entries.append(
            "  <entry>\n"
            f"    <title>{_xml(a.title)}</title>\n"
            f'    <link rel="alternate" type="text/html" href="{_xml(base + a.path)}"/>\n'
            f"    <id>tag:northgate-ledger.example,2026:{_xml(tag)}</id>\n"
            f"    <published>{a.published_at.isoformat()}</published>\n"
            f"    <updated>{r.last_modified.isoformat()}</updated>\n"
            + "".join(f"    <author><name>{_xml(n)}</name></author>\n" for n in a.authors)
            + f'    <category term="{_xml(_slug(r.section))}" label="{_xml(r.section)}"/>\n'
            f'    <summary type="text">{_xml(_description(r))}</summary>\n'
            "  </entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">\n'
        "  <title>Northgate Ledger</title>\n"
        "  <subtitle>News, comment and culture from Northgate</subtitle>\n"
        "  <id>tag:northgate-ledger.example,2026:feed</id>\n"
        f'  <link rel="self" type="application/atom+xml" href="{base}/ledger/atom.xml"/>\n'
        f'  <link rel="alternate" type="text/html" href="{base}/ledger/"/>\n'
        f"  <updated>{_newest(records).isoformat()}</updated>\n"
        + "\n".join(entries)
        + "\n</feed>\n"
    ).encode("utf-8")


def _coastline_sitemap_records(which: str) -> list[PageRecord]:
    return _newest_first(r for r in _records_for("coastline-post") if r.sitemap == which)


def _render_sitemap_index(base: str) -> bytes:
    parts = []
    for loc, which in (
        ("/coastline/sitemap-news.xml", "news"),
        ("/coastline/sitemap-archive.xml.gz", "archive"),
    ):
        parts.append(
            f"  <sitemap>\n    <loc>{base}{loc}</loc>\n"
            f"    <lastmod>{_z(_newest(_coastline_sitemap_records(which)))}</lastmod>\n"
            "  </sitemap>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "\n".join(parts)
        + "\n</sitemapindex>\n"
    ).encode("utf-8")


def _render_news_sitemap(base: str) -> bytes:
    urls = []
    for r in _coastline_sitemap_records("news"):
        a = r.article
        urls.append(
            "  <url>\n"
            f"    <loc>{_xml(base + a.path)}</loc>\n"
            f"    <lastmod>{_z(r.last_modified)}</lastmod>\n"
            "    <news:news>\n"
            "      <news:publication>\n"
            "        <news:name>Coastline Post</news:name>\n"
            "        <news:language>en</news:language>\n"
            "      </news:publication>\n"
            f"      <news:publication_date>{_z(a.published_at)}</news:publication_date>\n"
            f"      <news:title>{_xml(a.title)}</news:title>\n"
            "    </news:news>\n"
            "  </url>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
        + "\n".join(urls)
        + "\n</urlset>\n"
    ).encode("utf-8")


def _render_archive_sitemap(base: str) -> bytes:
    urls = [
        f"  <url>\n    <loc>{_xml(base + r.article.path)}</loc>\n"
        f"    <lastmod>{_z(r.last_modified)}</lastmod>\n"
        "    <changefreq>never</changefreq>\n  </url>"
        for r in _coastline_sitemap_records("archive")
    ]
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "\n".join(urls)
        + "\n</urlset>\n"
    ).encode("utf-8")
    return gzip.compress(xml, mtime=0)


def _render_robots(base: str) -> bytes:
    lines = ["# robots.txt for the news-ingest demo web", "User-agent: *"]
    lines += [f"Disallow: {rule}" for rule in ROBOTS_DISALLOW]
    lines += ["", f"Sitemap: {base}/sitemap_index.xml", ""]
    return "\n".join(lines).encode("utf-8")


_STATIC_TEXT = {
    ".css": ("text/css; charset=utf-8", b"body{margin:0;font-family:serif}\n"),
    ".js": ("text/javascript; charset=utf-8", b"/* demo site: no scripts */\n"),
}


# --------------------------------------------------------------------------------------------
# routing


Renderer = Callable[[str], Response]


@functools.cache
def _routes() -> dict[str, Renderer]:
    routes: dict[str, Renderer] = {}

    def page(render: Callable[[PageRecord, str], bytes], rec: PageRecord) -> Renderer:
        return lambda base: Response(render(rec, base), HTML_TYPE, rec.last_modified)

    for rec in load_records():
        routes[rec.article.path] = page(_ARTICLE_RENDERERS[rec.article.outlet], rec)
        if rec.amp_path:
            routes[rec.amp_path] = page(_render_harbor_amp, rec)

    def feed(fn: Callable[[str], bytes], ctype: str, outlet: str | None) -> Renderer:
        stamp = _newest(_records_for(outlet)) if outlet else _newest(load_records())
        return lambda base: Response(fn(base), ctype, stamp)

    routes["/robots.txt"] = lambda base: Response(_render_robots(base), TEXT_TYPE)
    routes["/harbor/rss.xml"] = feed(_render_rss, RSS_TYPE, "harbor-times")
    routes["/ledger/atom.xml"] = feed(_render_atom, ATOM_TYPE, "northgate-ledger")
    routes["/sitemap_index.xml"] = feed(_render_sitemap_index, XML_TYPE, "coastline-post")
    routes["/coastline/sitemap-news.xml"] = feed(_render_news_sitemap, XML_TYPE, "coastline-post")
    routes["/coastline/sitemap-archive.xml.gz"] = feed(
        _render_archive_sitemap, GZIP_TYPE, "coastline-post"
    )
    routes["/"] = lambda base: Response(_render_root(base), HTML_TYPE)

    def listing(outlet: str, heading: str, recs: list[PageRecord]) -> Renderer:
        return lambda base: Response(_render_listing(outlet, base, heading, recs), HTML_TYPE)

    for outlet, prefix in OUTLET_PREFIXES.items():
        recs = _newest_first(_visible(_records_for(outlet)))
        routes[prefix] = listing(outlet, OUTLET_NAMES[outlet], recs)
    courier = _newest_first(_visible(_records_for("valley-courier")))
    region = [r for r in courier if r.section == "Region"]
    routes[SECTION_INDEX_PATH] = listing("valley-courier", "Region", region)
    return routes


@functools.lru_cache(maxsize=1024)
def _respond(path: str, base: str) -> Response | None:
    renderer = _routes().get(path)
    if renderer is not None:
        return renderer(base)
    if path.startswith("/static/"):
        name = path.rsplit("/", 1)[-1]
        if path.startswith("/static/img/") and name.endswith(".gif"):
            return Response(_GIF, "image/gif")
        for ext, (ctype, body) in _STATIC_TEXT.items():
            if name.endswith(ext) and "/" not in path.removeprefix("/static/"):
                return Response(body, ctype)
    return None


def _not_found(path: str) -> Response:
    body = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>404 Not Found</title>'
        f"</head><body><h1>Not Found</h1><p>No page at {_esc(path)}.</p></body></html>\n"
    ).encode()
    return Response(body, HTML_TYPE, status=404)


def _http_date(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC), usegmt=True)


def _not_modified(headers: Any, resp: Response) -> bool:
    inm = headers.get("If-None-Match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or resp.etag in tags
    ims = headers.get("If-Modified-Since")
    if ims and resp.last_modified is not None:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return resp.last_modified.replace(microsecond=0) <= since
    return False


class _Handler(BaseHTTPRequestHandler):
    server_version = "DemoNewsWeb/1.0"
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections are dropped after this many seconds
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _DemoHTTPServer

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def _serve(self, *, send_body: bool) -> None:
        path = urlsplit(self.path).path or "/"
        base = self.server.site.base_url_for(self.headers.get("Host"))
        resp = _respond(path, base) or _not_found(path)
        if resp.status == 200 and _not_modified(self.headers, resp):
            self.send_response(304)
            self.send_header("ETag", resp.etag)
            if resp.last_modified is not None:
                self.send_header("Last-Modified", _http_date(resp.last_modified))
            self.end_headers()
            return
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        if resp.status == 200:
            self.send_header("ETag", resp.etag)
            if resp.last_modified is not None:
                self.send_header("Last-Modified", _http_date(resp.last_modified))
            self.send_header("Cache-Control", "public, max-age=60")
        self.end_headers()
        if send_body:
            self.wfile.write(resp.body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.site.verbose:
            super().log_message(format, *args)


class _DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], site: DemoSite) -> None:
        self.site = site
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)


class DemoSite:
    """The demo news web on a background daemon thread.

    ``port=0`` picks a free port; read the result from :attr:`base_url` after :meth:`start`
    (or inside ``with``). Requests are not logged unless ``verbose=True``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        self.host = host
        self.requested_port = port
        self.verbose = verbose
        self._httpd: _DemoHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ------------------------------------------------------------------------------
    def start(self) -> DemoSite:
        if self._httpd is not None:
            return self
        load_records()  # fail fast on broken content, before binding
        httpd = _DemoHTTPServer((self.host, self.requested_port), self)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"demo-site-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # addresses ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("DemoSite is not running; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server, without a trailing slash."""
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL of a site path, e.g. ``site.url("/harbor/rss.xml")``."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def base_url_for(self, host_header: str | None) -> str:
        """Base URL to render links with: the bound address, or the Host header on wildcards."""
        if self.host in ("", "0.0.0.0", "::") and host_header:
            return "http://" + host_header.strip()
        return self.base_url


# --------------------------------------------------------------------------------------------
# command line


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo site in the foreground until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.demo.server", description="Serve the bundled demo news web."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 = any free port)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    site = DemoSite(host=args.host, port=args.port, verbose=args.verbose)
    try:
        site.start()
        print(site.base_url, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        site.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())

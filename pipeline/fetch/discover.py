"""Discovery: feeds, sitemaps and URL lists -> candidate URLs inside the run window.

Parsing is pure (bytes in, entries out) so it can run on live responses or on archived ones.
"""

from __future__ import annotations

import calendar
import contextlib
import gzip
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from io import BytesIO
from typing import Any
from urllib.parse import urljoin

import feedparser
from lxml import etree

from pipeline.fetch.urls import canonicalize
from pipeline.models import Candidate, RunWindow

_SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
_NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"
_GZIP_MAGIC = b"\x1f\x8b"
# Sitemaps are untrusted XML: never expand entities, never fetch DTDs, survive junk.
_SAFE_XML = etree.XMLParser(
    resolve_entities=False, no_network=True, recover=True, huge_tree=False, load_dtd=False
)
_MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit for an uncompressed file


class NotAFeed(ValueError):
    """The body at a feed or sitemap URL is not one (an HTML error page, an empty body...)."""


@dataclass(frozen=True)
class Entry:
    """One item listed by a feed or sitemap."""

    url: str
    title: str | None = None
    published_at: datetime | None = None
    lastmod: datetime | None = None


@dataclass
class SitemapDocument:
    entries: list[Entry] = field(default_factory=list)
    child_sitemaps: list[str] = field(default_factory=list)
    # <lastmod> of each child sitemap of an index, when it has one.
    child_lastmod: dict[str, datetime] = field(default_factory=dict)


def parse_feed(
    body: bytes, content_type: str | None = None, base_url: str | None = None
) -> list[Entry]:
    """Parse RSS 0.9x/1.0/2.0 or Atom; raise NotAFeed for anything else.

    Relative item links (``/news/a``, ``a.html``) are resolved against ``base_url``, the feed's
    own URL, as a feed reader would.
    """
    if not body.strip():
        raise NotAFeed("empty body")
    headers = {"content-type": content_type} if content_type else None
    parsed: Any = feedparser.parse(body, response_headers=headers)
    if not parsed.get("version"):
        snippet = body[:80].decode("utf-8", "replace").strip().replace("\n", " ")
        raise NotAFeed(f"no RSS/Atom document found (starts with {snippet!r})")
    entries = []
    for item in parsed.entries:
        link = item.get("link")
        if not link:
            continue
        if base_url:
            # A link urljoin cannot parse is kept as it is: fetch records it as bad_url.
            with contextlib.suppress(ValueError):
                link = urljoin(base_url, link)
        moment = item.get("published_parsed") or item.get("updated_parsed")
        published = (
            datetime.fromtimestamp(calendar.timegm(moment), tz=UTC) if moment is not None else None
        )
        entries.append(Entry(url=link, title=item.get("title") or None, published_at=published))
    return entries


def parse_sitemap(body: bytes) -> SitemapDocument:
    """Parse a sitemap index or urlset (gzip or plain); raise NotAFeed for anything else."""
    if body[:2] == _GZIP_MAGIC:
        body = _gunzip_capped(body)
    if not body.strip():
        raise NotAFeed("empty body")
    try:
        root = etree.fromstring(body, parser=_SAFE_XML)
    except etree.XMLSyntaxError as exc:
        raise NotAFeed(f"unparseable XML: {exc}") from None
    if root is None:
        raise NotAFeed("no XML document found")
    tag = etree.QName(root).localname
    document = SitemapDocument()
    if tag == "sitemapindex":
        for sitemap in root.iter(f"{_SITEMAP_NS}sitemap", "sitemap"):
            loc = _text(sitemap, "loc")
            if loc:
                document.child_sitemaps.append(loc)
                lastmod = _parse_w3c(_text(sitemap, "lastmod"))
                if lastmod is not None:
                    document.child_lastmod[loc] = lastmod
    elif tag == "urlset":
        for url in root.iter(f"{_SITEMAP_NS}url", "url"):
            loc = _text(url, "loc")
            if not loc:
                continue
            news = url.find(f"{_NEWS_NS}news")
            document.entries.append(
                Entry(
                    url=loc,
                    title=_news_text(news, "title"),
                    published_at=_parse_w3c(_news_text(news, "publication_date")),
                    lastmod=_parse_w3c(_text(url, "lastmod")),
                )
            )
    else:
        raise NotAFeed(f"root element <{tag}> is neither <urlset> nor <sitemapindex>")
    return document


@dataclass(frozen=True)
class WindowDecision:
    take: bool
    reason: str | None = None
    detail: str | None = None


def window_decision(entry: Entry, window: RunWindow) -> WindowDecision:
    """Dated items are taken when their date is in the window; undated ones are taken for now."""
    if entry.published_at is not None:
        if window.contains(entry.published_at):
            return WindowDecision(True)
        return WindowDecision(
            False, "out_of_window", f"listed as published {entry.published_at.isoformat()}"
        )
    if entry.lastmod is not None and entry.lastmod < window.start:
        return WindowDecision(
            False, "out_of_window", f"lastmod {entry.lastmod.isoformat()} is before the window"
        )
    return WindowDecision(True)


@dataclass
class Deduper:
    """Keeps the first spelling of each canonical URL and names the one it collapsed into."""

    seen: dict[str, str] = field(default_factory=dict)

    def first(self, candidate: Candidate) -> tuple[Candidate, str | None]:
        canonical = canonicalize(candidate.url)
        if canonical in self.seen:
            return candidate, self.seen[canonical]
        self.seen[canonical] = candidate.url
        # Every other field of the listing comes along (a copy field by field dropped new ones).
        return replace(candidate, url=canonical), None


def entries_to_candidates(
    entries: Iterable[Entry], source: str, via: str, origin: str
) -> list[Candidate]:
    return [
        Candidate(
            url=entry.url,
            source=source,
            discovered_via=via,
            discovered_from=origin,
            feed_title=entry.title,
            feed_published_at=entry.published_at,
            lastmod=entry.lastmod,
        )
        for entry in entries
    ]


def _gunzip_capped(body: bytes) -> bytes:
    with gzip.GzipFile(fileobj=BytesIO(body)) as stream:
        data = stream.read(_MAX_SITEMAP_BYTES + 1)
    if len(data) > _MAX_SITEMAP_BYTES:
        raise NotAFeed(f"gzip sitemap expands beyond {_MAX_SITEMAP_BYTES} bytes")
    return data


def _text(element: Any, name: str) -> str | None:
    child = element.find(f"{_SITEMAP_NS}{name}")
    if child is None:
        child = element.find(name)
    if child is None or child.text is None:
        return None
    return str(child.text).strip() or None


def _news_text(news: Any, name: str) -> str | None:
    if news is None:
        return None
    child = news.find(f"{_NEWS_NS}{name}")
    if child is None:
        child = news.find(f".//{_NEWS_NS}{name}")
    if child is None or child.text is None:
        return None
    return str(child.text).strip() or None


def _parse_w3c(value: str | None) -> datetime | None:
    """Sitemaps use W3C datetimes: a date, or a date-time with an offset."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)

"""Article metadata from a parsed page: each field comes with where it was found (provenance).

Sources are tried in order of how much publishers mean them: JSON-LD (written for search engines,
usually exact), OpenGraph (written for social cards), plain <meta>, then the visible HTML and the
URL. Provenance values are "json-ld", "opengraph", "meta", "time-tag", "html", "url", "detected".
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, CData, NavigableString, PageElement, Tag

from pipeline.extract.authors import clean_authors, find_authors
from pipeline.extract.body import (
    DEFAULT_OPTIONS,
    ExtractionOptions,
    iter_tags,
    normalize_text,
    word_count,
)
from pipeline.extract.dates import (
    MODIFIED_META_KEYS,
    PUBLISHED_META_KEYS,
    MarkupDate,
    PageDate,
    markup_dates,
    not_after,
    parse_date,
    pick_markup,
    url_date,
    visible_days,
)
from pipeline.extract.scope import ArticleScope, Place
from pipeline.extract.tree import source_markup

__all__ = ["MetadataOptions", "PageMetadata", "clean_authors", "extract_metadata", "parse_datetime"]

log = logging.getLogger(__name__)

# JSON-LD @type values that describe the article itself (not the site, breadcrumb or video).
ARTICLE_TYPES: frozenset[str] = frozenset(
    {
        "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle",
        "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "blogposting",
        "socialmediaposting", "liveblogposting", "techarticle", "scholarlyarticle", "report",
        "webpage", "medicalwebpage",
    }
)  # fmt: skip
# Preferred over a generic WebPage when a page carries both.
STRICT_ARTICLE_TYPES: frozenset[str] = ARTICLE_TYPES - {"webpage", "medicalwebpage"}

SECTION_META_NAMES: tuple[str, ...] = ("section", "article-section", "parsely-section", "category")
KEYWORD_META_NAMES: tuple[str, ...] = ("news_keywords", "keywords", "parsely-tags")
AUTHOR_META_NAMES: tuple[str, ...] = (
    "author", "article:author", "byl", "dc.creator", "parsely-author", "sailthru.author",
    "citation_author",
)  # fmt: skip

# Separators between a page title and the site name in <title>.
TITLE_SEPARATORS: tuple[str, ...] = (" | ", " - ", " – ", " — ", " :: ", " · ", " » ", " / ")
TITLE_SUFFIX_MAX_WORDS = 4

_JSON_LD_TYPE = re.compile(r"ld\+json|json\+ld", re.IGNORECASE)
_LANG_CODE = re.compile(r"^([a-zA-Z]{2})(?:[-_].*)?$")


# --------------------------------------------------------------------------------------------
# Options and results


@dataclass(frozen=True)
class MetadataOptions:
    """Choices in the metadata chain that were measured rather than derived (docs/metadata.md).

    ``htmldate``: whether htmldate is asked when the page's structured data and the article's
    markup give no publication date ("off"), with its markup-only search ("fast") or with its
    search of the visible text too ("extensive"). ``htmldate_scope``: the whole page or only the
    article container. ``date_order``: the order of the sources: "structured" (JSON-LD and
    <meta>), "header-markup" (<time>/itemprop in the article's header only), "markup" (in the
    article), "htmldate", "url".
    """

    htmldate: Literal["off", "fast", "extensive"] = "extensive"
    htmldate_scope: Literal["page", "article"] = "page"
    # The order in which the sources are asked for a publication date.
    date_order: tuple[str, ...] = ("structured", "markup", "htmldate", "url")
    # Ask htmldate only on pages that declare or show an article (see ``_looks_like_article``).
    htmldate_needs_article: bool = False
    # htmldate falls back to a bare year (a copyright line) as YYYY-01-01: that is no date.
    htmldate_reject_year_only: bool = True
    # htmldate's day is taken only when that day is written in the page's visible text: its
    # guesses from scripts, attributes and stray numbers are what put dates on undated pages.
    htmldate_needs_visible_day: bool = True
    # A JSON-LD date declared only by a generic WebPage object (every CMS page has one, shop and
    # imprint pages included) is taken only when that day is written in the visible text.
    webpage_date_needs_visible_day: bool = True
    # Stricter, measured and not chosen (docs/metadata.md): htmldate's day must be written
    # outside comments, teasers, sidebars, navigation and the page footer, where an undated page
    # still shows its reviews', events' or copyright line's days.
    htmldate_day_outside_furniture: bool = False

    @staticmethod
    def date_chain_variants() -> dict[str, dict[str, Any]]:
        """The alternatives the benchmark compares (and selects among, leave-site-out)."""
        return {
            "default": {},
            "no-htmldate": {"htmldate": "off"},
            "htmldate-articles-only": {"htmldate_needs_article": True},
            "htmldate-fast-page": {"htmldate": "fast", "htmldate_scope": "page"},
            "htmldate-ext-keep-jan1": {"htmldate_reject_year_only": False},
            "htmldate-ext-article": {"htmldate": "extensive", "htmldate_scope": "article"},
            "htmldate-before-markup": {"date_order": ("structured", "htmldate", "markup", "url")},
            "header-markup-first": {
                "date_order": ("header-markup", "structured", "markup", "htmldate", "url")
            },
            "htmldate-first": {"date_order": ("htmldate", "structured", "markup", "url")},
            "url-before-htmldate": {"date_order": ("structured", "markup", "url", "htmldate")},
            "htmldate-day-unchecked": {
                "htmldate_needs_visible_day": False,
                "htmldate_day_outside_furniture": False,
            },
            "webpage-date-unchecked": {"webpage_date_needs_visible_day": False},
            "no-visible-day-checks": {
                "htmldate_needs_visible_day": False,
                "htmldate_day_outside_furniture": False,
                "webpage_date_needs_visible_day": False,
            },
            "visible-checks-fast-htmldate": {"htmldate": "fast"},
            "htmldate-day-outside-furniture": {"htmldate_day_outside_furniture": True},
        }


DEFAULT_METADATA_OPTIONS = MetadataOptions()
HTMLDATE_CEILING = timedelta(days=366)


@dataclass
class PageMetadata:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None  # UTC; midnight UTC when only the day is known
    modified_at: datetime | None = None
    published: PageDate | None = None  # with its day, offset and whether the time is known
    modified: PageDate | None = None
    agencies: list[str] = field(default_factory=list)
    language: str | None = None
    canonical_url: str | None = None
    description: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    top_image: str | None = None
    accessible_for_free: bool | None = None
    article_body: str | None = None  # JSON-LD articleBody: a hint, often truncated
    site_name: str | None = None
    provenance: dict[str, str] = field(default_factory=dict)

    @property
    def published_date(self) -> date | None:
        """The publication day in the page's own time zone."""
        return self.published.day if self.published is not None else None

    def published_iso(self) -> str | None:
        return self.published.iso() if self.published is not None else None


# --------------------------------------------------------------------------------------------
# Reading the page's declarations


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = normalize_text(html.unescape(value))
    return text or None


def _iter_json_objects(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _iter_json_objects(item)
    elif isinstance(data, dict):
        yield data
        graph = data.get("@graph")
        if graph is not None:
            yield from _iter_json_objects(graph)
        main = data.get("mainEntity")
        if isinstance(main, dict | list):
            yield from _iter_json_objects(main)


def _types(obj: dict[str, Any]) -> set[str]:
    raw = obj.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return {v.lower() for v in values if isinstance(v, str)}


def _all_tags(soup: BeautifulSoup, tags: Sequence[Tag] | None) -> Sequence[Tag]:
    return list(iter_tags(soup)) if tags is None else tags


def parse_json_ld(
    soup: BeautifulSoup,
    tags: Sequence[Tag] | None = None,
    index: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Article-like JSON-LD objects on the page, most specific type first.

    ``tags`` is every tag of ``soup`` in document order, when the caller already has them.
    ``index``, when given, receives every object that has an ``@id`` (to resolve references
    such as an article's ``"author": {"@id": ...}`` into the Person node of a Yoast graph).
    """
    strict: list[dict[str, Any]] = []
    loose: list[dict[str, Any]] = []
    for script in _all_tags(soup, tags):
        if script.name != "script":
            continue
        script_type = script.attrs.get("type")
        if not isinstance(script_type, str) or not _JSON_LD_TYPE.search(script_type):
            continue
        raw = script.string or script.get_text()
        if not raw or not raw.strip():
            continue
        try:
            data = json.loads(raw.strip().rstrip(";"), strict=False)
        except ValueError:
            continue
        for obj in _iter_json_objects(data):
            if index is not None and isinstance(obj.get("@id"), str):
                index.setdefault(obj["@id"], obj)
            types = _types(obj)
            if types & STRICT_ARTICLE_TYPES:
                strict.append(obj)
            elif types & ARTICLE_TYPES or ("headline" in obj and "articleBody" in obj):
                loose.append(obj)
    return strict + loose


class _Meta:
    """<meta> lookup by property/name/itemprop, case-insensitive, first non-empty value wins."""

    def __init__(self, tags: Iterable[Tag]) -> None:
        self.values: dict[str, list[str]] = {}
        for tag in tags:
            if tag.name != "meta":
                continue
            content = tag.get("content")
            if not isinstance(content, str) or not content.strip():
                continue
            for attr in ("property", "name", "itemprop", "http-equiv"):
                key = tag.get(attr)
                if isinstance(key, str) and key.strip():
                    self.values.setdefault(key.strip().lower(), []).append(content)

    def first(self, *keys: str) -> str | None:
        for key in keys:
            for value in self.values.get(key, []):
                cleaned = _clean(value)
                if cleaned:
                    return cleaned
        return None

    def all(self, key: str) -> list[str]:
        return [c for v in self.values.get(key, []) if (c := _clean(v))]


# --------------------------------------------------------------------------------------------
# Dates


def parse_datetime(value: str) -> tuple[datetime, bool] | None:
    """Parse a date; return (UTC datetime, was_naive). Kept for callers of the old interface.

    A date without a time comes back as midnight UTC with ``was_naive`` True; the extractor itself
    keeps such values as days (see ``pipeline.extract.dates.PageDate``).
    """
    found = parse_date(value)
    if found is None:
        return None
    return found.utc, found.offset_minutes is None


def _first_date(
    candidates: Iterable[tuple[str, str | None]],
    fetched_at: datetime | None,
    options: ExtractionOptions,
    lang: str | None,
    future: list[PageDate] | None = None,
    needs_visible: Callable[[str], bool] | None = None,
    visible: VisibleDays | None = None,
) -> PageDate | None:
    """First candidate that parses and is not in the future of ``fetched_at``.

    Candidates rejected for being in the future are appended to ``future``. A candidate for
    which ``needs_visible(source)`` holds is taken only when ``visible`` shows its day.
    """
    unshown: set[date] = set()
    for source, raw in candidates:
        if not raw:
            continue
        found = parse_date(raw, lang=lang)
        if found is None:
            continue
        if not not_after(found, fetched_at, options.future_slack):
            log.debug("%s date %s rejected: after fetched_at %s", source, raw, fetched_at)
            if future is not None:
                future.append(found)
            continue
        checked = needs_visible is not None and visible is not None and needs_visible(source)
        if checked and visible is not None and not visible.shows(found.day):
            log.debug("%s date %s rejected: the page shows no such day", source, raw)
            unshown.add(found.day)
            continue
        if found.day in unshown:
            continue  # the same CMS stamp repeated in <meta>: still a day the page never shows
        return found.with_source(source)
    return None


class VisibleDays:
    """The days written in the page's visible text, read once and only when first asked.

    Script, style and template contents and HTML comments are not visible text; the <title> is.
    ``outside_furniture()`` leaves out comments, teasers, sidebars, navigation and the page's
    footer as well (``scope.ArticleScope``), where the days of other content are written.
    """

    def __init__(self, soup: BeautifulSoup, scope: ArticleScope) -> None:
        self._soup = soup
        self._scope = scope
        self._days: set[date] | None = None
        self._article_days: set[date] | None = None

    def days(self) -> set[date]:
        if self._days is None:
            self._days = visible_days(self._soup.get_text(" "))
        return self._days

    def shows(self, day: date) -> bool:
        return day in self.days()

    def outside_furniture(self) -> set[date]:
        if self._article_days is None:
            self._article_days = visible_days(_text_outside_furniture(self._soup, self._scope))
        return self._article_days


_FOOTER_WORDS = re.compile(r"footer", re.IGNORECASE)


def _text_outside_furniture(soup: BeautifulSoup, scope: ArticleScope) -> str:
    """The page's visible text without the regions that hold other content's dates."""
    headline_ancestors = {id(p) for p in scope.headline.parents} if scope.headline else set()
    parts: list[str] = []
    stack: list[Iterator[PageElement]] = [iter(soup.children)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
        elif isinstance(child, Tag):
            if not _is_furniture(child, scope, headline_ancestors):
                stack.append(iter(child.children))
        elif type(child) in (NavigableString, CData):  # not comments, scripts or styles
            parts.append(str(child))
    return " ".join(parts)


def _is_furniture(tag: Tag, scope: ArticleScope, headline_ancestors: set[int]) -> bool:
    if tag.name in ("script", "style", "template", "head"):
        return True
    if scope.excluded(tag):
        return True
    if tag is scope.root or id(tag) in headline_ancestors:
        return False
    words = f"{tag.name} {tag.attrs.get('class') or ''} {tag.attrs.get('id') or ''}"
    return bool(_FOOTER_WORDS.search(words))


def _published_date(
    soup: BeautifulSoup,
    ld: list[dict[str, Any]],
    meta: _Meta,
    marked: list[MarkupDate],
    scope: ArticleScope,
    url: str,
    fetched_at: datetime | None,
    options: ExtractionOptions,
    metadata_options: MetadataOptions,
    lang: str | None,
) -> PageDate | None:
    """The first source in ``metadata_options.date_order`` that gives a publication date."""
    slack = options.future_slack
    future: list[PageDate] = []
    current = [d for d in marked if not_after(d.found, fetched_at, slack)]
    visible = VisibleDays(soup, scope)
    for step in metadata_options.date_order:
        found: PageDate | None = None
        if step == "structured":
            candidates = [(_ld_date_source(ld, k), _ld_str(ld, k)) for k in LD_PUBLISHED_KEYS]
            candidates += [(_meta_source(k), meta.first(k)) for k in PUBLISHED_META_KEYS]
            checked = metadata_options.webpage_date_needs_visible_day
            found = _first_date(
                candidates,
                fetched_at,
                options,
                lang,
                future,
                needs_visible=(lambda source: source == WEBPAGE_SOURCE) if checked else None,
                visible=visible,
            )
            if found is not None and found.source == WEBPAGE_SOURCE:
                found = found.with_source("json-ld")
        elif step in ("header-markup", "markup"):
            usable = [d for d in current if step == "markup" or d.place == Place.HEADER]
            in_markup = pick_markup(usable, "published")
            found = in_markup.with_source("time-tag") if in_markup is not None else None
        elif step == "htmldate" and not future:
            if metadata_options.htmldate_needs_article and not _looks_like_article(ld, meta, scope):
                continue
            if metadata_options.htmldate_needs_visible_day and not visible.days():
                # The page writes no day at all: whatever day htmldate found would be refused
                # below, so its search (a fifth of the pages that reach it) is skipped.
                continue
            # htmldate reads the same declarations; a declared date already refused as being
            # after the fetch must not come back from it as a bare day.
            found = _htmldate(soup, scope, fetched_at, metadata_options, slack)
            updated_days = {d.found.day for d in marked if d.kind == "modified"}
            if found is not None and found.day in updated_days:
                found = None  # htmldate took the article's "updated" stamp for its date
            if (
                found is not None
                and metadata_options.htmldate_needs_visible_day
                and not visible.shows(found.day)
            ):
                found = None  # read from a script, an attribute or a stray number
            if (
                found is not None
                and metadata_options.htmldate_day_outside_furniture
                and found.day not in visible.outside_furniture()
            ):
                found = None  # a comment's, a teaser's or the footer's day
        elif step == "url":
            from_url = url_date(url)
            found = from_url if from_url and not_after(from_url, fetched_at, slack) else None
        if found is not None:
            return found
    return None


LD_PUBLISHED_KEYS: tuple[str, ...] = ("datePublished", "dateCreated")
# The provenance of a JSON-LD date that only a generic WebPage object declares (while checked).
WEBPAGE_SOURCE = "json-ld-webpage"
GENERIC_PAGE_TYPES: frozenset[str] = ARTICLE_TYPES - STRICT_ARTICLE_TYPES


def _ld_date_source(objects: list[dict[str, Any]], key: str) -> str:
    """ "json-ld", or WEBPAGE_SOURCE when the object giving ``key`` is only a generic WebPage."""
    for obj in objects:
        if obj.get(key) not in (None, "", [], {}):
            types = _types(obj)
            generic = bool(types) and types <= GENERIC_PAGE_TYPES
            return WEBPAGE_SOURCE if generic else "json-ld"
    return "json-ld"


def _resolve_refs(value: Any, index: dict[str, dict[str, Any]]) -> Any:
    """Replace ``{"@id": ...}`` references by the objects they point to."""
    if isinstance(value, list):
        return [_resolve_refs(item, index) for item in value]
    if isinstance(value, dict) and "name" not in value and isinstance(value.get("@id"), str):
        return index.get(value["@id"], value)
    return value


def _looks_like_article(ld: list[dict[str, Any]], meta: _Meta, scope: ArticleScope) -> bool:
    """The page says it is an article: an Article-type JSON-LD, og:type article, or <article>."""
    if any(_types(obj) & STRICT_ARTICLE_TYPES for obj in ld):
        return True
    if (meta.first("og:type") or "").lower() == "article":
        return True
    return scope.root is not None and scope.root.name == "article"


def _htmldate(
    soup: BeautifulSoup,
    scope: ArticleScope,
    fetched_at: datetime | None,
    options: MetadataOptions,
    slack: timedelta,
) -> PageDate | None:
    """htmldate's reading of the page (or of the article container): a day, never a time."""
    if options.htmldate == "off":
        return None
    from htmldate import find_date  # imported here: it pulls in dateparser, slow to load

    root: Tag | BeautifulSoup = soup
    markup = source_markup(soup)
    if options.htmldate_scope == "article" and scope.root is not None:
        root = scope.root
        markup = None
    kwargs: dict[str, Any] = {}
    if fetched_at is not None:
        # htmldate's own default ceiling is the wall clock, which a stage must not depend on.
        # It clamps later dates to the ceiling, so the ceiling sits well past the fetch and
        # ``not_after`` below rejects anything after the fetch.
        kwargs["max_date"] = (fetched_at + HTMLDATE_CEILING).strftime("%Y-%m-%d")
    try:
        found = find_date(
            # The markup the soup was parsed from: serialising the soup for htmldate to parse
            # again cost more than htmldate's own search (docs/metadata.md, speed).
            markup if markup is not None else str(root),
            original_date=True,
            extensive_search=options.htmldate == "extensive",
            # Not the URL: the chain reads URL dates itself, after htmldate, as its last resort.
            **kwargs,
        )
    except Exception as exc:  # htmldate parses untrusted markup; its failure is "no date"
        log.debug("htmldate failed: %s", exc)
        return None
    if not found:
        return None
    try:
        day = date.fromisoformat(found[:10])
    except ValueError:
        return None
    if options.htmldate_reject_year_only and (day.month, day.day) == (1, 1):
        return None
    result = parse_date(day.isoformat())
    if result is None or not not_after(result, fetched_at, slack):
        return None
    return result.with_source("htmldate")


# --------------------------------------------------------------------------------------------
# Smaller fields


def _strip_site_suffix(title: str, site_name: str | None, aggressive: bool) -> str:
    """Drop " | Site Name" (or " - Site") from a title; ``aggressive`` for <title> text."""
    for sep in TITLE_SEPARATORS:
        if sep not in title:
            continue
        head, _, tail = title.rpartition(sep)
        if site_name and tail.strip().lower() == site_name.lower():
            return head.strip()
        if aggressive and head and len(tail.split()) <= TITLE_SUFFIX_MAX_WORDS:
            return head.strip()
        first, _, rest = title.partition(sep)
        if site_name and first.strip().lower() == site_name.lower():
            return rest.strip()
    return title


def _normalize_lang(value: str | None) -> str | None:
    if not value:
        return None
    match = _LANG_CODE.match(value.strip().split(",")[0].strip())
    return match.group(1).lower() if match else None


def detect_language(text: str, options: ExtractionOptions = DEFAULT_OPTIONS) -> str | None:
    """ISO 639-1 code of ``text`` by py3langid, or None when there is too little text."""
    if word_count(text) < options.min_language_words:
        return None
    # Imported here: loading the model takes about a second and py3langid caches it after.
    import py3langid

    lang, _score = py3langid.classify(text[:5000])
    return _normalize_lang(str(lang))


def _image_url(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("url", "contentUrl", "@id"):
            if isinstance(value.get(key), str):
                return str(value[key])
    if isinstance(value, list):
        for item in value:
            found = _image_url(item)
            if found:
                return found
    return None


def _absolute(base: str, value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if value.startswith("data:"):
        return None
    resolved = urljoin(base, value)
    return resolved if urlsplit(resolved).scheme in ("http", "https") else None


def _split_keywords(value: Any) -> list[str]:
    if isinstance(value, list):
        return [k for item in value for k in _split_keywords(item)]
    if isinstance(value, str):
        return [k for part in value.split(",") if (k := normalize_text(html.unescape(part)))]
    return []


def _dedupe(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        if value.lower() not in seen:
            seen.add(value.lower())
            out.append(value)
    return out


def _ld_value(objects: list[dict[str, Any]], key: str) -> Any:
    for obj in objects:
        value = obj.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


# --------------------------------------------------------------------------------------------
# Entry point


def extract_metadata(
    soup: BeautifulSoup,
    url: str,
    *,
    json_ld: list[dict[str, Any]] | None = None,
    fetched_at: datetime | None = None,
    options: ExtractionOptions = DEFAULT_OPTIONS,
    tags: Sequence[Tag] | None = None,
    metadata_options: MetadataOptions = DEFAULT_METADATA_OPTIONS,
) -> PageMetadata:
    """Read metadata from an unmodified parsed page (before boilerplate is stripped).

    Language is only read from declarations here; detection from text happens once the body is
    known (see ``detect_language``). ``tags`` is every tag of ``soup`` in document order, when
    the caller already has them.
    """
    every_tag = _all_tags(soup, tags)
    ld_index: dict[str, dict[str, Any]] = {}
    ld = parse_json_ld(soup, every_tag, ld_index) if json_ld is None else json_ld
    meta = _Meta(every_tag)
    md = PageMetadata()
    prov = md.provenance

    publisher = _ld_value(ld, "publisher")
    publisher_name = _clean(publisher.get("name")) if isinstance(publisher, dict) else None
    md.site_name = meta.first("og:site_name", "application-name") or publisher_name

    # Title
    host = urlsplit(url).hostname
    title_tag = _clean(soup.title.get_text()) if soup.title else None
    h1 = _h1_text(every_tag)
    if h1 and title_tag and _is_site_heading(h1, title_tag, [md.site_name, _host_label(host)]):
        h1 = None  # a logo, a section name or a blog's name in the only <h1>
    for source, value in (
        ("json-ld", _clean(_ld_value(ld, "headline"))),
        ("opengraph", meta.first("og:title", "twitter:title")),
        ("html", h1),
        ("html", title_tag),
    ):
        if value:
            # A declared title that repeats the <title> carries its site suffix too.
            aggressive = source == "html" and value == title_tag
            md.title = _strip_site_suffix(value, md.site_name, aggressive)
            prov["title"] = source
            break

    # Authors
    page_lang = _page_lang(soup)
    scope = ArticleScope(every_tag, md.title)
    declared = [_owner_name(meta.first(k)) for k in ("publisher", "copyright", "dc.publisher")]
    outlets = [
        n
        for n in (
            md.site_name,
            publisher_name,
            host,
            _host_label(host),
            _title_suffix(title_tag),
            *declared,
        )
        if n
    ]
    found_authors = find_authors(
        every_tag,
        scope,
        json_ld_author=_resolve_refs(_ld_value(ld, "author"), ld_index),
        meta_authors=[v for key in AUTHOR_META_NAMES for v in meta.all(key)],
        outlet_names=outlets,
        lang=page_lang or _normalize_lang(meta.first("og:locale", "content-language")),
    )
    md.authors = found_authors.authors
    md.agencies = found_authors.agencies
    if found_authors.source:
        prov["authors"] = found_authors.source

    # Dates
    marked = markup_dates(every_tag, scope, page_lang)
    published = _published_date(
        soup, ld, meta, marked, scope, url, fetched_at, options, metadata_options, page_lang
    )
    if published is not None:
        md.published = published
        md.published_at = published.utc
        prov["published_at"] = published.source
    modified = _first_date(
        [
            ("json-ld", _ld_str(ld, "dateModified")),
            *((_meta_source(k), meta.first(k)) for k in MODIFIED_META_KEYS),
        ],
        fetched_at,
        options,
        page_lang,
    )
    if modified is None:
        in_markup = pick_markup(marked, "modified")
        if in_markup is not None and not_after(in_markup, fetched_at, options.future_slack):
            modified = in_markup.with_source("time-tag")
    if modified is not None:
        md.modified = modified
        md.modified_at = modified.utc
        prov["modified_at"] = modified.source

    # Language (declared only; detection is the caller's fallback)
    html_tag = soup.find("html")
    html_lang = (
        (html_tag.get("lang") or html_tag.get("xml:lang")) if isinstance(html_tag, Tag) else None
    )
    for source, raw_lang in (
        ("html", html_lang if isinstance(html_lang, str) else None),
        ("json-ld", _ld_str(ld, "inLanguage")),
        ("meta", meta.first("content-language", "language", "dc.language")),
        ("opengraph", meta.first("og:locale")),
    ):
        lang = _normalize_lang(raw_lang)
        if lang:
            md.language = lang
            prov["language"] = source
            break

    # Canonical URL
    canonical_link = next(
        (t for t in every_tag if t.name == "link" and "canonical" in _attr_words(t, "rel")),
        None,
    )
    href = canonical_link.get("href") if isinstance(canonical_link, Tag) else None
    for source, value in (
        ("html", href if isinstance(href, str) else None),
        ("opengraph", meta.first("og:url")),
    ):
        resolved = _absolute(url, value)
        if resolved:
            md.canonical_url = resolved
            prov["canonical_url"] = source
            break
    else:
        md.canonical_url = url
        prov["canonical_url"] = "url"

    # Description
    for source, value in (
        ("json-ld", _clean(_ld_value(ld, "description"))),
        ("opengraph", meta.first("og:description", "twitter:description")),
        ("meta", meta.first("description")),
    ):
        if value:
            md.description = value
            prov["description"] = source
            break

    # Section
    ld_section = _ld_value(ld, "articleSection")
    if isinstance(ld_section, list):
        ld_section = next((s for s in ld_section if isinstance(s, str) and s.strip()), None)
    for source, value in (
        ("json-ld", _clean(ld_section)),
        ("opengraph", meta.first("article:section")),
        ("meta", meta.first(*SECTION_META_NAMES)),
    ):
        if value:
            md.section = value
            prov["section"] = source
            break

    # Tags
    for source, keywords in (
        ("json-ld", _split_keywords(_ld_value(ld, "keywords"))),
        ("opengraph", [t for v in meta.all("article:tag") for t in _split_keywords(v)]),
        ("meta", _split_keywords(meta.first(*KEYWORD_META_NAMES))),
    ):
        if keywords:
            md.tags = _dedupe(keywords)
            prov["tags"] = source
            break

    # Top image
    for source, value in (
        ("json-ld", _image_url(_ld_value(ld, "image"))),
        ("opengraph", meta.first("og:image", "og:image:url", "og:image:secure_url")),
        ("meta", meta.first("twitter:image", "twitter:image:src", "thumbnailurl")),
    ):
        resolved = _absolute(url, value)
        if resolved:
            md.top_image = resolved
            prov["top_image"] = source
            break

    # Paywall declaration and body hint
    free = _ld_value(ld, "isAccessibleForFree")
    if isinstance(free, bool):
        md.accessible_for_free = free
    elif isinstance(free, str) and free.strip().lower() in ("false", "true"):
        md.accessible_for_free = free.strip().lower() == "true"
    body = _ld_value(ld, "articleBody")
    if isinstance(body, str) and body.strip():
        md.article_body = html.unescape(body)
    return md


def _ld_str(objects: list[dict[str, Any]], key: str) -> str | None:
    value = _ld_value(objects, key)
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    return value if isinstance(value, str) else None


def _attr_words(tag: Tag, attr: str) -> list[str]:
    value = tag.attrs.get(attr)
    if isinstance(value, str):
        return value.lower().split()
    return [str(v).lower() for v in value] if isinstance(value, list) else []


_TITLE_TOKENS = re.compile(r"\w+")
CJK_START = 0x2E80


def _is_site_heading(h1: str, title: str, site_names: Sequence[str | None]) -> bool:
    """Whether the <h1> is the site's or a section's name rather than the headline.

    The <title> is split at its separators; segments that match the site's name are the
    site's. The <h1> is the site's when it matches such a segment, or when it shares no word
    with any other segment (a rewritten SEO <title> still shares words with the headline).
    """
    segments = [title]
    for sep in TITLE_SEPARATORS:
        segments = [part for seg in segments for part in seg.split(sep)]
    sites = [_title_tokens(n) for n in site_names if n]
    heading = _title_tokens(h1)
    if not heading:
        return False
    site_segments = [t for seg in segments if (t := _title_tokens(seg)) and t in sites]
    if any(heading == seg for seg in site_segments):
        return True
    others = [t for seg in segments if (t := _title_tokens(seg)) and t not in sites]
    return bool(others) and not any(heading & seg for seg in others)


def _title_tokens(text: str) -> set[str]:
    """Words, or characters in scripts written without spaces (CJK)."""
    tokens: set[str] = set()
    for word in _TITLE_TOKENS.findall(text.casefold()):
        if any(ord(ch) >= CJK_START for ch in word):
            tokens.update(ch for ch in word if ord(ch) >= CJK_START)
        elif len(word) > 2:
            tokens.add(word)
    return tokens


_OWNER_NOISE = re.compile(r"\([^)]*\)|©|\(c\)|copyright|\d{4}(?:\s*[-–]\s*\d{4})?", re.I)


def _owner_name(value: str | None) -> str | None:
    """ "© 2023 Deutsche Welle (www.dw.com)" -> "Deutsche Welle": the page's declared owner."""
    if not value:
        return None
    name = normalize_text(_OWNER_NOISE.sub(" ", value)).strip(" .,;:-")
    return name or None


def _title_suffix(title: str | None) -> str | None:
    """The " | Site" end of a <title>: usually the site's name, whatever og:site_name says."""
    if not title:
        return None
    for sep in TITLE_SEPARATORS:
        if sep in title:
            tail = title.rpartition(sep)[2].strip()
            if 0 < len(tail.split()) <= TITLE_SUFFIX_MAX_WORDS:
                return tail
    return None


def _host_label(host: str | None) -> str | None:
    """The registrable label of a host: "example" for www.example.co.uk."""
    if not host:
        return None
    labels = [p for p in host.lower().split(".") if p not in ("www", "m", "amp")]
    return max(labels[:-1] or labels, key=len) if labels else None


def _meta_source(key: str) -> str:
    return "opengraph" if key.startswith(("og:", "article:")) else "meta"


def _page_lang(soup: BeautifulSoup) -> str | None:
    html_tag = soup.find("html")
    if not isinstance(html_tag, Tag):
        return None
    value = html_tag.get("lang") or html_tag.get("xml:lang")
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _h1_text(tags: Iterable[Tag]) -> str | None:
    h1 = next((t for t in tags if t.name == "h1"), None)
    return _clean(h1.get_text(" ")) if h1 is not None else None

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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag

from pipeline.extract.body import (
    DEFAULT_OPTIONS,
    ExtractionOptions,
    iter_tags,
    normalize_text,
    word_count,
)

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

# <meta name=...> keys for publication dates, best first.
PUBLISHED_META_NAMES: tuple[str, ...] = (
    "pubdate", "publishdate", "publish-date", "publish_date", "date", "dc.date",
    "dc.date.issued", "dcterms.created", "dcterms.date", "sailthru.date", "parsely-pub-date",
    "article.published", "published_time", "original-publish-date", "datepublished",
)  # fmt: skip
MODIFIED_META_NAMES: tuple[str, ...] = (
    "lastmod", "last-modified", "dc.date.modified", "dcterms.modified", "article.updated",
    "revised", "datemodified",
)  # fmt: skip
SECTION_META_NAMES: tuple[str, ...] = ("section", "article-section", "parsely-section", "category")
KEYWORD_META_NAMES: tuple[str, ...] = ("news_keywords", "keywords", "parsely-tags")
AUTHOR_META_NAMES: tuple[str, ...] = (
    "author", "article:author", "byl", "dc.creator", "parsely-author",
)  # fmt: skip

# Elements whose class/id mentions these hold a byline.
BYLINE_CLASS_PHRASES: tuple[str, ...] = ("byline", "author-name", "authorname", "author")

# Author candidates containing these are not personal names.
AUTHOR_REJECT_WORDS: frozenset[str] = frozenset(
    {
        "ago", "staff", "news", "press", "wire", "agency", "agencies", "desk", "team",
        "editor", "editors", "editorial", "reporter", "reporters", "correspondent", "contributor",
        "admin", "administrator", "updated", "published", "posted", "associated", "reuters",
        "afp", "bloomberg", "media", "newsroom", "online", "digital", "service", "services",
        "inc", "ltd", "llc", "group", "magazine", "times", "post", "daily", "tribune", "herald",
        "journal", "gazette", "network", "tv", "radio",
    }
)  # fmt: skip
AUTHOR_SPLIT = re.compile(r"\s*(?:,|;|\band\b|&|\bund\b|\bet\b|\by\b)\s*", re.IGNORECASE)
AUTHOR_PREFIX = re.compile(r"^(?:written\s+by|posted\s+by|by|von|par|por|author:?)\s+", re.I)
AUTHOR_MAX_WORDS = 5

# Separators between a page title and the site name in <title>.
TITLE_SEPARATORS: tuple[str, ...] = (" | ", " - ", " – ", " — ", " :: ", " · ", " » ", " / ")
TITLE_SUFFIX_MAX_WORDS = 4

# Dates in article URLs: /2026/03/10/ or /2026-03-10/ (also the 8-digit /20260310/).
URL_DATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|[-_.]|$)"),
    re.compile(r"/((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])/"),
)
# An ISO-like date inside a longer string ("Posted 2026-03-10T08:00:00Z by ...").
EMBEDDED_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:\s?Z|\s?[+-]\d{2}:?\d{2})?"
)
# strptime fallbacks for human-written dates in meta tags.
HUMAN_DATE_FORMATS: tuple[str, ...] = (
    "%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%Y/%m/%d", "%m/%d/%Y", "%Y%m%d",
    "%B %d, %Y %I:%M %p", "%b %d, %Y %I:%M %p", "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M %z",
)  # fmt: skip
MIN_YEAR = 1990

_JSON_LD_TYPE = re.compile(r"ld\+json|json\+ld", re.IGNORECASE)
_LANG_CODE = re.compile(r"^([a-zA-Z]{2})(?:[-_].*)?$")


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class PageMetadata:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    modified_at: datetime | None = None
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


def parse_json_ld(soup: BeautifulSoup, tags: Sequence[Tag] | None = None) -> list[dict[str, Any]]:
    """Article-like JSON-LD objects on the page, most specific type first.

    ``tags`` is every tag of ``soup`` in document order, when the caller already has them.
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
    """Parse an ISO 8601, RFC 822 or common human date; return (UTC datetime, was_naive)."""
    text = value.strip()
    if not text:
        return None
    parsed: datetime | None = None
    candidates = [text, text.replace(" ", "T", 1)]
    match = EMBEDDED_ISO.search(text)
    if match:
        candidates.append(match.group(0).replace(" Z", "Z"))
    for candidate in candidates:
        try:
            parsed = datetime.fromisoformat(candidate.replace("Z", "+00:00").replace(" +", "+"))
            break
        except ValueError:
            continue
    if parsed is None:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is None:
        for fmt in HUMAN_DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None or parsed.year < MIN_YEAR:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return parsed.replace(tzinfo=UTC), True
    return parsed.astimezone(UTC), False


def _url_date(url: str) -> datetime | None:
    path = urlsplit(url).path
    for pattern in URL_DATE_PATTERNS:
        match = pattern.search(path)
        if match:
            try:
                year, month, day = (int(g) for g in match.groups())
                return datetime(year, month, day, tzinfo=UTC)
            except ValueError:
                continue
    return None


def _pick_date(
    candidates: Iterable[tuple[str, str | None]],
    fetched_at: datetime | None,
    options: ExtractionOptions,
    field_name: str,
) -> tuple[datetime, str] | None:
    """First candidate that parses and is not in the future of ``fetched_at``."""
    for provenance, raw in candidates:
        if not raw:
            continue
        result = parse_datetime(raw)
        if result is None:
            continue
        moment, naive = result
        if fetched_at is not None:
            fetched = fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=UTC)
            if moment > fetched + options.future_slack:
                log.debug("%s %s rejected: after fetched_at %s", field_name, moment, fetched)
                continue
        if naive:
            log.debug("%s %r has no timezone; treated as UTC", field_name, raw)
        return moment, provenance
    return None


def _time_tags(tags: Iterable[Tag], kind: str) -> list[str]:
    """<time datetime> values; ``kind`` "published" prefers pubdate/published-looking ones."""
    preferred: list[str] = []
    other: list[str] = []
    for tag in tags:
        if tag.name != "time":
            continue
        value = tag.get("datetime")
        if not isinstance(value, str) or not value.strip():
            continue
        hints = " ".join(
            str(v) for v in (tag.get("class"), tag.get("itemprop"), tag.get("pubdate")) if v
        ).lower()
        if tag.has_attr("pubdate"):
            hints += " published"
        is_published = "publish" in hints or "pubdate" in hints
        is_modified = "modif" in hints or "updat" in hints
        if (kind == "published" and is_published) or (kind == "modified" and is_modified):
            preferred.append(value)
        elif kind == "published" and not is_modified:
            other.append(value)
    return preferred + other


# --------------------------------------------------------------------------------------------
# Authors


def _json_ld_names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        name = value.get("name")
        if isinstance(name, str):
            return [name]
        if isinstance(name, list):
            return [n for n in name if isinstance(n, str)]
        given, family = value.get("givenName"), value.get("familyName")
        if isinstance(given, str) and isinstance(family, str):
            return [f"{given} {family}"]
        return []
    if isinstance(value, list):
        return [n for item in value for n in _json_ld_names(item)]
    return []


def clean_authors(raw_values: Iterable[str], outlet_names: Iterable[str] = ()) -> list[str]:
    """Split and filter author strings down to personal names, order kept, no duplicates."""
    outlets = {o.lower() for o in outlet_names if o}
    names: list[str] = []
    seen: set[str] = set()
    for raw in raw_values:
        text = normalize_text(html.unescape(raw))
        if not text or "|" in text or "@" in text or "://" in text or text.startswith("www."):
            continue
        text = AUTHOR_PREFIX.sub("", text)
        for part in AUTHOR_SPLIT.split(text):
            name = AUTHOR_PREFIX.sub("", part.strip(" .:-–—\t")).strip()
            if not name or name.lower() in seen:
                continue
            words = name.split()
            lowered = {w.lower().strip(".,") for w in words}
            if (
                len(words) > AUTHOR_MAX_WORDS
                or len(name) < 3
                or any(ch.isdigit() for ch in name)
                or lowered & AUTHOR_REJECT_WORDS
                or name.lower() in outlets
                or not any(ch.isalpha() for ch in name)
                or (name.isupper() and len(words) == 1)
            ):
                continue
            seen.add(name.lower())
            names.append(name)
    return names


def _attr_words(tag: Tag, attr: str) -> list[str]:
    value = tag.attrs.get(attr)
    if isinstance(value, str):
        return value.lower().split()
    return [str(v).lower() for v in value] if isinstance(value, list) else []


def _byline_texts(tags: Sequence[Tag]) -> list[str]:
    texts: list[str] = []
    for tag in tags:
        if tag.name != "link" and "author" in _attr_words(tag, "rel"):
            texts.append(tag.get_text(" "))
    for tag in tags:
        if "author" in _attr_words(tag, "itemprop"):
            name = tag.find(itemprop="name")
            texts.append((name if isinstance(name, Tag) else tag).get_text(" "))
    if texts:
        return texts
    for tag in tags:
        classes = " ".join(_attr_words(tag, "class"))
        if any(p in classes for p in BYLINE_CLASS_PHRASES) and len(tag.get_text()) < 200:
            texts.append(tag.get_text(" "))
            break
    return texts


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
) -> PageMetadata:
    """Read metadata from an unmodified parsed page (before boilerplate is stripped).

    Language is only read from declarations here; detection from text happens once the body is
    known (see ``detect_language``). ``tags`` is every tag of ``soup`` in document order, when
    the caller already has them.
    """
    every_tag = _all_tags(soup, tags)
    ld = parse_json_ld(soup, every_tag) if json_ld is None else json_ld
    meta = _Meta(every_tag)
    md = PageMetadata()
    prov = md.provenance

    publisher = _ld_value(ld, "publisher")
    publisher_name = _clean(publisher.get("name")) if isinstance(publisher, dict) else None
    md.site_name = meta.first("og:site_name", "application-name") or publisher_name

    # Title
    for source, value, aggressive in (
        ("json-ld", _clean(_ld_value(ld, "headline")), False),
        ("opengraph", meta.first("og:title", "twitter:title"), False),
        ("html", _h1_text(every_tag), False),
        ("html", _clean(soup.title.get_text()) if soup.title else None, True),
    ):
        if value:
            md.title = _strip_site_suffix(value, md.site_name, aggressive)
            prov["title"] = source
            break

    # Authors
    outlets = [n for n in (md.site_name, publisher_name, urlsplit(url).hostname) if n]
    for source, raws in (
        ("json-ld", _json_ld_names(_ld_value(ld, "author"))),
        ("meta", [v for key in AUTHOR_META_NAMES for v in meta.all(key)]),
        ("html", _byline_texts(every_tag)),
    ):
        authors = clean_authors(raws, outlets)
        if authors:
            md.authors = authors
            prov["authors"] = source
            break

    # Dates
    published = _pick_date(
        [
            ("json-ld", _ld_str(ld, "datePublished")),
            ("json-ld", _ld_str(ld, "dateCreated")),
            ("opengraph", meta.first("article:published_time", "og:published_time")),
            *(("meta", meta.first(name)) for name in PUBLISHED_META_NAMES),
            *(("time-tag", value) for value in _time_tags(every_tag, "published")),
        ],
        fetched_at,
        options,
        "published_at",
    )
    if published is None:
        url_date = _url_date(url)
        if url_date is not None:
            published = _pick_date(
                [("url", url_date.isoformat())], fetched_at, options, "published_at"
            )
    if published is not None:
        md.published_at, prov["published_at"] = published
    modified = _pick_date(
        [
            ("json-ld", _ld_str(ld, "dateModified")),
            ("opengraph", meta.first("article:modified_time", "og:updated_time")),
            *(("meta", meta.first(name)) for name in MODIFIED_META_NAMES),
            *(("time-tag", value) for value in _time_tags(every_tag, "modified")),
        ],
        fetched_at,
        options,
        "modified_at",
    )
    if modified is not None:
        md.modified_at, prov["modified_at"] = modified

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


def _h1_text(tags: Iterable[Tag]) -> str | None:
    h1 = next((t for t in tags if t.name == "h1"), None)
    return _clean(h1.get_text(" ")) if h1 is not None else None

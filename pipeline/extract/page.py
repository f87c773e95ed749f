"""The article extractor: HTML in, article text and metadata (with provenance) out."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning

from pipeline.extract.blocks import ScoredBlock
from pipeline.extract.body import (
    DEFAULT_OPTIONS,
    ExtractionOptions,
    extract_body,
    iter_tags,
    normalize_text,
    strip_raw_html,
    word_count,
)
from pipeline.extract.decode import decode_html
from pipeline.extract.metadata import detect_language, extract_metadata
from pipeline.extract.tree import parse_html
from pipeline.reasons import EXTRACTION_REASONS

_WORDS = re.compile(r"\w+")

__all__ = [
    "DEFAULT_OPTIONS",
    "Extraction",
    "ExtractionError",
    "ExtractionOptions",
    "extract_article",
]


@dataclass(frozen=True)
class Extraction:
    title: str | None
    text: str  # paragraphs separated by "\n\n"
    authors: list[str]
    published_at: datetime | None  # timezone-aware UTC
    modified_at: datetime | None  # timezone-aware UTC
    language: str | None  # ISO 639-1, e.g. "en"
    canonical_url: str | None  # absolute
    description: str | None
    section: str | None
    tags: list[str]
    top_image: str | None  # absolute URL
    is_truncated: bool  # paywall teaser / truncated body
    # field -> "json-ld" | "opengraph" | "meta" | "time-tag" | "html" | "url" | "htmldate"
    #          | "detected"
    provenance: dict[str, str] = field(default_factory=dict)
    # The publication time's UTC offset in minutes as the page gave it (None: no offset given).
    published_offset_minutes: int | None = None
    # False when the page gave only a day: published_at is then midnight UTC of that day.
    published_time_known: bool = False
    agencies: list[str] = field(default_factory=list)  # news-agency credits (AP, dpa, ...)


class ExtractionError(Exception):
    """The page yields no article; ``reason`` is machine-readable, ``str(exc)`` is the detail."""

    REASONS = EXTRACTION_REASONS

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


def _parse(html: str | bytes) -> BeautifulSoup:
    if isinstance(html, bytes):
        html = decode_html(html, None)[0]
    if not html or not html.strip():
        raise ExtractionError("unparseable", "empty document")
    try:
        with warnings.catch_warnings():
            # Feeds and fragments reach us by mistake; they are rejected downstream, not warned on.
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
            # Splitting class="a b" into lists costs parse time and nothing here needs it:
            # class/id vocabulary is matched on the raw attribute string.
            # parse_html gives the tree BeautifulSoup(html, "lxml") would, at about twice the speed.
            return parse_html(strip_raw_html(html))
    except Exception as exc:  # lxml/bs4 raise assorted types on pathological input
        raise ExtractionError("unparseable", f"{type(exc).__name__}: {exc}") from exc


def _key(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def _paragraphs_from_hint(hint: str) -> list[str]:
    return [p for line in hint.splitlines() if (p := normalize_text(line))]


def extract_blocks(
    html: str | bytes, url: str, *, options: ExtractionOptions = DEFAULT_OPTIONS
) -> list[ScoredBlock]:
    """Every text block of the page with its features, as the block classifier sees them.

    For training the classifier (``bench/train_blocks.py``): features are computed with
    ``options.block_model``'s hash size even when its weights are empty.
    """
    soup = _parse(html)
    md = extract_metadata(soup, url, options=options)
    hint = md.article_body
    usable_hint = hint if hint and word_count(hint) >= options.min_hint_words else None
    return extract_body(soup, options, hint=usable_hint, title=md.title).blocks


def extract_article(
    html: str | bytes,
    url: str,
    *,
    fetched_at: datetime | None = None,
    options: ExtractionOptions = DEFAULT_OPTIONS,
) -> Extraction:
    """Extract the article in ``html`` (fetched from ``url``).

    Raises ExtractionError with reason "unparseable", "empty_extraction" (no body text survives)
    or "not_an_article" (listing/index pages, or too little prose to be a story).
    """
    soup = _parse(html)
    tags = list(iter_tags(soup))
    if not tags:
        raise ExtractionError("unparseable", "no elements in document")

    # Metadata first: body extraction strips scripts and boilerplate.
    md = extract_metadata(soup, url, fetched_at=fetched_at, options=options, tags=tags)

    hint = md.article_body
    usable_hint = hint if hint and word_count(hint) >= options.min_hint_words else None
    body = extract_body(soup, options, hint=usable_hint, title=md.title)
    provenance = dict(md.provenance)
    paragraphs = body.paragraphs
    prose_words = body.prose_words
    provenance["text"] = "html"

    if prose_words < options.min_article_words and usable_hint:
        # The page renders its text with JavaScript (or hides it): the publisher's own
        # articleBody is the best text there is.
        paragraphs = _paragraphs_from_hint(usable_hint)
        prose_words = word_count(usable_hint)
        provenance["text"] = "json-ld"

    # The headline often sits inside the container as a paragraph or h2; it is not body text.
    if md.title and paragraphs:
        title_key = _key(md.title)
        paragraphs = [p for i, p in enumerate(paragraphs) if i > 2 or _key(p) != title_key]

    if not paragraphs:
        raise ExtractionError("empty_extraction", "no body text survived boilerplate removal")
    if body.container_link_density > options.listing_link_density and provenance["text"] == "html":
        raise ExtractionError(
            "not_an_article",
            f"body is mostly links (link density {body.container_link_density:.2f})",
        )
    if (
        body.teasers >= options.listing_min_teasers
        and body.teasers >= options.listing_teaser_ratio * max(body.blocks_seen, 1)
        and (
            prose_words <= options.listing_max_prose_words
            or body.linked_openings >= options.listing_linked_opening_ratio * body.kept_blocks
        )
    ):
        raise ExtractionError(
            "not_an_article", f"{body.teasers} linked headlines among {body.blocks_seen} blocks"
        )
    if prose_words < options.min_article_words:
        raise ExtractionError(
            "not_an_article", f"only {prose_words} words of prose (< {options.min_article_words})"
        )

    text = "\n\n".join(paragraphs)
    language = md.language
    if language is None:
        language = detect_language(text, options)
        if language:
            provenance["language"] = "detected"

    paywalled = md.accessible_for_free is False or body.paywall_marker
    is_truncated = paywalled and word_count(text) <= options.truncated_max_words
    return Extraction(
        title=md.title,
        text=text,
        authors=md.authors,
        published_at=md.published_at,
        modified_at=md.modified_at,
        language=language,
        canonical_url=md.canonical_url,
        description=md.description,
        section=md.section,
        tags=md.tags,
        top_image=md.top_image,
        is_truncated=is_truncated,
        provenance=provenance,
        published_offset_minutes=md.published.offset_minutes if md.published else None,
        published_time_known=md.published.time_known if md.published else False,
        agencies=md.agencies,
    )

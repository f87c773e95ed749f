"""The extract stage: archived pages -> Article rows and recorded rejects, plus the fetch log.

It reads only the archive, so a live run and a replay of the archive produce the same rows.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.extract.body import DEFAULT_OPTIONS, ExtractionOptions
from pipeline.extract.decode import UndecodableError, decode_html
from pipeline.extract.page import ExtractionError, extract_article
from pipeline.extract.record import article_from_page
from pipeline.fetch.archive import ArchivedEvent, iter_events, load_response, supersedes
from pipeline.fetch.http import header_value
from pipeline.models import Article, FetchOutcome, Reject, RunWindow
from pipeline.results import SourceCounts
from pipeline.storage.root import Root, as_root

log = logging.getLogger(__name__)
_WORD = re.compile(r"\w+")


@dataclass
class SourceArticles:
    source: str
    articles: list[Article] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    fetch_log: list[FetchOutcome] = field(default_factory=list)

    def counts(self) -> SourceCounts:
        """The source's accounting before dedup (nothing is written yet)."""
        return SourceCounts.from_rows(self.source, self.fetch_log, self.rejects)


def build_source_articles(
    archive_root: Root | str | Path,
    archive_file: str,
    window: RunWindow,
    source: str,
    options: ExtractionOptions = DEFAULT_OPTIONS,
) -> SourceArticles:
    """Turn one archived run of a source (a WARC file relative to the root) into rows.

    One pass over the file, one page body in memory at a time: each page is extracted as it is
    read and its body let go, so a source of 5,000 pages costs no more memory than its rows.
    The page kept per URL is the one ``latest_per_url`` keeps; should a later event of a URL
    replace an earlier one, its outcome replaces the earlier outcome, in the URL's first place.
    """
    archive_root = as_root(archive_root)
    charsets: dict[str, str] = {}
    kept: dict[str, dict[str, ArchivedEvent]] = {"discovery": {}, "page": {}}
    outcomes: dict[str, Article | Reject | None] = {}
    for archived in iter_events(archive_root, archive_file):
        role = archived.event.role
        if role not in kept or not supersedes(archived, kept[role].get(archived.url)):
            continue
        kept[role][archived.url] = replace(archived, body=None)  # the log needs no body
        if role == "page":
            charsets.pop(archived.url, None)
            outcomes[archived.url] = _outcome_of(archived, archive_root, window, options, charsets)
    result = SourceArticles(source=source)
    for outcome in outcomes.values():
        if isinstance(outcome, Reject):
            result.rejects.append(outcome)
        elif outcome is not None:
            result.articles.append(outcome)
    for archived in [*kept["discovery"].values(), *kept["page"].values()]:
        result.fetch_log.append(
            FetchOutcome.of(
                archived.event,
                archive_file=archived.archive_file,
                warc_record_id=archived.record_id,
                charset=charsets.get(archived.url),
            )
        )
    return result


def _outcome_of(
    archived: ArchivedEvent,
    archive_root: Root,
    window: RunWindow,
    options: ExtractionOptions,
    charsets: dict[str, str],
) -> Article | Reject | None:
    """A page event's article or reject; None for a page that was not fetched."""
    if archived.event.status != "fetched":
        return None
    response = _response_of(archived, archive_root)
    if response is None:
        return Reject(
            archived.url,
            archived.event.source,
            "extract",
            "archive_missing",
            "the archived copy this 304 refers to is gone",
        )
    return _page_outcome(archived, response, window, options, charsets)


def _page_outcome(
    archived: ArchivedEvent,
    response: tuple[int, list[tuple[str, str]], bytes],
    window: RunWindow,
    options: ExtractionOptions,
    charsets: dict[str, str],
) -> Article | Reject:
    """One page's article, or its reject: a bad page never raises out of the stage."""
    status, headers, body = response

    def reject(reason: str, detail: str) -> Reject:
        return Reject(archived.url, archived.event.source, "extract", reason, detail)

    try:
        html, charset = decode_html(body, header_value(headers, "content-type"))
    except UndecodableError as exc:
        return reject("decode_error", str(exc))
    charsets[archived.url] = charset
    try:
        return _article(archived, status, html, charset, window, options)
    except RecursionError:
        # The extractor's tree walk has a depth limit: Python's. Nesting that deep (a thousand
        # unclosed <font> tags) is no article anyway.
        return reject("unparseable", "the document nests deeper than the extractor walks")
    except MemoryError:
        raise
    except Exception as exc:  # one page's extractor bug must not cost the source its day
        log.exception("extract %s: %s failed", archived.event.source, archived.url)
        return reject("extract_error", f"{type(exc).__name__}: {exc}"[:500])


def _response_of(
    archived: ArchivedEvent, archive_root: Root
) -> tuple[int, list[tuple[str, str]], bytes] | None:
    body_from = archived.event.body_from
    if body_from:  # a 304: the body is the copy an earlier run archived
        stored = load_response(archive_root, body_from)
        return (stored.status, stored.headers, stored.body) if stored else None
    if archived.status is None or archived.body is None:
        return None
    return archived.status, archived.headers, archived.body


def _article(
    archived: ArchivedEvent,
    status: int,
    html: str,
    charset: str,
    window: RunWindow,
    options: ExtractionOptions,
) -> Article | Reject:
    event = archived.event
    source = event.source
    final_url = event.final_url or event.url
    # For a 304 the content is the archived copy, so its time is when that copy was received.
    fetched_at = event.content_fetched_at or event.fetched_at
    try:
        extraction = extract_article(html, final_url, fetched_at=fetched_at, options=options)
    except ExtractionError as exc:
        return Reject(event.url, source, "extract", exc.reason, str(exc))
    return article_from_page(event, extraction, status, charset)

"""The extract stage: archived pages -> Article rows and recorded rejects, plus the fetch log.

It reads only the archive, so a live run and a replay of the archive produce the same rows.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.extract.decode import decode_html
from pipeline.extract.page import ExtractionError, extract_article
from pipeline.fetch.archive import (
    ArchivedEvent,
    ResponseRef,
    latest_per_url,
    load_response,
    read_events,
)
from pipeline.fetch.http import header_value
from pipeline.fetch.urls import canonicalize, url_hash
from pipeline.models import Article, FetchOutcome, Reject, RunWindow

_WORD = re.compile(r"\w+")


@dataclass
class SourceArticles:
    source: str
    articles: list[Article] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    fetch_log: list[FetchOutcome] = field(default_factory=list)

    def counters(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "pages_fetched": sum(
                1 for row in self.fetch_log if row.role == "page" and row.status == "fetched"
            ),
            "articles": len(self.articles),
            "rejected": dict(Counter(reject.reason for reject in self.rejects)),
        }


def build_source_articles(archive_file: Path, window: RunWindow, source: str) -> SourceArticles:
    """Turn one archived run of a source into articles, rejects and fetch-log rows."""
    events = read_events(archive_file)
    archive_root = archive_file.parents[2]  # <root>/dt=YYYY-MM-DD/<source>/<run>.warc.gz
    result = SourceArticles(source=source)
    charsets: dict[str, str] = {}
    pages = latest_per_url(events, "page")
    for event in pages:
        if event.meta.get("status") != "fetched":
            continue
        response = _response_of(event, archive_root)
        if response is None:
            result.rejects.append(
                Reject(
                    event.url,
                    source,
                    "extract",
                    "archive_missing",
                    "the archived copy this 304 refers to is gone",
                )
            )
            continue
        status, headers, body = response
        html, charset = decode_html(body, header_value(headers, "content-type"))
        charsets[event.url] = charset
        outcome = _article(event, status, html, charset, window)
        if isinstance(outcome, Reject):
            result.rejects.append(outcome)
        else:
            result.articles.append(outcome)
    for event in latest_per_url(events, "discovery") + pages:
        result.fetch_log.append(_fetch_log_row(event, charsets.get(event.url)))
    return result


def _response_of(
    event: ArchivedEvent, archive_root: Path
) -> tuple[int, list[tuple[str, str]], bytes] | None:
    body_from = event.meta.get("body_from")
    if body_from:  # a 304: the body is the copy an earlier run archived
        stored = load_response(
            archive_root,
            ResponseRef(body_from["archive_file"], body_from["record_id"], body_from.get("offset")),
        )
        return (stored.status, stored.headers, stored.body) if stored else None
    if event.status is None or event.body is None:
        return None
    return event.status, event.headers, event.body


def _article(
    event: ArchivedEvent, status: int, html: str, charset: str, window: RunWindow
) -> Article | Reject:
    meta = event.meta
    source = str(meta["source"])
    final_url = str(meta.get("final_url") or event.url)
    # For a 304 the content is the archived copy, so its time is when that copy was received.
    fetched_at = datetime.fromisoformat(str(meta.get("content_fetched_at") or meta["fetched_at"]))
    try:
        extraction = extract_article(html, final_url, fetched_at=fetched_at)
    except ExtractionError as exc:
        return Reject(event.url, source, "extract", exc.reason, str(exc))

    provenance = dict(extraction.provenance)
    published_at = extraction.published_at
    offset_minutes = extraction.published_offset_minutes
    time_known: bool | None = extraction.published_time_known if published_at else None
    if published_at is None and meta.get("feed_published_at"):
        published_at = datetime.fromisoformat(str(meta["feed_published_at"]))
        provenance["published_at"] = "feed"
        offset_minutes, time_known = None, None  # the feed's own precision is not recorded
    title = extraction.title
    if title is None and meta.get("feed_title"):
        title = str(meta["feed_title"])
        provenance["title"] = "feed"
    if published_at is not None and not window.contains(published_at):
        return Reject(
            event.url,
            source,
            "window",
            "out_of_window",
            f"published {published_at.isoformat()}, outside {window.partition}",
        )

    canonical_url = canonicalize(extraction.canonical_url or final_url)
    return Article(
        article_id=url_hash(canonical_url),
        url=event.url,
        canonical_url=canonical_url,
        source=source,
        title=title,
        text=extraction.text,
        fetched_at=fetched_at,
        authors=list(extraction.authors),
        language=extraction.language,
        word_count=len(_WORD.findall(extraction.text)),
        published_at=published_at,
        modified_at=extraction.modified_at,
        published_offset_minutes=offset_minutes,
        published_time_known=time_known,
        agencies=list(extraction.agencies),
        description=extraction.description,
        section=extraction.section,
        tags=list(extraction.tags),
        top_image=extraction.top_image,
        is_truncated=extraction.is_truncated,
        http_status=status,
        charset=charset,
        discovered_via=meta.get("discovered_via"),
        provenance=provenance,
    )


def _fetch_log_row(event: ArchivedEvent, charset: str | None) -> FetchOutcome:
    meta = event.meta
    fetched_at = meta.get("fetched_at")
    status = str(meta.get("status"))
    if status == "fetched":
        outcome = "not_modified" if meta.get("body_from") else "ok"
    else:
        outcome = str(meta.get("reason") or "unknown")
    return FetchOutcome(
        url=event.url,
        source=str(meta.get("source")),
        role=str(meta.get("role")),
        status=status,
        outcome=outcome,
        reason=meta.get("reason"),
        detail=meta.get("detail"),
        http_status=meta.get("http_status"),
        final_url=meta.get("final_url"),
        content_type=meta.get("content_type"),
        charset=charset,
        bytes=int(meta.get("bytes") or 0),
        elapsed_ms=meta.get("elapsed_ms"),
        attempts=int(meta.get("attempts") or 0),
        fetched_at=datetime.fromisoformat(fetched_at) if fetched_at else None,
        discovered_via=meta.get("discovered_via"),
        run_id=meta.get("run_id"),
        archive_file=event.archive_file,
        warc_record_id=event.record_id,
    )

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

from pipeline.archive import ArchivedEvent, latest_per_url, read_events
from pipeline.decode import decode_html
from pipeline.extract import ExtractionError, extract_article
from pipeline.models import Article, FetchOutcome, Reject, RunWindow
from pipeline.urls import canonicalize, url_hash

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
    result = SourceArticles(source=source)
    for event in latest_per_url(events, "discovery") + latest_per_url(events, "page"):
        result.fetch_log.append(_fetch_log_row(event))
    for event in latest_per_url(events, "page"):
        if event.meta.get("status") != "fetched" or event.body is None:
            continue
        outcome = _article_from_event(event, window)
        if isinstance(outcome, Reject):
            result.rejects.append(outcome)
        else:
            result.articles.append(outcome)
    return result


def _article_from_event(event: ArchivedEvent, window: RunWindow) -> Article | Reject:
    meta = event.meta
    source = str(meta["source"])
    final_url = str(meta.get("final_url") or event.url)
    fetched_at = datetime.fromisoformat(str(meta["fetched_at"]))
    content_type = _header(event.headers, "content-type")
    assert event.body is not None
    html, charset = decode_html(event.body, content_type)
    try:
        extraction = extract_article(html, final_url, fetched_at=fetched_at)
    except ExtractionError as exc:
        return Reject(event.url, source, "extract", exc.reason, str(exc))

    provenance = dict(extraction.provenance)
    published_at = extraction.published_at
    if published_at is None and meta.get("feed_published_at"):
        published_at = datetime.fromisoformat(str(meta["feed_published_at"]))
        provenance["published_at"] = "feed"
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
        description=extraction.description,
        section=extraction.section,
        tags=list(extraction.tags),
        top_image=extraction.top_image,
        is_truncated=extraction.is_truncated,
        http_status=event.status,
        charset=charset,
        discovered_via=meta.get("discovered_via"),
        provenance=provenance,
    )


def _fetch_log_row(event: ArchivedEvent) -> FetchOutcome:
    meta = event.meta
    fetched_at = meta.get("fetched_at")
    return FetchOutcome(
        url=event.url,
        source=str(meta.get("source")),
        role=str(meta.get("role")),
        status=str(meta.get("status")),
        reason=meta.get("reason"),
        detail=meta.get("detail"),
        http_status=meta.get("http_status"),
        final_url=meta.get("final_url"),
        content_type=meta.get("content_type"),
        fetched_at=datetime.fromisoformat(fetched_at) if fetched_at else None,
        discovered_via=meta.get("discovered_via"),
        run_id=meta.get("run_id"),
        archive_file=event.archive_file,
        warc_record_id=event.record_id,
    )


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None

"""The records that flow between stages.

Stages never read the clock: every time comes from the run window or from a fetched response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta


@dataclass(frozen=True)
class RunWindow:
    """A data interval [start, end) in UTC; a run publishes the partition for ``start``'s day."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("RunWindow bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"RunWindow end {self.end} is not after start {self.start}")

    @classmethod
    def for_day(cls, day: date) -> RunWindow:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return cls(start, start + timedelta(days=1))

    @property
    def day(self) -> date:
        return self.start.astimezone(UTC).date()

    @property
    def partition(self) -> str:
        """The partition label, ``dt=YYYY-MM-DD``."""
        return f"dt={self.day.isoformat()}"

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class Candidate:
    """A discovered URL, with what the feed or sitemap said about it (used as a fallback)."""

    url: str
    source: str
    discovered_via: str  # "feed" | "sitemap" | "url_list"
    discovered_from: str  # the feed/sitemap URL, or "config"
    feed_title: str | None = None
    feed_published_at: datetime | None = None
    lastmod: datetime | None = None  # a sitemap's <lastmod> for the URL
    seen_on: datetime | None = None  # when the frontier says it was last fetched, on a past day

    @property
    def listed_at(self) -> datetime | None:
        """The listing's date for the URL: the feed or news-sitemap date, else its lastmod."""
        return self.feed_published_at or self.lastmod


@dataclass(frozen=True)
class ResponseRef:
    """Where an archived response lives: a WARC file relative to the archive root, and its id."""

    archive_file: str
    record_id: str
    offset: int | None = None  # byte offset of the record's gzip member, when known


@dataclass(frozen=True)
class FetchEvent:
    """What happened to one URL in a fetch run; the archive stores one per URL event.

    Written and parsed only by :mod:`pipeline.fetch.archive` (as the JSON payload of a WARC
    ``metadata`` record); the fetch log row is a projection of it (:meth:`FetchOutcome.of`).
    """

    url: str
    source: str
    run_id: str
    role: str  # "discovery" (a feed or sitemap) | "page"
    status: str  # "fetched" | "skipped" | "failed"
    fetched_at: datetime  # when the event happened (the response arrived, or the decision)
    reason: str | None = None  # a code of pipeline.reasons
    detail: str | None = None
    kind: str | None = None  # discovery events: "feed" | "sitemap"
    http_status: int | None = None  # as received (304 when answered from the archive)
    final_url: str | None = None
    content_type: str | None = None
    redirects: tuple[str, ...] = ()
    bytes: int = 0
    elapsed_ms: int | None = None
    attempts: int = 0
    discovered_via: str | None = None  # pages: "feed" | "sitemap" | "url_list"
    discovered_from: str | None = None  # the feed or sitemap URL, or "config"
    feed_title: str | None = None
    feed_published_at: datetime | None = None
    lastmod: datetime | None = None  # the sitemap's <lastmod> for the URL
    # A 304: the body is the copy an earlier run archived, received at content_fetched_at.
    body_from: ResponseRef | None = None
    content_fetched_at: datetime | None = None
    # seen_before: when the URL was fetched on an earlier day.
    seen_on: datetime | None = None

    @property
    def listed_at(self) -> datetime | None:
        """The listing's date for the URL: the feed or news-sitemap date, else its lastmod."""
        return self.feed_published_at or self.lastmod

    @property
    def outcome(self) -> str:
        if self.status == "fetched":
            return "not_modified" if self.body_from else "ok"
        return self.reason or "unknown"


@dataclass(frozen=True)
class FetchOutcome:
    """One row of the fetch log: what happened to one feed, sitemap or page URL."""

    url: str
    source: str
    role: str  # "discovery" (a feed or sitemap) | "page"
    status: str  # "fetched" | "skipped" | "failed"
    outcome: str  # "ok" | "not_modified" | the reason
    reason: str | None = None  # machine-readable, e.g. "robots", "http_404", "read_timeout"
    detail: str | None = None
    http_status: int | None = None
    final_url: str | None = None
    content_type: str | None = None
    charset: str | None = None
    bytes: int = 0
    elapsed_ms: int | None = None
    attempts: int = 0
    fetched_at: datetime | None = None
    discovered_via: str | None = None
    run_id: str | None = None
    archive_file: str | None = None
    warc_record_id: str | None = None

    @classmethod
    def of(
        cls,
        event: FetchEvent,
        *,
        archive_file: str | None,
        warc_record_id: str | None,
        charset: str | None,
    ) -> FetchOutcome:
        """The fetch-log row of an archived event."""
        return cls(
            url=event.url,
            source=event.source,
            role=event.role,
            status=event.status,
            outcome=event.outcome,
            reason=event.reason,
            detail=event.detail,
            http_status=event.http_status,
            final_url=event.final_url,
            content_type=event.content_type,
            charset=charset,
            bytes=event.bytes,
            elapsed_ms=event.elapsed_ms,
            attempts=event.attempts,
            fetched_at=event.fetched_at,
            discovered_via=event.discovered_via,
            run_id=event.run_id,
            archive_file=archive_file,
            warc_record_id=warc_record_id,
        )


@dataclass(frozen=True)
class Article:
    """One extracted article, the record between extract and publish.

    A published row of the articles table is an ``Article`` plus its :class:`StoryAssignment`
    (``pipeline.schema.ARTICLES_SCHEMA`` mirrors the two together).
    """

    article_id: str
    url: str
    canonical_url: str
    source: str
    title: str | None
    text: str
    fetched_at: datetime
    authors: list[str] = field(default_factory=list)
    language: str | None = None
    word_count: int = 0
    published_at: datetime | None = None
    # The feed or sitemap date that put the URL into the run (None for URL lists), and whether
    # it disagrees with published_at by more than 36 hours.
    listed_at: datetime | None = None
    date_conflict: bool = False
    modified_at: datetime | None = None
    description: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    top_image: str | None = None
    is_truncated: bool = False
    http_status: int | None = None
    charset: str | None = None
    discovered_via: str | None = None
    provenance: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoryAssignment:
    """What dedup decided for one article: its story, and whether it is that story's canonical."""

    article_id: str
    content_hash: str
    story_id: str
    is_duplicate: bool = False
    duplicate_of: str | None = None
    similarity: float | None = None


@dataclass(frozen=True)
class Reject:
    """A URL that was fetched but produced no article row, with the reason."""

    url: str
    source: str
    stage: str  # "extract" | "window" | "dedup"
    reason: str
    detail: str | None = None

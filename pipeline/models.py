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
    modified_at: datetime | None = None
    # The UTC offset (minutes) the page wrote published_at in; None when it gave no offset.
    published_offset_minutes: int | None = None
    # False when the page gave only a day (published_at is then midnight UTC of that day);
    # None when there is no published_at or it came from a feed, whose precision is unknown.
    published_time_known: bool | None = None
    agencies: list[str] = field(default_factory=list)  # news-agency credits (AP, dpa, ...)
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

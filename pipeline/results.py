"""What each stage did: typed results, counters plus the artifacts written.

Every stage returns one of these; each serialises to a small dict (``as_dict``) for an Airflow
XCom and back (``from_dict``). Counters are derived once, where the rows are made
(:meth:`SourceCounts.from_rows`), and then only folded: by ``publish`` into the run summary, and by
the report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from pipeline.models import FetchOutcome, Reject, StoryAssignment


def _sorted_counts(counter: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(counter.items()))


@dataclass(frozen=True)
class SourceCounts:
    """One source's accounting for one day: every discovered page URL ends in exactly one bucket.

    ``discovered = written + skipped + failed + rejected``; ``unaccounted`` is what is left over
    (it must be 0).
    """

    source: str
    discovered: int = 0
    fetched: int = 0
    not_modified: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    written: int = 0
    duplicates: int = 0
    discovery_urls: int = 0
    discovery_failed: dict[str, list[str]] = field(default_factory=dict)  # reason -> URLs

    @property
    def canonical(self) -> int:
        return self.written - self.duplicates

    @property
    def unaccounted(self) -> int:
        accounted = (
            self.written
            + sum(self.skipped.values())
            + sum(self.failed.values())
            + sum(self.rejected.values())
        )
        return self.discovered - accounted

    @classmethod
    def from_rows(
        cls,
        source: str,
        fetch_log: Iterable[FetchOutcome],
        rejects: Iterable[Reject],
        assignments: Iterable[StoryAssignment] = (),
    ) -> SourceCounts:
        """Count one source's fetch-log rows, rejects and (once deduplicated) written rows."""
        pages: list[FetchOutcome] = []
        discovery_failed: defaultdict[str, list[str]] = defaultdict(list)
        discovery_urls = 0
        for row in fetch_log:
            if row.role == "page":
                pages.append(row)
                continue
            discovery_urls += 1
            if row.status == "failed":
                discovery_failed[row.reason or "unknown"].append(row.url)
        kept = list(assignments)
        return cls(
            source=source,
            discovered=len(pages),
            fetched=sum(1 for row in pages if row.status == "fetched"),
            not_modified=sum(1 for row in pages if row.outcome == "not_modified"),
            skipped=_sorted_counts(
                Counter(row.reason or "unknown" for row in pages if row.status == "skipped")
            ),
            failed=_sorted_counts(
                Counter(row.reason or "unknown" for row in pages if row.status == "failed")
            ),
            rejected=_sorted_counts(Counter(reject.reason for reject in rejects)),
            written=len(kept),
            duplicates=sum(1 for assignment in kept if assignment.is_duplicate),
            discovery_urls=discovery_urls,
            discovery_failed={k: sorted(v) for k, v in sorted(discovery_failed.items())},
        )

    def with_dedup(
        self, assignments: Iterable[StoryAssignment], rejects: Iterable[Reject]
    ) -> SourceCounts:
        """The counts once dedup has decided: written rows, duplicates and dedup's rejects."""
        kept = list(assignments)
        rejected = Counter(self.rejected)
        rejected.update(reject.reason for reject in rejects)
        return replace(
            self,
            written=len(kept),
            duplicates=sum(1 for assignment in kept if assignment.is_duplicate),
            rejected=_sorted_counts(rejected),
        )

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["canonical"] = self.canonical
        document["unaccounted"] = self.unaccounted
        return document

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> SourceCounts:
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in document.items() if key in names})


@dataclass(frozen=True)
class FetchResult:
    """The fetch stage for one source: the WARC file it wrote (relative to the archive root)."""

    source: str
    archive_file: str
    from_archive: bool = False
    discovered: int = 0
    fetched: int = 0
    not_modified: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    discovery_failures: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> FetchResult:
        return cls(**dict(document))


@dataclass(frozen=True)
class ExtractResult:
    """The extract stage for one source: its counts and the staged tables it wrote."""

    source: str
    counts: SourceCounts
    staged: dict[str, str]  # table -> file relative to the output root
    articles: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "counts": self.counts.as_dict(),
            "staged": dict(self.staged),
            "articles": self.articles,
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> ExtractResult:
        return cls(
            source=str(document["source"]),
            counts=SourceCounts.from_dict(document["counts"]),
            staged=dict(document["staged"]),
            articles=int(document.get("articles", 0)),
        )


@dataclass(frozen=True)
class PublishResult:
    """The publish stage for one day: per-source counts after dedup, and what it wrote."""

    partition: str
    data_interval: tuple[str, str]
    run_id: str
    sources: dict[str, SourceCounts]
    stories: int
    multi_copy_stories: int
    paths: dict[str, str]  # table (and "report") -> where it was written
    # Sources whose fetch or extract failed (name -> why); their earlier rows, if any, are kept.
    failed_sources: dict[str, str] = field(default_factory=dict)

    def totals(self) -> dict[str, Any]:
        skipped: Counter[str] = Counter()
        failed: Counter[str] = Counter()
        rejected: Counter[str] = Counter()
        for counts in self.sources.values():
            skipped.update(counts.skipped)
            failed.update(counts.failed)
            rejected.update(counts.rejected)
        values = self.sources.values()
        return {
            "discovered": sum(c.discovered for c in values),
            "fetched": sum(c.fetched for c in values),
            "not_modified": sum(c.not_modified for c in values),
            "written": sum(c.written for c in values),
            "duplicates": sum(c.duplicates for c in values),
            "skipped": _sorted_counts(skipped),
            "failed": _sorted_counts(failed),
            "rejected": _sorted_counts(rejected),
            "discovery_failures": sum(
                len(urls) for c in values for urls in c.discovery_failed.values()
            ),
            "unaccounted": sum(c.unaccounted for c in values),
        }

    def summary(self) -> dict[str, Any]:
        """The run summary (``summary.json``): the day's totals and per-source counts."""
        return {
            "partition": self.partition,
            "data_interval": list(self.data_interval),
            "run_id": self.run_id,
            "sources": sorted(self.sources),
            **self.totals(),
            "stories": self.stories,
            "multi_copy_stories": self.multi_copy_stories,
            "paths": dict(self.paths),
            "failed_sources": dict(self.failed_sources),
            "source_counts": {name: c.as_dict() for name, c in sorted(self.sources.items())},
        }

    def as_dict(self) -> dict[str, Any]:
        return self.summary()

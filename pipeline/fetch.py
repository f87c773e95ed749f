"""The fetch stage: discover a source's URLs and fetch them, archiving every event as WARC.

Each discovered URL gets exactly one page event: fetched, skipped (with a reason) or failed (with a
reason). Feeds and sitemaps get discovery events. The archive is the stage's only output.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from pipeline.archive import ArchiveWriter, archive_dir
from pipeline.discover import (
    Deduper,
    Entry,
    NotAFeed,
    entries_to_candidates,
    parse_feed,
    parse_sitemap,
    window_decision,
)
from pipeline.http import HttpResult, PoliteClient
from pipeline.models import Candidate, RunWindow
from pipeline.settings import Settings, Source

HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")
# Outcomes that say "we chose not to", as opposed to "it went wrong".
SKIP_REASONS = frozenset(
    {"robots", "content_type", "duplicate_url", "out_of_window", "over_cap", "not_modified"}
)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class FetchStats:
    source: str
    archive_file: str = ""
    discovered: int = 0
    fetched: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    discovery_failures: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "archive_file": self.archive_file,
            "discovered": self.discovered,
            "fetched": self.fetched,
            "skipped": dict(self.skipped),
            "failed": dict(self.failed),
            "discovery_failures": dict(self.discovery_failures),
        }


class SourceFetcher:
    """Runs discovery and fetching for one source into one WARC file."""

    def __init__(
        self,
        source: Source,
        window: RunWindow,
        settings: Settings,
        run_id: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = _utc_now,
    ) -> None:
        self.source = source
        self.window = window
        self.settings = settings
        self.run_id = run_id
        self.transport = transport
        self.clock = clock
        self.stats = FetchStats(source=source.name)

    def run(self) -> FetchStats:
        return asyncio.run(self.run_async())

    async def run_async(self) -> FetchStats:
        directory = archive_dir(self.settings.archive_root, self.window, self.source.name)
        with ArchiveWriter(directory, self.run_id) as archive:
            self._archive = archive
            async with PoliteClient(self.settings, self.transport) as client:
                candidates = await self._discover(client)
                to_fetch = self._select(candidates)
                await asyncio.gather(*(self._fetch_page(client, c) for c in to_fetch))
        self.stats.archive_file = str(Path(archive.path))
        return self.stats

    async def _discover(self, client: PoliteClient) -> list[Candidate]:
        candidates: list[Candidate] = []
        for feed_url in self.source.feeds:
            result = await client.get(feed_url)
            body = self._discovery_body(feed_url, "feed", result)
            if body is None:
                continue
            try:
                entries = parse_feed(body, result.header("content-type"))
            except NotAFeed as exc:
                self._discovery_event(feed_url, "feed", result, "not_a_feed", str(exc))
                continue
            self._discovery_event(feed_url, "feed", result, None, f"{len(entries)} items")
            candidates += entries_to_candidates(entries, self.source.name, "feed", feed_url)
        for sitemap_url in self.source.sitemaps:
            candidates += await self._walk_sitemap(client, sitemap_url, depth=1, seen=set())
        candidates += [
            Candidate(
                url=url,
                source=self.source.name,
                discovered_via="url_list",
                discovered_from="config",
            )
            for url in self.source.urls
        ]
        return candidates

    async def _walk_sitemap(
        self, client: PoliteClient, url: str, depth: int, seen: set[str]
    ) -> list[Candidate]:
        if url in seen:
            return []
        seen.add(url)
        result = await client.get(url)
        body = self._discovery_body(url, "sitemap", result)
        if body is None:
            return []
        try:
            document = parse_sitemap(body)
        except NotAFeed as exc:
            self._discovery_event(url, "sitemap", result, "not_a_sitemap", str(exc))
            return []
        self._discovery_event(
            url,
            "sitemap",
            result,
            None,
            f"{len(document.entries)} urls, {len(document.child_sitemaps)} child sitemaps",
        )
        found = entries_to_candidates(document.entries, self.source.name, "sitemap", url)
        for child in document.child_sitemaps:
            if depth >= self.settings.discovery.max_sitemap_depth:
                self._discovery_event(
                    child,
                    "sitemap",
                    None,
                    "sitemap_depth",
                    f"deeper than {self.settings.discovery.max_sitemap_depth}",
                )
                continue
            found += await self._walk_sitemap(client, child, depth + 1, seen)
        return found

    def _select(self, candidates: list[Candidate]) -> list[Candidate]:
        """Dedupe URLs, apply the window and the cap; record every URL not taken."""
        deduper = Deduper()
        selected: list[Candidate] = []
        cap = self.settings.discovery.max_urls_per_source
        for candidate in candidates:
            self.stats.discovered += 1
            canonical_candidate, kept_as = deduper.first(candidate)
            if kept_as is not None:
                self._page_event(
                    candidate, None, "skipped", "duplicate_url", f"same canonical URL as {kept_as}"
                )
                continue
            decision = window_decision(
                Entry(url=candidate.url, published_at=candidate.feed_published_at), self.window
            )
            if not decision.take:
                self._page_event(
                    canonical_candidate, None, "skipped", decision.reason, decision.detail
                )
                continue
            if len(selected) >= cap:
                self._page_event(
                    canonical_candidate,
                    None,
                    "skipped",
                    "over_cap",
                    f"more than {cap} URLs for this source",
                )
                continue
            selected.append(canonical_candidate)
        return selected

    async def _fetch_page(self, client: PoliteClient, candidate: Candidate) -> None:
        result = await client.get(candidate.url)
        if result.error is not None:
            status = "skipped" if result.error in SKIP_REASONS else "failed"
            self._page_event(candidate, result, status, result.error, result.detail)
            return
        assert result.status is not None
        if result.status >= 400:
            self._page_event(candidate, result, "failed", f"http_{result.status}", None)
            return
        content_type = (result.header("content-type") or "").lower()
        if not content_type.startswith(HTML_CONTENT_TYPES):
            self._page_event(
                candidate,
                result,
                "skipped",
                "content_type",
                f"not HTML: {content_type or 'no Content-Type'}",
            )
            return
        self._page_event(candidate, result, "fetched", None, None)

    def _discovery_body(self, url: str, kind: str, result: HttpResult) -> bytes | None:
        if result.error is not None:
            self._discovery_event(url, kind, result, result.error, result.detail)
            return None
        if not result.ok:
            self._discovery_event(url, kind, result, f"http_{result.status}", None)
            return None
        return result.body

    def _discovery_event(
        self,
        url: str,
        kind: str,
        result: HttpResult | None,
        reason: str | None,
        detail: str | None,
    ) -> None:
        if reason is not None:
            self.stats.discovery_failures[reason] += 1
        meta = {
            "role": "discovery",
            "kind": kind,
            "source": self.source.name,
            "run_id": self.run_id,
            "status": "failed" if reason else "fetched",
            "reason": reason,
            "detail": detail,
            **self._response_meta(result),
        }
        self._archive.record(url, meta, result if result is not None else None)

    def _page_event(
        self,
        candidate: Candidate,
        result: HttpResult | None,
        status: str,
        reason: str | None,
        detail: str | None,
    ) -> None:
        if status == "fetched":
            self.stats.fetched += 1
        elif status == "skipped":
            self.stats.skipped[reason or "unknown"] += 1
        else:
            self.stats.failed[reason or "unknown"] += 1
        meta = {
            "role": "page",
            "source": self.source.name,
            "run_id": self.run_id,
            "status": status,
            "reason": reason,
            "detail": detail,
            "discovered_via": candidate.discovered_via,
            "discovered_from": candidate.discovered_from,
            "feed_title": candidate.feed_title,
            "feed_published_at": (
                candidate.feed_published_at.isoformat() if candidate.feed_published_at else None
            ),
            **self._response_meta(result),
        }
        self._archive.record(candidate.url, meta, result)

    def _response_meta(self, result: HttpResult | None) -> dict[str, Any]:
        if result is None:
            return {
                "fetched_at": self.clock().isoformat(),
                "http_status": None,
                "final_url": None,
                "content_type": None,
            }
        return {
            "fetched_at": result.fetched_at.isoformat(),
            "http_status": result.status,
            "final_url": result.final_url,
            "content_type": result.header("content-type"),
            "redirects": list(result.redirects),
        }

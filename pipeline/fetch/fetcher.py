"""The fetch stage: discover a source's URLs and fetch them, archiving every event as WARC.

Each discovered URL gets exactly one page event: fetched, skipped (with a reason) or failed (with a
reason). Feeds and sitemaps get discovery events. The archive is the stage's only output; the
validators it keeps for conditional GETs point back into it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from pipeline.fetch.archive import ArchiveDamaged, ArchiveWriter, ValidatorStore, load_response
from pipeline.fetch.discover import (
    Deduper,
    Entry,
    NotAFeed,
    entries_to_candidates,
    parse_feed,
    parse_sitemap,
    window_decision,
)
from pipeline.fetch.frontier import last_fetched
from pipeline.fetch.http import HttpResult, PoliteClient, RobotsAttempt, origin_of
from pipeline.fetch.urls import BadUrl
from pipeline.models import Candidate, FetchEvent, ResponseRef, RunWindow
from pipeline.progress import Tally
from pipeline.reasons import is_skip
from pipeline.results import FetchResult
from pipeline.settings import Settings, Source
from pipeline.storage.root import Root

HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")

Clock = Callable[[], datetime]
PROGRESS_EVERY = 100  # pages between progress lines in long runs
log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class FetchStats:
    source: str
    archive_file: str = ""
    discovered: int = 0
    fetched: int = 0
    not_modified: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    discovery_failures: Counter[str] = field(default_factory=Counter)

    def result(self) -> FetchResult:
        return FetchResult(
            source=self.source,
            archive_file=self.archive_file,
            discovered=self.discovered,
            fetched=self.fetched,
            not_modified=self.not_modified,
            skipped=dict(self.skipped),
            failed=dict(self.failed),
            discovery_failures=dict(self.discovery_failures),
        )


@dataclass(frozen=True)
class _Response:
    """What a GET gave: the response as received, and the one to use (an archived copy on 304)."""

    received: HttpResult
    effective: HttpResult
    body_from: ResponseRef | None = None


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
        client: PoliteClient | None = None,
        progress: Tally | None = None,
    ) -> None:
        """``client``: a client shared with the run's other sources (see ``fetch_sources``), so
        that a host's delay and connection limit hold across them; by default a client of its
        own. ``progress`` is told of the pages to fetch and of each one done."""
        self.source = source
        self.window = window
        self.settings = settings
        self.run_id = run_id
        self.transport = transport
        self.clock = clock
        self.stats = FetchStats(source=source.name)
        self.archive_root = Root(settings.archive_root)
        self._validators = ValidatorStore(self.archive_root, source.name)
        self._shared_client = client
        self._progress = progress
        self._origins: set[str] = set()  # every host this source's requests went to

    def run(self) -> FetchResult:
        return asyncio.run(self.run_async())

    async def run_async(self) -> FetchResult:
        archive = ArchiveWriter(self.archive_root, self.window, self.source.name, self.run_id)
        self._archive = archive
        try:
            if self._shared_client is not None:
                await self._fetch_with(self._shared_client)
            else:
                async with PoliteClient(self.settings, self.transport) as client:
                    await self._fetch_with(client)
        except BaseException:
            archive.abort()
            raise
        # Closed (fsynced, then put in place) in a thread: with many sources fetched at once,
        # each source's fsync would otherwise stall every other source's requests.
        await asyncio.to_thread(archive.close)
        # Saved only once the WARC is complete, so validators never point at a partial file.
        await asyncio.to_thread(self._validators.save)
        self.stats.archive_file = archive.relative
        return self.stats.result()

    async def _fetch_with(self, client: PoliteClient) -> None:
        candidates = await self._discover(client)
        to_fetch = self._select(candidates)
        log.info(
            "fetch %s: %d URLs discovered, %d to fetch",
            self.source.name,
            self.stats.discovered,
            len(to_fetch),
        )
        self._to_fetch, self._done = len(to_fetch), 0
        if self._progress is not None:
            self._progress.add_total(len(to_fetch))
        await asyncio.gather(*(self._fetch_page(client, c) for c in to_fetch))
        # A shared client holds the attempts of every source: this source records those of the
        # hosts it asked, as a client of its own would have made them for it.
        for attempt in client.robots_log:
            if attempt.error is not None and origin_of(urlsplit(attempt.url)) in self._origins:
                self._robots_event(attempt)  # a usable robots.txt is no news

    async def _get(self, client: PoliteClient, url: str) -> _Response:
        conditional = self._validators.conditional_headers(url)
        received = await client.get(url, conditional=conditional, origins=self._origins)
        if received.status == 304 and conditional:
            ref = self._validators.ref(url)
            try:
                previous = load_response(self.archive_root, ref) if ref else None
            except ArchiveDamaged as damage:  # a validator costs a download, never the fetch
                log.warning("validator of %s points into damage (%s); downloading it", url, damage)
                previous = None
            if previous is not None:
                assert ref is not None
                if previous.offset is not None and previous.offset != ref.offset:
                    self._validators.repoint(url, previous.offset)  # found by a scan
                    ref = replace(ref, offset=previous.offset)
                effective = replace(
                    received,
                    status=previous.status,
                    headers=previous.headers,
                    body=previous.body,
                    fetched_at=previous.fetched_at,
                )
                return _Response(received, effective, ref)
            # The archived copy is gone: download it again.
            received = await client.get(url, origins=self._origins)
        return _Response(received, received)

    async def _discover(self, client: PoliteClient) -> list[Candidate]:
        candidates: list[Candidate] = []
        for feed_url in self.source.feeds:
            response = await self._get(client, feed_url)
            body = self._discovery_body(feed_url, "feed", response)
            if body is None:
                continue
            try:
                entries = parse_feed(
                    body, response.effective.header("content-type"), base_url=feed_url
                )
            except NotAFeed as exc:
                self._discovery_event(feed_url, "feed", response, "not_a_feed", str(exc))
                continue
            self._discovery_event(feed_url, "feed", response, None, f"{len(entries)} items")
            candidates += entries_to_candidates(entries, self.source.name, "feed", feed_url)
        seen: set[str] = set()
        for sitemap_url in self.source.sitemaps:
            candidates += await self._walk_sitemap(client, sitemap_url, 1, seen)
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
        limits = self.settings.discovery
        if url in seen:
            return []
        if len(seen) >= limits.max_sitemaps:
            self._discovery_event(
                url, "sitemap", None, "sitemap_cap", f"more than {limits.max_sitemaps} sitemaps"
            )
            return []
        seen.add(url)
        response = await self._get(client, url)
        body = self._discovery_body(url, "sitemap", response)
        if body is None:
            return []
        try:
            document = parse_sitemap(body)
        except NotAFeed as exc:
            self._discovery_event(url, "sitemap", response, "not_a_sitemap", str(exc))
            return []
        self._discovery_event(
            url,
            "sitemap",
            response,
            None,
            f"{len(document.entries)} urls, {len(document.child_sitemaps)} child sitemaps",
        )
        found = entries_to_candidates(document.entries, self.source.name, "sitemap", url)
        for child in document.child_sitemaps:
            modified = document.child_lastmod.get(child)
            if modified is not None and modified < self.window.start:
                # An archive branch: every URL under it was last changed before this day.
                self._discovery_event(
                    child,
                    "sitemap",
                    None,
                    "sitemap_out_of_window",
                    f"lastmod {modified.isoformat()} is before the window",
                    status="skipped",
                )
                continue
            if depth >= limits.max_sitemap_depth:
                self._discovery_event(
                    child,
                    "sitemap",
                    None,
                    "sitemap_depth",
                    f"nested deeper than {limits.max_sitemap_depth} levels",
                )
                continue
            found += await self._walk_sitemap(client, child, depth + 1, seen)
        return found

    def _select(self, candidates: list[Candidate]) -> list[Candidate]:
        """Dedupe URLs, apply the window, the frontier and the cap; record every URL not taken."""
        in_window = self._in_window(candidates)
        seen = last_fetched(
            self.settings.output_root,
            self.window,
            (candidate.url for candidate in in_window),
            self.settings.discovery.seen_days,
        )
        selected: list[Candidate] = []
        cap = self.settings.discovery.max_urls_per_source
        for candidate in in_window:
            earlier = seen.get(candidate.url)
            if earlier is not None and not self._listed_as_changed(candidate, earlier.fetched_at):
                self._page_event(
                    replace(candidate, seen_on=earlier.fetched_at),
                    None,
                    "skipped",
                    "seen_before",
                    f"fetched on {earlier.day.isoformat()}, not listed as changed since",
                )
                continue
            if len(selected) >= cap:
                self._page_event(
                    candidate,
                    None,
                    "skipped",
                    "over_cap",
                    f"more than {cap} URLs for this source",
                )
                continue
            selected.append(candidate)
        return selected

    def _listed_as_changed(self, candidate: Candidate, fetched_at: datetime) -> bool:
        if candidate.discovered_via == "url_list" and self.source.refetch_urls:
            return True  # the source asks for its URL list on every run
        listed = candidate.listed_at
        return listed is not None and listed > fetched_at

    def _in_window(self, candidates: list[Candidate]) -> list[Candidate]:
        """Canonical, deduplicated candidates the window takes; the others are recorded."""
        deduper = Deduper()
        taken: list[Candidate] = []
        for candidate in candidates:
            self.stats.discovered += 1
            try:
                canonical_candidate, kept_as = deduper.first(candidate)
            except BadUrl as exc:
                self._page_event(candidate, None, "failed", "bad_url", str(exc))
                continue
            if kept_as is not None:
                self._page_event(
                    candidate, None, "skipped", "duplicate_url", f"same canonical URL as {kept_as}"
                )
                continue
            entry = Entry(
                url=candidate.url,
                published_at=candidate.feed_published_at,
                lastmod=candidate.lastmod,
            )
            decision = window_decision(entry, self.window)
            if not decision.take:
                self._page_event(
                    canonical_candidate, None, "skipped", decision.reason, decision.detail
                )
                continue
            taken.append(canonical_candidate)
        return taken

    async def _fetch_page(self, client: PoliteClient, candidate: Candidate) -> None:
        try:
            await self._fetch_page_outcome(client, candidate)
        finally:
            self._done += 1
            if self._progress is not None:
                self._progress.advance()
            if self._done % PROGRESS_EVERY == 0 and self._done < self._to_fetch:
                log.info(
                    "fetch %s: %d/%d pages, %d fetched, %d failed",
                    self.source.name,
                    self._done,
                    self._to_fetch,
                    self.stats.fetched,
                    sum(self.stats.failed.values()),
                )

    async def _fetch_page_outcome(self, client: PoliteClient, candidate: Candidate) -> None:
        response = await self._get(client, candidate.url)
        result = response.effective
        if result.error is not None:
            status = "skipped" if is_skip(result.error) else "failed"
            self._page_event(candidate, response, status, result.error, result.detail)
            return
        assert result.status is not None
        if result.status >= 400:
            self._page_event(candidate, response, "failed", f"http_{result.status}", None)
            return
        if not 200 <= result.status < 300:
            self._page_event(
                candidate, response, "failed", f"http_{result.status}", "unexpected status"
            )
            return
        content_type = (result.header("content-type") or "").lower()
        if not content_type.startswith(HTML_CONTENT_TYPES):
            self._page_event(
                candidate,
                response,
                "skipped",
                "content_type",
                f"not HTML: {content_type or 'no Content-Type'}",
            )
            return
        self._page_event(candidate, response, "fetched", None, None)

    def _discovery_body(self, url: str, kind: str, response: _Response) -> bytes | None:
        result = response.effective
        if result.error is not None:
            self._discovery_event(url, kind, response, result.error, result.detail)
            return None
        if not result.ok:
            self._discovery_event(url, kind, response, f"http_{result.status}", None)
            return None
        return result.body

    def _discovery_event(
        self,
        url: str,
        kind: str,
        response: _Response | None,
        reason: str | None,
        detail: str | None,
        *,
        status: str | None = None,
    ) -> None:
        status = status or ("failed" if reason else "fetched")
        if reason is not None and status == "failed":
            self.stats.discovery_failures[reason] += 1
        self._record(
            url, response, role="discovery", kind=kind, status=status, reason=reason, detail=detail
        )

    def _robots_event(self, attempt: RobotsAttempt) -> None:
        """A failed robots.txt request as a discovery event: asked again later, or deferred."""
        if attempt.then == "retry":
            reason = "robots_retry"
            detail = f"attempt {attempt.attempt}: {attempt.error}; asked again later in the run"
        else:
            reason = "robots_unavailable"
            detail = f"attempt {attempt.attempt}: {attempt.error}; the host is deferred"
        self.stats.discovery_failures[reason] += 1
        self._archive.record(
            FetchEvent(
                url=attempt.url,
                source=self.source.name,
                run_id=self.run_id,
                role="discovery",
                kind="robots",
                status="failed",
                fetched_at=attempt.fetched_at,
                reason=reason,
                detail=detail,
                http_status=attempt.status,
                attempts=1,
            ),
            None,
        )

    def _page_event(
        self,
        candidate: Candidate,
        response: _Response | None,
        status: str,
        reason: str | None,
        detail: str | None,
    ) -> None:
        if status == "fetched":
            self.stats.fetched += 1
            if response is not None and response.body_from is not None:
                self.stats.not_modified += 1
        elif status == "skipped":
            self.stats.skipped[reason or "unknown"] += 1
        else:
            self.stats.failed[reason or "unknown"] += 1
        self._record(
            candidate.url,
            response,
            role="page",
            status=status,
            reason=reason,
            detail=detail,
            discovered_via=candidate.discovered_via,
            discovered_from=candidate.discovered_from,
            feed_title=candidate.feed_title,
            feed_published_at=candidate.feed_published_at,
            lastmod=candidate.lastmod,
            seen_on=candidate.seen_on,
        )

    def _record(self, url: str, response: _Response | None, **fields: Any) -> None:
        common = {"url": url, "source": self.source.name, "run_id": self.run_id, **fields}
        if response is None:
            self._archive.record(FetchEvent(fetched_at=self.clock(), **common), None)
            return
        received, effective = response.received, response.effective
        event = FetchEvent(
            fetched_at=received.fetched_at,
            http_status=received.status,
            final_url=received.final_url,
            content_type=effective.header("content-type"),
            redirects=tuple(received.redirects),
            bytes=len(received.body),
            elapsed_ms=received.elapsed_ms,
            attempts=received.attempts,
            body_from=response.body_from,
            content_fetched_at=effective.fetched_at if response.body_from else None,
            **common,
        )
        written = self._archive.record(event, received)
        if written and response.body_from is None and received.ok:
            record_id, offset = written
            self._validators.remember(
                url,
                received.header("etag"),
                received.header("last-modified"),
                ResponseRef(self._archive.relative, record_id, offset),
            )


#: Sources one client fetches at once. Each holds an open WARC file while it runs; the pace is set
#: by the hosts' own limits (and ``http.max_concurrency``), so more in flight would only cost
#: open files and memory, not add speed.
SOURCES_IN_FLIGHT = 64

FetchOutcomeOrError = FetchResult | Exception


async def fetch_sources_async(
    sources: Sequence[Source],
    window: RunWindow,
    settings: Settings,
    run_id: str,
    *,
    progress: Tally | None = None,
    on_result: Callable[[str, FetchOutcomeOrError], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, FetchOutcomeOrError]:
    """Fetch many sources at once through one ``PoliteClient``, so politeness is per host.

    Every source gets its own WARC file, exactly as fetched alone; a host shared by two sources
    keeps one delay and one connection limit between them, and its robots.txt is read once.
    ``on_result`` hears of each source as it ends (its result, or the exception that ended it),
    so the caller can extract it while the others are still fetched. Returns the same, in the
    order of ``sources``.
    """
    outcomes: dict[str, FetchOutcomeOrError] = {}
    gate = asyncio.Semaphore(SOURCES_IN_FLIGHT)
    async with PoliteClient(settings, transport) as client:

        async def fetch_one(source: Source) -> None:
            async with gate:
                fetcher = SourceFetcher(
                    source, window, settings, run_id, client=client, progress=progress
                )
                outcome: FetchOutcomeOrError
                try:
                    outcome = await fetcher.run_async()
                except MemoryError:
                    raise
                except Exception as exc:  # one source's failure is that source's, not the run's
                    log.exception("fetch %s failed", source.name)
                    outcome = exc
            outcomes[source.name] = outcome
            if on_result is not None:
                on_result(source.name, outcome)

        await asyncio.gather(*(fetch_one(source) for source in sources))
    return {source.name: outcomes[source.name] for source in sources}

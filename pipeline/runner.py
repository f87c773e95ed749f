"""The few entry points that the DAGs and the CLI call: one stage contract.

Every stage takes ``(config, window, run_id, ...)`` and returns a typed result from
:mod:`pipeline.results` (``as_dict()`` is what crosses an Airflow XCom). Stage boundaries are files:
``fetch_source`` writes the WARC archive, ``extract_source`` writes staged Parquet under
``<output_root>/_staging/``, and ``publish`` writes the partitions and the report.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from pipeline.errors import ConfigError
from pipeline.extract.pool import ExtractionPool, SourceExtractFailed
from pipeline.extract.stage import build_source_articles
from pipeline.fetch.archive import run_files
from pipeline.fetch.fetcher import SourceFetcher, fetch_sources_async
from pipeline.models import RunWindow
from pipeline.progress import ProgressDisplay, StageProgress, Tally
from pipeline.publish.stage import carry_over_source, publish_day, stage_source
from pipeline.results import ExtractResult, FetchResult, PublishResult
from pipeline.settings import PipelineConfig
from pipeline.storage import layout
from pipeline.storage.root import Root

log = logging.getLogger(__name__)


def fetch_source(
    config: PipelineConfig,
    window: RunWindow,
    run_id: str,
    source_name: str,
    *,
    from_archive: bool = False,
) -> FetchResult:
    """Discover and fetch one source into a new WARC file of the archive.

    With ``from_archive`` nothing touches the network: the day's latest archived run is chosen.
    """
    source = config.source(source_name)
    if from_archive:
        archive = Root(config.settings.archive_root)
        files = run_files(archive, window, source_name)
        if not files:
            directory = archive.display(layout.archive_dir(window, source_name))
            raise FileNotFoundError(
                f"no archived run of source {source_name!r} for {window.partition} in {directory}; "
                "fetch the day first, or drop --from-archive"
            )
        log.info("fetch %s: from archive %s (no network)", source_name, files[-1])
        return FetchResult(source=source_name, archive_file=files[-1], from_archive=True)
    result = SourceFetcher(source, window, config.settings, run_id).run()
    _log_fetched(result)
    return result


def extract_source(
    config: PipelineConfig, window: RunWindow, run_id: str, source_name: str, archive_file: str
) -> ExtractResult:
    """Turn one archived run of a source (relative to the archive root) into staged tables."""
    archive = Root(config.settings.archive_root)
    options = config.settings.extraction_options()
    built = build_source_articles(archive, archive_file, window, source_name, options)
    result = stage_source(config, window, run_id, built)
    counts = result.counts
    log.info(
        "extract %s: %d pages fetched, %d articles, rejected %s",
        source_name,
        counts.fetched,
        result.articles,
        counts.rejected,
    )
    return result


def publish(
    config: PipelineConfig,
    window: RunWindow,
    run_id: str,
    extracted: list[ExtractResult],
    failed_sources: dict[str, str] | None = None,
) -> PublishResult:
    """Deduplicate the staged sources together and publish the day's partitions and report.

    An enabled source with no extract result failed (``failed_sources`` may say why): the day is
    published with the others, the failed source keeps the rows it had in the published
    partition, if any, and the report flags it.
    """
    failed = dict(failed_sources or {})
    done = {result.source for result in extracted}
    for source in config.enabled_sources:
        if source.name not in done:
            failed.setdefault(source.name, "its fetch or extract task did not finish")
    if not extracted and failed:
        raise SourcesFailed(failed)
    kept = list(extracted)
    for name in sorted(failed):
        carried = carry_over_source(config, window, run_id, name)
        if carried is not None:
            kept.append(carried)
    return publish_day(config, window, run_id, kept, failed)


class SourcesFailed(RuntimeError):
    """Every source of the day failed: there is nothing to publish."""

    def __init__(self, failed: dict[str, str]) -> None:
        self.failed = failed
        lines = "; ".join(f"{name}: {why}" for name, why in sorted(failed.items()))
        super().__init__(f"every source failed, nothing was published: {lines}")


def fetch_sources(
    config: PipelineConfig,
    window: RunWindow,
    run_id: str,
    source_names: Sequence[str],
    *,
    from_archive: bool = False,
    progress: Tally | None = None,
    on_result: Callable[[str, FetchResult | Exception], None] | None = None,
) -> dict[str, FetchResult | Exception]:
    """Fetch several sources at once, politely per host: each source's result, or its exception.

    One client serves them all (``fetch.fetcher.fetch_sources_async``), so a host shared by two
    sources keeps one delay and one connection limit. ``on_result`` hears of each source as it
    ends, for the caller to extract it while the rest is fetched.
    """

    def finished(name: str, outcome: FetchResult | Exception) -> None:
        if isinstance(outcome, FetchResult) and not outcome.from_archive:
            _log_fetched(outcome)
        if on_result is not None:
            on_result(name, outcome)

    if from_archive:
        outcomes: dict[str, FetchResult | Exception] = {}
        for name in source_names:
            try:
                outcomes[name] = fetch_source(config, window, run_id, name, from_archive=True)
            except Exception as exc:  # no archived run: that source's failure
                outcomes[name] = exc
            finished(name, outcomes[name])
        return outcomes
    sources = [config.source(name) for name in source_names]
    return asyncio.run(
        fetch_sources_async(
            sources, window, config.settings, run_id, progress=progress, on_result=finished
        )
    )


def _log_fetched(result: FetchResult) -> None:
    log.info(
        "fetch %s: discovered=%d fetched=%d skipped=%s failed=%s discovery_failures=%s",
        result.source,
        result.discovered,
        result.fetched,
        result.skipped,
        result.failed,
        result.discovery_failures,
    )


def extract_sources(
    config: PipelineConfig,
    window: RunWindow,
    run_id: str,
    archived: Sequence[tuple[str, str]],
    *,
    progress: ProgressDisplay | None = None,
) -> dict[str, ExtractResult | Exception]:
    """Extract ``(source, archive_file)`` pairs in the pool: each source's result or exception."""
    counter = _extract_counter(progress, len(archived))
    with ExtractionPool(config, window, run_id, jobs=len(archived), progress=counter) as pool:
        futures = {name: pool.submit(name, archive_file) for name, archive_file in archived}
        return {name: _outcome(future) for name, future in futures.items()}


def _extract_counter(progress: ProgressDisplay | None, sources: int) -> StageProgress | None:
    if progress is None:
        return None
    counter = progress.stage("extract", "sources", rate_of="pages", extras=("pages", "articles"))
    counter.add_total(sources)
    return counter


def _outcome(future: Future[ExtractResult]) -> ExtractResult | Exception:
    try:
        return future.result()
    except MemoryError:
        raise
    except Exception as exc:  # that source's failure (a worker that died fails its sources)
        return exc


def run_day(
    config: PipelineConfig,
    window: RunWindow,
    run_id: str,
    *,
    from_archive: bool = False,
    source_names: list[str] | None = None,
    progress: ProgressDisplay | None = None,
) -> PublishResult:
    """All stages for one day in one process (``newsingest run``, ``news_reprocess``).

    ``source_names`` limits which sources are fetched (or replayed, with ``from_archive``). The
    partition still holds every enabled source: the others are replayed from their latest archived
    run, or, with no archive, their rows are carried over from the published partition, so a
    rebuild of one source never drops the rest.

    Sources are fetched at once (politeness per host, see ``fetch_sources``) and each is handed
    to the extraction pool (``settings.workers`` processes) as soon as its fetch ends, so both
    cores work while the network is waited for. ``progress`` shows pages fetched and sources
    extracted; without it the same figures go to the log every few seconds.
    """
    enabled = [source.name for source in config.enabled_sources]
    chosen = source_names or enabled
    unknown = sorted(set(chosen) - set(enabled))
    if unknown:
        raise ConfigError(f"unknown or disabled source(s) {unknown}; enabled: {enabled}")
    check_roots(config)
    display = progress or ProgressDisplay()
    fetching = None if from_archive else display.stage("fetch", "pages")
    extracting = _extract_counter(display, len(enabled))
    failed: dict[str, str] = {}
    unarchived: list[str] = []  # not fetched now, and no archived run to replay
    archive = Root(config.settings.archive_root)
    with ExtractionPool(config, window, run_id, jobs=len(enabled), progress=extracting) as pool:
        futures: dict[str, Future[ExtractResult]] = {}

        def fetched(name: str, outcome: FetchResult | Exception) -> None:
            if isinstance(outcome, Exception):
                failed[name] = failure_reason(outcome)
            else:
                futures[name] = pool.submit(name, outcome.archive_file)

        for name in enabled:
            if name in chosen:
                continue
            try:
                files = run_files(archive, window, name)
            except Exception as exc:  # a damaged archive listing is that source's failure
                log.exception("%s: source %s failed", window.partition, name)
                failed[name] = f"{type(exc).__name__}: {exc}"
                continue
            if files:
                futures[name] = pool.submit(name, files[-1])
            else:
                unarchived.append(name)
        chosen_in_order = [name for name in enabled if name in chosen]
        fetch_sources(
            config,
            window,
            run_id,
            chosen_in_order,
            from_archive=from_archive,
            progress=fetching,
            on_result=fetched,
        )
        outcomes = {name: _outcome(future) for name, future in futures.items()}
    extracted: dict[str, ExtractResult] = {}
    for name, outcome in outcomes.items():
        if isinstance(outcome, Exception):
            log.error("%s: source %s failed: %s", window.partition, name, outcome)
            failed[name] = failure_reason(outcome)
        else:
            extracted[name] = outcome
    for name in unarchived:
        kept = carry_over_source(config, window, run_id, name)
        if kept is not None:
            extracted[name] = kept
    display.close()
    results = [extracted[name] for name in enabled if name in extracted]
    if not results and failed:
        raise SourcesFailed(failed)
    return publish(config, window, run_id, results, failed)


def failure_reason(exc: BaseException) -> str:
    """Why a source failed, for the summary: the exception's type and message."""
    if isinstance(exc, SourceExtractFailed):  # already "Type: message" from the worker
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def check_roots(config: PipelineConfig) -> None:
    """Fail before any fetch when a root cannot be written (say, an s3:// root without keys)."""
    for name in ("output_root", "archive_root"):
        root = Root(getattr(config.settings, name))
        try:
            root.check_writable()
        except OSError as exc:
            raise ConfigError(f"settings.{name} = {root.display()} is not writable: {exc}") from exc

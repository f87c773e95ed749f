"""The few entry points that the DAGs and the CLI call: one stage contract.

Every stage takes ``(config, window, run_id, ...)`` and returns a typed result from
:mod:`pipeline.results` (``as_dict()`` is what crosses an Airflow XCom). Stage boundaries are files:
``fetch_source`` writes the WARC archive, ``extract_source`` writes staged Parquet under
``<output_root>/_staging/``, and ``publish`` writes the partitions and the report.
"""

from __future__ import annotations

import logging

from pipeline.errors import ConfigError
from pipeline.extract.stage import build_source_articles
from pipeline.fetch.archive import run_files
from pipeline.fetch.fetcher import SourceFetcher
from pipeline.models import RunWindow
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
    log.info(
        "fetch %s: discovered=%d fetched=%d skipped=%s failed=%s discovery_failures=%s",
        source_name,
        result.discovered,
        result.fetched,
        result.skipped,
        result.failed,
        result.discovery_failures,
    )
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


def run_day(
    config: PipelineConfig,
    window: RunWindow,
    run_id: str,
    *,
    from_archive: bool = False,
    source_names: list[str] | None = None,
) -> PublishResult:
    """All stages for one day in one process (``newsingest run``, ``news_reprocess``).

    ``source_names`` limits which sources are fetched (or replayed, with ``from_archive``). The
    partition still holds every enabled source: the others are replayed from their latest archived
    run, or, with no archive, their rows are carried over from the published partition, so a
    rebuild of one source never drops the rest.
    """
    enabled = [source.name for source in config.enabled_sources]
    chosen = source_names or enabled
    unknown = sorted(set(chosen) - set(enabled))
    if unknown:
        raise ConfigError(f"unknown or disabled source(s) {unknown}; enabled: {enabled}")
    check_roots(config)
    extracted: list[ExtractResult] = []
    failed: dict[str, str] = {}
    archive = Root(config.settings.archive_root)
    for position, name in enumerate(enabled, start=1):
        log.info("%s: source %d/%d %s", window.partition, position, len(enabled), name)
        try:
            if name in chosen:
                fetched = fetch_source(config, window, run_id, name, from_archive=from_archive)
                archive_file: str | None = fetched.archive_file
            else:
                files = run_files(archive, window, name)
                archive_file = files[-1] if files else None
            if archive_file is not None:
                extracted.append(extract_source(config, window, run_id, name, archive_file))
                continue
        except MemoryError:
            raise
        except Exception as exc:  # one source's failure is that source's, not the day's
            log.exception("%s: source %s failed", window.partition, name)
            failed[name] = f"{type(exc).__name__}: {exc}"
            continue
        kept = carry_over_source(config, window, run_id, name)
        if kept is not None:
            extracted.append(kept)
    if not extracted and failed:
        raise SourcesFailed(failed)
    return publish(config, window, run_id, extracted, failed)


def check_roots(config: PipelineConfig) -> None:
    """Fail before any fetch when a root cannot be written (say, an s3:// root without keys)."""
    for name in ("output_root", "archive_root"):
        root = Root(getattr(config.settings, name))
        try:
            root.check_writable()
        except OSError as exc:
            raise ConfigError(f"settings.{name} = {root.display()} is not writable: {exc}") from exc

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
    log.info("extract %s: %s", source_name, result.counts.as_dict())
    return result


def publish(
    config: PipelineConfig, window: RunWindow, run_id: str, extracted: list[ExtractResult]
) -> PublishResult:
    """Deduplicate the staged sources together and publish the day's partitions and report."""
    return publish_day(config, window, run_id, extracted)


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
    extracted: list[ExtractResult] = []
    archive = Root(config.settings.archive_root)
    for position, name in enumerate(enabled, start=1):
        log.info("%s: source %d/%d %s", window.partition, position, len(enabled), name)
        if name in chosen:
            fetched = fetch_source(config, window, run_id, name, from_archive=from_archive)
            extracted.append(extract_source(config, window, run_id, name, fetched.archive_file))
            continue
        files = run_files(archive, window, name)
        if files:
            extracted.append(extract_source(config, window, run_id, name, files[-1]))
            continue
        kept = carry_over_source(config, window, run_id, name)
        if kept is not None:
            extracted.append(kept)
    return publish(config, window, run_id, extracted)

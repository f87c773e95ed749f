"""The few entry points that the DAGs and the CLI call.

Stage boundaries are files: ``fetch_source`` writes the WARC archive, ``extract_source`` writes
staged Parquet under ``<output_root>/_staging/``, and ``publish`` writes the partitions. Each
returns a small dict of counters, which is all that crosses an Airflow XCom.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from pipeline.dedup.history import deduplicate_against_history
from pipeline.errors import ConfigError
from pipeline.extract.stage import build_source_articles
from pipeline.fetch.archive import archive_dir, run_files, safe_run_id
from pipeline.fetch.fetcher import SourceFetcher
from pipeline.models import FetchOutcome, Reject, RunWindow, StoryAssignment
from pipeline.publish.report import REPORT_HTML, report_relative, write_run_report
from pipeline.schema import (
    ARTICLES_SCHEMA,
    FETCH_LOG_SCHEMA,
    REJECTS_SCHEMA,
    STAGED_ARTICLES_SCHEMA,
    articles_to_table,
    records_to_table,
    table_to_articles,
)
from pipeline.settings import PipelineConfig
from pipeline.storage.partitions import PART_FILE, DatasetStore

log = logging.getLogger(__name__)


STAGED_TABLES = {
    "articles": STAGED_ARTICLES_SCHEMA,
    "rejects": REJECTS_SCHEMA,
    "fetch_log": FETCH_LOG_SCHEMA,
}
PUBLISHED_TABLES = {**STAGED_TABLES, "articles": ARTICLES_SCHEMA}


def staging_prefix(window: RunWindow, run_id: str) -> str:
    """Where a run's stages hand files to each other, relative to the output root."""
    return f"_staging/_runs/{window.partition}/{safe_run_id(run_id)}"


def summary_relative(window: RunWindow) -> str:
    return f"reports/{window.partition}/summary.json"


def summary_path(config: PipelineConfig, window: RunWindow) -> Path:
    return Path(config.settings.output_root) / summary_relative(window)


def fetch_source(
    config: PipelineConfig,
    source_name: str,
    window: RunWindow,
    run_id: str,
    *,
    from_archive: bool = False,
) -> dict[str, Any]:
    """Discover and fetch one source into a new WARC file of the archive.

    With ``from_archive`` nothing touches the network: the day's latest archived run is chosen.
    """
    source = config.source(source_name)
    if from_archive:
        files = run_files(config.settings.archive_root, window, source_name)
        if not files:
            directory = archive_dir(config.settings.archive_root, window, source_name)
            raise FileNotFoundError(
                f"no archived run of source {source_name!r} for {window.partition} in {directory}; "
                "fetch the day first, or drop --from-archive"
            )
        log.info("fetch %s: from archive %s (no network)", source_name, files[-1])
        return {"source": source_name, "from_archive": True, "archive_file": str(files[-1])}
    stats = SourceFetcher(source, window, config.settings, run_id).run()
    log.info(
        "fetch %s: discovered=%d fetched=%d skipped=%s failed=%s discovery_failures=%s",
        source_name,
        stats.discovered,
        stats.fetched,
        dict(stats.skipped),
        dict(stats.failed),
        dict(stats.discovery_failures),
    )
    return stats.as_dict()


def extract_source(
    config: PipelineConfig, source_name: str, window: RunWindow, run_id: str, archive_file: str
) -> dict[str, Any]:
    """Turn one archived run of a source into staged articles, rejects and fetch-log rows."""
    built = build_source_articles(Path(archive_file), window, source_name)
    store = DatasetStore(config.settings.output_root)
    prefix = f"{staging_prefix(window, run_id)}/{source_name}"
    store.write_table(f"{prefix}/articles.parquet", articles_to_table(built.articles))
    store.write_table(f"{prefix}/rejects.parquet", records_to_table(built.rejects, REJECTS_SCHEMA))
    store.write_table(
        f"{prefix}/fetch_log.parquet", records_to_table(built.fetch_log, FETCH_LOG_SCHEMA)
    )
    counters = built.counters()
    log.info("extract %s: %s", source_name, counters)
    return counters


def publish(
    config: PipelineConfig, window: RunWindow, run_id: str, source_names: list[str]
) -> dict[str, Any]:
    """Deduplicate the staged sources together and publish the day's partitions."""
    store = DatasetStore(config.settings.output_root)
    prefix = staging_prefix(window, run_id)
    articles, rejects, fetch_log = [], [], []
    for name in sorted(source_names):
        if not store.exists(f"{prefix}/{name}/articles.parquet"):
            raise FileNotFoundError(
                f"no staged output for source {name!r} in {store.path(prefix, name)}"
            )
        staged = {
            table: store.read_table(f"{prefix}/{name}/{table}.parquet", schema=schema)
            for table, schema in STAGED_TABLES.items()
        }
        articles += table_to_articles(staged["articles"])
        rejects += [Reject(**row) for row in staged["rejects"].to_pylist()]
        fetch_log += [FetchOutcome(**row) for row in staged["fetch_log"].to_pylist()]
    result = deduplicate_against_history(
        articles, config.settings.dedup, config.settings.output_root, window, run_id=run_id
    )
    rejects += result.rejects

    tables = {
        "articles": articles_to_table(result.articles, result.assignments),
        "rejects": records_to_table(rejects, REJECTS_SCHEMA),
        "fetch_log": records_to_table(fetch_log, FETCH_LOG_SCHEMA),
    }
    published = {
        name: store.write_partition(name, window, table, PUBLISHED_TABLES[name], run_id)
        for name, table in tables.items()
    }
    summary = _summary(
        window, run_id, source_names, fetch_log, rejects, result.assignments, published
    )
    summary["paths"]["report"] = store.path(report_relative(window, REPORT_HTML))
    store.write_json(summary_relative(window), summary)
    write_run_report(config.settings.output_root, window)
    store.delete_dir(prefix)
    log.info(
        "publish %s: written=%d stories=%d duplicates=%d -> %s",
        window.partition,
        summary["written"],
        summary["stories"],
        summary["duplicates"],
        published["articles"].path,
    )
    return summary


def run_day(
    config: PipelineConfig,
    window: RunWindow,
    run_id: str,
    *,
    from_archive: bool = False,
    source_names: list[str] | None = None,
) -> dict[str, Any]:
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
    staged = []
    for position, name in enumerate(enabled, start=1):
        log.info("%s: source %d/%d %s", window.partition, position, len(enabled), name)
        if name in chosen:
            fetched = fetch_source(config, name, window, run_id, from_archive=from_archive)
            extract_source(config, name, window, run_id, fetched["archive_file"])
        elif not _keep_source(config, name, window, run_id):
            continue
        staged.append(name)
    return publish(config, window, run_id, staged)


def _keep_source(config: PipelineConfig, name: str, window: RunWindow, run_id: str) -> bool:
    """Stage an unchosen source from its archive, else from the published rows; False if none."""
    files = run_files(config.settings.archive_root, window, name)
    if files:
        extract_source(config, name, window, run_id, str(files[-1]))
        return True
    store = DatasetStore(config.settings.output_root)
    published = {table: f"{table}/{window.partition}/{PART_FILE}" for table in STAGED_TABLES}
    if not all(store.exists(path) for path in published.values()):
        return False
    prefix = f"{staging_prefix(window, run_id)}/{name}"
    for table, path in published.items():
        rows = store.read_table(path, schema=PUBLISHED_TABLES[table])
        rows = rows.select(STAGED_TABLES[table].names)
        rows = rows.filter(pc.equal(rows["source"], name))
        store.write_table(f"{prefix}/{table}.parquet", rows)
    log.info("%s: source %s carried over from the published partition", window.partition, name)
    return True


def _summary(
    window: RunWindow,
    run_id: str,
    source_names: list[str],
    fetch_log: list[FetchOutcome],
    rejects: list[Reject],
    assignments: list[StoryAssignment],
    published: dict[str, Any],
) -> dict[str, Any]:
    pages = [row for row in fetch_log if row.role == "page"]
    skipped = Counter(row.reason for row in pages if row.status == "skipped")
    failed = Counter(row.reason for row in pages if row.status == "failed")
    rejected = Counter(reject.reason for reject in rejects)
    duplicates = sum(1 for assignment in assignments if assignment.is_duplicate)
    stories = {assignment.story_id for assignment in assignments}
    multi = Counter(assignment.story_id for assignment in assignments)
    discovered = len(pages)
    written = len(assignments)
    accounted = written + sum(skipped.values()) + sum(failed.values()) + sum(rejected.values())
    return {
        "partition": window.partition,
        "data_interval": [window.start.isoformat(), window.end.isoformat()],
        "run_id": run_id,
        "sources": sorted(source_names),
        "discovered": discovered,
        "fetched": sum(1 for row in pages if row.status == "fetched"),
        "not_modified": sum(1 for row in pages if row.outcome == "not_modified"),
        "written": written,
        "stories": len(stories),
        "duplicates": duplicates,
        "multi_copy_stories": sum(1 for count in multi.values() if count > 1),
        "skipped": dict(sorted(skipped.items())),
        "failed": dict(sorted(failed.items())),
        "rejected": dict(sorted(rejected.items())),
        "discovery_failures": sum(
            1 for row in fetch_log if row.role == "discovery" and row.status == "failed"
        ),
        "unaccounted": discovered - accounted,
        "paths": {name: partition.path for name, partition in published.items()},
    }

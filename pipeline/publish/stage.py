"""The publish stage: staged sources -> deduplicated, validated partitions, summary and report.

``stage_source`` is the end of extract: it writes one source's rows to the run's staging area.
``publish_day`` reads every staged source back, deduplicates them together and against earlier
days, swaps in the day's partitions, and writes the run summary and the report. Counts come from
the extract results and dedup's assignments; nothing is counted again from the published rows.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict

import pyarrow.compute as pc

from pipeline.dedup.history import INDEX_SCHEMA, INDEX_TABLE, dedup_day
from pipeline.extract.stage import SourceArticles
from pipeline.models import Article, FetchOutcome, Reject, RunWindow, StoryAssignment
from pipeline.publish.report import REPORT_HTML, SUMMARY_JSON, write_run_report
from pipeline.results import ExtractResult, PublishResult, SourceCounts
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
from pipeline.storage import layout
from pipeline.storage.partitions import DatasetStore, TableWrite
from pipeline.storage.root import Root

log = logging.getLogger(__name__)

#: What extract hands to publish, per source, and the schema of each.
STAGED_TABLES = {
    "articles": STAGED_ARTICLES_SCHEMA,
    "rejects": REJECTS_SCHEMA,
    "fetch_log": FETCH_LOG_SCHEMA,
}
#: The day's published tables (the dedup index is written by dedup itself).
PUBLISHED_TABLES = {**STAGED_TABLES, "articles": ARTICLES_SCHEMA}


def stage_source(
    config: PipelineConfig, window: RunWindow, run_id: str, built: SourceArticles
) -> ExtractResult:
    """Write one source's extracted rows to the run's staging area."""
    root = DatasetStore(config.settings.output_root).root
    tables = {
        "articles": articles_to_table(built.articles),
        "rejects": records_to_table(built.rejects, REJECTS_SCHEMA),
        "fetch_log": records_to_table(built.fetch_log, FETCH_LOG_SCHEMA),
    }
    staged = {}
    for table, data in tables.items():
        staged[table] = layout.staged_table_file(window, run_id, built.source, table)
        root.write_table(staged[table], data)
    return ExtractResult(built.source, built.counts(), staged, articles=len(built.articles))


def carry_over_source(
    config: PipelineConfig, window: RunWindow, run_id: str, source: str
) -> ExtractResult | None:
    """Stage a source's rows from the published partition (it has no archive); None if none."""
    store = DatasetStore(config.settings.output_root)
    root = store.root
    manifest = store.committed(window)
    if manifest is None or not all(table in manifest.tables for table in STAGED_TABLES):
        return None
    published = {table: manifest.tables[table].file for table in STAGED_TABLES}
    tables = {}
    for table, path in published.items():
        rows = root.read_table(path, schema=PUBLISHED_TABLES[table])
        tables[table] = rows.filter(pc.equal(rows["source"], source)).select(
            STAGED_TABLES[table].names
        )
    if not tables["fetch_log"].num_rows:
        return None  # the source had nothing in the day's partitions
    staged = {}
    for table, rows in tables.items():
        staged[table] = layout.staged_table_file(window, run_id, source, table)
        root.write_table(staged[table], rows)
    log.info("%s: source %s carried over from the published partition", window.partition, source)
    built = _read_staged(root, source, staged)
    return ExtractResult(source, built.counts(), staged, articles=len(built.articles))


def publish_day(
    config: PipelineConfig,
    window: RunWindow,
    run_id: str,
    extracted: list[ExtractResult],
    failed_sources: dict[str, str] | None = None,
) -> PublishResult:
    """Deduplicate the staged sources together and publish the day's partitions.

    ``failed_sources`` (name -> why) are recorded in the summary and flagged by the report.
    """
    store = DatasetStore(config.settings.output_root)
    root = store.root
    articles: list[Article] = []
    rejects: list[Reject] = []
    fetch_log: list[FetchOutcome] = []
    by_source = {result.source: result for result in extracted}
    for name in sorted(by_source):
        built = _read_staged(root, name, by_source[name].staged)
        articles += built.articles
        rejects += built.rejects
        fetch_log += built.fetch_log
    result, index = dedup_day(articles, config.settings.dedup, root, window)
    tables = {
        "articles": TableWrite(
            articles_to_table(result.articles, result.assignments), ARTICLES_SCHEMA
        ),
        "rejects": TableWrite(
            records_to_table(rejects + result.rejects, REJECTS_SCHEMA), REJECTS_SCHEMA
        ),
        "fetch_log": TableWrite(records_to_table(fetch_log, FETCH_LOG_SCHEMA), FETCH_LOG_SCHEMA),
        INDEX_TABLE: TableWrite(index, INDEX_SCHEMA),
    }
    # One commit for the whole day: a reader sees all four tables of this run, or of the last.
    manifest = store.write_day(window, tables, run_id)
    paths = {name: root.path(manifest.tables[name].file) for name in tables}
    paths["report"] = root.path(layout.report_file(window, REPORT_HTML))
    published = PublishResult(
        partition=window.partition,
        data_interval=(window.start.isoformat(), window.end.isoformat()),
        run_id=run_id,
        sources=_counts_after_dedup(by_source, result.articles, result.assignments, result.rejects),
        stories=result.stories,
        multi_copy_stories=_multi_copy_stories(result.assignments),
        paths=paths,
        failed_sources=dict(sorted((failed_sources or {}).items())),
    )
    root.write_json(layout.report_file(window, SUMMARY_JSON), published.summary())
    write_run_report(root, window, history_days=config.settings.report.history_days)
    root.delete_dir(layout.run_staging_dir(window, run_id))
    log.info(
        "publish %s: written=%d stories=%d duplicates=%d -> %s",
        window.partition,
        len(result.assignments),
        published.stories,
        result.duplicates,
        paths["articles"],
    )
    return published


def _read_staged(root: Root, source: str, staged: dict[str, str]) -> SourceArticles:
    missing = [path for path in staged.values() if not root.exists(path)]
    if missing:
        raise FileNotFoundError(
            f"no staged output for source {source!r}: {root.display(missing[0])} is missing"
        )
    tables = {
        table: root.read_table(staged[table], schema=schema)
        for table, schema in STAGED_TABLES.items()
    }
    return SourceArticles(
        source=source,
        articles=table_to_articles(tables["articles"]),
        rejects=[Reject(**row) for row in tables["rejects"].to_pylist()],
        fetch_log=[FetchOutcome(**row) for row in tables["fetch_log"].to_pylist()],
    )


def _counts_after_dedup(
    extracted: dict[str, ExtractResult],
    articles: list[Article],
    assignments: list[StoryAssignment],
    dedup_rejects: list[Reject],
) -> dict[str, SourceCounts]:
    kept: defaultdict[str, list[StoryAssignment]] = defaultdict(list)
    for article, assignment in zip(articles, assignments, strict=True):
        kept[article.source].append(assignment)
    dropped: defaultdict[str, list[Reject]] = defaultdict(list)
    for reject in dedup_rejects:
        dropped[reject.source].append(reject)
    return {
        name: result.counts.with_dedup(kept[name], dropped[name])
        for name, result in sorted(extracted.items())
    }


def _multi_copy_stories(assignments: list[StoryAssignment]) -> int:
    copies = Counter(assignment.story_id for assignment in assignments)
    return sum(1 for count in copies.values() if count > 1)

"""The publish stage: staged sources -> deduplicated, validated partitions, summary and report.

``stage_source`` is the end of extract: it writes one source's rows to the run's staging area.
``publish_day`` deduplicates every staged source together and against earlier days, swaps in the
day's partitions, and writes the run summary and the report. Counts come from the extract results
and dedup's assignments; nothing is counted again from the published rows.

The day is never held whole: dedup keeps each article's key and fingerprints and reads texts back
from the staged files (:mod:`pipeline.publish.staged`); the articles table is streamed from the
staged rows to the Parquet writer one row group at a time, in the published order, with dedup's
columns added; the index comes from dedup in batches. Rejects and the fetch log, a few hundred
bytes a row, are sorted as Arrow tables.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.dedup.day import ArticleKey
from pipeline.dedup.history import INDEX_SCHEMA, INDEX_TABLE, DayDedup, dedup_rows
from pipeline.dedup.memory import release_freed_memory
from pipeline.extract.stage import SourceArticles
from pipeline.models import FetchOutcome, Reject, RunWindow, StoryAssignment
from pipeline.publish.report import REPORT_HTML, SUMMARY_JSON, write_run_report
from pipeline.publish.staged import (
    STAGED_ROW_GROUP_ROWS,
    StagedArticles,
    normalized_provenance,
)
from pipeline.results import ExtractResult, PublishResult, SourceCounts
from pipeline.schema import (
    ARTICLES_SCHEMA,
    FETCH_LOG_SCHEMA,
    REJECTS_SCHEMA,
    SCHEMA_VERSION,
    SORT_KEYS,
    STAGED_ARTICLES_SCHEMA,
    articles_to_table,
    records_to_table,
)
from pipeline.settings import PipelineConfig
from pipeline.storage import layout
from pipeline.storage.partitions import ROW_GROUP_SIZE, DatasetStore, TableWrite
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
        write_staged(root, staged[table], [data], data.schema)
    return ExtractResult(built.source, built.counts(), staged, articles=len(built.articles))


def write_staged(
    root: Root, relative: str, parts: Iterator[pa.Table] | Sequence[pa.Table], schema: pa.Schema
) -> int:
    """A staged file from tables of ``schema``, in small row groups (publish reads rows back by
    position); returns the rows written."""
    rows = 0
    with (
        root.open_output(relative, durable=False) as stream,
        pq.ParquetWriter(stream, schema) as writer,
    ):
        for part in parts:
            writer.write_table(part, row_group_size=STAGED_ROW_GROUP_ROWS)
            rows += part.num_rows
        if not rows:
            writer.write_table(schema.empty_table())
    return rows


def carry_over_source(
    config: PipelineConfig, window: RunWindow, run_id: str, source: str
) -> ExtractResult | None:
    """Stage a source's rows from the published partition (it has no archive); None if none.

    Each published file is read a batch at a time and the source's rows written as they come.
    """
    store = DatasetStore(config.settings.output_root)
    root = store.root
    manifest = store.committed(window)
    if manifest is None or not all(table in manifest.tables for table in STAGED_TABLES):
        return None
    staged = {}
    rows = {}
    # The fetch log first: a source with no row there had nothing in the day's partitions.
    for table in ("fetch_log", "rejects", "articles"):
        staged[table] = layout.staged_table_file(window, run_id, source, table)
        parts = _source_rows(root, manifest.tables[table].file, table, source)
        rows[table] = write_staged(root, staged[table], parts, STAGED_TABLES[table])
        if table == "fetch_log" and not rows[table]:
            root.delete_file(staged[table])
            return None
    log.info("%s: source %s carried over from the published partition", window.partition, source)
    counts = SourceCounts.from_rows(
        source,
        [FetchOutcome(**row) for row in root.read_table(staged["fetch_log"]).to_pylist()],
        [Reject(**row) for row in root.read_table(staged["rejects"]).to_pylist()],
    )
    return ExtractResult(source, counts, staged, articles=rows["articles"])


def _source_rows(root: Root, published: str, table: str, source: str) -> Iterator[pa.Table]:
    """One source's rows of a published file, with the staged columns, a batch at a time."""
    schema = PUBLISHED_TABLES[table]
    names = STAGED_TABLES[table].names
    with root.open_input(published) as handle:
        parquet = pq.ParquetFile(handle)
        present = set(parquet.schema_arrow.names)
        for batch in parquet.iter_batches(columns=[n for n in names if n in present]):
            rows = pa.Table.from_batches([batch])
            rows = rows.filter(pc.equal(rows["source"], source))
            if rows.num_rows:
                yield _with_schema(rows, STAGED_TABLES[table], schema)


def _with_schema(table: pa.Table, schema: pa.Schema, published: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns: missing ones as nulls, others cast."""
    columns = [
        table[field.name].cast(field.type)
        if field.name in table.column_names
        else pa.nulls(table.num_rows, published.field(field.name).type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


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
    by_source = {result.source: result for result in extracted}
    names = sorted(by_source)
    for name in names:
        _check_staged(root, name, by_source[name].staged)
    day = StagedArticles(root, [by_source[name].staged["articles"] for name in names])
    dedup = dedup_rows(day.article_keys(), day, config.settings.dedup, root, window)
    sources = _counts_after_dedup(by_source, dedup.unique, dedup.assignments, dedup.rejects)
    stories, duplicates = dedup.stories, dedup.duplicates
    multi_copy = _multi_copy_stories(dedup.assignments)
    written = len(dedup.assignments)
    staged_files = {
        table: [by_source[name].staged[table] for name in names]
        for table in ("rejects", "fetch_log")
    }
    tables = {
        "articles": TableWrite(_published_articles(day, dedup), ARTICLES_SCHEMA),
        "rejects": TableWrite(
            _sorted_records(root, staged_files["rejects"], REJECTS_SCHEMA, dedup.rejects),
            REJECTS_SCHEMA,
        ),
        "fetch_log": TableWrite(
            _sorted_records(root, staged_files["fetch_log"], FETCH_LOG_SCHEMA, []),
            FETCH_LOG_SCHEMA,
        ),
        INDEX_TABLE: TableWrite(dedup.index_batches(), INDEX_SCHEMA),
    }
    # The streams above hold the day's dedup state; dropped with them once written.
    del dedup
    release_freed_memory()  # dedup's scratch, before the writer's row groups
    # One commit for the whole day: a reader sees all four tables of this run, or of the last.
    manifest = store.write_day(window, tables, run_id)
    del tables
    paths = {name: root.path(manifest.tables[name].file) for name in PUBLISHED_NAMES}
    paths["report"] = root.path(layout.report_file(window, REPORT_HTML))
    published = PublishResult(
        partition=window.partition,
        data_interval=(window.start.isoformat(), window.end.isoformat()),
        run_id=run_id,
        sources=sources,
        stories=stories,
        multi_copy_stories=multi_copy,
        paths=paths,
        failed_sources=dict(sorted((failed_sources or {}).items())),
    )
    root.write_json(layout.report_file(window, SUMMARY_JSON), published.summary())
    write_run_report(root, window, history_days=config.settings.report.history_days)
    root.delete_dir(layout.run_staging_dir(window, run_id))
    log.info(
        "publish %s: written=%d stories=%d duplicates=%d -> %s",
        window.partition,
        written,
        published.stories,
        duplicates,
        paths["articles"],
    )
    return published


#: The tables a publish commits, in the order the summary lists their paths.
PUBLISHED_NAMES = ("articles", "rejects", "fetch_log", INDEX_TABLE)


def _check_staged(root: Root, source: str, staged: dict[str, str]) -> None:
    missing = [staged.get(table, table) for table in STAGED_TABLES if table not in staged]
    missing += [path for path in staged.values() if not root.exists(path)]
    if missing:
        raise FileNotFoundError(
            f"no staged output for source {source!r}: {root.display(missing[0])} is missing"
        )


def _published_articles(day: StagedArticles, dedup: DayDedup) -> Iterator[pa.Table]:
    """The articles table, ROW_GROUP_SIZE rows a table, sorted by SORT_KEYS.

    The order is computed on the kept rows' keys; the rows are then read from the staged files
    in that order (ascending within each file, since each staged file is sorted the same way) and
    dedup's columns are added to each chunk.
    """
    unique, assignments = dedup.unique, dedup.assignments
    keys = pa.table(
        {
            "source": [key.source for key in unique],
            "published_at": pa.array(
                [key.published_at for key in unique], ARTICLES_SCHEMA.field("published_at").type
            ),
            "article_id": [key.article_id for key in unique],
        }
    )
    order = pc.sort_indices(keys, sort_keys=SORT_KEYS).to_numpy() if len(unique) else []
    del keys
    staged_columns = [name for name in STAGED_ARTICLES_SCHEMA.names if name != "schema_version"]
    positions = [unique[row].position for row in order]
    done = 0
    for chunk in day.in_order(positions, staged_columns, ROW_GROUP_SIZE):
        rows = [assignments[row] for row in order[done : done + chunk.num_rows]]
        done += chunk.num_rows
        published = _with_assignments(chunk, rows)
        del chunk  # one row group in memory at a time: neither is kept while the next is read
        yield published
        del published


def _with_assignments(staged: pa.Table, assignments: list[StoryAssignment]) -> pa.Table:
    columns = {name: staged[name] for name in staged.column_names}
    columns["provenance"] = normalized_provenance(staged["provenance"])
    columns["content_hash"] = pa.array([a.content_hash for a in assignments], pa.string())
    columns["story_id"] = pa.array([a.story_id for a in assignments], pa.string())
    columns["is_duplicate"] = pa.array([a.is_duplicate for a in assignments], pa.bool_())
    columns["duplicate_of"] = pa.array([a.duplicate_of for a in assignments], pa.string())
    columns["similarity"] = pa.array([a.similarity for a in assignments], pa.float32())
    columns["schema_version"] = pa.array([SCHEMA_VERSION] * staged.num_rows, pa.int16())
    return pa.Table.from_arrays(
        [columns[name] for name in ARTICLES_SCHEMA.names], schema=ARTICLES_SCHEMA
    )


def _sorted_records(
    root: Root, files: list[str], schema: pa.Schema, extra: list[Reject]
) -> Iterator[pa.Table]:
    """The staged files of one table (and ``extra`` rows after them) as one table, sorted as
    ``records_to_table`` sorts; read only when the writer gets to it."""
    parts = [_with_schema(root.read_table(path), schema, schema) for path in files]
    if extra:  # in their own order: the sort below is stable, as records_to_table's is
        parts.append(pa.Table.from_pylist([asdict(record) for record in extra], schema=schema))
    table = pa.concat_tables(parts) if parts else schema.empty_table()
    del parts
    if table.num_rows:
        keys = [name for name in ("source", "url", "role", "stage") if name in schema.names]
        table = table.sort_by([(name, "ascending") for name in keys])
    yield table


def _counts_after_dedup(
    extracted: dict[str, ExtractResult],
    articles: list[ArticleKey],
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

"""A day's table given as a stream of tables is written as it comes, one validated file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pipeline.storage.partitions as partitions
from pipeline.models import Article, RunWindow, StoryAssignment
from pipeline.schema import ARTICLES_SCHEMA, articles_to_table
from pipeline.storage.partitions import DatasetStore, PartitionWriteError, TableWrite

WINDOW = RunWindow.for_day(date(2026, 3, 10))


def published_table(rows: int) -> pa.Table:
    """``rows`` published articles, each its own story, sorted as the pipeline writes them."""
    articles = [
        Article(
            article_id=f"{i:016x}",
            url=f"https://x.example/{i}",
            canonical_url=f"https://x.example/{i}",
            source=f"source-{i % 3}",
            title=f"Headline {i}",
            text=f"Body {i}.",
            fetched_at=datetime(2026, 3, 10, 12, tzinfo=UTC),
            published_at=datetime(2026, 3, 10, i % 24, tzinfo=UTC),
        )
        for i in range(rows)
    ]
    assignments = [StoryAssignment(a.article_id, "h", f"st_{i}") for i, a in enumerate(articles)]
    return articles_to_table(articles, assignments)


def test_a_stream_of_tables_is_one_file_of_row_groups_at_most_row_group_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(partitions, "ROW_GROUP_SIZE", 4)
    rows = published_table(23)
    handed: list[int] = []

    def stream() -> Iterator[pa.Table]:
        for start in range(0, rows.num_rows, 6):
            handed.append(start)
            yield rows.slice(start, 6)
            yield rows.slice(0, 0)  # an empty part adds no row group

    manifest = DatasetStore(tmp_path).write_day(
        WINDOW, {"articles": TableWrite(stream(), ARTICLES_SCHEMA)}, "run-1"
    )
    entry = manifest.tables["articles"]
    path = tmp_path / entry.file
    metadata = pq.ParquetFile(path).metadata
    sizes = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
    assert sizes == [4, 2, 4, 2, 4, 2, 4, 1] and entry.rows == 23 == sum(sizes)
    assert len(handed) == 4
    back = duckdb.sql(f"SELECT article_id FROM read_parquet('{path}')").fetchall()
    assert [row[0] for row in back] == rows["article_id"].to_pylist()


def test_an_empty_stream_is_an_empty_partition_with_the_schema(tmp_path: Path) -> None:
    empty = TableWrite(iter([ARTICLES_SCHEMA.empty_table()]), ARTICLES_SCHEMA)
    manifest = DatasetStore(tmp_path).write_day(WINDOW, {"articles": empty}, "r")
    parquet = pq.ParquetFile(tmp_path / manifest.tables["articles"].file)
    assert parquet.metadata.num_rows == 0 and parquet.metadata.num_row_groups == 1
    assert parquet.schema_arrow.equals(ARTICLES_SCHEMA, check_metadata=False)


def test_a_part_of_another_schema_fails_the_write_and_publishes_nothing(tmp_path: Path) -> None:
    def stream() -> Iterator[pa.Table]:
        yield published_table(3)
        yield published_table(2).drop_columns(["title"])

    store = DatasetStore(tmp_path)
    with pytest.raises(PartitionWriteError, match="does not match the declared schema"):
        store.write_day(WINDOW, {"articles": TableWrite(stream(), ARTICLES_SCHEMA)}, "run-1")
    assert store.committed(WINDOW) is None

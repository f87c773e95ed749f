import json
from datetime import UTC, date, datetime

import duckdb
import pyarrow.parquet as pq

from pipeline.models import Article, RunWindow
from pipeline.schema import ARTICLES_SCHEMA, SCHEMA_VERSION, articles_to_table, table_to_articles
from pipeline.storage import write_partition

WINDOW = RunWindow.for_day(date(2026, 3, 10))


def sample(n: int) -> list[Article]:
    return [
        Article(
            article_id=f"{i:016x}",
            url=f"https://x.example/{i}",
            canonical_url=f"https://x.example/{i}",
            source="x",
            title=f"T{i}",
            text="Çavuşoğlu said “yes”.",
            authors=["A B"],
            fetched_at=datetime(2026, 3, 10, 12, tzinfo=UTC),
            published_at=datetime(2026, 3, 10, i % 24, tzinfo=UTC),
            provenance={"title": "html"},
            content_hash="h",
            story_id=f"st_{i}",
        )
        for i in range(n)
    ]


def test_round_trip_keeps_types_and_text() -> None:
    table = articles_to_table(sample(3))
    assert table.schema.equals(ARTICLES_SCHEMA)
    back = table_to_articles(table)
    assert back[0].text == "Çavuşoğlu said “yes”." and back[0].provenance == {"title": "html"}
    assert back[0].published_at is not None and back[0].published_at.tzinfo is not None


def test_empty_day_writes_a_typed_empty_file(tmp_path) -> None:
    published = write_partition(articles_to_table([]), tmp_path, "articles", WINDOW, "r1")
    assert pq.read_table(published.path).schema.equals(ARTICLES_SCHEMA, check_metadata=False)
    assert pq.read_metadata(published.path).num_rows == 0


def test_rewrite_replaces_the_partition_and_leaves_no_temp_files(tmp_path) -> None:
    write_partition(articles_to_table(sample(5)), tmp_path, "articles", WINDOW, "r1")
    published = write_partition(articles_to_table(sample(2)), tmp_path, "articles", WINDOW, "r2")
    directory = tmp_path / "articles" / "dt=2026-03-10"
    assert sorted(p.name for p in directory.iterdir()) == ["_manifest.json", "part-0.parquet"]
    manifest = json.loads((directory / "_manifest.json").read_text())
    assert manifest["row_count"] == 2 and manifest["run_id"] == "r2"
    assert manifest["schema_version"] == SCHEMA_VERSION
    rows = duckdb.sql(
        f"SELECT count(*), min(dt) FROM read_parquet('{tmp_path}/articles/*/*.parquet', "
        "hive_partitioning=true)"
    ).fetchall()[0]
    assert rows == (2, date(2026, 3, 10)) and published.rows == 2

"""Publish streams the day: the staged rows, deduplicated and written a row group at a time, are
the rows the in-memory path builds (``dedup_day`` + ``articles_to_table``), read back with DuckDB.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pipeline.dedup.day as dedup_day_module
import pipeline.dedup.fingerprint as fingerprint_module
import pipeline.publish.stage as stage_module
import pipeline.publish.staged as staged_module
import pipeline.storage.partitions as partitions_module
from pipeline.dedup.history import dedup_day
from pipeline.demo.catalog import load_catalog
from pipeline.extract.stage import SourceArticles
from pipeline.fetch.urls import url_hash
from pipeline.models import Article, FetchOutcome, RunWindow
from pipeline.publish.stage import publish_day, stage_source
from pipeline.publish.staged import StagedArticles
from pipeline.results import ExtractResult
from pipeline.schema import ARTICLES_SCHEMA, articles_to_table
from pipeline.settings import PipelineConfig
from pipeline.storage.root import Root

DAY = date(2026, 3, 10)
SOURCES = ("alpha-news", "beta-daily", "gamma-post")


def synthetic_day() -> dict[str, list[Article]]:
    """The demo site's texts, each published by one outlet and copied (edited, some truncated,
    some twice under one canonical URL) by the others, with each outlet's footer line."""
    rng = random.Random(3)
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    day: dict[str, list[Article]] = {source: [] for source in SOURCES}
    for number, demo in enumerate(load_catalog()):
        body = "\n\n".join(demo.paragraphs)
        for copy, source in enumerate(SOURCES):
            if copy and number % 3 == copy:
                continue  # not every story is copied by every outlet
            words = body.split(" ")
            if copy:
                for _ in range(len(words) // 25):
                    words[rng.randrange(len(words))] = "edited"
                if number % 4 == 0:
                    words = words[: len(words) * 2 // 3]  # a truncated copy
            text = " ".join(words) + f"\n\nNews tips for {source}: write to the desk."
            url = f"https://{source}.example/{number}"
            published = None if number % 7 == 0 else start + timedelta(minutes=number * 13)
            article = Article(
                article_id=url_hash(url),
                url=url,
                canonical_url=url,
                source=source,
                title=demo.title,
                text=text,
                fetched_at=start + timedelta(hours=20),
                published_at=published,
                word_count=len(text.split()),
                provenance={"title": "json-ld", "published_at": "meta"},
            )
            day[source].append(article)
            if number % 5 == 0:  # a second page (AMP) declaring the same canonical URL
                day[source].append(replace(article, url=url + "?amp", word_count=3))
    return day


def config_for(root: Path) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "settings": {"output_root": str(root / "out"), "archive_root": str(root / "a")},
            "sources": [{"name": name, "urls": ["https://example.invalid/"]} for name in SOURCES],
        }
    )


def stage_day(config: PipelineConfig, day: dict[str, list[Article]]) -> list[ExtractResult]:
    window = RunWindow.for_day(DAY)
    results = []
    for source, articles in day.items():
        log = [
            FetchOutcome(a.url, source, "page", "fetched", "ok", http_status=200, attempts=1)
            for a in articles
        ]
        built = SourceArticles(source=source, articles=articles, fetch_log=log)
        results.append(stage_source(config, window, "run-1", built))
    return results


def test_the_streamed_articles_table_is_the_in_memory_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = synthetic_day()
    config = config_for(tmp_path)
    everything = [a for source in sorted(day) for a in day[source]]
    # The reference: the whole day in memory, deduplicated, then one table.
    reference, _ = dedup_day(
        everything, config.settings.dedup, tmp_path / "elsewhere", RunWindow.for_day(DAY)
    )
    expected = articles_to_table(reference.articles, reference.assignments)
    assert reference.rejects and any(a.is_duplicate for a in reference.assignments)

    # Tiny batches, row groups and budgets, so that every path of the streaming runs: texts read
    # back in rounds, sources tokenized twice, rows read across row groups and files.
    monkeypatch.setattr(stage_module, "STAGED_ROW_GROUP_ROWS", 4)
    monkeypatch.setattr(staged_module, "READ_BATCH_ROWS", 5)
    monkeypatch.setattr(staged_module, "TEXT_BATCH", 3)
    monkeypatch.setattr(dedup_day_module, "SHINGLE_BUDGET", 500)
    monkeypatch.setattr(fingerprint_module, "TOKEN_BUDGET", 100)
    monkeypatch.setattr(stage_module, "ROW_GROUP_SIZE", 7)
    monkeypatch.setattr(partitions_module, "ROW_GROUP_SIZE", 7)
    published = publish_day(config, RunWindow.for_day(DAY), "run-1", stage_day(config, day))

    path = published.paths["articles"]
    got = duckdb.sql(f"SELECT * FROM read_parquet('{path}', hive_partitioning = false)").arrow()
    if isinstance(got, pa.RecordBatchReader):
        got = got.read_all()
    assert got.num_rows == expected.num_rows == len(reference.assignments)
    assert got.cast(ARTICLES_SCHEMA).equals(expected), "rows or their order differ"
    groups = pq.ParquetFile(path).metadata
    sizes = [groups.row_group(g).num_rows for g in range(groups.num_row_groups)]
    assert max(sizes) <= 7 and sum(sizes) == expected.num_rows
    rejects = duckdb.sql(
        f"SELECT url FROM read_parquet('{published.paths['rejects']}') "
        "WHERE reason = 'duplicate_canonical_url' ORDER BY url"
    ).fetchall()
    assert [row[0] for row in rejects] == sorted(r.url for r in reference.rejects)
    assert published.stories == reference.stories


def test_staged_rows_are_read_back_by_position_across_files_and_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stage_module, "STAGED_ROW_GROUP_ROWS", 3)
    day = synthetic_day()
    config = config_for(tmp_path)
    results = stage_day(config, day)
    root = Root(config.settings.output_root)
    staged = StagedArticles(
        root, [r.staged["articles"] for r in sorted(results, key=lambda r: r.source)]
    )
    in_file_order = [
        row["article_id"]
        for r in sorted(results, key=lambda r: r.source)
        for row in root.read_table(r.staged["articles"]).to_pylist()
    ]
    assert staged.rows == len(in_file_order) and len(set(in_file_order)) < len(in_file_order) + 1
    assert [key.article_id for key in staged.article_keys()] == in_file_order

    wanted = [0, 2, 3, 9, 10, staged.rows - 1]
    found = [
        (position, table["article_id"][at].as_py())
        for positions, table in staged.read(wanted, ["article_id"], batch=2)
        for at, position in enumerate(positions)
    ]
    assert found == [(p, in_file_order[p]) for p in wanted]

    backwards = list(range(staged.rows - 1, -1, -1))
    chunks = list(staged.in_order(backwards, ["article_id", "text"], chunk=4))
    assert [len(c) for c in chunks[:-1]] == [4] * (len(chunks) - 1)
    assert [v for c in chunks for v in c["article_id"].to_pylist()] == in_file_order[::-1]
    with pytest.raises(ValueError, match="ascend"):
        list(staged.read([3, 1], ["text"]))

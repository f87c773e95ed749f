"""The output does not depend on the extraction pool: workers=1 and workers=2 publish the same.

Two live runs of the demo day, each into its own roots, read back with DuckDB. Only the columns
that differ between any two runs (run ids, fetch times, archive names, timings) are left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

import pipeline.runner
from pipeline.demo.catalog import MAIN_DAY
from pipeline.demo.server import DemoSite
from pipeline.extract.pool import ExtractionPool
from pipeline.models import RunWindow
from pipeline.runner import run_day
from pipeline.settings import load_config

REPO = Path(__file__).resolve().parents[2]
VOLATILE = {"run_id", "fetched_at", "archive_file", "warc_record_id", "elapsed_ms"}
TABLES = ("articles", "rejects", "fetch_log", "dedup_index")


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    with DemoSite() as site:
        yield site.base_url


def published(root: Path, table: str) -> list[tuple[Any, ...]]:
    source = f"read_parquet('{root}/{table}/*/*.parquet', hive_partitioning=true)"
    columns = [row[0] for row in duckdb.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    kept = ", ".join(f'"{column}"' for column in columns if column not in VOLATILE)
    return sorted(duckdb.sql(f"SELECT {kept} FROM {source}").fetchall(), key=repr)


def test_workers_1_and_2_publish_the_same_day(
    demo_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []

    class CountingPool(ExtractionPool):
        def __enter__(self) -> ExtractionPool:
            started.append(self.processes)
            return super().__enter__()

    monkeypatch.setattr(pipeline.runner, "ExtractionPool", CountingPool)
    roots = {}
    for workers in (1, 2):
        roots[workers] = tmp_path / f"workers-{workers}"
        config = load_config(
            REPO / "config" / "demo.yaml",
            {
                "output_root": str(roots[workers] / "out"),
                "archive_root": str(roots[workers] / "archive"),
                "workers": workers,
            },
            environ={"NEWSINGEST_DEMO_URL": demo_url},
        )
        run_day(config, RunWindow.for_day(MAIN_DAY), f"workers-{workers}")

    assert started == [1, 2]  # the second run did extract in two worker processes
    for table in TABLES:
        one = published(roots[1] / "out", table)
        two = published(roots[2] / "out", table)
        assert one, table
        assert one == two, table


def _pool_size_in_a_daemon(config_path: str, queue: Any) -> None:
    config = load_config(Path(config_path), {"workers": 2})
    with ExtractionPool(config, RunWindow.for_day(MAIN_DAY), "daemon", jobs=2) as pool:
        queue.put(pool.processes)


def test_a_daemonic_caller_extracts_in_one_thread() -> None:
    """A Celery prefork worker runs tasks in daemonic processes, which may not have children:
    the pool must not try to start any there (it raised AssertionError on the cluster)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(
        target=_pool_size_in_a_daemon, args=(str(REPO / "config" / "demo.yaml"), queue), daemon=True
    )
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == 1

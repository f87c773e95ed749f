"""One news_ingest run on a real CeleryExecutor cluster: two workers, Postgres, Redis, S3.

The cluster is the one ``make run-cluster`` starts (``pipeline.cluster.demo.demo_cluster``): the
Airflow components and two Celery workers as separate processes, each worker in its own empty
directory, Airflow's database created on the local Postgres, every pipeline root on moto's S3
server. The day is read back with DuckDB over S3. Afterwards no process, database or Redis key of
the cluster may be left. About 2 minutes on this machine; every wait has a deadline.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.fs as pafs
import pytest

from pipeline.cluster.demo import (
    DAG_ID,
    DATA_SUFFIXES,
    TEST_REDIS_DB,
    DemoCluster,
    articles_per_source,
    demo_cluster,
    run_day,
)
from pipeline.cluster.services import BrokerQueue
from pipeline.dataset import duckdb_views
from pipeline.demo.catalog import MAIN_DAY, load_catalog

# Start-up (database migration, five components) takes ~1 min here, the run ~30 s; the inner
# deadlines (240 s to start, 180 s for the run) fire before this one.
pytestmark = pytest.mark.timeout(480)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Everything the tests check, gathered while the cluster is up and after it is torn down."""
    base = tmp_path_factory.mktemp("cluster")
    database = f"newsingest_airflow_test_{uuid.uuid4().hex[:8]}"
    with demo_cluster(
        base, database_name=database, redis_db=TEST_REDIS_DB, start_timeout=240
    ) as demo:
        cluster = demo.cluster
        run = run_day(demo, MAIN_DAY, timeout=180)
        result: dict[str, Any] = {
            "run": run,
            "placements": cluster.placements(DAG_ID, run["dag_run_id"]),
            "workers": cluster.worker_names,
            "worker_dirs": dict(cluster.worker_dirs),
            "local_data": cluster.local_files(DATA_SUFFIXES),
            "per_source": articles_per_source(demo.output_root),
            "articles": duckdb_views(demo.output_root)
            .sql("SELECT url, source, story_id, is_duplicate FROM articles")
            .fetchall(),
            "pages": duckdb_views(demo.output_root)
            .sql("SELECT url, status, reason FROM fetch_log WHERE role = 'page'")
            .fetchall(),
            "demo_url": demo.demo_url,
            "s3_env": demo.s3.environ(),
            "bucket": demo.s3.bucket,
            "pgids": [p.pid for p in cluster.processes] + [demo.s3.process.pid],  # type: ignore[union-attr]
            "database": cluster.database,
            "queue": cluster.queue,
        }
        result["analysts"] = analysts_lines_on(demo, base / "mirror")
    # The cluster is down now: nothing it started may be left behind.
    result["left_processes"] = alive_in_groups(result["pgids"])
    result["database_left"] = database_exists(result["database"].name)
    result["queue_keys_left"] = redis_keys(result["queue"])
    return result


def analyst_statements() -> list[str]:
    """The ``con.sql(...)`` statements of docs/analysts.md's "DuckDB on S3" section, in order."""
    docs = (REPO / "docs" / "analysts.md").read_text()
    section = docs.split("## DuckDB on S3", 1)[1].split("\n## ", 1)[0]
    return re.findall(r'con\.sql\("(.+?)"\)', section)


def analysts_lines_on(demo: DemoCluster, mirror: Path) -> dict[str, Any]:
    """Article counts from the documented statements: with httpfs against the S3 server when
    the extension can be loaded, and always against a local copy of the bucket (same SQL)."""
    install, secret, glob_query, set_files, manifest_query = analyst_statements()
    assert install.startswith("INSTALL httpfs") and "CREATE SECRET" in secret
    s3 = pafs.S3FileSystem(
        endpoint_override=demo.s3.endpoint,
        region="us-east-1",
        access_key="test",
        secret_key="test",
    )
    pafs.copy_files(f"{demo.s3.bucket}/out", str(mirror / "out"), source_filesystem=s3)

    def counts(connection: duckdb.DuckDBPyConnection, prefix: str) -> dict[str, Any]:
        def run(sql: str) -> duckdb.DuckDBPyRelation | None:
            return connection.sql(sql.replace("s3://news/", prefix))

        globbed = dict(run(glob_query).fetchall())  # type: ignore[union-attr]
        run(set_files)
        committed = dict(run(manifest_query).fetchall())  # type: ignore[union-attr]
        return {"glob": globbed, "manifest": committed}

    found: dict[str, Any] = {"local": counts(duckdb.connect(), f"{mirror}/")}
    connection = duckdb.connect()
    try:
        connection.execute("LOAD httpfs")
    except duckdb.Error as exc:  # downloaded on first use; no network here
        found["httpfs"] = f"httpfs not available: {exc}".splitlines()[0]
        return found
    host = demo.s3.endpoint.removeprefix("http://")
    connection.execute(secret.replace("127.0.0.1:9000", host))
    found["httpfs"] = counts(connection, f"s3://{demo.s3.bucket}/")
    return found


def test_the_run_succeeds_with_tasks_on_both_workers(cluster_run: dict[str, Any]) -> None:
    assert cluster_run["run"]["state"] == "success"
    placements = cluster_run["placements"]
    assert {p.task_id for p in placements} == {"plan_shards", "fetch", "extract", "publish"}
    assert all(p.state == "success" for p in placements), placements
    # Each attempt's log is on exactly the worker that ran it (its own folder, no shared disk).
    assert all(p.worker in cluster_run["workers"] for p in placements), placements
    # The cluster routes fetch to the first worker's queue and the rest to the second's, so
    # the archive written on one worker is extracted on the other (pipeline.cluster.policy).
    fetcher, processor = cluster_run["workers"]
    assert {p.worker for p in placements if p.task_id == "fetch"} == {fetcher}, placements
    assert {p.worker for p in placements if p.task_id != "fetch"} == {processor}, placements


def test_no_data_file_is_on_a_workers_disk(cluster_run: dict[str, Any]) -> None:
    assert cluster_run["local_data"] == []
    for home in cluster_run["worker_dirs"].values():
        assert (home / "airflow" / "logs").is_dir()  # the worker did run tasks from here


def test_the_day_read_with_duckdb_over_s3_is_the_demo_day(cluster_run: dict[str, Any]) -> None:
    per_source = {source: rows for dt, source, rows, _ in cluster_run["per_source"]}
    assert {dt for dt, *_ in cluster_run["per_source"]} == {MAIN_DAY.isoformat()}
    assert set(per_source) == {
        "harbor-times",
        "northgate-ledger",
        "coastline-post",
        "valley-courier",
    }
    base = cluster_run["demo_url"]
    rows = {
        url.removeprefix(base): (source, story, dup)
        for url, source, story, dup in cluster_run["articles"]
    }
    expected = {
        a.path
        for a in load_catalog()
        if a.published_at.astimezone(UTC).date() == MAIN_DAY and not a.robots_disallowed
    }
    assert expected <= set(rows)
    wire = [rows[a.path] for a in load_catalog() if a.story == "wire-alliance-working-group"]
    assert len({story for _, story, _ in wire}) == 1 and sum(not dup for *_, dup in wire) == 1
    pages = cluster_run["pages"]
    assert pages and all(status in {"fetched", "skipped", "failed"} for _, status, _ in pages)
    assert all(reason for _, status, reason in pages if status != "fetched")


def test_the_analysts_duckdb_lines_read_the_day(cluster_run: dict[str, Any]) -> None:
    expected = {source: rows for _, source, rows, _ in cluster_run["per_source"]}
    local = cluster_run["analysts"]["local"]
    assert local == {"glob": expected, "manifest": expected}


def test_the_analysts_httpfs_line_reads_the_day_on_s3(cluster_run: dict[str, Any]) -> None:
    on_s3 = cluster_run["analysts"]["httpfs"]
    if isinstance(on_s3, str):
        pytest.skip(on_s3)
    expected = {source: rows for _, source, rows, _ in cluster_run["per_source"]}
    assert on_s3 == {"glob": expected, "manifest": expected}


def test_everything_the_cluster_started_is_gone(cluster_run: dict[str, Any]) -> None:
    assert cluster_run["left_processes"] == []
    assert not cluster_run["database_left"]
    assert cluster_run["queue_keys_left"] == []


def database_exists(name: str) -> bool:
    import psycopg2

    from pipeline.cluster.services import DEFAULT_POSTGRES

    connection = psycopg2.connect(f"{DEFAULT_POSTGRES}/postgres", connect_timeout=10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cursor.fetchone() is not None
    finally:
        connection.close()


def redis_keys(queue: BrokerQueue) -> list[bytes]:
    import redis

    client = redis.Redis.from_url(queue.broker_url, socket_timeout=10)
    try:
        return list(client.scan_iter(match=f"*{queue.name}*"))
    finally:
        client.close()


def alive_in_groups(pgids: list[int]) -> list[int]:
    """Processes still in the process groups the cluster's components led."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) in pgids:
                alive.append(int(entry.name))
        except ProcessLookupError:
            continue
    return alive

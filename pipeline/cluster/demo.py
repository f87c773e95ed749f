"""``make run-cluster``: the demo day on a real CeleryExecutor cluster, every root on S3.

:func:`demo_cluster` brings up, in order, the demo web site (a thread of this process, on
loopback), moto's S3 server, Airflow's own database on the local Postgres, a Celery queue on the
local Redis, and the Airflow components with two workers (:mod:`pipeline.cluster.deployment`);
it takes them all down again in reverse order, whatever happens (an error, Ctrl-C, SIGTERM).
``tests/cluster/`` uses the same context manager.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipeline.cluster.deployment import AirflowCluster, TaskPlacement
from pipeline.cluster.services import BrokerQueue, MetadataDatabase, S3Server

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "config" / "demo.yaml"
DAG_ID = "news_ingest"
FETCH_POOL = "news_fetch"  # dags/news_ingest.py FETCH_POOL; the DAG's tasks wait without it
# Redis database numbers of their own (of the 16 a default Redis has): make run-cluster, tests.
DEMO_REDIS_DB = 11
TEST_REDIS_DB = 12
# Data files the pipeline writes; a worker's own directory must never hold one.
DATA_SUFFIXES = (".parquet", ".warc.gz", ".warc", ".json.gz")


@dataclass
class DemoCluster:
    cluster: AirflowCluster
    s3: S3Server
    demo_url: str

    @property
    def output_root(self) -> str:
        return f"s3://{self.s3.bucket}/out"

    @property
    def archive_root(self) -> str:
        return f"s3://{self.s3.bucket}/archive"


@contextlib.contextmanager
def scoped_environ(values: dict[str, str]) -> Iterator[None]:
    """``values`` in this process's environment (pyarrow's S3 client reads AWS_* from there),
    restored afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextlib.contextmanager
def demo_cluster(
    base_dir: Path,
    *,
    database_name: str,
    redis_db: int,
    keep_database: bool = False,
    start_timeout: float = 300.0,
) -> Iterator[DemoCluster]:
    """The whole cluster, up; everything it started is stopped on the way out."""
    from pipeline.demo.server import DemoSite

    base_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        site = stack.enter_context(DemoSite())
        s3 = S3Server(base_dir)
        stack.callback(s3.stop)  # registered first: stop also what a failed start left
        s3.start()
        database = MetadataDatabase(database_name)
        database.create()
        if not keep_database:
            stack.callback(database.drop)
        queue = BrokerQueue(redis_db)
        stack.callback(queue.delete)
        demo = DemoCluster(
            cluster=AirflowCluster(
                base_dir,
                database=database,
                queue=queue,
                pipeline_env={
                    "NEWSINGEST_CONFIG": str(DEMO_CONFIG),
                    "NEWSINGEST_DEMO_URL": site.base_url,
                    **s3.environ(),
                },
            ),
            s3=s3,
            demo_url=site.base_url,
        )
        demo.cluster.pipeline_env.update(
            {
                "NEWSINGEST__OUTPUT_ROOT": demo.output_root,
                "NEWSINGEST__ARCHIVE_ROOT": demo.archive_root,
            }
        )
        stack.callback(demo.cluster.stop)
        demo.cluster.start(timeout=start_timeout)
        demo.cluster.wait_for_dag(DAG_ID)
        demo.cluster.prepare_dag(DAG_ID, {FETCH_POOL: 4})
        with scoped_environ(s3.environ()):
            yield demo


def run_day(demo: DemoCluster, day: date, timeout: float) -> dict[str, Any]:
    """Trigger one run for ``day`` and wait for it; the finished run as the API returns it."""
    run_id = demo.cluster.trigger(DAG_ID, {"date": day.isoformat(), "from_archive": False})
    finished = demo.cluster.wait_for_runs(DAG_ID, 1, timeout)
    (run,) = [r for r in finished if r["dag_run_id"] == run_id]
    return run


def run_backfill(
    demo: DemoCluster, first: date, last: date, timeout: float
) -> list[dict[str, Any]]:
    """A backfill of ``first``..``last``; the scheduler runs the days one at a time, in order."""
    demo.cluster.backfill(DAG_ID, first.isoformat(), last.isoformat())
    days = (last - first).days + 1
    return demo.cluster.wait_for_runs(DAG_ID, days, timeout)


def run_day_of(run: dict[str, Any]) -> date:
    """The UTC day a run ingested: its ``date`` param, else its data interval's start."""
    chosen = (run.get("conf") or {}).get("date")
    if chosen:
        return date.fromisoformat(chosen)
    return date.fromisoformat(str(run["data_interval_start"])[:10])


def format_placements(placements: list[TaskPlacement]) -> str:
    lines = ["  task                 state     attempt  worker (celery)     host"]
    for p in placements:
        lines.append(
            f"  {p.label:<20} {p.state or '-':<9} {p.try_number:<8} "
            f"{p.worker or '(no log found)':<19} {p.hostname or '-'}"
        )
    return "\n".join(lines)


def articles_per_source(output_root: str) -> list[tuple[Any, ...]]:
    """Rows per day and source, counted by DuckDB over the committed files on S3."""
    from pipeline.dataset import duckdb_views

    connection = duckdb_views(output_root)
    return connection.sql(
        "SELECT CAST(dt AS VARCHAR) AS dt, source, count(*) AS articles, "
        "count(DISTINCT story_id) AS stories FROM articles GROUP BY ALL ORDER BY ALL"
    ).fetchall()


def keep_bucket_copy(demo: DemoCluster, target: Path) -> Path:
    """Copy the run's bucket to ``target`` (the moto server keeps it in memory only)."""
    import shutil

    import pyarrow.fs as pafs

    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    source = pafs.S3FileSystem(endpoint_override=demo.s3.endpoint, region="us-east-1")
    pafs.copy_files(demo.s3.bucket, str(target), source_filesystem=source)
    return target


def run_cluster_demo(days: int, base_dir: Path | None = None, keep_database: bool = False) -> int:
    from pipeline.cli.summary import duckdb_hint, format_summary
    from pipeline.demo.catalog import MAIN_DAY
    from pipeline.models import RunWindow
    from pipeline.publish.report import SUMMARY_JSON
    from pipeline.storage import layout
    from pipeline.storage.root import Root

    started = time.monotonic()
    base_dir = base_dir or REPO / "var" / "cluster"
    print(f"cluster directory {base_dir} (component logs in logs/, one folder per worker)")
    with demo_cluster(
        base_dir,
        database_name="newsingest_airflow",
        redis_db=DEMO_REDIS_DB,
        keep_database=keep_database,
    ) as demo:
        cluster = demo.cluster
        up = time.monotonic() - started
        print(
            f"up in {up:.0f}s: API server {cluster.api_url}, S3 {demo.s3.endpoint} "
            f"(bucket {demo.s3.bucket}), demo site {demo.demo_url}, Postgres database "
            f"{cluster.database.name}, Redis {cluster.queue.broker_url} queue "
            f"{cluster.queue.name}, workers "
            + ", ".join(f"{name} (queue {queue})" for name, queue in cluster.worker_queues.items())
        )
        if days == 1:
            runs = [run_day(demo, MAIN_DAY, timeout=600)]
        else:
            first = MAIN_DAY - timedelta(days=1)
            runs = run_backfill(demo, first, first + timedelta(days=days - 1), timeout=600 * days)
        output = Root(demo.output_root)
        failed = 0
        for run in sorted(runs, key=run_day_of):
            day = run_day_of(run)
            print(f"\nrun {run['dag_run_id']} ({run['run_type']}): {run['state']}")
            failed += run["state"] != "success"
            placements = cluster.placements(DAG_ID, run["dag_run_id"])
            print(format_placements(placements))
            summary_file = layout.report_file(RunWindow.for_day(day), SUMMARY_JSON)
            if output.exists(summary_file):
                print(format_summary(output.read_json(summary_file)))
        used = {
            p.worker
            for ps in (cluster.placements(DAG_ID, r["dag_run_id"]) for r in runs)
            for p in ps
            if p.worker
        }
        print(f"\nworkers that ran tasks: {', '.join(sorted(used)) or 'none'}")
        print("articles per day and source, DuckDB over S3 (committed files):")
        for row in articles_per_source(demo.output_root):
            print("  " + "  ".join(str(value) for value in row))
        local = cluster.local_files(DATA_SUFFIXES)
        print(f"data files in the workers' own directories: {len(local)}")
        copy = keep_bucket_copy(demo, base_dir / "bucket")
        print(f"the S3 server stops now; a copy of its bucket is in {copy}")
        print(duckdb_hint(str(copy / "out")))
    print(f"done in {time.monotonic() - started:.1f}s; everything started was stopped")
    return 1 if failed or local else 0

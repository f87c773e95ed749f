"""``newsingest demo-site`` and ``newsingest demo-run``: the bundled demo news web."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipeline.cli.args import day


def add_parser(subparsers: Any, name: str) -> None:
    if name == "demo-site":
        site = subparsers.add_parser(name, help="serve the bundled demo news site")
        site.add_argument("--host", default="127.0.0.1")
        site.add_argument("--port", type=int, default=8765)
        site.set_defaults(handler=serve_demo_site)
    elif name == "demo-cluster":
        cluster = subparsers.add_parser(
            name,
            help="run the demo on a local CeleryExecutor cluster: Postgres, Redis, two workers, "
            "every root on a loopback S3 server",
        )
        cluster.add_argument(
            "--days",
            type=int,
            choices=(1, 3),
            default=1,
            help="1: one triggered run of the demo day; 3: a three-day backfill around it",
        )
        cluster.add_argument(
            "--keep-database",
            action="store_true",
            help="keep Airflow's database (newsingest_airflow) afterwards, to inspect it",
        )
        cluster.set_defaults(handler=demo_cluster)
    else:
        demo = subparsers.add_parser(
            name, help="start the demo site and run the news_ingest DAG with `airflow dags test`"
        )
        demo.add_argument("--date", type=day, default=None, help="demo day (default: the main one)")
        demo.set_defaults(handler=demo_run)


def serve_demo_site(args: argparse.Namespace) -> int:
    from pipeline.demo.server import main as serve

    return int(serve(["--host", args.host, "--port", str(args.port)]) or 0)


def demo_run(args: argparse.Namespace) -> int:
    from pipeline.demo.run import run_demo

    return run_demo(args.date)


def demo_cluster(args: argparse.Namespace) -> int:
    import signal

    from pipeline.cluster.demo import run_cluster_demo
    from pipeline.cluster.processes import ClusterError

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # unwinds through the cluster's cleanup, like Ctrl-C

    signal.signal(signal.SIGTERM, stop)
    # Also when started in the background of a script, where SIGINT arrives ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run_cluster_demo(args.days, keep_database=args.keep_database)
    except ClusterError as exc:
        print(f"cluster run failed (everything started was stopped): {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        return 130

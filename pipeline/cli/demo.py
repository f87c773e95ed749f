"""``newsingest demo-site`` and ``newsingest demo-run``: the bundled demo news web."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli.args import day


def add_parser(subparsers: Any, name: str) -> None:
    if name == "demo-site":
        site = subparsers.add_parser(name, help="serve the bundled demo news site")
        site.add_argument("--host", default="127.0.0.1")
        site.add_argument("--port", type=int, default=8765)
        site.set_defaults(handler=serve_demo_site)
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

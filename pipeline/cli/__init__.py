"""``newsingest``: run the stages without a scheduler, serve the demo site, run the demo DAG.

Each subcommand is a module of this package with ``add_parser(subparsers)`` and a handler. Only
the chosen subcommand's module is imported, so ``newsingest --help`` imports no pipeline code and
``newsingest extract`` does not pay for pyarrow, DuckDB or matplotlib.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from pipeline.errors import ConfigError

# name -> (module, one-line help); the module adds the full parser when the name is chosen.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("pipeline.cli.run", "run every stage for one day, without Airflow"),
    "extract": (
        "pipeline.cli.extract",
        "extract articles from saved .html / .html.gz files into JSON lines",
    ),
    "dedup": ("pipeline.cli.dedup", "group copies of one story in a JSONL file of articles"),
    "report": ("pipeline.cli.report", "print the run report of one day"),
    "archive": ("pipeline.cli.archive", "check the raw WARC archive (archive verify)"),
    "demo-site": ("pipeline.cli.demo", "serve the bundled demo news site"),
    "demo-run": (
        "pipeline.cli.demo",
        "start the demo site and run the news_ingest DAG with `airflow dags test`",
    ),
    "demo-cluster": (
        "pipeline.cli.demo",
        "run the demo day (or --days 3, a backfill) on a local CeleryExecutor cluster over S3",
    ),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsingest", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, (module, help_text) in COMMANDS.items():
        if name == chosen:
            importlib.import_module(module).add_parser(commands, name)
        else:
            commands.add_parser(name, help=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the stages
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # missing or damaged files: the message names the file
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

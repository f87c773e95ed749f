"""``newsingest``: run the stages without a scheduler, serve the demo site, run the demo DAG."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, date, datetime
from typing import Any

from pipeline.settings import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="newsingest", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run every stage for one day, without Airflow")
    run.add_argument("--config", required=True, help="YAML config, e.g. config/demo.yaml")
    run.add_argument("--date", required=True, type=_day, help="the UTC day to ingest, YYYY-MM-DD")
    run.add_argument("--out", help="output root (overrides settings.output_root)")
    run.add_argument("--archive", help="archive root (overrides settings.archive_root)")
    run.add_argument(
        "--from-archive",
        action="store_true",
        help="rebuild from the raw archive without any network access",
    )
    run.add_argument(
        "--source",
        action="append",
        dest="sources",
        metavar="NAME",
        help="fetch (or replay) only this source, repeatable; the others are replayed from "
        "the archive or kept as published",
    )
    run.add_argument("--run-id", help="a run id for the archive and manifests")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. --set politeness.min_delay_seconds=2",
    )
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.set_defaults(handler=_run)

    site = commands.add_parser("demo-site", help="serve the bundled demo news site")
    site.add_argument("--host", default="127.0.0.1")
    site.add_argument("--port", type=int, default=8765)
    site.set_defaults(handler=_serve_demo_site)

    from pipeline import dedup_cli, extract_cli, report_cli

    extract_cli.add_parser(commands)
    dedup_cli.add_parser(commands)
    report_cli.add_parser(commands)

    demo = commands.add_parser(
        "demo-run", help="start the demo site and run the news_ingest DAG with `airflow dags test`"
    )
    demo.add_argument("--date", type=_day, default=None, help="demo day (default: the main one)")
    demo.set_defaults(handler=_demo_run)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the stages
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _serve_demo_site(args: argparse.Namespace) -> int:
    from pipeline.demo.server import main as serve

    return int(serve(["--host", args.host, "--port", str(args.port)]) or 0)


def _demo_run(args: argparse.Namespace) -> int:
    from pipeline.demo_run import run_demo

    return run_demo(args.date)


def _run(args: argparse.Namespace) -> int:
    from pipeline.models import RunWindow
    from pipeline.runner import run_day
    from pipeline.settings import load_config

    overrides: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        overrides[key.strip()] = value
    if args.out:
        overrides["output_root"] = args.out
    if args.archive:
        overrides["archive_root"] = args.archive
    config = load_config(args.config, overrides)
    window = RunWindow.for_day(args.date)
    # Unique per invocation, so a rerun adds a WARC file instead of overwriting the last one.
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    run_id = args.run_id or f"cli__{args.date.isoformat()}__{started}"
    summary = run_day(
        config, window, run_id, from_archive=args.from_archive, source_names=args.sources
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(summary))
        print(duckdb_hint(config.settings.output_root))
    return 0


def format_summary(summary: dict[str, Any]) -> str:
    articles_path = summary["paths"]["articles"]
    lines = [
        f"news-ingest {summary['partition']}  (run {summary['run_id']})",
        f"  URLs discovered : {summary['discovered']}",
        f"  pages fetched   : {summary['fetched']} ({summary['not_modified']} not modified)",
        f"  articles written: {summary['written']}  "
        f"({summary['stories']} stories, {summary['duplicates']} duplicates in "
        f"{summary['multi_copy_stories']} multi-copy stories)",
        f"  skipped         : {_counts(summary['skipped'])}",
        f"  failed          : {_counts(summary['failed'])}",
        f"  rejected        : {_counts(summary['rejected'])}",
        f"  partition       : {articles_path}",
        f"  run report      : {summary['paths'].get('report', 'not written')}",
    ]
    if summary.get("unaccounted"):
        lines.append(f"  WARNING: {summary['unaccounted']} discovered URLs are unaccounted for")
    return "\n".join(lines)


def duckdb_hint(output_root: str) -> str:
    query = (
        "SELECT source, count(*) AS articles, count(DISTINCT story_id) AS stories "
        f"FROM read_parquet('{output_root}/articles/*/*.parquet', hive_partitioning=true) "
        "GROUP BY ALL"
    )
    return (
        f'  query it        : .venv/bin/python -c "import duckdb; duckdb.sql(\\"{query}\\").show()"'
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason}={n}" for reason, n in counts.items()) or "none"


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-03-10") from None


if __name__ == "__main__":
    raise SystemExit(main())

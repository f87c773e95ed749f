"""``newsingest run``: every stage for one day in one process, without Airflow.

Progress goes to stderr: a status line redrawn in place on a terminal (pages fetched, sources,
pages and articles extracted, rates, ETAs), plain ``progress:`` log lines every few seconds
otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from pipeline.cli.args import add_set_option, day, setting_overrides
from pipeline.cli.summary import duckdb_hint, format_summary


def add_parser(subparsers: Any, name: str = "run") -> None:
    run = subparsers.add_parser(name, help="run every stage for one day, without Airflow")
    run.add_argument("--config", required=True, help="YAML config, e.g. config/demo.yaml")
    run.add_argument("--date", required=True, type=day, help="the UTC day to ingest, YYYY-MM-DD")
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
    add_set_option(run, "politeness.min_delay_seconds=2")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from pipeline.models import RunWindow
    from pipeline.progress import ProgressDisplay
    from pipeline.runner import SourcesFailed, run_day
    from pipeline.settings import load_config

    overrides: dict[str, Any] = setting_overrides(args.set)
    if args.out:
        overrides["output_root"] = args.out
    if args.archive:
        overrides["archive_root"] = args.archive
    config = load_config(args.config, overrides)
    window = RunWindow.for_day(args.date)
    # Unique per invocation, so a rerun adds a WARC file instead of overwriting the last one.
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    run_id = args.run_id or f"cli__{args.date.isoformat()}__{started}"
    progress = ProgressDisplay.for_stream(sys.stderr)
    if progress.on_terminal:
        # The status line shows the stages; per-source INFO lines would only scroll it away.
        logging.getLogger("pipeline").setLevel(logging.WARNING)
    try:
        summary = run_day(
            config,
            window,
            run_id,
            from_archive=args.from_archive,
            source_names=args.sources,
            progress=progress,
        ).summary()
    except SourcesFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(summary))
        print(duckdb_hint(config.settings.output_root))
    # Published, but not whole: a script must be able to tell (exit 3).
    return PARTIAL if summary["failed_sources"] else 0


#: The exit status of a run that published the day without some failed sources.
PARTIAL = 3

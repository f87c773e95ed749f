"""``newsingest report --date D``: print the run report of a day.

Reads ``reports/dt=D/report.json`` under the output root. When it is missing, or was made for an
earlier run than the one that published the partitions, the report is rebuilt from the published
partitions and written (JSON and HTML) first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pipeline.cli.args import day
from pipeline.errors import ConfigError
from pipeline.models import RunWindow
from pipeline.publish.report import (
    REPORT_HTML,
    REPORT_JSON,
    ReportError,
    build_report,
    format_report,
    has_partitions,
    write_report,
)
from pipeline.settings import load_config
from pipeline.storage import layout
from pipeline.storage.partitions import DatasetStore
from pipeline.storage.root import Root


def add_parser(subparsers: Any, name: str = "report") -> None:
    parser = subparsers.add_parser(
        name,
        help="print the run report of one day",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--date", required=True, type=day, help="the UTC day, YYYY-MM-DD")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", help="YAML config; its settings.output_root is read")
    where.add_argument("--out", help="the output root")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--html", action="store_true", help="print the path of report.html")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        root = args.out or load_config(args.config).settings.output_root
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return 2
    window = RunWindow.for_day(args.date)
    try:
        report = load_or_build(root, window)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(format_report(report))
    if args.html:
        print(Root(root).display(layout.report_file(window, REPORT_HTML)))
    return 0


def load_or_build(root: str | Path, window: RunWindow) -> dict[str, Any]:
    """The stored report of the day, rebuilt when absent or older than the published run."""
    location = Root(root)
    if not has_partitions(location, window):
        raise ReportError(
            f"no published partitions for {window.partition} under {location.display()}; run "
            f"the day first: newsingest run --date {window.day.isoformat()}"
        )
    relative = layout.report_file(window, REPORT_JSON)
    if location.exists(relative) and location.exists(layout.report_file(window, REPORT_HTML)):
        stored = location.read_json(relative)
        if isinstance(stored, dict) and stored.get("run_id") == _published_run(location, window):
            return stored
    report = build_report(location, window)
    write_report(location, window, report)
    return report


def _published_run(location: Root, window: RunWindow) -> str | None:
    manifest = DatasetStore(location).committed(window)
    return manifest.run_id if manifest else None

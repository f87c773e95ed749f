"""``newsingest archive verify``: read every WARC file of a day (or of every day) to its end.

Replay and extraction refuse a damaged file (:class:`pipeline.fetch.archive.ArchiveDamaged`);
this finds such files beforehand, with the byte offset where each stops being readable.
"""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli.args import add_set_option, day, setting_overrides


def add_parser(subparsers: Any, name: str = "archive") -> None:
    archive = subparsers.add_parser(name, help="check the raw WARC archive")
    actions = archive.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="read every WARC file of a day (or of every day); exit 1 if one is damaged",
    )
    where = verify.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", help="YAML config whose settings.archive_root is checked")
    where.add_argument("--archive", help="the archive root to check (a path or a URI)")
    add_set_option(verify, "archive_root=/data/archive (with --config)")
    verify.add_argument("--date", type=day, help="only this UTC day, YYYY-MM-DD (default: all)")
    verify.set_defaults(handler=verify_command)


def verify_command(args: argparse.Namespace) -> int:
    from pipeline.fetch.archive import archive_days, day_files, verify_file
    from pipeline.models import RunWindow
    from pipeline.storage.root import Root

    if args.config:
        from pipeline.settings import load_config

        overrides = setting_overrides(args.set)
        root = Root(load_config(args.config, overrides).settings.archive_root)
    else:
        root = Root(args.archive)
    days = [RunWindow.for_day(args.date).partition] if args.date else archive_days(root)
    checked = damaged = 0
    for partition in days:
        files, partial = day_files(root, partition)
        for relative in files:
            check = verify_file(root, relative)
            checked += 1
            counts = (
                f"{check.records} records, {check.events} events, {check.responses} responses, "
                f"{check.size} bytes"
            )
            if check.damage is None:
                print(f"OK       {check.file}  ({counts})")
            else:
                damaged += 1
                print(
                    f"DAMAGED  {check.file}  at byte {check.damage.offset}: {check.damage.what}  "
                    f"(readable before it: {counts})"
                )
        for relative in partial:
            print(f"PARTIAL  {root.display(relative)}  (an unfinished fetch; never read)")
    if checked == 0:
        scope = f"for {days[0]}" if args.date else "at all"
        raise FileNotFoundError(f"no WARC files {scope} in {root.display()}")
    verdict = f"{damaged} damaged" if damaged else "all readable"
    print(f"{checked} WARC files in {len(days)} day(s): {verdict}")
    return 1 if damaged else 0

"""``newsingest dedup INPUT.jsonl --output OUT.jsonl``: the dedup stage on a standalone file.

Input: one JSON object per line with ``id``, ``url``, ``title``, ``text``, ``published_at`` (ISO
8601 or null) and ``source``. Output: one line per input record, in input order, with ``id``,
``story_id``, ``cluster_id`` (the same value, kept for tools that expect that name),
``is_duplicate``, ``duplicate_of`` (an input ``id``) and ``similarity``. Blank lines are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.dedup.fingerprint import fingerprint
from pipeline.dedup.stories import PriorMatches, assign_stories
from pipeline.models import Article
from pipeline.settings import DedupSettings

REQUIRED_FIELDS = ("id", "text")


class InputError(ValueError):
    """A bad input line; the message names the file and the line number."""


def add_parser(subparsers: Any, name: str = "dedup") -> None:
    parser = subparsers.add_parser(
        name,
        help="group copies of one story in a JSONL file of articles",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="INPUT.jsonl", help="articles, one JSON object a line")
    parser.add_argument("--output", required=True, metavar="OUT.jsonl", help="where to write")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        records = read_records(Path(args.input))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot read {args.input}: {exc.strerror}", file=sys.stderr)
        return 2
    rows = deduplicate_records(records, DedupSettings())
    output = Path(args.output)
    staged = output.with_name(f".{output.name}.tmp")
    with staged.open("w", encoding="utf-8") as stream:
        for row in rows:
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(staged, output)
    stories = len({row["story_id"] for row in rows})
    duplicates = sum(1 for row in rows if row["is_duplicate"])
    print(f"{len(rows)} articles, {stories} stories, {duplicates} duplicates -> {output}")
    return 0


def read_records(path: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            where = f"{path}: line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise InputError(f"{where}: expected a JSON object")
            for name in REQUIRED_FIELDS:
                if not isinstance(record.get(name), str) or not record[name]:
                    raise InputError(f"{where}: field {name!r} is missing or not a string")
            if record["id"] in seen:
                raise InputError(
                    f"{where}: id {record['id']!r} already used on line {seen[record['id']]}"
                )
            seen[record["id"]] = number
            record["published_at"] = _timestamp(record.get("published_at"), where)
            records.append(record)
    return records


def deduplicate_records(
    records: list[dict[str, Any]], settings: DedupSettings
) -> list[dict[str, Any]]:
    # Ids stand in for article ids, so every input line keeps its own row: nothing is collapsed
    # into a reject here, and the URL layer still groups utm/AMP spellings of one page.
    articles = [
        Article(
            article_id=record["id"],
            url=str(record.get("url") or ""),
            canonical_url=str(record.get("url") or ""),
            source=str(record.get("source") or ""),
            title=record.get("title"),
            text=record["text"],
            fetched_at=record["published_at"] or datetime.min.replace(tzinfo=UTC),
            published_at=record["published_at"],
            word_count=len(record["text"].split()),
        )
        for record in records
    ]
    assignments = assign_stories(
        articles, fingerprint([a.text for a in articles], settings), settings, PriorMatches()
    )
    return [
        {
            "id": assignment.article_id,
            "story_id": assignment.story_id,
            "cluster_id": assignment.story_id,
            "is_duplicate": assignment.is_duplicate,
            "duplicate_of": assignment.duplicate_of,
            "similarity": assignment.similarity,
        }
        for assignment in assignments
    ]


def _timestamp(value: object, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: published_at must be an ISO 8601 string or null")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{where}: published_at {value!r} is not ISO 8601") from None
    # A date without an offset is read as UTC, the pipeline's own zone.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

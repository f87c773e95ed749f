"""``newsingest extract``: run the article extractor over saved pages, one JSON line per file.

Also the tool for debugging one page: ``newsingest extract --output - --url URL page.html``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pipeline.extract.decode import UndecodableError, decode_html
from pipeline.extract.page import ExtractionError, extract_article
from pipeline.extract.record import article_from_page
from pipeline.models import FetchEvent

# File name endings stripped to make a page's id, longest first.
PAGE_SUFFIXES: tuple[str, ...] = (".html.gz", ".htm.gz", ".html", ".htm")


def add_parser(subparsers: Any, name: str = "extract") -> None:
    parser = subparsers.add_parser(
        name, help="extract articles from saved .html / .html.gz files into JSON lines"
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help=".html or .html.gz")
    parser.add_argument(
        "--output", "-o", required=True, help="JSON-lines file to write, or - for stdout"
    )
    parser.add_argument(
        "--url", help="the page's URL (only with a single FILE; else file:// URLs are used)"
    )
    parser.set_defaults(handler=run)


def page_id(path: Path) -> str:
    name = path.name
    for suffix in PAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


#: A saved page larger than this (after decompression) is refused, as the fetcher refuses one
#: (``http.max_body_bytes``'s default): a gzip bomb must not take the machine's memory.
MAX_PAGE_BYTES = 10 * 1024 * 1024


class PageTooLarge(ValueError):
    """The file holds (or inflates to) more than MAX_PAGE_BYTES."""


def _read(path: Path) -> bytes:
    """The page's bytes, inflated in bounded steps when the file is gzip."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as stream:
        body = stream.read(MAX_PAGE_BYTES + 1)
    if len(body) > MAX_PAGE_BYTES:
        raise PageTooLarge(f"{path} holds more than {MAX_PAGE_BYTES:,} bytes of page")
    return body


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def extract_file(path: Path, url: str | None = None) -> dict[str, Any]:
    """One output record for ``path``: what the extract stage stores for the page, or why not.

    ``rejected`` is on every line. A rejected page carries ``error: {reason, detail}`` (the
    reasons the stage records: ``not_an_article``, ``empty_extraction``, ``unparseable``, or
    ``unreadable`` for a file that cannot be read) in place of the article fields.
    """
    page_url = url or path.resolve().as_uri()
    record: dict[str, Any] = {"id": page_id(path), "url": page_url, "rejected": True}
    try:
        html, charset = decode_html(_read(path), None)
    except UndecodableError as exc:
        record["error"] = {"reason": "decode_error", "detail": str(exc)}
        return record
    except (OSError, EOFError, zlib.error, PageTooLarge) as exc:  # zlib.error: a cut-short gzip
        record["error"] = {"reason": "unreadable", "detail": f"{type(exc).__name__}: {exc}"}
        return record
    try:
        # The file's time stands in for the fetch time (dates far after it are not believed).
        fetched_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        article = extract_article(html, page_url, fetched_at=fetched_at)
    except ExtractionError as exc:
        record["error"] = {"reason": exc.reason, "detail": str(exc)}
        return record
    # The very record the extract stage stores, built by the same function.
    event = FetchEvent(
        url=page_url,
        source="file",
        run_id="newsingest-extract",
        role="page",
        status="fetched",
        fetched_at=fetched_at,
    )
    stored = asdict(article_from_page(event, article, None, charset))
    record.update(
        {
            key: _iso(value) if isinstance(value, datetime) else value
            for key, value in stored.items()
        },
        rejected=False,
    )
    return record


@contextmanager
def _open_output(target: str) -> Iterator[IO[str]]:
    if target == "-":
        yield sys.stdout
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        yield handle


def run(args: argparse.Namespace) -> int:
    """Write one line per FILE. Rejected or unreadable pages are lines with ``error``, not a
    failure of the command: batches of saved pages always hold some non-articles."""
    files: list[Path] = list(args.files)
    if args.url and len(files) != 1:
        print("error: --url applies to a single FILE only", file=sys.stderr)
        return 2
    failures = 0
    with _open_output(args.output) as out:
        for path in files:
            record = extract_file(path, args.url)
            failures += "error" in record
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    if failures:
        print(f"{failures} of {len(files)} file(s) gave no article", file=sys.stderr)
    return 0

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
from pathlib import Path
from typing import IO, Any

from pipeline.extract.decode import decode_html
from pipeline.extract.page import ExtractionError, extract_article

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


def _read(path: Path) -> bytes:
    body = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        body = gzip.decompress(body)
    return body


def extract_file(path: Path, url: str | None = None) -> dict[str, Any]:
    """One output record for ``path``: the article's fields, or ``error`` when there is none."""
    page_url = url or path.resolve().as_uri()
    record: dict[str, Any] = {"id": page_id(path), "url": page_url}
    try:
        html, _charset = decode_html(_read(path), None)
    except (OSError, EOFError, zlib.error) as exc:  # zlib.error: a gzip cut short
        record["error"] = {"reason": "unreadable", "detail": f"{type(exc).__name__}: {exc}"}
        return record
    try:
        article = extract_article(html, page_url)
    except ExtractionError as exc:
        record["error"] = {"reason": exc.reason, "detail": str(exc)}
        return record
    published = article.published_at
    record.update(
        title=article.title,
        text=article.text,
        authors=article.authors,
        published_at=published.isoformat().replace("+00:00", "Z") if published else None,
        language=article.language,
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

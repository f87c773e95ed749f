"""``newsingest extract``: saved pages in, one JSON line per file out."""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import extract as extract_cli
from pipeline.fetch.urls import url_hash

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"


def run_extract(argv: list[str]) -> tuple[int, list[dict[str, Any]], Path]:
    parser = argparse.ArgumentParser(prog="newsingest")
    extract_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["extract", *argv])
    code = extract_cli.run(args)
    out = Path(args.output)
    lines = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
    return code, [json.loads(line) for line in lines], out


@pytest.fixture
def saved(tmp_path: Path) -> dict[str, Path]:
    """The fixture pages as a crawl would save them: plain, gzipped, and not an article."""
    plain = tmp_path / "ferry-story.html"
    shutil.copy(PAGES / "jsonld_og.html", plain)
    zipped = tmp_path / "library.html.gz"
    zipped.write_bytes(gzip.compress((PAGES / "plain.html").read_bytes()))
    listing = tmp_path / "front.html"
    shutil.copy(PAGES / "listing.html", listing)
    legacy = tmp_path / "market.html"
    shutil.copy(PAGES / "cp1252.html", legacy)
    return {"plain": plain, "zipped": zipped, "listing": listing, "legacy": legacy}


def test_one_line_per_file_in_order(saved: dict[str, Path], tmp_path: Path) -> None:
    files = [saved["plain"], saved["zipped"], saved["listing"]]
    code, records, _ = run_extract(["--output", str(tmp_path / "out.jsonl"), *map(str, files)])
    assert code == 0
    assert [r["id"] for r in records] == ["ferry-story", "library", "front"]

    ferry, library, front = records
    assert ferry["title"] == "Harbour ferry & its crew return after winter refit"
    assert ferry["authors"] == ["Meryem Çavuşoğlu"]
    assert ferry["published_at"] == "2026-03-10T06:30:00Z"
    assert ferry["language"] == "en"
    assert ferry["text"].startswith("The Kestrel, the small blue ferry")
    assert "error" not in ferry
    # Without --url each page gets its file:// address.
    assert ferry["url"] == saved["plain"].resolve().as_uri()

    assert library["title"] == "Library opens late on Thursdays"  # read through gzip
    assert library["published_at"] == "2026-03-09T21:15:00Z"

    assert front["error"]["reason"] == "not_an_article"
    assert front["error"]["detail"]
    assert "text" not in front


def test_output_is_utf8_json_not_escaped(saved: dict[str, Path], tmp_path: Path) -> None:
    _, _, out = run_extract(["--output", str(tmp_path / "o.jsonl"), str(saved["plain"])])
    assert "Çavuşoğlu" in out.read_text(encoding="utf-8")


def test_url_applies_to_a_single_file(saved: dict[str, Path], tmp_path: Path) -> None:
    url = "https://news.example.org/local/2026/03/10/harbour-ferry"
    _, records, _ = run_extract(
        ["--output", str(tmp_path / "o.jsonl"), "--url", url, str(saved["zipped"])]
    )
    assert records[0]["url"] == url


def test_url_with_several_files_is_a_usage_error(
    saved: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, records, _ = run_extract(
        ["--output", str(tmp_path / "o.jsonl"), "--url", "https://x.example/a",
         str(saved["plain"]), str(saved["zipped"])]
    )  # fmt: skip
    assert code == 2
    assert records == []
    assert "--url" in capsys.readouterr().err


def test_missing_and_corrupt_files_give_error_lines(saved: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.html.gz"
    broken.write_bytes(b"this is not gzip")
    missing = tmp_path / "gone.html"
    code, records, _ = run_extract(
        ["--output", str(tmp_path / "o.jsonl"), str(missing), str(broken), str(saved["plain"])]
    )
    assert code == 0
    assert [r["id"] for r in records] == ["gone", "broken", "ferry-story"]
    assert records[0]["error"]["reason"] == "unreadable"
    assert "FileNotFoundError" in records[0]["error"]["detail"]
    assert records[1]["error"]["reason"] == "unreadable"
    assert records[2]["title"]  # the good file after them is still extracted


def test_legacy_encoding_is_decoded(saved: dict[str, Path], tmp_path: Path) -> None:
    _, records, _ = run_extract(["--output", str(tmp_path / "o.jsonl"), str(saved["legacy"])])
    assert records[0]["id"] == "market"
    assert "“We’re naïve about a lot of things,”" in records[0]["text"]
    assert records[0]["published_at"] is None


def test_stdout_output(saved: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="newsingest")
    extract_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["extract", "--output", "-", str(saved["plain"])])
    assert extract_cli.run(args) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["id"] == "ferry-story"


def test_records_carry_what_the_stage_stores(saved: dict[str, Path], tmp_path: Path) -> None:
    url = "https://News.example.org/local/2026/03/10/harbour-ferry?utm_source=feed"
    _, records, _ = run_extract(
        ["--output", str(tmp_path / "o.jsonl"), "--url", url, str(saved["plain"])]
    )
    ferry = records[0]
    assert ferry["rejected"] is False
    # The page's own <link rel=canonical> (relative), resolved and canonicalized as the stage does.
    assert (
        ferry["canonical_url"] == "https://news.example.org/local/2026/03/10/harbour-ferry-returns"
    )
    assert ferry["article_id"] == url_hash(ferry["canonical_url"])
    assert ferry["word_count"] == len(re.findall(r"\w+", ferry["text"]))  # as the stage counts
    assert ferry["modified_at"] is None or ferry["modified_at"].endswith("Z")
    assert ferry["is_truncated"] is False
    assert ferry["provenance"]["text"] == "html"


def test_rejected_pages_say_so_and_why(saved: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "gone.html"
    _, records, _ = run_extract(
        ["--output", str(tmp_path / "o.jsonl"), str(saved["listing"]), str(missing)]
    )
    front, gone = records
    assert front["rejected"] is True
    assert front["error"]["reason"] == "not_an_article"
    assert "canonical_url" not in front
    assert gone["rejected"] is True
    assert gone["error"]["reason"] == "unreadable"


def test_a_gzip_bomb_is_refused_without_inflating_it(tmp_path: Path) -> None:
    import gzip
    import subprocess
    import sys

    bomb = tmp_path / "bomb.html.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as stream:  # 1 GiB of spaces, about 1 MB on disk
        chunk = b" " * (1 << 20)
        for _ in range(1024):
            stream.write(chunk)
    output = tmp_path / "out.jsonl"
    # The CLI runs under a fresh parent that reports its one child's peak: this test process's
    # own RUSAGE_CHILDREN is the maximum over every child it ever waited for (order-dependent).
    measured = (
        "import resource, subprocess, sys\n"
        "code = subprocess.call([sys.executable, '-m', 'pipeline.cli', *sys.argv[1:]])\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", measured, "extract", "--output", str(output), str(bomb)],
        capture_output=True,
        text=True,
        check=False,
    )
    peak_mib = int(completed.stderr.strip().splitlines()[-1]) / 1024
    record = json.loads(output.read_text())
    assert record["rejected"] and record["error"]["reason"] == "unreadable"
    assert "more than 10,485,760 bytes" in record["error"]["detail"]
    assert peak_mib < 400, f"the child peaked at {peak_mib:.0f} MiB"  # not the 1 GiB inflated
    assert completed.returncode in (0, 1)

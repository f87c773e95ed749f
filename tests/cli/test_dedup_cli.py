"""`newsingest dedup INPUT.jsonl --output OUT.jsonl`, through the parser the CLI wires in."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from pipeline.cli.dedup import add_parser, run
from pipeline.demo.catalog import WIRE_STORY, load_catalog, story_copies


def invoke(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="newsingest")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(list(argv)))


def line(id_: str, text: str, url: str, published_at: str | None = "2026-03-10T08:00:00Z") -> str:
    record = {
        "id": id_,
        "url": url,
        "title": "t",
        "text": text,
        "published_at": published_at,
        "source": "s",
    }
    return json.dumps(record)


def test_output_has_one_line_per_input_with_stories_and_duplicates(tmp_path: Path) -> None:
    copies = sorted(story_copies(WIRE_STORY), key=lambda a: a.published_at)
    other = next(a for a in load_catalog() if a.story is None)
    lines = [
        line(
            f"wire{i}",
            "\n\n".join(a.paragraphs),
            f"https://x{i}.example/a",
            a.published_at.isoformat(),
        )
        for i, a in enumerate(copies)
    ]
    lines.append(line("other", "\n\n".join(other.paragraphs), "https://o.example/b", None))
    lines.append("")  # a blank line is not a record
    lines.append(
        line("utm", "A different body entirely for this row.", "https://o.example/b?utm_source=rss")
    )
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert invoke("dedup", str(source), "--output", str(out)) == 0
    rows = [json.loads(text) for text in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["wire0", "wire1", "wire2", "other", "utm"]
    by_id = {r["id"]: r for r in rows}
    assert all(r["cluster_id"] == r["story_id"] for r in rows)
    assert {by_id[f"wire{i}"]["story_id"] for i in range(3)} == {by_id["wire0"]["story_id"]}
    assert not by_id["wire0"]["is_duplicate"] and by_id["wire0"]["duplicate_of"] is None
    assert [by_id[f"wire{i}"]["duplicate_of"] for i in (1, 2)] == ["wire0", "wire0"]
    assert all(0.0 < by_id[f"wire{i}"]["similarity"] <= 1.0 for i in (1, 2))
    # The utm spelling of the other row's URL is the same page: same story.
    assert by_id["utm"]["story_id"] == by_id["other"]["story_id"]
    assert by_id["other"]["story_id"] != by_id["wire0"]["story_id"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        (json.dumps({"id": "b", "url": "u"}), "line 2: field 'text' is missing"),
        (line("a", "same id again", "https://c.example/"), "line 2: id 'a' already used on line 1"),
        (line("b", "text", "https://c.example/", "yesterday"), "line 2: published_at 'yesterday'"),
    ],
)
def test_a_bad_line_is_reported_by_number_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, message: str
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(line("a", "some text", "https://a.example/") + "\n" + bad + "\n")
    out = tmp_path / "out.jsonl"
    assert invoke("dedup", str(source), "--output", str(out)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()

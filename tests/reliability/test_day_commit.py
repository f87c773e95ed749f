"""A day is committed once: kill -9 at every commit step, two writers, two days, damaged state.

Writers run as real child processes; the test hook ``NEWSINGEST_TEST_PAUSE_AT`` stops one at a
named step (it writes a marker file, then sleeps), and the test kills it with SIGKILL. A reader
then goes through ``pipeline.dataset`` with DuckDB, as an analyst would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from pipeline import dataset
from pipeline.dedup.history import history_files
from pipeline.models import Article, FetchOutcome, Reject, RunWindow, StoryAssignment
from pipeline.schema import FETCH_LOG_SCHEMA, REJECTS_SCHEMA, articles_to_table, records_to_table
from pipeline.storage.partitions import (
    PAUSE_AT_ENV,
    PAUSE_FILE_ENV,
    CorruptState,
    DatasetStore,
    DayBusy,
    TableWrite,
)

DAY = date(2026, 3, 10)
WINDOW = RunWindow.for_day(DAY)
TABLES = ("articles", "fetch_log", "rejects")
REPO = Path(__file__).resolve().parents[2]

# Writes the day with ROWS rows in each of the three tables, tagged with RUN (so that a reader
# can tell which writer's rows it sees).
WRITER = textwrap.dedent(
    """
    import sys
    from datetime import date
    sys.path.insert(0, sys.argv[4])
    from test_day_commit import day_tables
    from pipeline.models import RunWindow
    from pipeline.storage.partitions import DatasetStore
    root, run, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    DatasetStore(root).write_day(RunWindow.for_day(date(2026, 3, 10)), day_tables(run, rows), run)
    print("done", flush=True)
    """
)


def day_tables(run: str, rows: int) -> dict[str, TableWrite]:
    """Three tables of ``rows`` rows each, every row naming ``run``."""
    moment = datetime(2026, 3, 10, 12, tzinfo=UTC)
    fetch_log = [
        FetchOutcome(
            f"https://x.example/{run}/{i}",
            "s",
            "page",
            "fetched",
            "ok",
            run_id=run,
            fetched_at=moment,
        )
        for i in range(rows)
    ]
    rejects = [
        Reject(f"https://x.example/{run}/r{i}", "s", "extract", "not_an_article", run)
        for i in range(rows)
    ]
    written = [
        Article(
            article_id=f"{run}-{i}",
            url=f"https://x.example/{run}/{i}",
            canonical_url=f"https://x.example/{run}/{i}",
            source="s",
            title=run,
            text=f"Text {i} of {run}.",
            fetched_at=moment,
        )
        for i in range(rows)
    ]
    articles = articles_to_table(
        written, [StoryAssignment(a.article_id, "h", f"st_{a.article_id}") for a in written]
    )
    return {
        "articles": TableWrite(articles, articles.schema),
        "fetch_log": TableWrite(records_to_table(fetch_log, FETCH_LOG_SCHEMA), FETCH_LOG_SCHEMA),
        "rejects": TableWrite(records_to_table(rejects, REJECTS_SCHEMA), REJECTS_SCHEMA),
    }


def start_writer(root: Path, run: str, rows: int, pause_at: str | None, marker: Path):
    env = dict(os.environ)
    if pause_at:
        env.update({PAUSE_AT_ENV: pause_at, PAUSE_FILE_ENV: str(marker)})
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), run, str(rows), str(Path(__file__).parent)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_for(marker: Path, child: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not marker.exists():
        assert child.poll() is None, "the writer ended before reaching its pause"
        assert time.monotonic() < deadline, "the writer never reached its pause"
        time.sleep(0.02)


def seen_by_a_reader(root: Path) -> dict[str, tuple[int, set[str]]]:
    """Per table: row count and the runs whose rows DuckDB sees through pipeline.dataset."""
    con = dataset.duckdb_views(root)
    seen = {}
    for table, run_column in (
        ("articles", "title"),
        ("fetch_log", "run_id"),
        ("rejects", "detail"),
    ):
        rows = con.sql(f"SELECT {run_column} FROM {table}").fetchall()
        seen[table] = (len(rows), {str(row[0]) for row in rows})
    return seen


def old_day(root: Path) -> None:
    DatasetStore(root).write_day(WINDOW, day_tables("old", 3), "old")


STEPS_BEFORE_COMMIT = ["write:articles", "write:fetch_log", "write:rejects", "place", "commit"]


@pytest.mark.parametrize("step", [*STEPS_BEFORE_COMMIT, "cleanup"])
def test_kill_at_each_commit_step_leaves_exactly_the_old_or_the_new_day(
    tmp_path: Path, step: str
) -> None:
    root = tmp_path / "out"
    old_day(root)
    marker = tmp_path / "paused"
    child = start_writer(root, "new", 5, step, marker)
    wait_for(marker, child)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)

    seen = seen_by_a_reader(root)
    if step in STEPS_BEFORE_COMMIT:  # "commit" pauses just before the manifest is replaced
        assert seen == dict.fromkeys(TABLES, (3, {"old"}))
    else:
        assert seen == dict.fromkeys(TABLES, (5, {"new"}))

    # The next writer of the day removes whatever the killed one left.
    DatasetStore(root).write_day(WINDOW, day_tables("next", 2), "next")
    assert seen_by_a_reader(root) == dict.fromkeys(TABLES, (2, {"next"}))
    for table in TABLES:
        assert len(list((root / table / WINDOW.partition).iterdir())) == 1, table
    assert not list((root / "_staging").rglob("*.parquet"))
    assert not [p for p in (root / "_days").iterdir() if p.name.startswith(".")]


def test_two_writers_of_one_day_serialize_and_one_whole_day_wins(tmp_path: Path) -> None:
    root = tmp_path / "out"
    old_day(root)
    marker = tmp_path / "paused"
    first = start_writer(root, "first", 4, "place", marker)  # holds the day's lock, paused
    wait_for(marker, first)
    second = start_writer(root, "second", 6, None, tmp_path / "unused")
    time.sleep(1.0)
    assert second.poll() is None, "the second writer did not wait for the first"
    assert seen_by_a_reader(root) == dict.fromkeys(TABLES, (3, {"old"}))
    os.kill(first.pid, signal.SIGKILL)  # the kernel releases its lock
    first.wait(timeout=30)
    assert second.stdout is not None and second.stdout.readline().strip() == "done"
    assert second.wait(timeout=60) == 0
    assert seen_by_a_reader(root) == dict.fromkeys(TABLES, (6, {"second"}))


def test_the_next_day_never_reads_a_day_being_written(tmp_path: Path) -> None:
    root = tmp_path / "out"
    marker = tmp_path / "paused"
    writer = start_writer(root, "new", 5, "commit", marker)
    wait_for(marker, writer)
    next_day = RunWindow.for_day(date(2026, 3, 11))
    with pytest.raises(DayBusy, match=r"dt=2026-03-10 is being written by another run"):
        history_files(root, next_day, 30, wait_seconds=0.5)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    assert history_files(root, next_day, 30, wait_seconds=0.5) == []  # nothing was committed


def test_damaged_state_files_give_one_line_errors_naming_the_file(tmp_path: Path) -> None:
    root = tmp_path / "out"
    old_day(root)
    manifest = root / "_days" / f"{WINDOW.partition}.json"
    manifest.write_text('{"partition": "dt=2026-03-10", "tables": [')
    with pytest.raises(CorruptState, match=r"_days/dt=2026-03-10\.json.*rerun or reprocess"):
        dataset.read_day(root, "articles", DAY)
    manifest.write_text(json.dumps({"partition": "dt=2026-03-10"}))
    with pytest.raises(CorruptState, match=r"is not a day manifest"):
        DatasetStore(root).committed(WINDOW)

    schema = root / "articles" / "_schema.json"
    schema.write_text("[1, 2")
    manifest.unlink()
    with pytest.raises(CorruptState, match=r"articles/_schema\.json is damaged.*delete it"):
        DatasetStore(root).write_day(WINDOW, day_tables("again", 1), "again")

    # Through the CLI the user sees one line, not a traceback.
    manifest.write_text("not json")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "report",
            "--out",
            str(root),
            "--date",
            "2026-03-10",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert completed.returncode == 1
    assert completed.stderr.count("\n") == 1 and "_days/dt=2026-03-10.json" in completed.stderr

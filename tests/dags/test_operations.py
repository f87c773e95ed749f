"""Operating the pipeline: a backfill by days, a reprocess from the archive, the README commands."""

from __future__ import annotations

import re
import shlex
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.dataset import read_day
from pipeline.demo.catalog import load_catalog
from pipeline.demo.server import DemoSite

REPO = Path(__file__).resolve().parents[2]
DAYS = [date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11)]
TABLES = ("articles", "fetch_log", "rejects")


def snapshot(out: Path) -> dict[str, list[dict[str, Any]]]:
    content = {}
    for table in TABLES:
        for day in DAYS:
            rows = read_day(out, table, day).to_pylist()
            key = "article_id" if table == "articles" else "url"
            content[f"{table}/dt={day.isoformat()}"] = sorted(rows, key=lambda r: str(r[key]))
    return content


@pytest.fixture(scope="module")
def backfilled(airflow_db, dagbag, tmp_path_factory, demo_pipeline_env) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("ops")
    env = demo_pipeline_env(out)
    states = []
    with pytest.MonkeyPatch.context() as patch, DemoSite() as site:
        for key, value in {**env, "NEWSINGEST_DEMO_URL": site.base_url}.items():
            patch.setenv(key, value)
        # A backfill is one run per day, in date order (max_active_runs=1). Logical dates must
        # not collide with another module's runs in the shared test database, hence 06:00.
        for day in DAYS:
            run = dagbag.dags["news_ingest"].test(
                logical_date=datetime(day.year, day.month, day.day, 6, tzinfo=UTC),
                # Explicit: dag.test() keeps conf from earlier runs of the same DAG object.
                run_conf={"date": day.isoformat(), "from_archive": False},
            )
            states.append(str(run.state))
        base = site.base_url
    return {
        "out": out / "out",
        "env": {**env, "NEWSINGEST_DEMO_URL": base},
        "states": states,
        "base": base,
    }


def test_backfilled_days_share_story_ids_across_days(backfilled) -> None:
    assert backfilled["states"] == ["success"] * 3
    copies = [a for a in load_catalog() if a.story == "wire-ostra-desalination"]
    assert sorted(a.published_at.astimezone(UTC).date() for a in copies) == DAYS[1:]
    rows = {}
    for day in DAYS:
        for row in read_day(backfilled["out"], "articles", day).to_pylist():
            rows[row["url"].removeprefix(backfilled["base"])] = row
    day_one, day_two = sorted((rows[a.path] for a in copies), key=lambda r: r["published_at"])
    assert day_two["story_id"] == day_one["story_id"]
    assert not day_one["is_duplicate"] and day_two["is_duplicate"]
    assert day_two["duplicate_of"] == day_one["article_id"]


def test_reprocess_with_the_site_down_rebuilds_the_same_partitions(backfilled, dagbag) -> None:
    before = snapshot(backfilled["out"])
    assert len(before) == 3 * len(TABLES)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in backfilled["env"].items():
            patch.setenv(key, value)  # the demo site is stopped: any fetch would fail
        run = dagbag.dags["news_reprocess"].test(
            logical_date=datetime(2026, 3, 12, tzinfo=UTC),
            run_conf={"start": "2026-03-09", "end": "2026-03-11"},
        )
    assert str(run.state) == "success"
    assert snapshot(backfilled["out"]) == before


def readme_commands(section: str) -> list[str]:
    readme = (REPO / "README.md").read_text()
    body = readme.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", body, flags=re.DOTALL)
    return [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith("airflow ")
    ]


def test_readme_backfill_and_reprocess_commands_work(airflow_db, capfd) -> None:
    """Each `airflow` line of the README's operations section runs against a real Airflow DB."""
    from airflow.cli import cli_parser

    commands = readme_commands("Backfills and reprocessing")
    verbs = [" ".join(shlex.split(c, comments=True)[1:3]) for c in commands]
    assert {"pools set", "dags unpause", "backfill create", "dags trigger"} <= set(verbs)
    parser = cli_parser.get_parser()
    parser.parse_args(["dags", "reserialize"]).func(parser.parse_args(["dags", "reserialize"]))
    for command in commands:
        argv = shlex.split(command, comments=True)[1:]
        if argv[:2] == ["backfill", "create"]:
            argv.append("--dry-run")  # creating runs is the scheduler's job; check what it plans
        args = parser.parse_args(argv)
        args.func(args)
    printed = capfd.readouterr().out
    # The backfill's planned logical dates (days that already have a run are not planned again).
    assert "2026-03-09 00:00:00+00:00" in printed or "2026-03-11 00:00:00+00:00" in printed

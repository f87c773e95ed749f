"""The run report, over partitions the real pipeline wrote from the demo site.

Two extra sources join the demo's four: ``dead-wire``, whose feed is a 404 (so it discovers
nothing), and ``flaky-list``, a URL list where one page of five is a 404 (a 20% failure rate).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from pipeline.cli import report as report_cli
from pipeline.demo.catalog import DEMO_DAYS, MAIN_DAY, WIRE_STORY, articles_on, load_catalog
from pipeline.demo.server import DemoSite
from pipeline.models import RunWindow
from pipeline.publish.report import (
    DEFAULT_MAX_FAILURE_RATE,
    FAILURE_RATE_MARGIN,
    build_report,
    format_report,
    render_html,
    write_report,
    write_run_report,
)
from pipeline.runner import run_day
from pipeline.settings import load_config
from pipeline.storage.partitions import DatasetStore

REPO = Path(__file__).resolve().parents[2]
WINDOW = RunWindow.for_day(MAIN_DAY)
DEMO_SOURCES = ("coastline-post", "harbor-times", "northgate-ledger", "valley-courier")
FLAKY_PAGES = 5  # four pages that exist, one that does not


@dataclass
class DemoRun:
    out: Path
    config_file: Path
    report: dict[str, Any]
    missing_url: str
    dead_feed: str


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    tmp = tmp_path_factory.mktemp("report")
    out, archive = tmp / "out", tmp / "archive"
    with DemoSite() as site, pytest.MonkeyPatch.context() as env:
        env.setenv("NEWSINGEST_DEMO_URL", site.base_url)
        document = yaml.safe_load((REPO / "config" / "demo.yaml").read_text(encoding="utf-8"))
        document["settings"].update({"output_root": str(out), "archive_root": str(archive)})
        # Pages of the last demo day exist, but are outside MAIN_DAY: fetched, then rejected.
        existing = [a.path for a in articles_on(DEMO_DAYS[-1]) if a.outlet != "valley-courier"]
        assert len(existing) >= FLAKY_PAGES - 1
        missing_url = f"{site.base_url}/courier/stories/9999/no-such-story"
        dead_feed = f"{site.base_url}/wire/rss.xml"
        document["sources"] += [
            {"name": "dead-wire", "feeds": [dead_feed]},
            {
                "name": "flaky-list",
                "urls": [site.base_url + p for p in existing[: FLAKY_PAGES - 1]] + [missing_url],
            },
        ]
        config_file = tmp / "config.yaml"
        config_file.write_text(yaml.safe_dump(document), encoding="utf-8")
        config = load_config(config_file)
        run_day(config, WINDOW, "report-test")
    report = write_run_report(out, WINDOW)
    yield DemoRun(out, config_file, report, missing_url, dead_feed)


def sql(out: Path, query: str) -> list[tuple[Any, ...]]:
    connection = duckdb.connect()
    store = DatasetStore(out)
    for table in ("fetch_log", "rejects", "articles"):
        committed = store.root.path(store.committed_file(table, WINDOW) or "missing")
        connection.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{committed}')")
    return connection.execute(query).fetchall()


def by_source_and_reason(rows: list[tuple[Any, ...]]) -> dict[str, dict[str, int]]:
    grouped: dict[str, dict[str, int]] = {}
    for source, reason, count in rows:
        grouped.setdefault(source, {})[reason] = count
    return grouped


def copy_of(demo_run: DemoRun, tmp_path: Path) -> Path:
    target = tmp_path / "out"
    shutil.copytree(demo_run.out, target, ignore=shutil.ignore_patterns("_locks"))
    return target


# -- counts ------------------------------------------------------------------------------------


def test_per_source_counts_reconcile_with_the_fetch_log(demo_run: DemoRun) -> None:
    sources = demo_run.report["sources"]
    assert set(sources) == {*DEMO_SOURCES, "dead-wire", "flaky-list"}
    pages = sql(
        demo_run.out,
        "SELECT source, count(*), count(*) FILTER (status = 'fetched'), "
        "count(*) FILTER (outcome = 'not_modified') FROM fetch_log WHERE role = 'page' GROUP BY 1",
    )
    expected = {source: (discovered, fetched, nm) for source, discovered, fetched, nm in pages}
    for name, counts in sources.items():
        got = (counts["discovered"], counts["fetched"], counts["not_modified"])
        assert got == expected.get(name, (0, 0, 0)), name

    for status in ("skipped", "failed"):
        rows = sql(
            demo_run.out,
            f"SELECT source, reason, count(*) FROM fetch_log "
            f"WHERE role = 'page' AND status = '{status}' GROUP BY 1, 2",
        )
        expected_reasons = by_source_and_reason(rows)
        assert {n: c[status] for n, c in sources.items() if c[status]} == expected_reasons

    rows = sql(demo_run.out, "SELECT source, reason, count(*) FROM rejects GROUP BY 1, 2")
    rejected = {n: c["rejected"] for n, c in sources.items() if c["rejected"]}
    assert rejected == by_source_and_reason(rows)
    # The demo's known rejections show up under the right source.
    assert sources["valley-courier"]["rejected"]["not_an_article"] == 1
    assert sources["valley-courier"]["skipped"] == {"robots": 1}
    assert sources["flaky-list"]["failed"] == {"http_404": 1}


def test_written_and_duplicates_reconcile_with_the_articles_partition(demo_run: DemoRun) -> None:
    rows = sql(
        demo_run.out,
        "SELECT source, count(*), count(*) FILTER (is_duplicate) FROM articles GROUP BY 1",
    )
    expected = {source: (written, dups) for source, written, dups in rows}
    sources = demo_run.report["sources"]
    for name, counts in sources.items():
        assert (counts["written"], counts["duplicates"]) == expected.get(name, (0, 0)), name
        assert counts["canonical"] == counts["written"] - counts["duplicates"]
    ((written, duplicates),) = sql(
        demo_run.out, "SELECT count(*), count(*) FILTER (is_duplicate) FROM articles"
    )
    totals = demo_run.report["totals"]
    assert (totals["written"], totals["duplicates"]) == (written, duplicates)
    assert written >= 15 and duplicates >= 3  # the demo day's own articles are all there
    assert demo_run.report["duplicate_rate"] == pytest.approx(duplicates / written, abs=1e-4)


def test_every_discovered_url_is_accounted_for_and_totals_add_up(demo_run: DemoRun) -> None:
    sources = demo_run.report["sources"]
    for name, counts in sources.items():
        outcomes = (
            counts["written"]
            + sum(counts["skipped"].values())
            + sum(counts["failed"].values())
            + sum(counts["rejected"].values())
        )
        assert counts["discovered"] == outcomes, name
        assert counts["unaccounted"] == 0
    totals = demo_run.report["totals"]
    for key in ("discovered", "fetched", "not_modified", "written", "duplicates"):
        assert totals[key] == sum(counts[key] for counts in sources.values()), key
    ((discovered,),) = sql(demo_run.out, "SELECT count(*) FROM fetch_log WHERE role = 'page'")
    assert totals["discovered"] == discovered
    assert totals["failed"] == {"http_404": 1}
    assert not any(flag["kind"] == "unaccounted" for flag in demo_run.report["flags"])


def test_coverage_matches_the_articles_partition(demo_run: DemoRun) -> None:
    ((rows, dated, authored, languages),) = sql(
        demo_run.out,
        "SELECT count(*), count(published_at), count(*) FILTER (len(authors) > 0), "
        "count(language) FROM articles",
    )
    coverage = demo_run.report["coverage"]
    assert coverage["rows"] == rows
    assert coverage["published_at"] == pytest.approx(dated / rows, abs=1e-4)
    assert coverage["authors"] == pytest.approx(authored / rows, abs=1e-4)
    assert coverage["language"] == pytest.approx(languages / rows, abs=1e-4)
    # Two wire copies carry no byline: author coverage is visibly below 100%.
    assert coverage["authors"] < 1
    assert demo_run.report["sources"]["dead-wire"]["coverage"]["authors"] is None


def test_the_wire_story_tops_the_multi_outlet_stories(demo_run: DemoRun) -> None:
    (top, *_) = demo_run.report["top_stories"]
    wire_titles = {a.title for a in load_catalog() if a.story == WIRE_STORY}
    assert top["outlets"] == 3 and top["copies"] == 3
    assert top["title"] in wire_titles
    assert top["canonical_today"] is True
    assert all(story["outlets"] >= 2 for story in demo_run.report["top_stories"])


def test_report_identifies_the_run_and_is_plain_json(demo_run: DemoRun) -> None:
    report = demo_run.report
    assert report["run_id"] == "report-test"
    assert report["partition"] == "dt=2026-03-10"
    assert report["data_interval"] == ["2026-03-10T00:00:00+00:00", "2026-03-11T00:00:00+00:00"]
    stored = json.loads((demo_run.out / "reports" / WINDOW.partition / "report.json").read_text())
    assert stored == json.loads(json.dumps(report))


# -- flags -------------------------------------------------------------------------------------


def flags_of(report: dict[str, Any], source: str) -> dict[str, str]:
    return {f["kind"]: f["message"] for f in report["flags"] if f["source"] == source}


def test_a_source_with_zero_items_and_a_failed_feed_is_flagged(demo_run: DemoRun) -> None:
    flags = flags_of(demo_run.report, "dead-wire")
    assert set(flags) == {"no_items", "discovery_failed"}
    assert "returned 0 items" in flags["no_items"]
    assert demo_run.dead_feed in flags["discovery_failed"]
    assert "http_404" in flags["discovery_failed"]
    for name in DEMO_SOURCES:
        assert flags_of(demo_run.report, name) == {}, name


def test_without_history_only_a_high_failure_rate_is_flagged(demo_run: DemoRun) -> None:
    flaky = demo_run.report["sources"]["flaky-list"]
    assert flaky["failure_rate"] == pytest.approx(1 / FLAKY_PAGES)
    assert flaky["failure_rate"] < DEFAULT_MAX_FAILURE_RATE
    assert flaky["usual_failure_rate"] is None
    assert "failure_rate" not in flags_of(demo_run.report, "flaky-list")


def history_report(report: dict[str, Any], day: Any, flaky_rate: float) -> dict[str, Any]:
    earlier = json.loads(json.dumps(report))
    earlier["partition"] = f"dt={day.isoformat()}"
    earlier["sources"]["flaky-list"]["failure_rate"] = flaky_rate
    return earlier


def write_history(out: Path, report: dict[str, Any], offsets: list[int], rate: float) -> None:
    for offset in offsets:
        day = MAIN_DAY + timedelta(days=offset)
        path = out / "reports" / f"dt={day.isoformat()}" / "report.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(history_report(report, day, rate)), encoding="utf-8")


def test_a_failure_rate_above_the_usual_level_is_flagged(demo_run: DemoRun, tmp_path) -> None:
    out = copy_of(demo_run, tmp_path)
    write_history(out, demo_run.report, [-1, -2, -4], rate=0.0)
    report = build_report(out, WINDOW)
    flaky = report["sources"]["flaky-list"]
    assert flaky["usual_failure_rate"] == 0.0 and flaky["history_reports"] == 3
    assert flaky["failure_rate_threshold"] == pytest.approx(FAILURE_RATE_MARGIN)
    message = flags_of(report, "flaky-list")["failure_rate"]
    assert "20% of pages failed" in message and "usual 0%" in message
    # The healthy sources have the same (zero) failure rate as usual: still no flag.
    for name in DEMO_SOURCES:
        assert flags_of(report, name) == {}, name


def test_a_source_failing_at_its_usual_level_is_not_flagged(demo_run: DemoRun, tmp_path) -> None:
    out = copy_of(demo_run, tmp_path)
    write_history(out, demo_run.report, [-1, -2, -3], rate=0.2)
    report = build_report(out, WINDOW)
    assert report["sources"]["flaky-list"]["usual_failure_rate"] == pytest.approx(0.2)
    assert "failure_rate" not in flags_of(report, "flaky-list")


def test_only_earlier_days_within_the_history_count(demo_run: DemoRun, tmp_path) -> None:
    out = copy_of(demo_run, tmp_path)
    # Two recent earlier days, one later day and one too old: not enough history.
    write_history(out, demo_run.report, [-1, -2, +1, -30], rate=0.0)
    report = build_report(out, WINDOW, history_days=14)
    flaky = report["sources"]["flaky-list"]
    assert flaky["history_reports"] == 2 and flaky["usual_failure_rate"] is None
    assert report["history"]["days"] == ["2026-03-08", "2026-03-09"]
    assert "failure_rate" not in flags_of(report, "flaky-list")


# -- html --------------------------------------------------------------------------------------


def test_html_report_is_self_contained_with_charts(demo_run: DemoRun) -> None:
    page = (demo_run.out / "reports" / WINDOW.partition / "report.html").read_text("utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<link" not in page and "<script" not in page and "@import" not in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 2
    assert all(base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n") for image in images)
    # What an operator sees first: the day, the run and the red box naming the dead source.
    assert "2026-03-10" in page and "report-test" in page
    box = page[page.index('class="flags') : page.index("</div>", page.index('class="flags'))]
    assert "flags bad" in box and "dead-wire returned 0 items" in box
    for name in (*DEMO_SOURCES, "flaky-list"):
        assert f"<td>{name}</td>" in page


def test_html_escapes_text_from_pages(demo_run: DemoRun) -> None:
    report = json.loads(json.dumps(demo_run.report))
    report["top_stories"][0]["title"] = '<script>alert("x")</script> & co'
    page = render_html(report)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page


def test_a_day_without_problems_gets_a_green_box(demo_run: DemoRun, tmp_path) -> None:
    report = json.loads(json.dumps(demo_run.report))
    report["flags"] = []
    _, html_path = write_report(tmp_path / "out", WINDOW, report)
    page = Path(html_path).read_text("utf-8")
    assert 'class="flags ok"' in page and "No problems flagged" in page
    assert 'class="flags bad"' not in page


# -- text and cli ------------------------------------------------------------------------------


def test_format_report_shows_flags_sources_and_totals(demo_run: DemoRun) -> None:
    text = format_report(demo_run.report)
    assert "FLAGS (2):" in text and "dead-wire returned 0 items" in text
    table = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line[:2] == "  "}
    for name, counts in demo_run.report["sources"].items():
        assert table[name][:2] == [str(counts["discovered"]), str(counts["fetched"])], name
    assert table["TOTAL"][0] == str(demo_run.report["totals"]["discovered"])


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    report_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", *argv])
    return int(args.handler(args))


def test_cli_prints_the_per_source_table(demo_run: DemoRun, capsys) -> None:
    assert cli("--date", MAIN_DAY.isoformat(), "--config", str(demo_run.config_file)) == 0
    printed = capsys.readouterr().out
    assert "news-ingest run report 2026-03-10  (run report-test)" in printed
    harbor = demo_run.report["sources"]["harbor-times"]
    (row,) = [line for line in printed.splitlines() if line.strip().startswith("harbor-times ")]
    assert row.split()[1:3] == [str(harbor["discovered"]), str(harbor["fetched"])]


def test_cli_json_and_html_path(demo_run: DemoRun, capsys) -> None:
    assert cli("--date", "2026-03-10", "--out", str(demo_run.out), "--json", "--html") == 0
    printed = capsys.readouterr().out
    *document, html_path = printed.strip().splitlines()
    assert json.loads("\n".join(document)) == json.loads(json.dumps(demo_run.report))
    assert Path(html_path).is_file() and html_path.endswith("dt=2026-03-10/report.html")


def test_cli_builds_a_missing_report_from_the_partitions(demo_run: DemoRun, tmp_path, capsys):
    out = copy_of(demo_run, tmp_path)
    shutil.rmtree(out / "reports" / WINDOW.partition)
    assert cli("--date", "2026-03-10", "--out", str(out)) == 0
    assert "dead-wire returned 0 items" in capsys.readouterr().out
    assert (out / "reports" / WINDOW.partition / "report.html").is_file()
    stored = json.loads((out / "reports" / WINDOW.partition / "report.json").read_text())
    assert stored["totals"] == demo_run.report["totals"]


def test_cli_fails_clearly_for_a_day_without_data(demo_run: DemoRun, capsys) -> None:
    assert cli("--date", "2026-03-01", "--out", str(demo_run.out)) == 1
    captured = capsys.readouterr()
    assert "no published partitions for dt=2026-03-01" in captured.err
    assert "newsingest run --date 2026-03-01" in captured.err
    assert captured.out == ""

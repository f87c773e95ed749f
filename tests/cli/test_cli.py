"""`newsingest run` against the demo site, then again from the archive with the site stopped."""

from pathlib import Path

from pipeline.cli import main
from pipeline.dataset import read_day
from pipeline.demo.catalog import MAIN_DAY
from pipeline.demo.server import DemoSite

REPO = Path(__file__).resolve().parents[2]


def articles(out: Path) -> list[dict]:
    return read_day(out, "articles", MAIN_DAY).to_pylist()


def fetch_outcomes(out: Path) -> dict[str, str]:
    rows = read_day(out, "fetch_log", MAIN_DAY).to_pylist()
    return {row["url"]: row["outcome"] for row in rows if row["role"] == "page"}


def test_run_rerun_and_offline_reprocess_give_the_same_partition(tmp_path, monkeypatch, capsys):
    out, archive = tmp_path / "out", tmp_path / "archive"
    args = [
        "run",
        "--config",
        str(REPO / "config" / "demo.yaml"),
        "--date",
        MAIN_DAY.isoformat(),
        "--out",
        str(out),
        "--archive",
        str(archive),
    ]
    with DemoSite() as site:
        monkeypatch.setenv("NEWSINGEST_DEMO_URL", site.base_url)
        assert main(args) == 0
        printed = capsys.readouterr().out
        # The day's 15 articles, and 5 pages of other days that the undated URL list and the
        # sitemap led to: fetched, so kept (the window decides what to fetch, not what to keep).
        assert "articles written: 20" in printed and str(out / "articles") in printed
        first = articles(out)
        first_outcomes = fetch_outcomes(out)

        # A rerun sends the validators it kept: unchanged pages answer 304 and are not
        # downloaded again, yet the partition is rebuilt from the archived copies.
        assert main(args) == 0
        rerun_outcomes = fetch_outcomes(out)
        assert articles(out) == first
    fetched = [url for url, outcome in first_outcomes.items() if outcome == "ok"]
    assert len(fetched) >= 15
    assert {rerun_outcomes[url] for url in fetched} == {"not_modified"}

    # The site is gone: any network access would fail the fetches and change the rows.
    assert main([*args, "--from-archive"]) == 0
    assert articles(out) == first
    assert len(list((archive / f"dt={MAIN_DAY.isoformat()}").glob("*/*.warc.gz"))) == 2 * 4


def test_from_archive_without_an_archive_is_a_clear_error(tmp_path, capsys) -> None:
    args = [
        "run",
        "--config",
        str(REPO / "config" / "demo.yaml"),
        "--date",
        "2026-03-10",
        "--out",
        str(tmp_path / "out"),
        "--archive",
        str(tmp_path / "none"),
        "--from-archive",
    ]
    assert main(args) == 1
    assert "no archived run of source" in capsys.readouterr().err


def test_bad_config_exits_2_naming_the_key(tmp_path, capsys) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("sources:\n  - name: x\n    feeds: [http://h/f]\n    feedz: []\n")
    assert main(["run", "--config", str(config), "--date", "2026-03-10"]) == 2
    assert "sources[0].feedz: unknown key" in capsys.readouterr().err

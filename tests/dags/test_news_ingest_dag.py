"""End to end: the real news_ingest DAG via dag.test() against the bundled demo site.

One DAG run (about 10 s) covers every stage; the partition is read back with DuckDB and checked
against the demo site's catalog, which is the ground truth of what each page says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from pipeline.demo.catalog import (
    MAIN_DAY,
    load_catalog,
)
from pipeline.demo.server import DemoSite
from pipeline.schema import ARTICLES_SCHEMA

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dag_run(airflow_db, dagbag, tmp_path_factory, demo_pipeline_env) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("dagrun")
    env = demo_pipeline_env(out)
    with pytest.MonkeyPatch.context() as patch, DemoSite() as site:
        for key, value in {**env, "NEWSINGEST_DEMO_URL": site.base_url}.items():
            patch.setenv(key, value)
        dag = dagbag.dags["news_ingest"]
        run = dag.test(
            logical_date=datetime(2026, 3, 10, tzinfo=UTC),
            run_conf={"date": MAIN_DAY.isoformat(), "from_archive": False},
        )
        base_url = site.base_url
    return {
        "state": str(run.state),
        "out": out / "out",
        "archive": out / "archive",
        "base": base_url,
        "dag": dag,
        "env": env,
    }


def articles(dag_run: dict[str, Any]) -> list[dict[str, Any]]:
    query = f"""
        SELECT *, regexp_replace(url, '^https?://[^/]+', '') AS path
        FROM read_parquet('{dag_run["out"]}/articles/*/*.parquet', hive_partitioning=true)
    """
    relation = duckdb.sql(query)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def test_run_succeeds_and_writes_the_days_articles(dag_run) -> None:
    assert dag_run["state"] == "success"
    rows = articles(dag_run)
    expected = {
        a.path
        for a in load_catalog()
        if a.published_at.astimezone(UTC).date() == MAIN_DAY and not a.robots_disallowed
    }
    paths = [row["path"] for row in rows]
    assert len(paths) == len(set(paths)) and expected <= set(paths)
    # The other rows are pages of other days that were fetched (kept, never dropped): each is
    # dated off the day, and none came from a listing that dated it on the day.
    for row in rows:
        if row["path"] not in expected:
            assert row["published_at"].astimezone(UTC).date() != MAIN_DAY, row["path"]
            assert row["listed_at"] is None or not row["date_conflict"], row["path"]
    assert {str(row["dt"]) for row in rows} == {MAIN_DAY.isoformat()}
    assert all(row["text"] and row["title"] for row in rows)


def test_wire_story_is_one_story_with_one_canonical_row(dag_run) -> None:
    rows = articles(dag_run)
    wire_paths = {a.path for a in load_catalog() if a.story == "wire-alliance-working-group"}
    copies = [row for row in rows if row["path"] in wire_paths]
    assert len(copies) == 3 and len({row["source"] for row in copies}) == 3
    assert len({row["story_id"] for row in copies}) == 1
    assert sum(not row["is_duplicate"] for row in copies) == 1
    (canonical,) = [row for row in copies if not row["is_duplicate"]]
    assert all(
        row["duplicate_of"] == canonical["article_id"] for row in copies if row["is_duplicate"]
    )


def test_exact_repeats_are_flagged_and_url_variants_collapse(dag_run) -> None:
    rows = articles(dag_run)
    crosspost = [row for row in rows if row["path"].endswith("/night-train-link-agreed")]
    assert len(crosspost) == 2 and len({row["content_hash"] for row in crosspost}) == 1
    duplicate = [row for row in crosspost if row["is_duplicate"]]
    assert len(duplicate) == 1 and duplicate[0]["similarity"] == pytest.approx(1.0)
    # The ferry-fares story was listed with utm parameters and as an AMP page: one row.
    assert sum("ferry-fares-rise-april" in row["path"] for row in rows) == 1
    assert len({row["article_id"] for row in rows}) == len(rows)


def test_independent_reports_of_one_event_stay_apart(dag_run) -> None:
    rows = {row["path"]: row for row in articles(dag_run)}
    harbor = rows["/harbor/2026/03/10/dockworkers-walk-out-container-terminal.html"]
    coastline = rows["/coastline/news/ships-stack-up-offshore-kestrel-strike-10252"]
    assert harbor["story_id"] != coastline["story_id"]
    assert not harbor["is_duplicate"] and not coastline["is_duplicate"]


def test_every_column_is_present_and_typed_as_declared(dag_run) -> None:
    (part,) = (dag_run["out"] / "articles").glob("dt=*/part-*.parquet")
    assert pq.read_schema(part).equals(ARTICLES_SCHEMA, check_metadata=False)
    described = dict(
        duckdb.sql(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
            f"read_parquet('{part}', hive_partitioning=false))"
        ).fetchall()
    )
    assert described["published_at"] == "TIMESTAMP WITH TIME ZONE"
    assert described["authors"] == "VARCHAR[]"
    assert described["is_duplicate"] == "BOOLEAN"
    assert set(described) == set(ARTICLES_SCHEMA.names)


def test_every_discovered_url_is_accounted_for(dag_run) -> None:
    out = dag_run["out"]
    pages = duckdb.sql(
        f"SELECT url, status, reason FROM read_parquet('{out}/fetch_log/*/*.parquet') "
        "WHERE role = 'page'"
    ).fetchall()
    assert pages and all(status in {"fetched", "skipped", "failed"} for _, status, _ in pages)
    assert all(reason for _, status, reason in pages if status != "fetched")
    by_path = {url.removeprefix(dag_run["base"]): (status, reason) for url, status, reason in pages}
    assert by_path["/courier/private/5545/hospital-merger-draft-plan"] == ("skipped", "robots")

    fetched = {url for url, status, _ in pages if status == "fetched"}
    written = {row["url"] for row in articles(dag_run)}
    rejected = dict(
        duckdb.sql(f"SELECT url, reason FROM read_parquet('{out}/rejects/*/*.parquet')").fetchall()
    )
    assert fetched == written | set(rejected), "a fetched page is neither written nor rejected"
    assert not written & set(rejected)
    assert rejected[dag_run["base"] + "/courier/section/region"] == "not_an_article"


def test_reprocess_from_archive_with_the_site_down_gives_the_same_partition(dag_run) -> None:
    before = sorted(articles(dag_run), key=lambda row: row["article_id"])
    with pytest.MonkeyPatch.context() as patch:
        for key, value in dag_run["env"].items():
            patch.setenv(key, value)
        patch.setenv("NEWSINGEST_DEMO_URL", dag_run["base"])  # same URLs, nobody serving them
        run = dag_run["dag"].test(
            logical_date=datetime(2026, 3, 10, 1, tzinfo=UTC),
            run_conf={"date": MAIN_DAY.isoformat(), "from_archive": True},
        )
    assert str(run.state) == "success"
    assert sorted(articles(dag_run), key=lambda row: row["article_id"]) == before


def test_the_analyst_queries_in_the_docs_run_on_the_output(dag_run) -> None:
    import re

    from pipeline.dataset import duckdb_views

    docs = (REPO / "docs" / "analysts.md").read_text()
    statements = [
        statement.strip()
        for block in re.findall(r"```sql\n(.*?)```", docs, flags=re.DOTALL)
        for statement in block.split(";")
        if statement.strip()
    ]
    assert len(statements) >= 5
    con = duckdb_views(dag_run["out"])
    results = [con.sql(statement).fetchall() for statement in statements]
    assert all(results), "a documented query returned nothing on the demo output"
    wide_stories = results[1]
    assert [outlets for _, outlets, _ in wide_stories] == [3]  # the wire story, on 3 outlets


def test_a_source_without_an_archive_fails_alone_and_the_day_is_published(dag_run) -> None:
    """Last in this module: it removes one source's archive from the shared run's folders."""
    import json
    import shutil

    missing = "valley-courier"
    shutil.rmtree(dag_run["archive"] / f"dt={MAIN_DAY.isoformat()}" / missing)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in dag_run["env"].items():
            patch.setenv(key, value)
        run = dag_run["dag"].test(
            logical_date=datetime(2026, 3, 10, tzinfo=UTC),
            run_conf={"date": MAIN_DAY.isoformat(), "from_archive": True},
        )
    assert str(run.state) == "success"  # the failure travelled to publish instead
    summary_file = dag_run["out"] / "reports" / f"dt={MAIN_DAY.isoformat()}" / "summary.json"
    summary = json.loads(summary_file.read_text())
    assert list(summary["failed_sources"]) == [missing]
    published = {row["source"] for row in articles(dag_run)}
    # The failed source keeps the rows the earlier run of the day published for it.
    assert missing in published and len(published) == 4

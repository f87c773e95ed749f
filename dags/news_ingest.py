"""news_ingest: the scheduled daily ingest. Wiring only; the work lives in ``pipeline.runner``.

One run = one UTC day [day, day+1): plan the enabled sources into shards (a host's sources in one
shard; ``settings.shard_size`` sources each), fetch and extract each shard (mapped), then
deduplicate across sources and publish the day's partition. A source that still
fails on its last attempt is handed to publish as failed: the day is published without it and the
report flags it. With the
``from_archive`` param the fetch step touches no network and replays the day's latest archived run.

The config file comes from ``NEWSINGEST_CONFIG`` (default: ``config/sources.yaml`` beside this
repo's ``dags/``). A manual run can name its day with the ``date`` param, since a manual run's data
interval follows the trigger time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task

ARTICLES = Asset(name="news_ingest.articles", uri="news-ingest://articles")

# Every task that talks to news sites takes a slot here, across runs and DAGs, so a backfill
# beside the daily run cannot double the load on the sites. Create it once:
#   airflow pools set news_fetch 4 "news-ingest: concurrent source fetches"
FETCH_POOL = "news_fetch"

DEFAULT_ARGS = {
    "owner": "news-ingest",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
    "execution_timeout": timedelta(hours=1),
}


def _last_try() -> bool:
    """True on a task's final attempt: after it, a source's failure is recorded, not raised."""
    ti = get_current_context()["ti"]
    return int(ti.try_number) > int(ti.task.retries or 0)


def _failed_source(source: str, exc: BaseException) -> dict[str, Any]:
    """What a source's fetch or extract hands on when it failed for good.

    A mapped task that fails would fail every task mapped after it, and the day with it; instead
    the failure travels to publish, which publishes the other sources and records this one (the
    report flags it). Earlier attempts raise, so Airflow retries transient trouble as usual.
    """
    return {"source": source, "failed": f"{type(exc).__name__}: {exc}"[:2000]}


def _context() -> tuple[Any, Any, str]:
    """Load config, the run window and the run id inside a task (never at parse time)."""
    from datetime import date

    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.errors import ConfigError
    from pipeline.models import RunWindow
    from pipeline.settings import configured_path, load_config

    context = get_current_context()
    try:
        config = load_config(configured_path())
    except ConfigError as exc:
        # A bad config stays bad: fail now instead of retrying it for minutes.
        raise AirflowFailException(f"config error: {exc}") from exc
    chosen_day = context["params"].get("date")
    if chosen_day:
        window = RunWindow.for_day(date.fromisoformat(chosen_day))
    else:
        window = RunWindow(context["data_interval_start"], context["data_interval_end"])
    return config, window, str(context["run_id"])


@dag(
    dag_id="news_ingest",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # One run at a time: a day's dedup reads the index of the days before it, so backfilled days
    # must finish in date order; it also keeps two runs from fetching the same sites at once.
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["news-ingest"],
    params={
        "date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Ingest this UTC day instead of the run's data interval (YYYY-MM-DD).",
        ),
        "from_archive": Param(
            False,
            type="boolean",
            description="Rebuild the day from the raw WARC archive, with no network access.",
        ),
    },
    doc_md=__doc__,
)
def news_ingest() -> None:
    @task
    def plan_shards() -> list[list[str]]:
        """The enabled sources in shards (a host's sources together), the unit mapped below."""
        from pipeline.planning import plan_shards as plan
        from pipeline.runner import check_roots

        config, _, _ = _context()
        check_roots(config)  # a root that cannot be written fails here, before any fetch
        return plan(config.enabled_sources, config.settings.shard_size)

    @task(pool=FETCH_POOL)
    def fetch(shard: list[str]) -> list[dict[str, Any]]:
        """The shard's sources fetched at once, politely per host (``runner.fetch_sources``)."""
        from pipeline.progress import ProgressDisplay
        from pipeline.runner import fetch_sources

        config, window, run_id = _context()
        from_archive = bool(get_current_context()["params"].get("from_archive"))
        progress = ProgressDisplay()  # a "progress:" line in the task log every 10 s
        outcomes = fetch_sources(
            config,
            window,
            run_id,
            shard,
            from_archive=from_archive,
            progress=progress.stage("fetch", "pages"),
        )
        progress.close()
        fetched = []
        for source, outcome in outcomes.items():
            if not isinstance(outcome, Exception):
                fetched.append(outcome.as_dict())
            elif isinstance(outcome, FileNotFoundError) or _last_try():
                # A replay with no archived run: no retry helps. On the last try: recorded.
                fetched.append(_failed_source(source, outcome))
            else:
                raise outcome
        return fetched

    @task
    def extract(fetched: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The shard's sources extracted in the pool (``settings.workers`` processes)."""
        from pipeline.progress import ProgressDisplay
        from pipeline.runner import extract_sources, failure_reason

        config, window, run_id = _context()
        archived = [
            (item["source"], item["archive_file"]) for item in fetched if not item.get("failed")
        ]
        progress = ProgressDisplay()
        outcomes = extract_sources(config, window, run_id, archived, progress=progress)
        progress.close()
        extracted = []
        for item in fetched:
            outcome = outcomes.get(item["source"]) if not item.get("failed") else None
            if outcome is None:
                extracted.append(item)  # failed in fetch: passed on as it is
            elif not isinstance(outcome, Exception):
                extracted.append(outcome.as_dict())
            elif _last_try():
                extracted.append(
                    {"source": item["source"], "failed": failure_reason(outcome)[:2000]}
                )
            else:
                raise outcome
        return extracted

    @task(outlets=[ARTICLES])
    def publish(shards: list[list[dict[str, Any]]]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline.results import ExtractResult
        from pipeline.runner import SourcesFailed
        from pipeline.runner import publish as publish_day

        config, window, run_id = _context()
        extracted = [item for shard in shards for item in shard]
        results = [ExtractResult.from_dict(item) for item in extracted if not item.get("failed")]
        failed = {item["source"]: item["failed"] for item in extracted if item.get("failed")}
        try:
            summary = publish_day(config, window, run_id, results, failed).summary()
        except SourcesFailed as exc:
            raise AirflowFailException(str(exc)) from exc
        get_current_context()["outlet_events"][ARTICLES].extra = {
            "partition": summary["partition"],
            "rows": summary["written"],
        }
        keys = ("partition", "discovered", "written", "duplicates", "failed_sources")
        return {key: summary[key] for key in keys}

    publish(extract.expand(fetched=fetch.expand(shard=plan_shards())))


news_ingest()

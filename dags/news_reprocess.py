"""news_reprocess: rebuild a range of days, by default from the raw archive with no network.

Manual only. Use it after an extractor or dedup improvement, or to re-run a failed stretch. Days
are rebuilt one after another in date order, because each day's deduplication reads the index of
the days before it; each day's partitions are replaced atomically, so a rebuild is safe to rerun.
Wiring only: the work is ``pipeline.runner.run_day``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

MAX_DAYS = 366


@dag(
    dag_id="news_reprocess",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # two rebuilds of overlapping days would race on the dedup index
    default_args={
        "owner": "news-ingest",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(hours=6),
    },
    tags=["news-ingest"],
    params={
        "start": Param(None, type=["null", "string"], format="date", description="First UTC day."),
        "end": Param(None, type=["null", "string"], format="date", description="Last UTC day."),
        "sources": Param(
            [],
            type="array",
            items={"type": "string"},
            description="Sources to rebuild (empty: all). Others are kept as archived.",
        ),
        "from_archive": Param(
            True, type="boolean", description="Replay the WARC archive; false refetches live."
        ),
    },
    doc_md=__doc__,
)
def news_reprocess() -> None:
    @task
    def plan_days() -> list[str]:
        from datetime import date

        params = get_current_context()["params"]
        if not params.get("start") or not params.get("end"):
            raise ValueError(
                'news_reprocess needs both params, e.g. {"start": "2026-03-09", '
                '"end": "2026-03-11"}'
            )
        start, end = date.fromisoformat(params["start"]), date.fromisoformat(params["end"])
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        if (end - start).days >= MAX_DAYS:
            raise ValueError(f"{(end - start).days + 1} days requested; at most {MAX_DAYS}")
        return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]

    @task
    def rebuild(days: list[str]) -> list[dict[str, Any]]:
        from datetime import date

        from pipeline.models import RunWindow
        from pipeline.runner import run_day
        from pipeline.settings import configured_path, load_config

        context = get_current_context()
        params = context["params"]
        config = load_config(configured_path())
        results = []
        for day in sorted(days):
            summary = run_day(
                config,
                RunWindow.for_day(date.fromisoformat(day)),
                f"{context['run_id']}__{day}",
                from_archive=bool(params["from_archive"]),
                source_names=list(params["sources"]) or None,
            ).summary()
            results.append({key: summary[key] for key in ("partition", "written", "duplicates")})
        return results

    rebuild(plan_days())


news_reprocess()

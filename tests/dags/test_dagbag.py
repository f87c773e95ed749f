"""The DAG files parse without a database and wire what the operators expect."""

from datetime import timedelta


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert "news_ingest" in dagbag.dags


def test_news_ingest_shape(dagbag) -> None:
    dag = dagbag.dags["news_ingest"]
    assert set(dag.task_ids) == {"plan_shards", "fetch", "extract", "publish"}
    assert dag.get_task("fetch").upstream_task_ids == {"plan_shards"}
    assert dag.get_task("extract").upstream_task_ids == {"fetch"}
    assert dag.get_task("publish").upstream_task_ids == {"extract"}
    for task in dag.tasks:
        assert task.retries >= 2, task.task_id
        assert task.execution_timeout is not None and task.execution_timeout <= timedelta(hours=2)
    assert {"date", "from_archive"} <= set(dag.params.keys())
    outlets = dag.get_task("publish").outlets
    assert [asset.name for asset in outlets] == ["news_ingest.articles"]


def test_schedule_is_a_daily_utc_data_interval(dagbag) -> None:
    from airflow.sdk import CronDataIntervalTimetable

    # "@daily" alone gives a zero-length interval in Airflow 3; the cron *data interval*
    # timetable gives [day, day+1), which is what a daily partition needs.
    dag = dagbag.dags["news_ingest"]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression in ("@daily", "0 0 * * *")
    assert str(dag.timetable.timezone) == "UTC"

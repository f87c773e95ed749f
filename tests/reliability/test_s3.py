"""The same day commit on a real S3 API (moto's server on loopback), with no lock to lean on.

moto runs as its own process; the pipeline talks to it over HTTP through pyarrow's S3 client,
configured only by the standard AWS environment variables. Nothing is mocked inside the pipeline.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow.fs as pafs
import pytest
from test_day_commit import (
    TABLES,
    WINDOW,
    day_tables,
    old_day,
    seen_by_a_reader,
    start_writer,
    wait_for,
)

from pipeline.cluster.services import S3Server
from pipeline.dataset import read_day
from pipeline.demo.catalog import MAIN_DAY
from pipeline.demo.server import DemoSite
from pipeline.models import RunWindow
from pipeline.runner import run_day
from pipeline.settings import load_config
from pipeline.storage.partitions import DatasetStore

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server in its own process, started as ``make run-cluster`` starts it."""
    server = S3Server(log_dir=tmp_path_factory.mktemp("s3")).start(timeout=30)
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; the AWS_* variables point every process of the test at the server."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    name = f"news-{uuid.uuid4().hex[:10]}"
    admin = pafs.S3FileSystem(
        endpoint_override=s3_endpoint, allow_bucket_creation=True, region="us-east-1"
    )
    admin.create_dir(name)
    return name


def test_two_demo_days_on_s3_join_cross_day_stories(bucket: str, s3_endpoint: str) -> None:
    with DemoSite() as site:
        config = load_config(
            REPO / "config" / "demo.yaml",
            {"output_root": f"s3://{bucket}/out", "archive_root": f"s3://{bucket}/archive"},
            environ={"NEWSINGEST_DEMO_URL": site.base_url},
        )
        days = (MAIN_DAY, MAIN_DAY + timedelta(days=1))
        for day in days:
            run_day(config, RunWindow.for_day(day), f"s3__{day.isoformat()}")
    day1, day2 = (read_day(f"s3://{bucket}/out", "articles", day).to_pylist() for day in days)
    first_stories = {row["story_id"] for row in day1}
    joined = [row for row in day2 if row["story_id"] in first_stories]
    assert joined and all(row["is_duplicate"] for row in joined)
    archive = pafs.S3FileSystem(region="us-east-1", endpoint_override=s3_endpoint)
    warcs = archive.get_file_info(pafs.FileSelector(f"{bucket}/archive", recursive=True))
    assert sum(info.path.endswith(".warc.gz") for info in warcs) == 2 * len(config.enabled_sources)


def test_a_writer_killed_between_upload_and_commit_leaves_the_old_day(
    bucket: str, tmp_path: Path
) -> None:
    root = f"s3://{bucket}/out"
    old_day(root)  # type: ignore[arg-type]
    marker = tmp_path / "paused"
    child = start_writer(root, "new", 5, "commit", marker)  # type: ignore[arg-type]
    wait_for(marker, child)  # its files are uploaded; the manifest is not yet replaced
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert seen_by_a_reader(root) == dict.fromkeys(TABLES, (3, {"old"}))  # type: ignore[arg-type]
    assert read_day(root, "articles", WINDOW).num_rows == 3
    # The next writer commits over it whole.
    DatasetStore(root).write_day(WINDOW, day_tables("next", 2), "next")
    assert seen_by_a_reader(root) == dict.fromkeys(TABLES, (2, {"next"}))  # type: ignore[arg-type]


def test_two_racing_writers_leave_one_writers_whole_day(bucket: str, tmp_path: Path) -> None:
    root = f"s3://{bucket}/out"
    old_day(root)  # type: ignore[arg-type]
    writers = [
        start_writer(root, run, rows, None, tmp_path / run)  # type: ignore[arg-type]
        for run, rows in (("alpha", 4), ("beta", 6))
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    seen = seen_by_a_reader(root)  # type: ignore[arg-type]
    assert seen in (
        dict.fromkeys(TABLES, (4, {"alpha"})),
        dict.fromkeys(TABLES, (6, {"beta"})),
    ), seen

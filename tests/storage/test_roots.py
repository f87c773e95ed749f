"""Every root may be a URI: two demo days on ``file://`` roots and on fsspec's ``memory://``.

The second day's copy of a day-one wire story must join the day-one story through the dedup
index, which is only found when the history is read through the same storage layer as the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pipeline.dataset import read_day
from pipeline.demo.catalog import MAIN_DAY
from pipeline.demo.server import DemoSite
from pipeline.models import RunWindow
from pipeline.runner import run_day
from pipeline.settings import PipelineConfig, load_config
from pipeline.storage.root import Root, StorageError

REPO = Path(__file__).resolve().parents[2]
DAYS = (MAIN_DAY, MAIN_DAY + timedelta(days=1))
# Run ids and fetch times differ between runs; archive file names carry the run id.
VOLATILE = {"run_id", "fetched_at", "archive_file", "warc_record_id", "elapsed_ms"}


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    with DemoSite() as site:
        yield site.base_url


def demo_config(demo_url: str, out: str, archive: str) -> PipelineConfig:
    return load_config(
        REPO / "config" / "demo.yaml",
        {"output_root": out, "archive_root": archive},
        environ={"NEWSINGEST_DEMO_URL": demo_url},
    )


def run_two_days(config: PipelineConfig) -> None:
    for day in DAYS:
        run_day(config, RunWindow.for_day(day), f"roots__{day.isoformat()}")


def rows(root: Root, table: str) -> list[dict[str, Any]]:
    found = []
    for day in DAYS:
        data = read_day(root.uri, table, day)
        found += [{k: v for k, v in row.items() if k not in VOLATILE} for row in data.to_pylist()]
    return sorted(found, key=repr)


def test_file_uris_write_exactly_what_plain_paths_write(
    demo_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = demo_config(demo_url, str(tmp_path / "plain/out"), str(tmp_path / "plain/archive"))
    uris = demo_config(
        demo_url, (tmp_path / "uri/out").as_uri(), (tmp_path / "uri/archive").as_uri()
    )
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    run_two_days(plain)
    run_two_days(uris)

    assert list(workdir.iterdir()) == []  # nothing landed beside the caller (no "file:" folder)
    for table in ("articles", "fetch_log", "rejects", "dedup_index"):
        assert rows(Root(uris.settings.output_root), table) == rows(
            Root(plain.settings.output_root), table
        ), table
    warcs = sorted(p.name for p in (tmp_path / "uri/archive").rglob("*.warc.gz"))
    assert len(warcs) == 2 * len(plain.enabled_sources)


def test_two_days_on_a_non_local_filesystem_join_cross_day_stories(demo_url: str) -> None:
    bucket = f"memory://newsingest-{uuid.uuid4().hex[:8]}"
    config = demo_config(demo_url, f"{bucket}/out", f"{bucket}/archive")
    run_two_days(config)

    out = Root(config.settings.output_root)
    assert not out.is_local
    day1, day2 = (read_day(out.uri, "articles", day).to_pylist() for day in DAYS)
    day1_stories = {row["story_id"] for row in day1}
    joined = [row for row in day2 if row["story_id"] in day1_stories]
    assert joined, "no day-2 copy joined a day-1 story: the history index was not found"
    assert all(row["is_duplicate"] for row in joined)
    assert {row["duplicate_of"] for row in joined} <= {row["article_id"] for row in day1}
    # The archive is on the same filesystem, and a replay from it gives the same rows.
    archive = Root(config.settings.archive_root)
    assert archive.list(f"dt={DAYS[1].isoformat()}")
    window = RunWindow.for_day(DAYS[1])
    run_day(config, window, "roots__replay", from_archive=True)
    replayed = read_day(out.uri, "articles", window).to_pylist()
    strip = lambda table: sorted(  # noqa: E731
        ({k: v for k, v in r.items() if k not in VOLATILE} for r in table), key=repr
    )
    assert strip(replayed) == strip(day2)


def test_an_unknown_scheme_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match="nosuchfs://x"):
        Root("nosuchfs://x/out")


def test_local_writes_are_atomic_and_listed(tmp_path: Path) -> None:
    root = Root(tmp_path)
    root.write_json("a/b.json", {"x": 1})
    assert root.read_json("a/b.json") == {"x": 1}
    assert root.list("a") == ["b.json"]  # no staged dot-file left behind
    with root.open_output("c/d.bin") as stream:
        stream.write(b"abc")
    assert pq is not None and root.read_bytes("c/d.bin") == b"abc"

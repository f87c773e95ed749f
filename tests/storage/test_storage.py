"""The published dataset with real files: atomic swaps, kills, full disks, concurrent writers."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from pipeline import dataset
from pipeline.models import Article, RunWindow, StoryAssignment
from pipeline.schema import ARTICLES_SCHEMA, SCHEMA_VERSION, articles_to_table, table_to_articles
from pipeline.storage.partitions import (
    DatasetStore,
    PartitionWriteError,
    SchemaMismatch,
    write_partition,
)

WINDOW = RunWindow.for_day(date(2026, 3, 10))
REPO = Path(__file__).resolve().parents[2]


def sample(n: int, tag: str = "a", day: int = 10) -> list[Article]:
    return [
        Article(
            article_id=f"{tag}{i:015x}",
            url=f"https://x.example/{tag}/{i}",
            canonical_url=f"https://x.example/{tag}/{i}",
            source=f"source-{i % 3}",
            title=f"T{i}",
            text=f"Çavuşoğlu said “yes” ({tag} {i}).",
            authors=["A B"],
            fetched_at=datetime(2026, 3, day, 12, tzinfo=UTC),
            published_at=datetime(2026, 3, day, i % 24, tzinfo=UTC),
            provenance={"title": "html"},
        )
        for i in range(n)
    ]


def published_table(articles: list[Article]) -> pa.Table:
    """The articles as published rows, each its own story."""
    assignments = [StoryAssignment(a.article_id, "h", f"st_{i}") for i, a in enumerate(articles)]
    return articles_to_table(articles, assignments)


def published_rows(root: Path, day: str = "2026-03-10") -> list[dict[str, Any]]:
    return pq.read_table(root / "articles" / f"dt={day}" / "part-0.parquet").to_pylist()


def test_round_trip_keeps_types_and_text() -> None:
    table = published_table(sample(3))
    assert table.schema.equals(ARTICLES_SCHEMA)
    back = table_to_articles(table)
    assert back[0].text == "Çavuşoğlu said “yes” (a 0)." and back[0].provenance == {"title": "html"}
    assert back[0].published_at is not None and back[0].published_at.tzinfo is not None


def test_rows_are_sorted_for_pruning_by_source_and_time(tmp_path: Path) -> None:
    write_partition(published_table(sample(30)), tmp_path, "articles", WINDOW, "r1")
    rows = published_rows(tmp_path)
    keys = [(r["source"], r["published_at"]) for r in rows]
    assert keys == sorted(keys)
    metadata = pq.read_metadata(tmp_path / "articles" / "dt=2026-03-10" / "part-0.parquet")
    assert metadata.row_group(0).column(0).compression == "ZSTD"


def test_empty_day_writes_a_typed_empty_file(tmp_path: Path) -> None:
    published = write_partition(published_table([]), tmp_path, "articles", WINDOW, "r1")
    assert pq.read_schema(published.path).equals(ARTICLES_SCHEMA, check_metadata=False)
    assert pq.read_metadata(published.path).num_rows == 0
    described = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{published.path}')").fetchall()
    assert ("published_at", "TIMESTAMP WITH TIME ZONE") in [(c[0], c[1]) for c in described]


def test_rerun_replaces_the_partition_with_identical_content(tmp_path: Path) -> None:
    write_partition(published_table(sample(5)), tmp_path, "articles", WINDOW, "r1")
    first = published_rows(tmp_path)
    published = write_partition(published_table(sample(5)), tmp_path, "articles", WINDOW, "r2")
    assert published_rows(tmp_path) == first  # content, not file names
    directory = tmp_path / "articles" / "dt=2026-03-10"
    assert sorted(p.name for p in directory.iterdir()) == ["_manifest.json", "part-0.parquet"]
    manifest = json.loads((directory / "_manifest.json").read_text())
    assert manifest["row_count"] == 5 and manifest["run_id"] == "r2"
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["files"] == ["part-0.parquet"]
    assert manifest["data_interval"] == ["2026-03-10T00:00:00+00:00", "2026-03-11T00:00:00+00:00"]
    assert published.manifest == manifest
    assert not list((tmp_path / "_staging").rglob("*.parquet"))


def test_duckdb_and_pyarrow_read_the_whole_dataset_with_hive_partitioning(tmp_path: Path) -> None:
    for day in (9, 10, 11):
        window = RunWindow.for_day(date(2026, 3, day))
        write_partition(published_table(sample(4, day=day)), tmp_path, "articles", window, "r")
    con = dataset.duckdb_views(tmp_path)
    per_day = con.sql("SELECT dt, count(*) FROM articles GROUP BY dt ORDER BY dt").fetchall()
    assert per_day == [(date(2026, 3, d), 4) for d in (9, 10, 11)]
    table = dataset.open_articles(tmp_path).to_table()
    assert table.num_rows == 12 and table.schema.field("dt").type == pa.date32()


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    import pyarrow as pa
    from datetime import date
    from pipeline.models import RunWindow
    from pipeline.schema import ARTICLES_SCHEMA
    from pipeline.storage.partitions import DatasetStore
    sys.path.insert(0, sys.argv[2])
    from test_storage import published_table, sample

    batch = published_table(sample(2000, tag="new")).to_batches()[0]
    def slow_batches():
        for i in range(10_000):
            yield batch
            if i == 3:
                print("writing", flush=True)
            time.sleep(0.01)
    DatasetStore(sys.argv[1]).write_partition(
        "articles", RunWindow.for_day(date(2026, 3, 10)), slow_batches(), ARTICLES_SCHEMA, "killed"
    )
    """
)


def test_writer_killed_mid_write_leaves_the_old_partition_intact(tmp_path: Path) -> None:
    write_partition(published_table(sample(7)), tmp_path, "articles", WINDOW, "old")
    before = published_rows(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path), str(REPO / "tests" / "storage")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "writing"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)

    assert published_rows(tmp_path) == before
    leftovers = list((tmp_path / "_staging" / "articles").rglob("part-0.parquet"))
    assert leftovers, "the killed writer should have left its staging file behind"
    # The next writer of the day cleans up what the dead one left.
    write_partition(published_table(sample(2)), tmp_path, "articles", WINDOW, "next")
    assert not any(p.exists() for p in leftovers)
    assert len(published_rows(tmp_path)) == 2


class _FullDisk(pafs.FileSystemHandler):  # type: ignore[misc]
    """A local filesystem whose writes fail with ENOSPC after ``capacity`` bytes."""

    def __init__(self, capacity: int) -> None:
        self.local = pafs.LocalFileSystem()
        self.capacity = capacity

    def open_output_stream(self, path: str, metadata: Any) -> Any:
        handler = self

        class Capped:
            def __init__(self) -> None:
                self.inner = open(path, "wb")  # noqa: SIM115 - closed by pyarrow
                self.written = 0
                self.closed = False

            def write(self, data: bytes) -> int:
                if self.written + len(data) > handler.capacity:
                    raise OSError(errno.ENOSPC, "No space left on device")
                self.written += len(data)
                return self.inner.write(data)

            def flush(self) -> None:
                self.inner.flush()

            def close(self) -> None:
                self.inner.close()
                self.closed = True

            def tell(self) -> int:
                return self.written

            def writable(self) -> bool:
                return True

        return pa.PythonFile(Capped(), mode="w")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.local, name)

    def get_type_name(self) -> str:
        return "full-disk"

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: list[str]) -> Any:
        return self.local.get_file_info(paths)

    def get_file_info_selector(self, selector: Any) -> Any:
        return self.local.get_file_info(selector)

    def create_dir(self, path: str, recursive: bool) -> None:
        self.local.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self.local.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.local.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        raise NotImplementedError

    def delete_file(self, path: str) -> None:
        self.local.delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self.local.move(src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        self.local.copy_file(src, dest)

    def open_input_stream(self, path: str) -> Any:
        return self.local.open_input_stream(path)

    def open_input_file(self, path: str) -> Any:
        return self.local.open_input_file(path)

    def open_append_stream(self, path: str, metadata: Any) -> Any:
        raise NotImplementedError

    def equals(self, other: Any) -> bool:
        return self is other


@pytest.mark.parametrize("capacity", [10, 5_000, 40_000])  # the file is ~53 kB
def test_full_disk_at_a_chosen_byte_is_a_clean_error(tmp_path: Path, capacity: int) -> None:
    write_partition(published_table(sample(5)), tmp_path, "articles", WINDOW, "old")
    before = published_rows(tmp_path)
    store = DatasetStore(tmp_path)
    store.fs = pafs.PyFileSystem(_FullDisk(capacity))
    with pytest.raises(PartitionWriteError, match="published partition is unchanged"):
        store.write_partition(
            "articles", WINDOW, published_table(sample(3000)), ARTICLES_SCHEMA, "full"
        )
    assert published_rows(tmp_path) == before
    assert not list((tmp_path / "_staging").rglob("*.parquet"))


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here; the injected-ENOSPC test covers a full disk")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_full_tmpfs_is_a_clean_error(small_tmpfs: Path) -> None:
    write_partition(published_table(sample(5)), small_tmpfs, "articles", WINDOW, "old")
    before = published_rows(small_tmpfs)
    # Incompressible texts fill 256 KiB quickly.
    big = [replace(a, text=os.urandom(1500).hex()) for a in sample(400)]
    with pytest.raises(PartitionWriteError):
        write_partition(published_table(big), small_tmpfs, "articles", WINDOW, "full")
    assert published_rows(small_tmpfs) == before


CONCURRENT_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import date
    sys.path.insert(0, sys.argv[3])
    from test_storage import published_table, sample
    from pipeline.models import RunWindow
    from pipeline.storage.partitions import write_partition
    tag = sys.argv[2]
    table = published_table(sample(3000 if tag == "a" else 2000, tag=tag))
    for attempt in range(3):
        write_partition(table, sys.argv[1], "articles", RunWindow.for_day(date(2026, 3, 10)),
                        f"writer-{tag}-{attempt}")
    """
)


def test_two_concurrent_writers_of_one_day_leave_exactly_one_set_of_rows(tmp_path: Path) -> None:
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CONCURRENT_WRITER,
                str(tmp_path),
                tag,
                str(REPO / "tests" / "storage"),
            ],
            cwd=REPO,
        )
        for tag in ("a", "b")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    rows = published_rows(tmp_path)
    tags = {row["article_id"][0] for row in rows}
    assert len(tags) == 1, "rows from both writers are mixed in one partition"
    assert len(rows) == (3000 if tags == {"a"} else 2000)
    assert len({row["article_id"] for row in rows}) == len(rows)


def test_added_column_keeps_old_partitions_readable_and_type_change_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_partition(published_table(sample(3)), tmp_path, "articles", WINDOW, "v1")
    v2 = ARTICLES_SCHEMA.append(pa.field("sentiment", pa.float32()))
    new_day = RunWindow.for_day(date(2026, 3, 11))
    table = published_table(sample(2, tag="b", day=11))
    table = table.append_column(v2.field("sentiment"), pa.array([0.5, -0.25], pa.float32()))
    DatasetStore(tmp_path).write_partition("articles", new_day, table, v2, "v2")

    monkeypatch.setitem(dataset.TABLE_SCHEMAS, "articles", v2)
    read = dataset.open_articles(tmp_path).to_table().to_pylist()
    by_day = {(row["dt"], row["sentiment"]) for row in read}
    assert (date(2026, 3, 10), None) in by_day and (date(2026, 3, 11), 0.5) in by_day
    assert dataset.duckdb_views(tmp_path).sql(
        "SELECT count(*), count(sentiment) FROM articles"
    ).fetchall() == [(5, 2)]

    widened = pa.schema(
        [
            pa.field("word_count", pa.int64(), nullable=False) if f.name == "word_count" else f
            for f in ARTICLES_SCHEMA
        ]
    )
    wrong = published_table(sample(1)).cast(widened)
    with pytest.raises(SchemaMismatch, match=r"articles\.word_count is int32 .* but int64"):
        DatasetStore(tmp_path).write_partition("articles", WINDOW, wrong, widened, "bad")
    assert len(published_rows(tmp_path)) == 3


def test_any_pyarrow_filesystem_uri_works(tmp_path: Path) -> None:
    store = DatasetStore("mock:///lake")
    published = store.write_partition(
        "articles", WINDOW, published_table(sample(4)), ARTICLES_SCHEMA, "mock"
    )
    assert published.path == "lake/articles/dt=2026-03-10/part-0.parquet"
    assert store.read_table("articles/dt=2026-03-10/part-0.parquet").num_rows == 4
    assert store.read_json("articles/dt=2026-03-10/_manifest.json")["row_count"] == 4

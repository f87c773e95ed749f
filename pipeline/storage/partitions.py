"""The published dataset: a day's tables are staged, validated, then committed in one step.

A day's partition of a table is one Parquet file, ``<table>/dt=YYYY-MM-DD/part-<version>.parquet``.
What is published is what the **day manifest** ``_days/dt=YYYY-MM-DD.json`` names: for each
table, the file, its row count and checksum, the run that wrote it. A write of the day

1. stages every table (written, fsynced, read back and validated, checksummed);
2. puts the files beside the published ones under their new version's name (not yet published);
3. **commits** by replacing the day manifest in one operation (a rename on a local disk, a single
   PUT on an object store);
4. deletes the files no manifest names any more.

A reader that goes through the manifest (``pipeline.dataset``, the report, the dedup history, the
next run) therefore sees the old day or the new day, every table of it, never a mix. A kill
before step 3 leaves the old day published; after it, the new one. Whatever a killed writer left
(staged files, unnamed versions, temporary manifests) is removed by the next writer of the day,
under its lock.

Writers of one day take a lock (local filesystems), so a scheduled run and a backfill of the same
day serialize, and a run reading a day's history waits for that day's writer. On object stores
there are no locks: the single-object manifest still means the last writer wins, whole.

``root`` is a local path or a URI; every file goes through :class:`~pipeline.storage.root.Root`
and every path comes from :mod:`pipeline.storage.layout`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.models import RunWindow
from pipeline.schema import SCHEMA_VERSION
from pipeline.storage import layout
from pipeline.storage.root import Root, StorageError, as_root

# Row groups of ~20k articles (tens of MB of text) keep statistics useful for pruning by
# source and time, without making DuckDB or Polars read huge groups for a small filter.
ROW_GROUP_SIZE = 20_000
LOCK_TIMEOUT_SECONDS = 15 * 60
#: Another run's hand-over folder (extract -> publish) this old is a killed run's, not a live one.
STALE_RUN_SECONDS = 6 * 3600
#: On an object store (no lock), an unnamed data file this old is a dead writer's, not in flight.
STALE_UPLOAD_SECONDS = 3600
MANIFEST_VERSION = 1
#: Tests set these to stop a writer just before a named step (then kill it): see _checkpoint.
PAUSE_AT_ENV = "NEWSINGEST_TEST_PAUSE_AT"
PAUSE_FILE_ENV = "NEWSINGEST_TEST_PAUSE_FILE"


class PartitionWriteError(RuntimeError):
    """The write failed; the published day was left untouched."""


class SchemaMismatch(PartitionWriteError):
    """The write's schema changes the type of an existing column (that needs a migration)."""


class DayBusy(PartitionWriteError):
    """Another writer holds the day for longer than we wait."""


@dataclass(frozen=True)
class TableVersion:
    """One table's committed file for a day."""

    file: str  # relative to the output root
    rows: int
    sha256: str
    run_id: str
    schema_version: int = SCHEMA_VERSION


@dataclass(frozen=True)
class DayManifest:
    """The commit record of one day: which file of each table is published."""

    partition: str
    data_interval: tuple[str, str]
    run_id: str  # the run of the latest commit
    version: str
    tables: dict[str, TableVersion] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "partition": self.partition,
            "data_interval": list(self.data_interval),
            "run_id": self.run_id,
            "version": self.version,
            "schema_version": SCHEMA_VERSION,
            "tables": {name: asdict(version) for name, version in sorted(self.tables.items())},
        }

    @classmethod
    def from_json(cls, document: Any, where: str) -> DayManifest:
        try:
            tables = {
                name: TableVersion(**entry) for name, entry in dict(document["tables"]).items()
            }
            return cls(
                partition=str(document["partition"]),
                data_interval=(
                    str(document["data_interval"][0]),
                    str(document["data_interval"][1]),
                ),
                run_id=str(document["run_id"]),
                version=str(document["version"]),
                tables=tables,
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CorruptState(
                f"{where} is not a day manifest ({type(exc).__name__}: {exc}); rerun or "
                "reprocess that day to rewrite it"
            ) from exc


class CorruptState(StorageError):
    """A state file of the dataset is damaged; the message names it and what to do."""


@dataclass(frozen=True)
class PublishedPartition:
    table: str
    path: str
    rows: int
    manifest: dict[str, Any]

    @property
    def directory(self) -> str:
        return self.path.rsplit("/", 1)[0]


@dataclass(frozen=True)
class TableWrite:
    """One table of a day to commit: its rows and schema.

    The rows are a table or a stream of record batches or tables; a stream is written as it
    comes (``ParquetWriter``), so a table of any size needs one part of it in memory at once.
    Each part becomes row groups of ROW_GROUP_SIZE rows at most.
    """

    data: pa.Table | Iterable[pa.RecordBatch | pa.Table]
    schema: pa.Schema


class DatasetStore:
    """One output root's published tables: days committed through their manifests."""

    def __init__(self, root: str | Path | Root) -> None:
        self.root = as_root(root)

    # -- reading ---------------------------------------------------------------------------

    def committed(self, window: RunWindow) -> DayManifest | None:
        """The day's manifest, or None when the day was never published."""
        relative = layout.day_manifest_file(window)
        if not self.root.exists(relative):
            return self._legacy_day(window)
        try:
            document = self.root.read_json(relative)
        except StorageError as exc:
            raise CorruptState(
                f"{exc}; rerun or reprocess that day to rewrite the manifest"
            ) from exc
        return DayManifest.from_json(document, self.root.display(relative))

    def committed_days(self) -> list[DayManifest]:
        """Every published day, oldest first."""
        labels = {
            name.removesuffix(".json")
            for name in self.root.list(layout.DAYS)
            if name.startswith("dt=") and name.endswith(".json")
        }
        for table in self.root.list(""):
            if not table.startswith(("_", ".")) and self.root.is_dir(table):
                labels |= {name for name in self.root.list(table) if name.startswith("dt=")}
        days = []
        for label in sorted(labels):
            try:
                window = RunWindow.for_day(date.fromisoformat(label.removeprefix("dt=")))
            except ValueError:
                continue  # not a day folder of ours
            manifest = self.committed(window)
            if manifest is not None:
                days.append(manifest)
        return days

    def _legacy_day(self, window: RunWindow) -> DayManifest | None:
        """A day written before day manifests existed (one ``part-0.parquet`` per table)."""
        tables = {}
        for table in self.root.list(""):
            relative = f"{layout.partition_dir(table, window)}/{layout.LEGACY_PART_FILE}"
            if not table.startswith(("_", ".")) and self.root.is_file(relative):
                tables[table] = TableVersion(relative, -1, "", "legacy")
        if not tables:
            return None
        interval = (window.start.isoformat(), window.end.isoformat())
        return DayManifest(window.partition, interval, "legacy", "legacy", tables)

    def committed_file(self, table: str, window: RunWindow) -> str | None:
        """The published file of ``table`` for the day (relative), or None."""
        manifest = self.committed(window)
        version = manifest.tables.get(table) if manifest else None
        return version.file if version else None

    def wait_for_day(self, window: RunWindow, timeout_seconds: float) -> None:
        """Return once no writer holds the day (local disks); DayBusy after ``timeout_seconds``.

        A run reads earlier days' dedup index: it must never read a day whose writer is midway.
        """
        with self._day_lock(window, timeout_seconds, shared=True):
            return

    # -- writing ---------------------------------------------------------------------------

    def write_day(
        self, window: RunWindow, tables: Mapping[str, TableWrite], run_id: str
    ) -> DayManifest:
        """Stage, validate and commit ``tables`` for the day in one step.

        Tables of the day that are not in ``tables`` stay as they were committed.
        """
        root = self.root
        version = f"{layout.safe_run_id(run_id)}-{uuid.uuid4().hex[:8]}"
        with self._day_lock(window, LOCK_TIMEOUT_SECONDS):
            previous = self.committed(window)
            self._remove_leftovers(window, previous)
            self._remove_stale_runs(window, keep=run_id)
            for name, write in tables.items():
                self._check_schema(name, write.schema)
            staging = f"{layout.day_staging_dir(window)}/{version}"
            written: dict[str, TableVersion] = {}
            try:
                for name, write in sorted(tables.items()):
                    _checkpoint(f"write:{name}")
                    staged = f"{staging}/{name}.parquet"
                    rows = self._write(staged, write.data, write.schema)
                    # Arrow's pool keeps what a table's row groups freed; the next table's
                    # stream may be held in other memory (numpy, Python), so give it back.
                    pa.default_memory_pool().release_unused()
                    digest = self._validate(staged, write.schema, rows)
                    final = layout.versioned_partition_file(name, window, version)
                    if root.is_local:  # a rename: the new file appears whole, at the last moment
                        written[name] = TableVersion(staged, rows, digest, run_id)
                    else:  # an object store's move is a copy: write there directly instead
                        root.move(staged, final)
                        written[name] = TableVersion(final, rows, digest, run_id)
                _checkpoint("place")
                for name, entry in list(written.items()):
                    final = layout.versioned_partition_file(name, window, version)
                    if entry.file != final:
                        root.move(entry.file, final)
                        written[name] = TableVersion(final, entry.rows, entry.sha256, run_id)
                manifest = DayManifest(
                    partition=window.partition,
                    data_interval=(window.start.isoformat(), window.end.isoformat()),
                    run_id=run_id,
                    version=version,
                    tables={**(previous.tables if previous else {}), **written},
                )
                _checkpoint("commit")
                root.write_json(layout.day_manifest_file(window), manifest.to_json())  # commit
            except OSError as exc:
                raise PartitionWriteError(
                    f"writing {window.partition} failed ({exc}); the published partition is "
                    "unchanged (no table of the day was committed)"
                ) from exc
            finally:
                root.delete_dir(staging)
            _checkpoint("cleanup")
            # The manifest as it is now: on an object store another writer may have committed
            # since, and its files are the published ones.
            self._remove_leftovers(window, self.committed(window))
        return manifest

    def write_partition(
        self,
        table_name: str,
        window: RunWindow,
        data: pa.Table | Iterable[pa.RecordBatch | pa.Table],
        schema: pa.Schema,
        run_id: str,
    ) -> PublishedPartition:
        """Commit one table of the day (the day's other tables stay as they are)."""
        manifest = self.write_day(window, {table_name: TableWrite(data, schema)}, run_id)
        entry = manifest.tables[table_name]
        return PublishedPartition(
            table_name, self.root.path(entry.file), entry.rows, manifest.to_json()
        )

    # -- internals -------------------------------------------------------------------------

    def _write(
        self, staged: str, data: pa.Table | Iterable[pa.RecordBatch | pa.Table], schema: pa.Schema
    ) -> int:
        rows = 0
        # Durable: on a local disk the rename must never publish data still in the page cache.
        with (
            self.root.open_output(staged, durable=True) as stream,
            pq.ParquetWriter(stream, schema, compression="zstd", write_statistics=True) as writer,
        ):
            for part in _parts(data):
                if not part.schema.equals(schema, check_metadata=False):
                    raise PartitionWriteError(
                        f"a batch does not match the declared schema:\n{part.schema}"
                    )
                if not part.num_rows:
                    continue  # no empty row groups: an empty day is the one empty table below
                if isinstance(part, pa.Table):
                    writer.write_table(part, row_group_size=ROW_GROUP_SIZE)
                else:
                    writer.write_batch(part, row_group_size=ROW_GROUP_SIZE)
                rows += part.num_rows
                del part  # written: not kept while the stream makes the next one
            if rows == 0:
                # An empty day is still a file with the full schema, not a missing partition.
                writer.write_table(schema.empty_table())
        return rows

    def _validate(self, staged: str, schema: pa.Schema, rows: int) -> str:
        try:
            with self.root.open_input(staged) as handle:
                parquet = pq.ParquetFile(handle)
                if parquet.metadata.num_rows != rows:
                    raise PartitionWriteError(
                        f"staged file has {parquet.metadata.num_rows} rows, wrote {rows}"
                    )
                if not parquet.schema_arrow.equals(schema, check_metadata=False):
                    raise PartitionWriteError("staged file's schema differs from the declared one")
            digest = hashlib.sha256()
            with self.root.open_input(staged) as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
        except (pa.ArrowInvalid, OSError) as exc:
            raise PartitionWriteError(f"staged file is unreadable: {exc}") from exc
        return digest.hexdigest()

    def _check_schema(self, table_name: str, schema: pa.Schema) -> None:
        """Adding columns is fine; changing a column's type is refused, naming the column.

        ``<table>/_schema.json`` records every column the dataset has ever had, with its type.
        """
        relative = layout.schema_file(table_name)
        columns = {field.name: str(field.type) for field in schema}
        try:
            known: dict[str, Any] = (
                self.root.read_json(relative) if self.root.exists(relative) else {}
            )
            if not isinstance(known, dict) or not isinstance(known.get("columns", {}), dict):
                raise ValueError("not an object with a 'columns' object")
        except (StorageError, ValueError) as exc:
            raise CorruptState(
                f"{self.root.display(relative)} is damaged ({exc}); it only records the "
                "table's columns: delete it and rerun, and it is written anew"
            ) from exc
        known_columns: dict[str, str] = known.get("columns", {})
        for name, old_type in known_columns.items():
            new_type = columns.get(name)
            if new_type is not None and new_type != old_type:
                raise SchemaMismatch(
                    f"{table_name}.{name} is {old_type} in the published dataset (schema "
                    f"v{known['schema_version']}) but {new_type} in this write (schema "
                    f"v{SCHEMA_VERSION}); a type change needs a migration, not a rewrite"
                )
        merged = {**known_columns, **columns}
        if merged != known_columns:
            self.root.write_json(relative, {"schema_version": SCHEMA_VERSION, "columns": merged})

    @contextlib.contextmanager
    def _day_lock(
        self, window: RunWindow, timeout_seconds: float, *, shared: bool = False
    ) -> Iterator[None]:
        if not self.root.is_local:
            yield  # object stores: single-object commits, last writer wins whole
            return
        lock_path = self.root.local_path(layout.day_lock_file(window))
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        with lock_path.open("a") as handle:
            deadline = time.monotonic() + timeout_seconds
            while True:
                try:
                    fcntl.flock(handle, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise DayBusy(
                            f"{window.partition} is being written by another run (waited "
                            f"{timeout_seconds:.0f} s for {lock_path}); retry when it is done"
                        ) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _remove_leftovers(self, window: RunWindow, manifest: DayManifest | None) -> None:
        """Remove what no manifest names: a killed writer's files, superseded versions.

        Locally this runs under the day lock, so nothing unnamed is still being written. An object
        store has no lock: another writer's upload in flight is unnamed until it commits, so
        only files older than ``STALE_UPLOAD_SECONDS`` are removed there.
        """
        root = self.root
        min_age = 0.0 if root.is_local else STALE_UPLOAD_SECONDS
        now = time.time()
        named = {entry.file for entry in manifest.tables.values()} if manifest else set()
        tables = set(manifest.tables) if manifest else set()
        tables |= {name for name in root.list("") if not name.startswith(("_", "."))}
        for table in sorted(tables):
            directory = layout.partition_dir(table, window)
            for name in root.list(directory):
                relative = f"{directory}/{name}"
                if relative not in named and layout.is_partition_data(name):
                    age = root.age_seconds(relative, now) if min_age else None
                    if not min_age or (age is not None and age > min_age):
                        root.delete_file(relative)
        if root.is_local:
            root.delete_dir(layout.day_staging_dir(window))
        # Small files are written as a dot-file then renamed; a kill in between leaves the dot-file.
        days_dir, manifest_name = layout.day_manifest_file(window).rsplit("/", 1)
        for folder, prefix in (
            (days_dir, f".{manifest_name}."),
            (layout.report_dir(window), "."),
        ):
            for name in root.list(folder):
                if name.startswith(prefix) and name.endswith(".tmp"):
                    root.delete_file(f"{folder}/{name}")

    def _remove_stale_runs(self, window: RunWindow, keep: str) -> None:
        """Other runs' hand-over folders of the day that nobody has touched for hours."""
        folder = layout.run_staging_parent(window)
        now = time.time()
        for name in self.root.list(folder):
            if name == layout.safe_run_id(keep):
                continue
            age = self.root.age_seconds(f"{folder}/{name}", now)
            if age is not None and age > STALE_RUN_SECONDS:
                self.root.delete_dir(f"{folder}/{name}")


def _parts(
    data: pa.Table | Iterable[pa.RecordBatch | pa.Table],
) -> Iterator[pa.RecordBatch | pa.Table]:
    if isinstance(data, pa.Table):
        yield from data.to_batches(max_chunksize=ROW_GROUP_SIZE)
    else:
        yield from data


def _checkpoint(step: str) -> None:
    """Test hook: with ``NEWSINGEST_TEST_PAUSE_AT=<step>`` the writer stops here for good.

    It writes ``NEWSINGEST_TEST_PAUSE_FILE`` and sleeps, so a test can kill it with SIGKILL at
    exactly that step instead of guessing with timers. Unset, it does nothing.
    """
    if os.environ.get(PAUSE_AT_ENV) != step:
        return
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        Path(marker).write_text(json.dumps({"step": step, "pid": os.getpid()}))
    while True:
        time.sleep(60)


def write_partition(
    table: pa.Table,
    output_root: str | Path | Root,
    table_name: str,
    window: RunWindow,
    run_id: str,
) -> PublishedPartition:
    """Commit ``table`` as the day's partition of ``table_name`` under ``output_root``."""
    return DatasetStore(output_root).write_partition(
        table_name, window, table, table.schema, run_id
    )

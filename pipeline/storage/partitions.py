"""The published dataset: staged, validated partitions swapped into place atomically.

A partition is ONE data file, ``<root>/<table>/dt=YYYY-MM-DD/part-0.parquet``, plus a
``_manifest.json`` written last. A write goes to ``<root>/_staging/`` first, is read back and
validated, and then replaces the published file in one operation (a rename on a local disk, a
single-object copy on an object store), so a reader sees the old partition or the new one, never
a mix, a partial file or duplicated rows.

Writers of one partition take a lock (local filesystems), so a scheduled run and a backfill of the
same day serialize; on object stores, where there are no locks, the single-file layout still means
the last writer wins whole. Anything left in the partition's staging area while we hold the lock
was left by a killed writer, and is removed.

``root`` is a local path or any URI ``pyarrow.fs`` understands (``s3://``, ``gs://``, ...), through
``pyarrow.fs.FileSystem.from_uri``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipeline.fetch.archive import safe_run_id
from pipeline.models import RunWindow
from pipeline.schema import SCHEMA_VERSION

PART_FILE = "part-0.parquet"
MANIFEST_FILE = "_manifest.json"
SCHEMA_FILE = "_schema.json"
STAGING = "_staging"
LOCKS = "_locks"
# Row groups of ~20k articles (tens of MB of text) keep statistics useful for pruning by
# source and time, without making DuckDB or Polars read huge groups for a small filter.
ROW_GROUP_SIZE = 20_000
LOCK_TIMEOUT_SECONDS = 15 * 60


class PartitionWriteError(RuntimeError):
    """The write failed; the published partition was left untouched."""


class SchemaMismatch(PartitionWriteError):
    """The write's schema changes the type of an existing column (that needs a migration)."""


@dataclass(frozen=True)
class PublishedPartition:
    table: str
    path: str
    rows: int
    manifest: dict[str, Any]

    @property
    def directory(self) -> str:
        return self.path.rsplit("/", 1)[0]


class DatasetStore:
    """One output root: published tables, the staging area, locks and small JSON documents."""

    def __init__(self, root: str | Path) -> None:
        root = str(root)
        if "://" in root:
            self.fs, base = pafs.FileSystem.from_uri(root)
        else:
            self.fs, base = pafs.LocalFileSystem(), os.path.abspath(root)
        self.base = base.rstrip("/")
        self.root = root
        self.is_local = isinstance(self.fs, pafs.LocalFileSystem)

    def path(self, *parts: str) -> str:
        return "/".join([self.base, *parts])

    def partition_path(self, table: str, window: RunWindow) -> str:
        return self.path(table, window.partition, PART_FILE)

    def write_partition(
        self,
        table_name: str,
        window: RunWindow,
        data: pa.Table | Iterable[pa.RecordBatch],
        schema: pa.Schema,
        run_id: str,
    ) -> PublishedPartition:
        """Stage, validate and publish one partition; ``data`` may be a stream of batches."""
        with self._lock(table_name, window):
            self._check_schema(table_name, schema)
            staging_dir = self.path(STAGING, table_name, window.partition)
            self._remove_stale(staging_dir)
            attempt_dir = f"{staging_dir}/{safe_run_id(run_id)}-{uuid.uuid4().hex[:8]}"
            staged = f"{attempt_dir}/{PART_FILE}"
            self.fs.create_dir(attempt_dir, recursive=True)
            try:
                rows = self._write(staged, data, schema)
                if self.is_local:
                    _fsync(staged)  # the rename must never publish data still in the page cache
                digest = self._validate(staged, schema, rows)
                final_dir = self.path(table_name, window.partition)
                self.fs.create_dir(final_dir, recursive=True)
                self.fs.move(staged, f"{final_dir}/{PART_FILE}")  # the swap
                manifest = {
                    "table": table_name,
                    "run_id": run_id,
                    "data_interval": [window.start.isoformat(), window.end.isoformat()],
                    "schema_version": SCHEMA_VERSION,
                    "row_count": rows,
                    "files": [PART_FILE],
                    "sha256": digest,
                }
                self.write_json(f"{table_name}/{window.partition}/{MANIFEST_FILE}", manifest)
            except OSError as exc:
                raise PartitionWriteError(
                    f"writing {table_name}/{window.partition} failed ({exc}); "
                    "the published partition is unchanged"
                ) from exc
            finally:
                self._delete_dir(attempt_dir)
        return PublishedPartition(table_name, f"{final_dir}/{PART_FILE}", rows, manifest)

    def write_json(self, relative: str, document: object) -> None:
        """Write a small JSON document atomically (rename locally, one PUT elsewhere)."""
        self.write_text(
            relative, json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"
        )

    def write_text(self, relative: str, text: str) -> None:
        """Write a small UTF-8 file atomically: a staged dot-file, then one rename / PUT."""
        target = self.path(relative)
        folder, name = target.rsplit("/", 1)
        self.fs.create_dir(folder, recursive=True)
        staged = f"{folder}/.{name}.{uuid.uuid4().hex[:8]}"
        with self.fs.open_output_stream(staged) as stream:
            stream.write(text.encode("utf-8"))
        self.fs.move(staged, target)

    def read_json(self, relative: str) -> Any:
        with self.fs.open_input_stream(self.path(relative)) as stream:
            return json.loads(stream.read())

    def exists(self, relative: str) -> bool:
        return self.fs.get_file_info(self.path(relative)).type != pafs.FileType.NotFound

    def write_table(self, relative: str, table: pa.Table) -> None:
        """A plain (non-published) Parquet file, e.g. a stage's staged output."""
        target = self.path(relative)
        self.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
        pq.write_table(table, target, filesystem=self.fs)

    def read_table(self, relative: str, schema: pa.Schema | None = None) -> pa.Table:
        return pq.read_table(self.path(relative), filesystem=self.fs, schema=schema)

    def delete_dir(self, relative: str) -> None:
        self._delete_dir(self.path(relative))

    # -- internals -------------------------------------------------------------------------

    def _write(
        self, staged: str, data: pa.Table | Iterable[pa.RecordBatch], schema: pa.Schema
    ) -> int:
        rows = 0
        with (
            self.fs.open_output_stream(staged) as stream,
            pq.ParquetWriter(stream, schema, compression="zstd", write_statistics=True) as writer,
        ):
            for batch in _batches(data):
                if not batch.schema.equals(schema, check_metadata=False):
                    raise PartitionWriteError(
                        f"a batch does not match the declared schema:\n{batch.schema}"
                    )
                writer.write_batch(batch, row_group_size=ROW_GROUP_SIZE)
                rows += batch.num_rows
            if rows == 0:
                # An empty day is still a file with the full schema, not a missing partition.
                writer.write_table(schema.empty_table())
        return rows

    def _validate(self, staged: str, schema: pa.Schema, rows: int) -> str:
        try:
            with self.fs.open_input_file(staged) as handle:
                parquet = pq.ParquetFile(handle)
                if parquet.metadata.num_rows != rows:
                    raise PartitionWriteError(
                        f"staged file has {parquet.metadata.num_rows} rows, wrote {rows}"
                    )
                if not parquet.schema_arrow.equals(schema, check_metadata=False):
                    raise PartitionWriteError("staged file's schema differs from the declared one")
            digest = hashlib.sha256()
            with self.fs.open_input_stream(staged) as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
        except (pa.ArrowInvalid, OSError) as exc:
            raise PartitionWriteError(f"staged file is unreadable: {exc}") from exc
        return digest.hexdigest()

    def _check_schema(self, table_name: str, schema: pa.Schema) -> None:
        """Adding columns is fine; changing a column's type is refused, naming the column.

        ``<table>/_schema.json`` records every column the dataset has ever had, with its type.
        """
        relative = f"{table_name}/{SCHEMA_FILE}"
        columns = {field.name: str(field.type) for field in schema}
        known: dict[str, Any] = self.read_json(relative) if self.exists(relative) else {}
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
            self.write_json(relative, {"schema_version": SCHEMA_VERSION, "columns": merged})

    @contextlib.contextmanager
    def _lock(self, table_name: str, window: RunWindow) -> Iterator[None]:
        if not self.is_local:
            yield  # object stores: single-object writes, last writer wins whole
            return
        lock_dir = Path(self.path(LOCKS, table_name))
        lock_dir.mkdir(parents=True, exist_ok=True)
        with (lock_dir / f"{window.partition}.lock").open("a") as handle:
            deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise PartitionWriteError(
                            f"{table_name}/{window.partition} is locked by another writer"
                        ) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _remove_stale(self, staging_dir: str) -> None:
        """Only called under the partition lock: any attempt found here is a dead writer's."""
        info = self.fs.get_file_info(pafs.FileSelector(staging_dir, allow_not_found=True))
        for entry in info:
            if entry.type == pafs.FileType.Directory:
                self._delete_dir(entry.path)

    def _delete_dir(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError, OSError):
            self.fs.delete_dir(path)


def _batches(data: pa.Table | Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    if isinstance(data, pa.Table):
        yield from data.to_batches(max_chunksize=ROW_GROUP_SIZE)
    else:
        yield from data


def _fsync(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_partition(
    table: pa.Table, output_root: str | Path, table_name: str, window: RunWindow, run_id: str
) -> PublishedPartition:
    """Publish ``table`` as the day's partition of ``table_name`` under ``output_root``."""
    return DatasetStore(output_root).write_partition(
        table_name, window, table, table.schema, run_id
    )

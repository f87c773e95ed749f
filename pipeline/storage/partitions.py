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

``root`` is a local path or a URI; every file goes through :class:`~pipeline.storage.root.Root`
and every path comes from :mod:`pipeline.storage.layout`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.models import RunWindow
from pipeline.schema import SCHEMA_VERSION
from pipeline.storage import layout
from pipeline.storage.layout import PART_FILE
from pipeline.storage.root import Root, as_root

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
    """One output root's published tables: staged, validated partitions swapped in under a lock."""

    def __init__(self, root: str | Path | Root) -> None:
        self.root = as_root(root)

    def write_partition(
        self,
        table_name: str,
        window: RunWindow,
        data: pa.Table | Iterable[pa.RecordBatch],
        schema: pa.Schema,
        run_id: str,
    ) -> PublishedPartition:
        """Stage, validate and publish one partition; ``data`` may be a stream of batches."""
        root = self.root
        with self._lock(table_name, window):
            self._check_schema(table_name, schema)
            staging_dir = layout.partition_staging_dir(table_name, window)
            self._remove_stale(staging_dir)
            attempt_dir = f"{staging_dir}/{layout.safe_run_id(run_id)}-{uuid.uuid4().hex[:8]}"
            staged = f"{attempt_dir}/{PART_FILE}"
            final = layout.partition_file(table_name, window)
            root.create_dir(attempt_dir)
            try:
                rows = self._write(staged, data, schema)
                digest = self._validate(staged, schema, rows)
                root.move(staged, final)  # the swap
                manifest = {
                    "table": table_name,
                    "run_id": run_id,
                    "data_interval": [window.start.isoformat(), window.end.isoformat()],
                    "schema_version": SCHEMA_VERSION,
                    "row_count": rows,
                    "files": [PART_FILE],
                    "sha256": digest,
                }
                root.write_json(layout.manifest_file(table_name, window), manifest)
            except OSError as exc:
                raise PartitionWriteError(
                    f"writing {table_name}/{window.partition} failed ({exc}); "
                    "the published partition is unchanged"
                ) from exc
            finally:
                root.delete_dir(attempt_dir)
        return PublishedPartition(table_name, root.path(final), rows, manifest)

    # -- internals -------------------------------------------------------------------------

    def _write(
        self, staged: str, data: pa.Table | Iterable[pa.RecordBatch], schema: pa.Schema
    ) -> int:
        rows = 0
        # Durable: on a local disk the rename must never publish data still in the page cache.
        with (
            self.root.open_output(staged, durable=True) as stream,
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
        known: dict[str, Any] = self.root.read_json(relative) if self.root.exists(relative) else {}
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
    def _lock(self, table_name: str, window: RunWindow) -> Iterator[None]:
        if not self.root.is_local:
            yield  # object stores: single-object writes, last writer wins whole
            return
        lock_path = self.root.local_path(layout.lock_file(table_name, window))
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with lock_path.open("a") as handle:
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
        for name in self.root.list(staging_dir):
            if self.root.is_dir(f"{staging_dir}/{name}"):
                self.root.delete_dir(f"{staging_dir}/{name}")


def _batches(data: pa.Table | Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    if isinstance(data, pa.Table):
        yield from data.to_batches(max_chunksize=ROW_GROUP_SIZE)
    else:
        yield from data


def write_partition(
    table: pa.Table,
    output_root: str | Path | Root,
    table_name: str,
    window: RunWindow,
    run_id: str,
) -> PublishedPartition:
    """Publish ``table`` as the day's partition of ``table_name`` under ``output_root``."""
    return DatasetStore(output_root).write_partition(
        table_name, window, table, table.schema, run_id
    )

"""Publishing partitions: write aside, validate, then swap into place atomically.

A partition is one file, ``<root>/<table>/dt=YYYY-MM-DD/part-0.parquet``, replaced with
``os.replace`` so a reader sees the old file or the new one, never a partial one. Temporary files
start with '.', which pyarrow datasets skip and ``*.parquet`` globs never match. The manifest is
written last.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.archive import safe_run_id
from pipeline.models import RunWindow
from pipeline.schema import SCHEMA_VERSION

PART_FILE = "part-0.parquet"
MANIFEST_FILE = "_manifest.json"
ROW_GROUP_SIZE = 50_000


class PartitionWriteError(RuntimeError):
    """The staged file did not validate; the published partition was left untouched."""


@dataclass(frozen=True)
class PublishedPartition:
    table: str
    path: str
    rows: int

    @property
    def directory(self) -> str:
        return str(Path(self.path).parent)


def partition_dir(output_root: str | Path, table: str, window: RunWindow) -> Path:
    return Path(output_root) / table / window.partition


def write_partition(
    table: pa.Table, output_root: str | Path, table_name: str, window: RunWindow, run_id: str
) -> PublishedPartition:
    directory = partition_dir(output_root, table_name, window)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / PART_FILE
    staged = directory / f".{PART_FILE}.{safe_run_id(run_id)}.tmp"
    try:
        pq.write_table(
            table,
            staged,
            compression="zstd",
            row_group_size=ROW_GROUP_SIZE,
            write_statistics=True,
        )
        _fsync(staged)
        _validate(staged, table)
        os.replace(staged, final)
        _fsync_dir(directory)
    finally:
        staged.unlink(missing_ok=True)
    manifest = {
        "table": table_name,
        "run_id": run_id,
        "data_interval": [window.start.isoformat(), window.end.isoformat()],
        "schema_version": SCHEMA_VERSION,
        "row_count": table.num_rows,
        "files": [PART_FILE],
        "sha256": _sha256(final),
    }
    _write_json_atomically(directory / MANIFEST_FILE, manifest)
    return PublishedPartition(table=table_name, path=str(final), rows=table.num_rows)


def write_json_atomically(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_json_atomically(path, document)


def _write_json_atomically(path: Path, document: object) -> None:
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(staged, path)


def _validate(path: Path, expected: pa.Table) -> None:
    try:
        metadata = pq.read_metadata(path)
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise PartitionWriteError(f"{path}: unreadable after write: {exc}") from exc
    if metadata.num_rows != expected.num_rows:
        raise PartitionWriteError(
            f"{path}: wrote {metadata.num_rows} rows, expected {expected.num_rows}"
        )
    if not schema.equals(expected.schema, check_metadata=False):
        raise PartitionWriteError(f"{path}: schema differs from the declared schema")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    with path.open("rb") as stream:
        os.fsync(stream.fileno())


def _fsync_dir(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

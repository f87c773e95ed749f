"""Readers for analysts: the published tables as a pyarrow dataset or a DuckDB view.

Both read every partition with the CURRENT schema, so partitions written before a column was
added read with nulls in it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from pipeline.models import RunWindow
from pipeline.schema import PARTITION_KEY, TABLE_SCHEMAS
from pipeline.storage.partitions import DatasetStore

_PARTITION_FIELD = pa.field(PARTITION_KEY, pa.date32())
_PARTITIONING = ds.partitioning(pa.schema([_PARTITION_FIELD]), flavor="hive")


def open_table(root: str | Path, table: str = "articles") -> ds.Dataset:
    """One published table under an output root, as a ``pyarrow.dataset`` (``dt`` included)."""
    if table not in TABLE_SCHEMAS:
        raise ValueError(f"unknown table {table!r}; known: {sorted(TABLE_SCHEMAS)}")
    store = DatasetStore(root)
    schema = TABLE_SCHEMAS[table].append(_PARTITION_FIELD)
    # Only the files the day manifests name: a write in progress (or killed) is invisible.
    files = [
        store.root.path(day.tables[table].file)
        for day in store.committed_days()
        if table in day.tables
    ]
    return ds.dataset(
        files,
        filesystem=store.root.fs,
        format="parquet",
        partitioning=_PARTITIONING,
        partition_base_dir=store.root.path(table),
        schema=schema,
    )


def open_articles(root: str | Path) -> ds.Dataset:
    """The articles table; filter it with ``.to_table(filter=ds.field("source") == "x")``."""
    return open_table(root, "articles")


def duckdb_views(
    root: str | Path, connection: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per published table (``articles``, ``fetch_log``...).

    Each view scans the table's ``pyarrow.dataset`` (any root the storage layer serves), so only
    the columns and partitions a query needs are read.
    """
    connection = connection or duckdb.connect()
    for table in TABLE_SCHEMAS:
        connection.register(table, open_table(root, table))
    return connection


def read_day(root: str | Path, table: str, day: date | RunWindow) -> pa.Table:
    """One day of one table exactly as committed (the file its day manifest names).

    Raises FileNotFoundError when the day has no committed partition of ``table``.
    """
    window = day if isinstance(day, RunWindow) else RunWindow.for_day(day)
    store = DatasetStore(root)
    committed = store.committed_file(table, window)
    if committed is None:
        raise FileNotFoundError(
            f"no committed {table} partition for {window.partition} under {store.root.display()}"
        )
    return store.root.read_table(committed)

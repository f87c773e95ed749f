"""Readers for analysts: the published tables as a pyarrow dataset or a DuckDB view.

Both read every partition with the CURRENT schema, so partitions written before a column was
added read with nulls in it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from pipeline.schema import PARTITION_KEY, TABLE_SCHEMAS
from pipeline.storage.root import Root

_PARTITION_FIELD = pa.field(PARTITION_KEY, pa.date32())
_PARTITIONING = ds.partitioning(pa.schema([_PARTITION_FIELD]), flavor="hive")


def open_table(root: str | Path, table: str = "articles") -> ds.Dataset:
    """One published table under an output root, as a ``pyarrow.dataset`` (``dt`` included)."""
    if table not in TABLE_SCHEMAS:
        raise ValueError(f"unknown table {table!r}; known: {sorted(TABLE_SCHEMAS)}")
    location = Root(root)
    schema = TABLE_SCHEMAS[table].append(_PARTITION_FIELD)
    return ds.dataset(
        location.path(table),
        filesystem=location.fs,
        format="parquet",
        partitioning=_PARTITIONING,
        schema=schema,
        # Staging, locks, manifests and schema records all start with '_' or '.'.
        exclude_invalid_files=False,
        ignore_prefixes=["_", "."],
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
    location = Root(root)
    for table in TABLE_SCHEMAS:
        if location.is_dir(table):
            connection.register(table, open_table(root, table))
    return connection

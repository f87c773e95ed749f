"""The incremental frontier: which of today's URLs were already fetched on an earlier day.

A question to the earlier days' committed fetch logs, answered by DuckDB over their Parquet files
(any root the storage layer serves), so it stays one query with a year of history. Day D asks only
the ``seen_days`` days before D: a backfill of D sees what the original run of D saw, and a rerun
of D gives the same partition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from pipeline.models import RunWindow
from pipeline.storage.partitions import DatasetStore
from pipeline.storage.root import Root


@dataclass(frozen=True)
class Seen:
    """An earlier fetch of a URL: the run day it was fetched for, and when."""

    day: date
    fetched_at: datetime


def last_fetched(
    output_root: str | Path | Root, window: RunWindow, urls: Iterable[str], seen_days: int
) -> dict[str, Seen]:
    """Each of ``urls`` fetched for one of the ``seen_days`` days before the window's day, with
    its latest such fetch."""
    wanted = sorted(set(urls))
    if not wanted or seen_days <= 0:
        return {}
    store = DatasetStore(output_root)
    files = []
    for back in range(seen_days, 0, -1):
        committed = store.committed_file(
            "fetch_log", RunWindow.for_day(window.day - timedelta(days=back))
        )
        if committed is not None:
            files.append(store.root.path(committed))
    if not files:
        return {}
    history = ds.dataset(
        files,
        filesystem=store.root.fs,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([pa.field("dt", pa.date32())]), flavor="hive"),
        partition_base_dir=store.root.path("fetch_log"),
    )
    with duckdb.connect() as con:
        con.register("fetch_log", history)
        con.register("today", pa.table({"url": pa.array(wanted, pa.string())}))
        rows = con.execute(
            """
            SELECT f.url, max(f.dt) AS day, max(f.fetched_at) AS fetched_at
            FROM fetch_log AS f JOIN today USING (url)
            WHERE f.role = 'page' AND f.status = 'fetched' AND f.fetched_at IS NOT NULL
            GROUP BY f.url
            """
        ).fetchall()
    return {url: Seen(day, fetched_at) for url, day, fetched_at in rows}

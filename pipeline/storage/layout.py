"""Where everything lives, relative to its root: the one place that spells a path.

Two roots, each a local path or a URI (see :mod:`pipeline.storage.root`):

``archive_root``
    ``dt=YYYY-MM-DD/<source>/<run>.warc.gz``  one WARC file per fetch run of a source and day
    ``_validators/<source>.json``             ETag/Last-Modified per URL, pointing into the archive

``output_root``
    ``_days/dt=YYYY-MM-DD.json``              the day manifest: the commit naming each table's file
    ``<table>/dt=YYYY-MM-DD/part-<v>.parquet`` a table's day as commit <v> wrote it (articles,
                                               fetch_log, rejects, dedup_index)
    ``<table>/_schema.json``                  every column the table has ever had
    ``_staging/days/dt=.../<v>/``             a day being written
    ``_staging/_runs/dt=.../<run>/<source>/`` what extract hands to publish
    ``_locks/dt=....lock``                    the day's writer lock (local disks)
    ``reports/dt=YYYY-MM-DD/``                summary.json, report.json, report.html
"""

from __future__ import annotations

import re

from pipeline.models import RunWindow

SCHEMA_FILE = "_schema.json"
LEGACY_PART_FILE = "part-0.parquet"  # days published before day manifests
DAYS = "_days"
STAGING = "_staging"
LOCKS = "_locks"
VALIDATORS = "_validators"
REPORTS = "reports"
WARC_SUFFIX = ".warc.gz"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")


def safe_run_id(run_id: str) -> str:
    """Airflow run ids contain ':' and '+'; keep them readable but safe as file names."""
    return _UNSAFE.sub("_", run_id)


# -- the archive root ------------------------------------------------------------------------


def archive_dir(window: RunWindow, source: str) -> str:
    return f"{window.partition}/{source}"


def archive_file(window: RunWindow, source: str, run_id: str, attempt: int = 0) -> str:
    """A run's WARC file; a retry of the same run id gets ``<run>.<attempt>.warc.gz``."""
    stem = safe_run_id(run_id) if attempt == 0 else f"{safe_run_id(run_id)}.{attempt}"
    return f"{archive_dir(window, source)}/{stem}{WARC_SUFFIX}"


def partial_file(relative: str) -> str:
    """Where a file is written before it is complete: a dot-file beside its final name."""
    folder, name = relative.rsplit("/", 1)
    return f"{folder}/.{name}.partial"


def validators_file(source: str) -> str:
    return f"{VALIDATORS}/{source}.json"


# -- the output root -------------------------------------------------------------------------


def partition_dir(table: str, window: RunWindow) -> str:
    return f"{table}/{window.partition}"


def versioned_partition_file(table: str, window: RunWindow, version: str) -> str:
    """A day's file of a table as one commit wrote it; the day manifest says which is current."""
    return f"{partition_dir(table, window)}/part-{version}.parquet"


def is_partition_data(name: str) -> bool:
    """A data file of a partition (any version), as opposed to other files in its folder."""
    return name.startswith("part-") and name.endswith(".parquet")


def day_manifest_file(window: RunWindow) -> str:
    """The day's commit record: which file of each table is published."""
    return f"{DAYS}/{window.partition}.json"


def day_staging_dir(window: RunWindow) -> str:
    return f"{STAGING}/days/{window.partition}"


def day_lock_file(window: RunWindow) -> str:
    return f"{LOCKS}/{window.partition}.lock"


def schema_file(table: str) -> str:
    return f"{table}/{SCHEMA_FILE}"


def run_staging_parent(window: RunWindow) -> str:
    return f"{STAGING}/_runs/{window.partition}"


def run_staging_dir(window: RunWindow, run_id: str) -> str:
    """Where a run's stages hand files to each other."""
    return f"{run_staging_parent(window)}/{safe_run_id(run_id)}"


def staged_table_file(window: RunWindow, run_id: str, source: str, table: str) -> str:
    return f"{run_staging_dir(window, run_id)}/{source}/{table}.parquet"


def report_dir(window: RunWindow) -> str:
    return f"{REPORTS}/{window.partition}"


def report_file(window: RunWindow, name: str) -> str:
    return f"{report_dir(window)}/{name}"


def report_file_for_day(partition: str, name: str) -> str:
    return f"{REPORTS}/{partition}/{name}"

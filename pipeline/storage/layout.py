"""Where everything lives, relative to its root: the one place that spells a path.

Two roots, each a local path or a URI (see :mod:`pipeline.storage.root`):

``archive_root``
    ``dt=YYYY-MM-DD/<source>/<run>.warc.gz``  one WARC file per fetch run of a source and day
    ``_validators/<source>.json``             ETag/Last-Modified per URL, pointing into the archive

``output_root``
    ``<table>/dt=YYYY-MM-DD/part-0.parquet``  a published partition (articles, fetch_log, rejects,
                                               dedup_index), with ``_manifest.json`` beside it
    ``<table>/_schema.json``                  every column the table has ever had
    ``_staging/<table>/dt=.../<attempt>/``    a partition being written
    ``_staging/_runs/dt=.../<run>/<source>/`` what extract hands to publish
    ``_locks/<table>/dt=....lock``            writer locks (local disks)
    ``reports/dt=YYYY-MM-DD/``                summary.json, report.json, report.html
"""

from __future__ import annotations

import re

from pipeline.models import RunWindow

PART_FILE = "part-0.parquet"
MANIFEST_FILE = "_manifest.json"
SCHEMA_FILE = "_schema.json"
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


def partition_file(table: str, window: RunWindow) -> str:
    return f"{partition_dir(table, window)}/{PART_FILE}"


def partition_file_for_day(table: str, partition: str) -> str:
    """The same as :func:`partition_file` for a ``dt=YYYY-MM-DD`` label."""
    return f"{table}/{partition}/{PART_FILE}"


def manifest_file(table: str, window: RunWindow) -> str:
    return f"{partition_dir(table, window)}/{MANIFEST_FILE}"


def schema_file(table: str) -> str:
    return f"{table}/{SCHEMA_FILE}"


def partition_staging_dir(table: str, window: RunWindow) -> str:
    return f"{STAGING}/{table}/{window.partition}"


def lock_file(table: str, window: RunWindow) -> str:
    return f"{LOCKS}/{table}/{window.partition}.lock"


def run_staging_dir(window: RunWindow, run_id: str) -> str:
    """Where a run's stages hand files to each other."""
    return f"{STAGING}/_runs/{window.partition}/{safe_run_id(run_id)}"


def staged_table_file(window: RunWindow, run_id: str, source: str, table: str) -> str:
    return f"{run_staging_dir(window, run_id)}/{source}/{table}.parquet"


def report_file(window: RunWindow, name: str) -> str:
    return f"{REPORTS}/{window.partition}/{name}"


def report_file_for_day(partition: str, name: str) -> str:
    return f"{REPORTS}/{partition}/{name}"

"""The run summary as a person reads it: printed by ``newsingest run`` and ``make run``."""

from __future__ import annotations

from typing import Any


def format_summary(summary: dict[str, Any]) -> str:
    articles_path = summary["paths"]["articles"]
    lines = [
        f"news-ingest {summary['partition']}  (run {summary['run_id']})",
        f"  URLs discovered : {summary['discovered']}",
        f"  pages fetched   : {summary['fetched']} ({summary['not_modified']} not modified)",
        f"  articles written: {summary['written']}  "
        f"({summary['stories']} stories, {summary['duplicates']} duplicates in "
        f"{summary['multi_copy_stories']} multi-copy stories)",
        f"  skipped         : {_counts(summary['skipped'])}",
        f"  failed          : {_counts(summary['failed'])}",
        f"  rejected        : {_counts(summary['rejected'])}",
        f"  partition       : {articles_path}",
        f"  run report      : {summary['paths'].get('report', 'not written')}",
    ]
    for name, why in (summary.get("failed_sources") or {}).items():
        lines.append(f"  WARNING: source {name} failed: {why}")
    if summary.get("unaccounted"):
        lines.append(f"  WARNING: {summary['unaccounted']} discovered URLs are unaccounted for")
    return "\n".join(lines)


def duckdb_hint(output_root: str) -> str:
    query = (
        "SELECT source, count(*) AS articles, count(DISTINCT story_id) AS stories "
        f"FROM read_parquet('{output_root}/articles/*/*.parquet', hive_partitioning=true) "
        "GROUP BY ALL"
    )
    return (
        f'  query it        : .venv/bin/python -c "import duckdb; duckdb.sql(\\"{query}\\").show()"'
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason}={n}" for reason, n in counts.items()) or "none"

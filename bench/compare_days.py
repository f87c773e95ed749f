"""Compare the published tables of two output roots row by row (a refactoring's "same output").

    python bench/compare_days.py OLD_OUTPUT_ROOT NEW_OUTPUT_ROOT

Rows are sorted by day and key; run ids, fetch times, archive file names and elapsed times are
ignored, since two runs never share them. Prints one line per table and SAME or DIFFERENT (exit 1).
"""

from __future__ import annotations

import sys

import duckdb

IGNORED = {"run_id", "fetched_at", "archive_file", "warc_record_id", "elapsed_ms"}
KEYS = {"articles": "article_id", "fetch_log": "url, role", "rejects": "url, stage"}


def table_rows(con: duckdb.DuckDBPyConnection, root: str, table: str) -> tuple[list[str], list]:
    source = f"read_parquet('{root}/{table}/*/*.parquet', hive_partitioning=true)"
    columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    kept = ", ".join(c for c in columns if c not in IGNORED)
    rows = con.execute(f"SELECT {kept} FROM {source} ORDER BY dt, {KEYS[table]}").fetchall()
    return columns, rows


def main(old: str, new: str) -> int:
    con = duckdb.connect()
    same = True
    for table in KEYS:
        old_columns, old_rows = table_rows(con, old, table)
        new_columns, new_rows = table_rows(con, new, table)
        equal = old_columns == new_columns and old_rows == new_rows
        same &= equal
        print(f"{table}: {len(old_rows)} vs {len(new_rows)} rows, equal={equal}")
        if old_columns != new_columns:
            print(f"  columns differ: {sorted(set(old_columns) ^ set(new_columns))}")
        for before, after in zip(old_rows, new_rows, strict=False):
            if before != after:
                print(f"  first difference:\n    {before}\n    {after}")
                break
    print("SAME" if same else "DIFFERENT")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))

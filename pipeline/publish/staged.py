"""The day's staged article files, read back in batches by position (extract -> publish).

Publish never holds the day's articles: dedup reads their keys once, then their texts when it
needs them (:class:`~pipeline.dedup.day.DayTexts`), and the published table is written from the
staged rows, one row group at a time. A position is a row's place in the day: the staged files in
order, each file's rows in order. Reads go one row group at a time and skip the row groups that
hold no wanted row, so memory is a batch of rows, whatever the size of the day.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.dedup.day import KEY_COLUMNS, TEXT_BATCH, ArticleKey
from pipeline.schema import STAGED_ARTICLES_SCHEMA
from pipeline.storage.root import Root

#: Rows a read hands on at once: a few MB of text.
READ_BATCH_ROWS = 2_000
#: Rows of a staged articles file's row group, so that reading a few rows back reads little.
STAGED_ROW_GROUP_ROWS = 2_000


class StagedArticles:
    """The staged articles files of a day (in the day's order), addressed by position."""

    def __init__(self, root: Root, files: Sequence[str]) -> None:
        self.root = root
        self.files = list(files)
        self._group_starts: list[list[int]] = []  # per file: first row of each row group + end
        first = 0
        self._file_starts: list[int] = []
        for path in self.files:
            with root.open_input(path) as handle:
                metadata = pq.ParquetFile(handle).metadata
            sizes = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
            self._group_starts.append(np.concatenate([[0], np.cumsum(sizes)]).tolist())
            self._file_starts.append(first)
            first += int(metadata.num_rows)
        self.rows = first

    def article_keys(self) -> list[ArticleKey]:
        """Every row's dedup key, in position order."""
        keys: list[ArticleKey] = []
        for positions, table in self.read(range(self.rows), list(KEY_COLUMNS)):
            rows = table.to_pylist()
            keys += [
                ArticleKey(
                    article_id=row["article_id"],
                    url=row["url"],
                    # One string where both are the same (most pages), one per source name.
                    canonical_url=row["url"]
                    if row["canonical_url"] == row["url"]
                    else row["canonical_url"],
                    source=sys.intern(row["source"]),
                    published_at=row["published_at"],
                    is_truncated=row["is_truncated"],
                    word_count=row["word_count"],
                    position=position,
                )
                for position, row in zip(positions, rows, strict=True)
            ]
        return keys

    def texts(self, positions: Sequence[int]) -> Iterator[tuple[list[int], list[str]]]:
        for found, table in self.read(positions, ["text"], TEXT_BATCH):
            yield found, table["text"].to_pylist()

    def read(
        self, positions: Iterable[int], columns: list[str], batch: int = READ_BATCH_ROWS
    ) -> Iterator[tuple[list[int], pa.Table]]:
        """The rows at ``positions`` (ascending, distinct), about ``batch`` rows at a time.

        Columns a file lacks come as nulls; each batch has exactly the staged schema's types.
        """
        wanted = np.fromiter(positions, dtype=np.int64)
        if len(wanted) and np.any(np.diff(wanted) <= 0):
            raise ValueError("positions must ascend")
        schema = pa.schema([STAGED_ARTICLES_SCHEMA.field(name) for name in columns])
        cuts = np.searchsorted(wanted, [*self._file_starts, self.rows])
        pending: list[pa.Table] = []
        pending_positions: list[int] = []
        for number, path in enumerate(self.files):
            mine = wanted[cuts[number] : cuts[number + 1]] - self._file_starts[number]
            if not len(mine):
                continue
            pieces = self._read_file(path, self._group_starts[number], mine, schema, batch)
            for local, table in pieces:
                pending.append(table)
                pending_positions += (local + self._file_starts[number]).tolist()
                if len(pending_positions) >= batch:
                    yield pending_positions, pa.concat_tables(pending)
                    pending, pending_positions = [], []
        if pending:
            yield pending_positions, pa.concat_tables(pending)

    def in_order(self, order: Sequence[int], columns: list[str], chunk: int) -> Iterator[pa.Table]:
        """The rows at ``order`` (any order, distinct), ``chunk`` rows a table, in that order.

        A chunk whose positions ascend (the usual case: the staged files are sorted as the
        published table is) is read as is; another one is read, then put in order.
        """
        for start in range(0, len(order), chunk):
            part = np.asarray(order[start : start + chunk], dtype=np.int64)
            ascending = bool(np.all(np.diff(part) > 0))
            read = np.sort(part) if not ascending else part
            tables = [table for _, table in self.read(read.tolist(), columns)]
            table = (
                pa.concat_tables(tables)
                if tables
                else pa.schema([STAGED_ARTICLES_SCHEMA.field(c) for c in columns]).empty_table()
            )
            del tables
            if not ascending:
                table = table.take(pa.array(np.searchsorted(read, part), pa.int64()))
            yield table
            del table  # before the next chunk is read: one chunk in memory, not two

    def _read_file(
        self,
        path: str,
        group_starts: list[int],
        rows: np.ndarray,
        schema: pa.Schema,
        batch_rows: int,
    ) -> Iterator[tuple[np.ndarray, pa.Table]]:
        """(rows, table) pieces of one file holding ``rows`` (local, ascending), in order."""
        groups = np.searchsorted(group_starts, rows, side="right") - 1
        with self.root.open_input(path) as handle:
            parquet = pq.ParquetFile(handle)
            present = set(parquet.schema_arrow.names)
            names = [name for name in schema.names if name in present]
            for group in np.unique(groups).tolist():
                first = group_starts[group]
                in_group = rows[groups == group]
                reader = parquet.iter_batches(
                    batch_size=batch_rows, row_groups=[group], columns=names
                )
                for batch in reader:
                    end = first + batch.num_rows
                    inside = in_group[(in_group >= first) & (in_group < end)]
                    if len(inside):
                        piece = pa.Table.from_batches([batch])
                        if len(inside) < batch.num_rows:
                            piece = piece.take(pa.array(inside - first, pa.int64()))
                        yield inside, _conform(piece, schema)
                    first = end
                    if first > in_group[-1]:
                        break


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``: missing columns as nulls, other types cast."""
    if table.schema.equals(schema, check_metadata=False):
        return table.replace_schema_metadata(schema.metadata)
    columns = [
        table[field.name].cast(field.type)
        if field.name in table.column_names
        else pa.nulls(table.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def normalized_provenance(values: pa.ChunkedArray) -> pa.Array:
    """Provenance JSON as the published table writes it (keys sorted), whoever staged it."""
    return pa.array(
        [json.dumps(json.loads(value), sort_keys=True) for value in values.to_pylist()],
        pa.string(),
    )

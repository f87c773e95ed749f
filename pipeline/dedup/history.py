"""Cross-run dedup: today's articles against the dedup index of earlier days.

The index is one committed Parquet file per day (table ``dedup_index``, through the storage
layer), one row per published article: its story, whether it is the story's canonical row, its
source, content hash, shingle count, MinHash signature, LSH band keys, facts and recurring line
keys. A run for day D reads only the files of the ``history_days`` days before D, never D itself
or a later day, so a backfill sees what the original run saw and a rerun of D gives the same story
ids.

The join against history is streamed: each file is read one batch of rows at a time (a row group
of the file at most), so memory holds today's keys and one batch of history, whatever the number
of history days. Band keys are tested against a bitmap of today's keys, then confirmed by binary
search; content hashes and article ids by set membership. Only the ids of the rows hit are kept;
the rows themselves (signature, facts) are read in a second pass over the row groups that hold
them. Python verifies the few candidate pairs found.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.dedup.day import (
    ArticleKey,
    ArticleList,
    DayFingerprints,
    DayTexts,
    ShingleSets,
    fingerprint_day,
)
from pipeline.dedup.fingerprint import (
    BoilerplateHistory,
    U64Array,
    signature_scheme,
)
from pipeline.dedup.memory import release_freed_memory
from pipeline.dedup.stories import (
    DedupResult,
    PriorMatches,
    PriorRow,
    assign_day_stories,
    collapse_canonical_urls,
)
from pipeline.models import Article, Reject, RunWindow, StoryAssignment
from pipeline.settings import DedupSettings
from pipeline.storage.partitions import (
    ROW_GROUP_SIZE,
    CorruptState,
    DatasetStore,
    PublishedPartition,
    write_partition,
)
from pipeline.storage.root import Root, as_root

log = logging.getLogger(__name__)

INDEX_TABLE = "dedup_index"
#: How long a run waits for an earlier day's writer before refusing to read its history.
HISTORY_WAIT_SECONDS = 15 * 60

INDEX_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("story_id", pa.string(), nullable=False),
        pa.field("canonical_id", pa.string(), nullable=False),
        pa.field("is_canonical", pa.bool_(), nullable=False),
        pa.field("published_at", pa.timestamp("us", tz="UTC")),
        pa.field("source", pa.string()),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("shingle_count", pa.int32(), nullable=False),
        pa.field("scheme", pa.string(), nullable=False),
        pa.field("signature", pa.binary(), nullable=False),  # num_perm little-endian uint32
        pa.field("band_keys", pa.list_(pa.uint64())),  # null for a repeat of a content hash
        pa.field("facts", pa.list_(pa.uint64())),  # see fingerprint.fact_agreement
        pa.field("line_keys", pa.list_(pa.uint64())),  # lines found in 2+ articles of the source
    ]
)
# Low bits of a band key index a bitmap of today's keys: 2^27 bits (16 MB) leave under 1% of the
# history keys for the exact test when today has 960k keys (20k articles x 48 bands).
_BITMAP_BITS = 27
_BITMAP_MASK = np.uint64((1 << _BITMAP_BITS) - 1)


#: History rows read at once (a file's row groups are at most ROW_GROUP_SIZE rows anyway).
HISTORY_BATCH_ROWS = 20_000


def deduplicate_against_history(
    articles: list[Article],
    settings: DedupSettings,
    output_root: str | Path | Root,
    window: RunWindow,
    *,
    run_id: str = "dedup",
) -> DedupResult:
    """Deduplicate the day's articles together and against earlier days, then commit the index.

    Rerunning day D replaces D's index only; days after D keep the story ids they were given.
    (``publish`` uses :func:`dedup_rows` instead, to commit the index with the day's tables.)
    """
    result, index = dedup_day(articles, settings, output_root, window)
    write_index(index, output_root, window, run_id)
    return result


def dedup_day(
    articles: list[Article],
    settings: DedupSettings,
    output_root: str | Path | Root,
    window: RunWindow,
) -> tuple[DedupResult, pa.Table]:
    """:func:`dedup_rows` for articles in memory: the result, and the day's index as a table."""
    day = ArticleList(articles)
    done = dedup_rows(day.article_keys(), day, settings, output_root, window)
    unique = [articles[key.position] for key in done.unique]
    index = pa.Table.from_batches(list(done.index_batches()), schema=INDEX_SCHEMA)
    return DedupResult(articles=unique, assignments=done.assignments, rejects=done.rejects), index


@dataclass(frozen=True)
class DayDedup:
    """The day's dedup: kept rows (keys), their assignments, dedup's rejects, fingerprints."""

    unique: list[ArticleKey]
    assignments: list[StoryAssignment]
    rejects: list[Reject]
    fingerprints: DayFingerprints
    settings: DedupSettings

    @property
    def stories(self) -> int:
        return len({assignment.story_id for assignment in self.assignments})

    @property
    def duplicates(self) -> int:
        return sum(1 for assignment in self.assignments if assignment.is_duplicate)

    def index_batches(self) -> Iterator[pa.RecordBatch]:
        """The day's index rows, ROW_GROUP_SIZE at a time, in the order of ``unique``."""
        yield from index_batches(self.unique, self.assignments, self.fingerprints, self.settings)


def dedup_rows(
    keys: list[ArticleKey],
    texts: DayTexts,
    settings: DedupSettings,
    output_root: str | Path | Root,
    window: RunWindow,
) -> DayDedup:
    """The day's stories against earlier days' index; texts are read from ``texts`` on demand.

    ``keys`` are the day's articles in input order (each with its position in ``texts``).
    """
    unique, rejects = collapse_canonical_urls(keys)
    root = as_root(output_root)
    files = history_files(root, window, settings.history_days)
    boilerplate = boilerplate_history(root, files, {key.source for key in unique})
    fp = fingerprint_day(unique, texts, settings, boilerplate)
    del boilerplate
    release_freed_memory()  # the tokens' scratch, before the next phase allocates its own
    prior = find_prior_matches([key.article_id for key in unique], fp, settings, root, files)
    shingles = ShingleSets(unique, fp, texts, settings)
    assignments = assign_day_stories(unique, fp, settings, prior, shingles)
    rows_read, edges, earlier_rows = shingles.rows_read, len(prior.edges), len(prior.rows)
    del shingles, prior
    release_freed_memory()
    log.info(
        "dedup %s: %d articles against %d index days, %d candidate edges to %d earlier rows; "
        "%d texts read back to verify",
        window.partition,
        len(unique),
        len(files),
        edges,
        earlier_rows,
        rows_read,
    )
    return DayDedup(unique, assignments, rejects, fp, settings)


def history_files(
    output_root: str | Path | Root,
    window: RunWindow,
    history_days: int,
    *,
    wait_seconds: float = HISTORY_WAIT_SECONDS,
) -> list[str]:
    """Index files (relative to the output root) of the ``history_days`` days before the day."""
    store = DatasetStore(as_root(output_root))
    files = []
    for back in range(history_days, 0, -1):
        day = RunWindow.for_day(window.day - timedelta(days=back))
        # Never read a day whose writer is midway: wait for its commit (local disks).
        store.wait_for_day(day, wait_seconds)
        committed = store.committed_file(INDEX_TABLE, day)
        if committed is not None:
            files.append(committed)
    return files


def _batches(
    root: Root,
    relative: str,
    columns: list[str],
    row_groups: list[int] | None = None,
) -> Iterator[tuple[int, pa.Table]]:
    """(first row, rows) batches of one index file, with the columns it has (files of older
    schemes lack some: those come as nulls). ``row_groups`` limits the read to those groups.

    A damaged file is named with the way to rewrite it, never skipped.
    """
    try:
        with root.open_input(relative) as handle:
            parquet = pq.ParquetFile(handle)
            present = set(parquet.schema_arrow.names)
            wanted = [c for c in columns if c in present]
            metadata = parquet.metadata
            sizes = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
            starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            groups = list(range(metadata.num_row_groups)) if row_groups is None else row_groups
            for group in groups:
                first = int(starts[group])
                reader = parquet.iter_batches(
                    batch_size=HISTORY_BATCH_ROWS, row_groups=[group], columns=wanted
                )
                for batch in reader:
                    table = pa.Table.from_batches([batch])
                    for name in columns:
                        if name not in present:
                            table = table.append_column(
                                name, pa.nulls(table.num_rows, INDEX_SCHEMA.field(name).type)
                            )
                    yield first, table
                    first += table.num_rows
    except (pa.ArrowInvalid, OSError) as damage:
        day = relative.split("/")[1] if "/" in relative else relative
        raise CorruptState(
            f"the dedup index file {root.display(relative)} is unreadable ({damage}); "
            f"reprocess {day} to rewrite it (newsingest run --date "
            f"{day.removeprefix('dt=')} --from-archive)"
        ) from damage


def _row_groups_of(root: Root, relative: str, rows: Sequence[int]) -> list[int]:
    """The row groups of a file holding ``rows`` (sorted)."""
    with root.open_input(relative) as handle:
        metadata = pq.ParquetFile(handle).metadata
        ends = np.cumsum([metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)])
    return sorted(set(np.searchsorted(ends, np.asarray(rows), side="right").tolist()))


def boilerplate_history(root: Root, files: list[str], sources: set[str]) -> BoilerplateHistory:
    """Rows per source and rows per recurring line key in the earlier days' index files.

    Counted batch by batch into one running (key, rows) table: memory holds the distinct keys,
    not every day's.
    """
    source_rows: Counter[str] = Counter()
    keys = np.zeros(0, dtype=np.uint64)
    rows = np.zeros(0, dtype=np.int64)
    wanted = pa.array(sorted(sources), pa.string())
    for path in files:
        for _, table in _batches(root, path, ["source", "line_keys"]):
            mine = table.filter(pc.is_in(table["source"], value_set=wanted))
            for entry in pc.value_counts(mine["source"]).to_pylist():
                source_rows[str(entry["values"])] += int(entry["counts"])
            values = pc.list_flatten(mine["line_keys"]).to_numpy(zero_copy_only=False)
            if len(values):
                keys, rows = _add_counts(keys, rows, values.astype(np.uint64))
    if not files:
        return BoilerplateHistory.empty()
    return BoilerplateHistory(keys, rows, dict(source_rows))


def _add_counts(
    keys: U64Array, rows: npt.NDArray[np.int64], values: U64Array
) -> tuple[U64Array, npt.NDArray[np.int64]]:
    """(sorted distinct keys, count of each) with every one of ``values`` counted once more."""
    new_keys, new_rows = np.unique(values, return_counts=True)
    merged = np.concatenate([keys, new_keys])
    counts = np.concatenate([rows, new_rows.astype(np.int64)])
    distinct, slot = np.unique(merged, return_inverse=True)
    return distinct, np.bincount(slot, weights=counts, minlength=len(distinct)).astype(np.int64)


def find_prior_matches(
    article_ids: Sequence[str],
    fp: DayFingerprints,
    settings: DedupSettings,
    root: Root,
    files: list[str],
) -> PriorMatches:
    """Earlier rows today's articles may join (``article_ids`` row-aligned with ``fp``)."""
    if not files or not article_ids:
        return PriorMatches()
    scheme = signature_scheme(settings)
    counts = fp.shingle_counts
    seen_hashes: set[str] = set()
    key_rows: list[int] = []
    for index, digest in enumerate(fp.content_hashes):
        if digest not in seen_hashes and counts[index]:
            seen_hashes.add(digest)
            key_rows.append(index)
    del seen_hashes
    today = _TodayKeys.of(fp.band_keys, np.asarray(key_rows, dtype=np.int64))
    id_of = pa.array(list(article_ids), pa.string())
    today_by_hash: dict[str, list[int]] = {}
    for index, digest in enumerate(fp.content_hashes):
        if counts[index]:  # wordless texts all hash alike: not a copy's evidence
            today_by_hash.setdefault(digest, []).append(index)
    hash_of = pa.array(sorted(today_by_hash), pa.string())
    today_by_id = {article_id: index for index, article_id in enumerate(article_ids)}

    # Pass 1, batch by batch: the light columns only; which rows are hit, by which of today's
    # rows. Only the hit rows' ids are kept.
    edges: dict[tuple[int, str], bool] = {}
    hit_rows: list[dict[int, tuple[str, str]]] = []  # per file: row -> (article_id, canonical_id)
    for path in files:
        hits: dict[int, tuple[str, str]] = {}
        columns = ["article_id", "canonical_id", "content_hash", "scheme", "band_keys"]
        for first, table in _batches(root, path, columns):
            found: list[tuple[int, int, bool]] = []  # (today's index, batch row, exact)
            ids = table["article_id"].combine_chunks()
            # Exact edges: the same content hash or the same article id.
            hashes = table["content_hash"]
            hit = pc.is_in(hashes, value_set=hash_of).to_numpy(False)
            for row in np.flatnonzero(hit).tolist():
                found += [(index, row, True) for index in today_by_hash[hashes[row].as_py()]]
            for row in np.flatnonzero(pc.is_in(ids, value_set=id_of).to_numpy(False)).tolist():
                found.append((today_by_id[ids[row].as_py()], row, True))
            # Band edges, for rows of today's scheme only.
            same_scheme = pc.fill_null(pc.equal(table["scheme"], scheme), False).combine_chunks()
            keys_column = table["band_keys"].combine_chunks().filter(same_scheme)
            kept_rows = np.flatnonzero(same_scheme.to_numpy(False))
            values = keys_column.flatten().to_numpy(zero_copy_only=False)
            if len(values):
                lengths = pc.fill_null(pc.list_value_length(keys_column), 0).to_numpy(False)
                owner_row = np.repeat(kept_rows, lengths)
                for value_index, today_row in today.matches(values):
                    found.append((today_row, int(owner_row[value_index]), False))
            rows = sorted({row for _, row, _ in found})
            if not rows:
                continue
            taken = table.select(["article_id", "canonical_id"]).take(pa.array(rows, pa.int64()))
            names = taken["article_id"].to_pylist()
            canonicals = taken["canonical_id"].to_pylist()
            by_row = dict(zip(rows, names, strict=True))
            for row, name, canonical in zip(rows, names, canonicals, strict=True):
                hits[first + row] = (name, canonical)
            for index, row, exact in found:
                key = (index, by_row[row])
                edges[key] = edges.get(key, False) or exact
        hit_rows.append(hits)
    del today
    if not edges:
        return PriorMatches()
    prior_rows = _prior_rows(root, files, hit_rows, scheme)
    return PriorMatches(
        rows=prior_rows,
        edges=sorted(
            (index, article_id, exact)
            for (index, article_id), exact in edges.items()
            if article_id in prior_rows
        ),
    )


class _TodayKeys:
    """Today's band keys, sorted and distinct, each with the run of today's rows holding it."""

    def __init__(
        self,
        distinct: U64Array,
        first_of_key: npt.NDArray[np.int64],
        owners: npt.NDArray[np.int32],
    ) -> None:
        self.distinct = distinct
        self.first_of_key = first_of_key  # len(distinct) + 1 bounds into ``owners``
        self.owners = owners
        self.bitmap = np.zeros(1 << (_BITMAP_BITS - 3), dtype=np.uint8)
        bits = (distinct & _BITMAP_MASK).astype(np.int64)
        np.bitwise_or.at(self.bitmap, bits >> 3, (1 << (bits & 7)).astype(np.uint8))

    @classmethod
    def of(cls, band_keys: U64Array, rows: npt.NDArray[np.int64]) -> _TodayKeys:
        width = band_keys.shape[1]
        flat = band_keys[rows].ravel()
        order = np.argsort(flat, kind="stable")
        keys = flat[order]
        del flat
        owners = rows[order // width].astype(np.int32)
        del order
        new_key = np.ones(len(keys), dtype=bool)
        new_key[1:] = keys[1:] != keys[:-1]
        starts = np.flatnonzero(new_key)
        distinct = keys[starts]
        del keys, new_key
        first_of_key = np.concatenate([starts, [len(owners)]]).astype(np.int64)
        return cls(distinct, first_of_key, owners)

    def matches(self, values: U64Array) -> Iterator[tuple[int, int]]:
        """(index into ``values``, today's row) for each value that is one of today's keys."""
        if not len(self.distinct):
            return
        low = (values & _BITMAP_MASK).astype(np.int64)
        maybe = np.flatnonzero((self.bitmap[low >> 3] >> (low & 7).astype(np.uint8)) & 1)
        del low
        candidates = values[maybe]
        position = np.minimum(np.searchsorted(self.distinct, candidates), len(self.distinct) - 1)
        hit = self.distinct[position] == candidates
        for value_index, key_number in zip(
            maybe[hit].tolist(), position[hit].tolist(), strict=True
        ):
            begin, end = int(self.first_of_key[key_number]), int(self.first_of_key[key_number + 1])
            for at in range(begin, end):
                yield value_index, int(self.owners[at])


def _prior_rows(
    root: Root,
    files: list[str],
    hit_rows: list[dict[int, tuple[str, str]]],
    scheme: str,
) -> dict[str, PriorRow]:
    """The index rows hit, and the canonical rows of their stories, read from their files.

    Only the row groups holding a wanted row are read past the article ids. An article indexed on
    two days (a repeat of the same URL) counts as its first day. The canonical rows come along so
    that similarity to the canonical can be reported.
    """
    wanted = [set(hits) for hits in hit_rows]
    canonical = {canonical_id for hits in hit_rows for _, canonical_id in hits.values()}
    if canonical:
        value_set = pa.array(sorted(canonical), pa.string())
        for number, path in enumerate(files):
            for first, table in _batches(root, path, ["article_id"]):
                found = pc.is_in(table["article_id"], value_set=value_set).to_numpy(False)
                wanted[number] |= {first + row for row in np.flatnonzero(found).tolist()}
    columns = [
        "article_id",
        "story_id",
        "canonical_id",
        "published_at",
        "shingle_count",
        "scheme",
        "signature",
        "facts",
    ]
    best: dict[str, dict[str, Any]] = {}

    def rank(record: dict[str, Any]) -> tuple[bool, datetime, str]:
        published = record["published_at"]
        return (
            published is None,
            published or datetime.min.replace(tzinfo=UTC),
            record["story_id"],
        )

    for path, rows in zip(files, wanted, strict=True):
        if not rows:
            continue
        ordered = sorted(rows)
        groups = _row_groups_of(root, path, ordered)
        chosen = np.asarray(ordered, dtype=np.int64)
        for first, table in _batches(root, path, columns, groups):
            inside = chosen[(chosen >= first) & (chosen < first + table.num_rows)] - first
            if not len(inside):
                continue
            for record in table.take(pa.array(inside, pa.int64())).to_pylist():
                current = best.get(record["article_id"])
                if current is None or rank(record) < rank(current):
                    best[record["article_id"]] = record
    result: dict[str, PriorRow] = {}
    for article_id, record in best.items():
        same_scheme = record["scheme"] == scheme
        facts = record["facts"]
        result[article_id] = PriorRow(
            article_id=article_id,
            story_id=str(record["story_id"]),
            canonical_id=str(record["canonical_id"]),
            published_at=record["published_at"],
            shingle_count=int(record["shingle_count"]),
            signature=np.frombuffer(record["signature"], dtype="<u4").astype(np.uint32)
            if same_scheme
            else None,
            facts=np.asarray(facts, dtype=np.uint64) if same_scheme and facts is not None else None,
        )
    return result


def index_batches(
    unique: Sequence[ArticleKey],
    assignments: list[StoryAssignment],
    fp: DayFingerprints,
    settings: DedupSettings,
) -> Iterator[pa.RecordBatch]:
    """The day's index rows (``unique`` order), ROW_GROUP_SIZE rows a batch."""
    scheme = signature_scheme(settings)
    seen_hashes: set[str] = set()
    has_keys = np.zeros(len(unique), dtype=bool)
    for index, digest in enumerate(fp.content_hashes):
        # Repeats of a content hash match through the hash itself; their band keys would only
        # multiply the rows of the history join.
        if digest not in seen_hashes and fp.shingle_counts[index]:
            seen_hashes.add(digest)
            has_keys[index] = True
    del seen_hashes
    for start in range(0, len(unique), ROW_GROUP_SIZE):
        end = min(start + ROW_GROUP_SIZE, len(unique))
        yield _index_batch(unique, assignments, fp, scheme, has_keys, start, end)


def _index_batch(
    unique: Sequence[ArticleKey],
    assignments: list[StoryAssignment],
    fp: DayFingerprints,
    scheme: str,
    has_keys: npt.NDArray[np.bool_],
    start: int,
    end: int,
) -> pa.RecordBatch:
    rows = end - start
    keyed = has_keys[start:end]
    width = fp.band_keys.shape[1]
    key_offsets = np.concatenate([[0], np.cumsum(np.where(keyed, width, 0))]).astype(np.int32)
    band_lists = pa.ListArray.from_arrays(
        pa.array(key_offsets),
        pa.array(fp.band_keys[start:end][keyed].ravel(), pa.uint64()),
        mask=pa.array(~keyed),
    )
    signatures = np.ascontiguousarray(fp.signatures[start:end].astype("<u4"))
    signature_bytes = signatures.shape[1] * 4
    signature_offsets = np.arange(rows + 1, dtype=np.int32) * signature_bytes
    part = assignments[start:end]
    keys = unique[start:end]
    return pa.RecordBatch.from_pydict(
        {
            "article_id": [key.article_id for key in keys],
            "story_id": [a.story_id for a in part],
            "canonical_id": [a.duplicate_of or a.article_id for a in part],
            "is_canonical": [not a.is_duplicate for a in part],
            "published_at": [key.published_at for key in keys],
            "source": [key.source for key in keys],
            "content_hash": fp.content_hashes[start:end],
            "shingle_count": fp.shingle_counts[start:end].tolist(),
            "scheme": [scheme] * rows,
            "signature": pa.Array.from_buffers(
                pa.binary(),
                rows,
                [None, pa.py_buffer(signature_offsets), pa.py_buffer(signatures)],
            ),
            "band_keys": band_lists,
            "facts": _list_column(fp.facts[start:end], rows),
            "line_keys": _list_column(fp.line_keys[start:end], rows),
        },
        schema=INDEX_SCHEMA,
    )


def _list_column(arrays: list[U64Array], rows: int) -> pa.Array:
    """A list<uint64> column from one array per row (no Python int per value)."""
    lengths = [len(values) for values in arrays] or [0] * rows
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    values = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.uint64)
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(values.astype(np.uint64, copy=False))
    )


def write_index(
    table: pa.Table, output_root: str | Path | Root, window: RunWindow, run_id: str
) -> PublishedPartition:
    """Atomically replace the day's index file (staged dot-file, validated, os.replace)."""
    return write_partition(table, output_root, INDEX_TABLE, window, run_id)

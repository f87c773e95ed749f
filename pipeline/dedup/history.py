"""Cross-run dedup: today's articles against the dedup index of earlier days.

The index is one committed Parquet file per day (table ``dedup_index``, through the storage
layer), one row per published article: its story, whether it is the story's canonical row, its
source, content hash, shingle count, MinHash signature, LSH band keys, facts and recurring line
keys. A run for day D reads only the files of the ``history_days`` days before D, never D itself
or a later day, so a backfill sees what the original run saw and a rerun of D gives the same story
ids.

The join against history is streamed one day file at a time with numpy (bounded memory: one
day's columns at once): band keys are tested against a bitmap of today's keys, then confirmed by
binary search; content hashes and article ids by set membership. Python verifies the few
candidate pairs found.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.dedup.fingerprint import (
    BoilerplateHistory,
    Fingerprints,
    U64Array,
    signature_scheme,
)
from pipeline.dedup.stories import (
    DedupResult,
    PriorMatches,
    PriorRow,
    assign_stories,
    collapse_canonical_urls,
    fingerprint_articles,
)
from pipeline.models import Article, RunWindow, StoryAssignment
from pipeline.settings import DedupSettings
from pipeline.storage.partitions import (
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
    (``publish`` uses :func:`dedup_day` instead, to commit the index with the day's tables.)
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
    """The day's stories against earlier days' index, and the day's own index rows to commit."""
    unique, rejects = collapse_canonical_urls(articles)
    root = as_root(output_root)
    files = history_files(root, window, settings.history_days)
    boilerplate = boilerplate_history(root, files, {a.source for a in unique})
    fp, line_keys = fingerprint_articles(unique, settings, boilerplate)
    prior = find_prior_matches(unique, fp, settings, root, files)
    assignments = assign_stories(unique, fp, settings, prior)
    log.info(
        "dedup %s: %d articles against %d index days, %d candidate edges to %d earlier rows",
        window.partition,
        len(unique),
        len(files),
        len(prior.edges),
        len(prior.rows),
    )
    index = index_table(unique, assignments, fp, settings, line_keys)
    return DedupResult(articles=unique, assignments=assignments, rejects=rejects), index


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


def _read(root: Root, relative: str, columns: list[str]) -> pa.Table:
    """The columns of one index file that it has (files of older schemes lack some).

    A damaged file is named with the way to rewrite it, never skipped.
    """
    try:
        present = set(pq.read_schema(root.path(relative), filesystem=root.fs).names)
        table = pq.read_table(
            root.path(relative),
            columns=[c for c in columns if c in present],
            filesystem=root.fs,
        )
    except (pa.ArrowInvalid, OSError) as damage:
        day = relative.split("/")[1] if "/" in relative else relative
        raise CorruptState(
            f"the dedup index file {root.display(relative)} is unreadable ({damage}); "
            f"reprocess {day} to rewrite it (newsingest run --date "
            f"{day.removeprefix('dt=')} --from-archive)"
        ) from damage
    for name in columns:
        if name not in present:
            table = table.append_column(
                name, pa.nulls(table.num_rows, INDEX_SCHEMA.field(name).type)
            )
    return table


def boilerplate_history(root: Root, files: list[str], sources: set[str]) -> BoilerplateHistory:
    """Rows per source and rows per recurring line key in the earlier days' index files."""
    source_rows: Counter[str] = Counter()
    key_parts: list[U64Array] = []
    wanted = pa.array(sorted(sources), pa.string())
    for path in files:
        table = _read(root, path, ["source", "line_keys"])
        mine = table.filter(pc.is_in(table["source"], value_set=wanted))
        for entry in pc.value_counts(mine["source"]).to_pylist():
            source_rows[str(entry["values"])] += int(entry["counts"])
        values = pc.list_flatten(mine["line_keys"]).to_numpy(zero_copy_only=False)
        key_parts.append(values.astype(np.uint64))
    if not key_parts:
        return BoilerplateHistory.empty()
    keys, rows = np.unique(np.concatenate(key_parts), return_counts=True)
    return BoilerplateHistory(keys, rows.astype(np.int64), dict(source_rows))


def find_prior_matches(
    unique: list[Article],
    fp: Fingerprints,
    settings: DedupSettings,
    root: Root,
    files: list[str],
) -> PriorMatches:
    if not files or not unique:
        return PriorMatches()
    scheme = signature_scheme(settings)
    seen_hashes: set[str] = set()
    key_rows: list[int] = []
    for index, digest in enumerate(fp.content_hashes):
        if digest not in seen_hashes and len(fp.shingle_sets[index]):
            seen_hashes.add(digest)
            key_rows.append(index)
    selected = np.asarray(key_rows, dtype=np.int64)
    today_keys = fp.band_keys[selected].ravel()
    today_owner = np.repeat(selected, fp.band_keys.shape[1])
    order = np.argsort(today_keys, kind="stable")
    today_keys, today_owner = today_keys[order], today_owner[order]
    # Distinct keys, each with the run of today's rows holding it.
    new_key = np.ones(len(today_keys), dtype=bool)
    new_key[1:] = today_keys[1:] != today_keys[:-1]
    first_of_key = np.flatnonzero(new_key)
    distinct_keys = today_keys[first_of_key]
    run_ends = np.concatenate([first_of_key[1:], [len(today_keys)]])
    bitmap = np.zeros(1 << (_BITMAP_BITS - 3), dtype=np.uint8)
    mask = np.uint64((1 << _BITMAP_BITS) - 1)
    bits = (distinct_keys & mask).astype(np.int64)
    np.bitwise_or.at(bitmap, bits >> 3, (1 << (bits & 7)).astype(np.uint8))
    id_of = pa.array([a.article_id for a in unique], pa.string())
    today_by_hash: dict[str, list[int]] = {}
    for index, digest in enumerate(fp.content_hashes):
        if len(fp.shingle_sets[index]):  # wordless texts all hash alike: not a copy's evidence
            today_by_hash.setdefault(digest, []).append(index)
    hash_of = pa.array(sorted(today_by_hash), pa.string())
    today_by_id = {a.article_id: index for index, a in enumerate(unique)}

    # Pass 1, per file: the light columns only; which rows are hit, by which of today's rows.
    edges: dict[tuple[int, str], bool] = {}
    hit_rows: list[set[int]] = []
    article_ids: list[pa.Array] = []
    canonical_ids: list[pa.Array] = []
    for path in files:
        table = _read(
            root, path, ["article_id", "canonical_id", "content_hash", "scheme", "band_keys"]
        )
        ids = table["article_id"].combine_chunks()
        article_ids.append(ids)
        canonical_ids.append(table["canonical_id"].combine_chunks())
        found: list[tuple[int, int, bool]] = []  # (today's index, history row, exact)
        # Exact edges: the same content hash or the same article id.
        hashes = table["content_hash"]
        for row in np.flatnonzero(pc.is_in(hashes, value_set=hash_of).to_numpy(False)).tolist():
            found += [(index, row, True) for index in today_by_hash[hashes[row].as_py()]]
        for row in np.flatnonzero(pc.is_in(ids, value_set=id_of).to_numpy(False)).tolist():
            found.append((today_by_id[ids[row].as_py()], row, True))
        # Band edges, for rows of today's scheme only.
        same_scheme = pc.fill_null(pc.equal(table["scheme"], scheme), False).combine_chunks()
        keys_column = table["band_keys"].combine_chunks().filter(same_scheme)
        kept_rows = np.flatnonzero(same_scheme.to_numpy(False))
        values = keys_column.flatten().to_numpy(zero_copy_only=False)
        if len(values) and len(today_keys):
            lengths = pc.fill_null(pc.list_value_length(keys_column), 0).to_numpy(False)
            owner_row = np.repeat(kept_rows, lengths)
            low = (values & mask).astype(np.int64)
            maybe = np.flatnonzero((bitmap[low >> 3] >> (low & 7).astype(np.uint8)) & 1)
            candidates = values[maybe]
            position = np.minimum(
                np.searchsorted(distinct_keys, candidates), len(distinct_keys) - 1
            )
            hit = distinct_keys[position] == candidates
            for value_index, key_number in zip(
                maybe[hit].tolist(), position[hit].tolist(), strict=True
            ):
                begin, end = int(first_of_key[key_number]), int(run_ends[key_number])
                row = int(owner_row[value_index])
                found += [(int(today_owner[at]), row, False) for at in range(begin, end)]
        rows = sorted({row for _, row, _ in found})
        hit_rows.append(set(rows))
        names = dict(zip(rows, ids.take(pa.array(rows, pa.int64())).to_pylist(), strict=True))
        for index, row, exact in found:
            key = (index, names[row])
            edges[key] = edges.get(key, False) or exact
    if not edges:
        return PriorMatches()
    prior_rows = _prior_rows(root, files, hit_rows, article_ids, canonical_ids, scheme)
    return PriorMatches(
        rows=prior_rows,
        edges=sorted(
            (index, article_id, exact)
            for (index, article_id), exact in edges.items()
            if article_id in prior_rows
        ),
    )


def _prior_rows(
    root: Root,
    files: list[str],
    hit_rows: list[set[int]],
    article_ids: list[pa.Array],
    canonical_ids: list[pa.Array],
    scheme: str,
) -> dict[str, PriorRow]:
    """The index rows hit, and the canonical rows of their stories, read from their files.

    Only files holding a wanted row are read past their light columns. An article indexed on two
    days (a repeat of the same URL) counts as its first day. The canonical rows come along so that
    similarity to the canonical can be reported.
    """
    wanted = [set(rows) for rows in hit_rows]
    canonical: set[str] = set()
    for rows, canonicals in zip(hit_rows, canonical_ids, strict=True):
        if rows:
            canonical |= set(canonicals.take(pa.array(sorted(rows), pa.int64())).to_pylist())
    if canonical:
        value_set = pa.array(sorted(canonical), pa.string())
        for number, ids in enumerate(article_ids):
            wanted[number] |= set(
                np.flatnonzero(pc.is_in(ids, value_set=value_set).to_numpy(False)).tolist()
            )
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
    found: list[dict[str, Any]] = []
    for path, rows in zip(files, wanted, strict=True):
        if rows:
            found += _read(root, path, columns).take(pa.array(sorted(rows), pa.int64())).to_pylist()
    best: dict[str, dict[str, Any]] = {}

    def rank(record: dict[str, Any]) -> tuple[bool, datetime, str]:
        published = record["published_at"]
        return (
            published is None,
            published or datetime.min.replace(tzinfo=UTC),
            record["story_id"],
        )

    for record in found:
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


def index_table(
    unique: list[Article],
    assignments: list[StoryAssignment],
    fp: Fingerprints,
    settings: DedupSettings,
    line_keys: list[U64Array] | None = None,
) -> pa.Table:
    scheme = signature_scheme(settings)
    seen_hashes: set[str] = set()
    has_keys = np.zeros(len(unique), dtype=bool)
    for index, digest in enumerate(fp.content_hashes):
        # Repeats of a content hash match through the hash itself; their band keys would only
        # multiply the rows of the history join.
        if digest not in seen_hashes and len(fp.shingle_sets[index]):
            seen_hashes.add(digest)
            has_keys[index] = True
    width = fp.band_keys.shape[1]
    key_offsets = np.concatenate([[0], np.cumsum(np.where(has_keys, width, 0))]).astype(np.int32)
    band_lists = pa.ListArray.from_arrays(
        pa.array(key_offsets),
        pa.array(fp.band_keys[has_keys].ravel(), pa.uint64()),
        mask=pa.array(~has_keys),
    )
    published: list[datetime | None] = [a.published_at for a in unique]
    signatures = np.ascontiguousarray(fp.signatures.astype("<u4"))
    signature_bytes = signatures.shape[1] * 4
    signature_offsets = np.arange(len(unique) + 1, dtype=np.int32) * signature_bytes
    return pa.table(
        {
            "article_id": [a.article_id for a in unique],
            "story_id": [a.story_id for a in assignments],
            "canonical_id": [a.duplicate_of or a.article_id for a in assignments],
            "is_canonical": [not a.is_duplicate for a in assignments],
            "published_at": published,
            "source": [a.source for a in unique],
            "content_hash": fp.content_hashes,
            "shingle_count": fp.shingle_counts,
            "scheme": [scheme] * len(unique),
            "signature": pa.Array.from_buffers(
                pa.binary(),
                len(unique),
                [None, pa.py_buffer(signature_offsets), pa.py_buffer(signatures)],
            ),
            "band_keys": band_lists,
            "facts": _list_column(fp.facts, len(unique)),
            "line_keys": _list_column(line_keys or [], len(unique)),
        },
        schema=INDEX_SCHEMA,
    )


def _list_column(arrays: list[U64Array], rows: int) -> pa.Array:
    """A list<uint64> column from one array per row (no Python int per value)."""
    lengths = [len(values) for values in arrays] or [0] * rows
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    values = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.uint64)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.astype(np.uint64)))


def write_index(
    table: pa.Table, output_root: str | Path | Root, window: RunWindow, run_id: str
) -> PublishedPartition:
    """Atomically replace the day's index file (staged dot-file, validated, os.replace)."""
    return write_partition(table, output_root, INDEX_TABLE, window, run_id)

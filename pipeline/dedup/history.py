"""Cross-run dedup: today's articles against the dedup index of earlier days.

The index is one Parquet file per day, ``<output_root>/dedup_index/dt=YYYY-MM-DD/part-0.parquet``,
one row per published article: its story, whether it is the story's canonical row, its content
hash, shingle count, MinHash signature and LSH band keys. A run for day D reads only the files of
the ``history_days`` days before D, never D itself or a later day, so a backfill sees what the
original run saw and a rerun of D gives the same story ids. The candidate join against history
runs in DuckDB; Python only verifies the few candidate pairs it returns.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pipeline.dedup.fingerprint import Fingerprints, fingerprint, signature_scheme
from pipeline.dedup.stories import (
    DedupResult,
    PriorMatches,
    PriorRow,
    assign_stories,
    collapse_canonical_urls,
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
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("shingle_count", pa.int32(), nullable=False),
        pa.field("scheme", pa.string(), nullable=False),
        pa.field("signature", pa.binary(), nullable=False),  # num_perm little-endian uint32
        pa.field("band_keys", pa.list_(pa.uint64())),  # null for a repeat of a content hash
    ]
)


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
    fp = fingerprint([a.text for a in unique], settings)
    root = as_root(output_root)
    files = history_files(root, window, settings.history_days)
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
    index = index_table(unique, assignments, fp, settings)
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


def find_prior_matches(
    unique: list[Article],
    fp: Fingerprints,
    settings: DedupSettings,
    root: Root,
    files: list[str],
) -> PriorMatches:
    if not files or not unique:
        return PriorMatches()
    seen_hashes: set[str] = set()
    key_rows: list[int] = []
    for index, digest in enumerate(fp.content_hashes):
        if digest not in seen_hashes and len(fp.shingle_sets[index]):
            seen_hashes.add(digest)
            key_rows.append(index)
    selected = np.asarray(key_rows, dtype=np.int64)
    today_keys = pa.table(
        {
            "idx": pa.array(np.repeat(selected, settings.lsh_bands).astype(np.int32)),
            "key": pa.array(fp.band_keys[selected].ravel() if len(selected) else [], pa.uint64()),
        }
    )
    today_rows = pa.table(
        {
            "idx": pa.array(range(len(unique)), pa.int32()),
            "article_id": pa.array([a.article_id for a in unique], pa.string()),
            "content_hash": pa.array(fp.content_hashes, pa.string()),
        }
    )
    with duckdb.connect() as con:
        con.register("today_keys", today_keys)
        con.register("today_rows", today_rows)
        # A dataset, not a table: each query then reads only the columns it needs, from any
        # filesystem the storage layer serves.
        con.register("history", _open_history(root, files))
        edges = con.execute(
            """
            WITH band_hits AS (
                SELECT DISTINCT t.idx, h.article_id
                FROM (
                    SELECT article_id, unnest(band_keys) AS key FROM history WHERE scheme = $scheme
                ) AS h
                JOIN today_keys AS t ON h.key = t.key
            ), exact_hits AS (
                SELECT t.idx, h.article_id FROM history AS h
                JOIN today_rows AS t ON h.content_hash = t.content_hash
                UNION
                SELECT t.idx, h.article_id FROM history AS h
                JOIN today_rows AS t ON h.article_id = t.article_id
            )
            SELECT idx, article_id, bool_or(exact) AS exact FROM (
                SELECT idx, article_id, false AS exact FROM band_hits
                UNION ALL
                SELECT idx, article_id, true AS exact FROM exact_hits
            )
            GROUP BY idx, article_id
            ORDER BY idx, article_id
            """,
            {"scheme": signature_scheme(settings)},
        ).fetchall()
        if not edges:
            return PriorMatches()
        hit_ids = pa.table({"article_id": pa.array(sorted({e[1] for e in edges}), pa.string())})
        con.register("hit_ids", hit_ids)
        # The canonical rows come along so that similarity to the canonical can be reported.
        rows = con.execute(
            """
            WITH wanted AS (
                SELECT article_id FROM hit_ids
                UNION
                SELECT h.canonical_id FROM history AS h JOIN hit_ids USING (article_id)
            )
            SELECT article_id, story_id, canonical_id, published_at, shingle_count,
                   scheme = $scheme AS same_scheme, signature
            FROM history WHERE article_id IN (SELECT article_id FROM wanted)
            -- An article indexed on two days (a repeat of the same URL) counts as its first day.
            QUALIFY row_number() OVER (
                PARTITION BY article_id ORDER BY published_at NULLS LAST, story_id
            ) = 1
            """,
            {"scheme": signature_scheme(settings)},
        ).fetchall()
    prior_rows = {
        article_id: PriorRow(
            article_id=article_id,
            story_id=story_id,
            canonical_id=canonical_id,
            published_at=published_at,
            shingle_count=int(shingle_count),
            signature=np.frombuffer(signature, dtype="<u4").astype(np.uint32)
            if same_scheme
            else None,
        )
        for (
            article_id,
            story_id,
            canonical_id,
            published_at,
            shingle_count,
            same_scheme,
            signature,
        ) in rows
    }
    return PriorMatches(
        rows=prior_rows,
        edges=[(int(idx), article_id, bool(exact)) for idx, article_id, exact in edges],
    )


def _open_history(root: Root, files: list[str]) -> ds.Dataset:
    """The earlier days' index files as one dataset; a damaged one is named, not skipped."""
    try:
        return ds.dataset([root.path(f) for f in files], filesystem=root.fs, format="parquet")
    except (pa.ArrowInvalid, OSError) as exc:
        for relative in files:
            try:
                pq.ParquetFile(root.path(relative), filesystem=root.fs)
            except (pa.ArrowInvalid, OSError) as damage:
                day = relative.split("/")[1]
                raise CorruptState(
                    f"the dedup index file {root.display(relative)} is unreadable ({damage}); "
                    f"reprocess {day} to rewrite it (newsingest run --date "
                    f"{day.removeprefix('dt=')} --from-archive)"
                ) from damage
        raise CorruptState(f"the dedup index of earlier days is unreadable: {exc}") from exc


def index_table(
    unique: list[Article],
    assignments: list[StoryAssignment],
    fp: Fingerprints,
    settings: DedupSettings,
) -> pa.Table:
    scheme = signature_scheme(settings)
    seen_hashes: set[str] = set()
    band_lists: list[list[int] | None] = []
    for index, digest in enumerate(fp.content_hashes):
        # Repeats of a content hash match through the hash itself; their band keys would only
        # multiply the rows of the history join.
        if digest in seen_hashes or not len(fp.shingle_sets[index]):
            band_lists.append(None)
        else:
            seen_hashes.add(digest)
            band_lists.append(fp.band_keys[index].tolist())
    published: list[datetime | None] = [a.published_at for a in unique]
    return pa.table(
        {
            "article_id": [a.article_id for a in unique],
            "story_id": [a.story_id for a in assignments],
            "canonical_id": [a.duplicate_of or a.article_id for a in assignments],
            "is_canonical": [not a.is_duplicate for a in assignments],
            "published_at": published,
            "content_hash": fp.content_hashes,
            "shingle_count": fp.shingle_counts,
            "scheme": [scheme] * len(unique),
            "signature": [row.astype("<u4").tobytes() for row in fp.signatures],
            "band_keys": band_lists,
        },
        schema=INDEX_SCHEMA,
    )


def write_index(
    table: pa.Table, output_root: str | Path | Root, window: RunWindow, run_id: str
) -> PublishedPartition:
    """Atomically replace the day's index file (staged dot-file, validated, os.replace)."""
    return write_partition(table, output_root, INDEX_TABLE, window, run_id)

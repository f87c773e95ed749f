"""Write benchmark: 200k articles of ~4 KB of text into one partition through DatasetStore.

Run with `make bench` (or `python bench/write.py --rows 200000`). Two runs side by side, each in
its own process so each peak RSS is its own: batches streamed to the writer (what the pipeline
does) and, for contrast, the same rows built into one in-memory table first.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

BATCH_ROWS = 5_000
TEXT_BYTES = 4_000
DISTINCT_TEXTS = 20_000  # as many as a row group, so compression sees no repeats within one


def text_pool(seed: int = 7) -> list[str]:
    rng = np.random.default_rng(seed)
    syllables = np.array(["ka", "lo", "mer", "tis", "an", "vo", "ret", "sul", "pa", "din", "or"])
    words = ["".join(rng.choice(syllables, size=rng.integers(1, 4))) for _ in range(5_000)]
    vocabulary = np.array(words)
    pool = []
    for _ in range(DISTINCT_TEXTS):
        chosen = vocabulary[rng.integers(0, len(vocabulary), size=TEXT_BYTES // 5)]
        pool.append(" ".join(chosen)[:TEXT_BYTES])
    return pool


def batches(rows: int) -> Iterator[pa.RecordBatch]:
    from pipeline.schema import ARTICLES_SCHEMA

    pool = text_pool()
    start = datetime(2026, 3, 10, tzinfo=UTC)
    sources = [f"source-{i:02d}" for i in range(40)]
    for offset in range(0, rows, BATCH_ROWS):
        n = min(BATCH_ROWS, rows - offset)
        ids = [f"{offset + i:016x}" for i in range(n)]
        urls = [f"https://news{(offset + i) % 40}.example/story/{offset + i}" for i in range(n)]
        # Rows arrive grouped by source and time, as the pipeline writes them.
        source_of = [sources[min((offset + i) * 40 // rows, 39)] for i in range(n)]
        columns = {
            "article_id": ids,
            "url": urls,
            "canonical_url": urls,
            "source": source_of,
            "title": [f"Headline number {offset + i}" for i in range(n)],
            "authors": [["Ada Lindqvist"]] * n,
            "text": [pool[(offset + i) % DISTINCT_TEXTS] for i in range(n)],
            "language": ["en"] * n,
            "word_count": [TEXT_BYTES // 6] * n,
            "published_at": [start + timedelta(seconds=(offset + i) % 86_400) for i in range(n)],
            "modified_at": [None] * n,
            "published_offset_minutes": [None] * n,
            "published_time_known": [True] * n,
            "agencies": [[]] * n,
            "fetched_at": [start + timedelta(hours=23)] * n,
            "description": [None] * n,
            "section": ["world"] * n,
            "tags": [[]] * n,
            "top_image": [None] * n,
            "is_truncated": [False] * n,
            "http_status": [200] * n,
            "charset": ["utf-8"] * n,
            "discovered_via": ["feed"] * n,
            "provenance": ['{"title": "json-ld"}'] * n,
            "content_hash": ids,
            "story_id": ids,
            "is_duplicate": [False] * n,
            "duplicate_of": [None] * n,
            "similarity": [None] * n,
            "schema_version": [1] * n,
        }
        yield pa.RecordBatch.from_pydict(columns, schema=ARTICLES_SCHEMA)


def measure(rows: int, mode: str) -> None:
    from pipeline.models import RunWindow
    from pipeline.schema import ARTICLES_SCHEMA
    from pipeline.storage.partitions import DatasetStore

    window = RunWindow.for_day(date(2026, 3, 10))
    with tempfile.TemporaryDirectory() as root:
        store = DatasetStore(root)
        started = time.perf_counter()
        data = batches(rows)
        if mode == "one-table":
            data = pa.Table.from_batches(list(data), schema=ARTICLES_SCHEMA)
        published = store.write_partition("articles", window, data, ARTICLES_SCHEMA, "bench")
        elapsed = time.perf_counter() - started
        size = Path(published.path).stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    text_mb = rows * TEXT_BYTES / 1e6
    print(
        json.dumps(
            {
                "mode": mode,
                "rows": rows,
                "seconds": elapsed,
                "text_mb": text_mb,
                "file_mb": size / 1e6,
                "peak_rss_mib": peak,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--measure", choices=["streamed", "one-table"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.rows, args.measure)
        return 0
    results = []
    for mode in ("streamed", "one-table"):
        out = subprocess.run(
            [sys.executable, __file__, "--rows", str(args.rows), "--measure", mode],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f"write bench: {args.rows} articles x {TEXT_BYTES} B of text, one partition, zstd "
        "(timing includes generating the rows)"
    )
    for r in results:
        print(
            f"  {r['mode']:>9}: {r['seconds']:.1f}s, {r['text_mb'] / r['seconds']:.0f} MB/s of "
            f"text, file {r['file_mb']:.0f} MB, peak RSS {r['peak_rss_mib']:.0f} MiB"
        )
    streamed, whole = results
    print(
        f"  streamed peak RSS is x{streamed['peak_rss_mib'] / whole['peak_rss_mib']:.2f} of "
        f"the one-table write's"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Dedup speed on one core: signature throughput per library, one day against 30 days of history.

    .venv/bin/python bench/dedup_speed.py [--docs 20000] [--history 600000] [--compare-ref GIT_REF]
                                          [--set KEY=VALUE ...]

Texts are ~600-word articles stitched from the demo site's own paragraphs, each paragraph's words
shuffled so that no two texts share 5-grams. History rows are synthetic index rows (random
signatures) with copies of some of today's articles planted among them, written as 30 daily index
files.
Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pickle
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.dedup.day import DayFingerprints
from pipeline.dedup.fingerprint import (
    SIGNATURE_SEED,
    band_keys,
    fingerprint,
    minhash_signatures,
    signature_scheme,
    tokenize,
)
from pipeline.dedup.history import (
    INDEX_SCHEMA,
    deduplicate_against_history,
    find_prior_matches,
    history_files,
    write_index,
)
from pipeline.demo.catalog import load_catalog
from pipeline.fetch.urls import url_hash
from pipeline.models import Article, RunWindow
from pipeline.settings import DedupSettings
from pipeline.storage.root import Root

DAY = date(2026, 4, 1)


def make_texts(count: int, words_per_doc: int, rng: random.Random) -> list[str]:
    paragraphs = [p for a in load_catalog() for p in a.paragraphs]
    texts = []
    for _ in range(count):
        chosen: list[str] = []
        while sum(len(p.split()) for p in chosen) < words_per_doc:
            # Shuffled words: the project's vocabulary, but no 5-gram shared with another text,
            # as on a real day where most articles are not copies of each other.
            words = rng.choice(paragraphs).split()
            rng.shuffle(words)
            chosen.append(" ".join(words))
        texts.append("\n\n".join(chosen))
    return texts


def timed(label: str, docs: int, seconds: float) -> None:
    print(f"  {label:52s} {seconds:7.2f} s  {docs / seconds:9,.0f} docs/s")


def signature_throughput(texts: list[str], settings: DedupSettings) -> None:
    n = len(texts)
    print(f"\n== signatures: {n} docs, {settings.num_perm} permutations, one core")
    fingerprint(texts[:10], settings)  # load the compiled kernels first
    start = time.perf_counter()
    fp = fingerprint(texts, settings)
    timed(
        "end to end fingerprint() (tokens+shingles+rensa+bands+facts)",
        n,
        time.perf_counter() - start,
    )
    print("  tokenizing alone, three ways:")
    start = time.perf_counter()
    for begin in range(0, n, 2000):
        tokenize(texts[begin : begin + 2000])
    timed("numpy over one UTF-8 buffer per batch (chosen)", n, time.perf_counter() - start)
    start = time.perf_counter()
    tokens = [_TOKEN.findall(unicodedata.normalize("NFKC", t).casefold()) for t in texts]
    timed("Python regex, one str per token (before)", n, time.perf_counter() - start)
    start = time.perf_counter()
    _arrow_tokens(texts[: max(1, n // 4)])
    timed(
        f"pyarrow.compute kernels ({max(1, n // 4)} docs)",
        max(1, n // 4),
        time.perf_counter() - start,
    )
    sets = fp.shingle_sets
    words = sum(len(t) for t in tokens) / n
    print(f"  mean words {words:.0f}, mean distinct shingles {np.mean([len(s) for s in sets]):.0f}")

    print("  MinHash only, from the same 64-bit shingle hashes:")
    start = time.perf_counter()
    minhash_signatures(sets, settings.num_perm)
    timed("rensa RMinHash (flat matrix API)", n, time.perf_counter() - start)

    start = time.perf_counter()
    _numpy_minhash(sets, settings.num_perm)
    timed("numpy multiply-shift, vectorized per doc", n, time.perf_counter() - start)

    from datasketch import LeanMinHash, MinHash

    sample = sets[: max(1, n // 10)]
    start = time.perf_counter()
    for shingle_set in sample:
        signature = MinHash(
            num_perm=settings.num_perm, seed=SIGNATURE_SEED, hashfunc=int, scheme="affine64"
        )
        signature.update_batch(shingle_set.tolist())
        LeanMinHash(signature)
    timed(
        f"datasketch MinHash.update_batch ({len(sample)} docs)",
        len(sample),
        time.perf_counter() - start,
    )

    print("  from shingle strings (each library hashing the strings itself):")
    string_sets = [shingles(t, settings.shingle_size) for t in tokens[: max(1, n // 10)]]
    import rensa

    start = time.perf_counter()
    rensa.RMinHash.digest_matrix_from_token_sets(string_sets, settings.num_perm, SIGNATURE_SEED)
    timed(
        f"rensa from strings ({len(string_sets)} docs)",
        len(string_sets),
        time.perf_counter() - start,
    )
    start = time.perf_counter()
    for shingle_set in string_sets:
        signature = MinHash(num_perm=settings.num_perm, seed=SIGNATURE_SEED)
        signature.update_batch([s.encode("utf-8") for s in shingle_set])
    timed(
        f"datasketch from strings ({len(string_sets)} docs)",
        len(string_sets),
        time.perf_counter() - start,
    )


_TOKEN = re.compile(r"\w+")


def _arrow_tokens(texts: list[str]) -> np.ndarray:
    """The pyarrow.compute route: NFKC, non-word runs to spaces, split, lower, dictionary ids."""
    import pyarrow.compute as pc

    normalized = pc.utf8_normalize(pa.array(texts, pa.large_string()), "NFKC")
    spaced = pc.replace_substring_regex(normalized, r"[^\p{L}\p{N}]+", " ")
    words = pc.utf8_lower(pc.utf8_split_whitespace(spaced).flatten())
    encoded = words.dictionary_encode()
    vocabulary = encoded.dictionary.to_pylist()
    word_hashes = np.fromiter(
        (hash(word) & 0xFFFFFFFFFFFF for word in vocabulary), np.uint64, len(vocabulary)
    )
    return word_hashes[encoded.indices.to_numpy()]


def shingles(tokens: list[str], size: int) -> set[str]:
    if len(tokens) <= size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def _numpy_minhash(sets: list[np.ndarray], num_perm: int) -> np.ndarray:
    rng = np.random.default_rng(SIGNATURE_SEED)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    out = np.full((len(sets), num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    for row, values in enumerate(sets):
        if len(values):
            out[row] = ((values[:, None] * a + b) >> np.uint64(32)).min(axis=0)
    return out


def day_against_history(
    texts: list[str], history_rows: int, settings: DedupSettings, rng: random.Random
) -> None:
    n = len(texts)
    window = RunWindow.for_day(DAY)
    start_time = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    articles = [
        Article(
            article_id=url_hash(f"https://bench.example/{i}"),
            url=f"https://bench.example/{i}",
            canonical_url=f"https://bench.example/{i}",
            source="bench",
            title=None,
            text=text,
            fetched_at=start_time,
            published_at=start_time + timedelta(seconds=i),
            word_count=len(text.split()),
        )
        for i, text in enumerate(texts)
    ]
    planted = fingerprint(texts[: n // 10], settings)  # 10% of today has a copy in history
    with tempfile.TemporaryDirectory() as root:
        print(f"\n== one day of {n} against {history_rows:,} history rows over 30 days")
        start = time.perf_counter()
        per_day = history_rows // 30
        for back in range(1, 31):
            day_window = RunWindow.for_day(DAY - timedelta(days=back))
            table = _synthetic_index(per_day, settings, rng, planted if back == 3 else None)
            write_index(table, root, day_window, "bench")
        size = sum(f.stat().st_size for f in Path(root).rglob("*.parquet"))
        print(
            f"  wrote history in {time.perf_counter() - start:.1f} s, {size / 1e6:.0f} MB Parquet"
        )
        assert len(history_files(root, window, settings.history_days)) == 30
        # The day itself runs in a fresh process, so that its peak RSS is its own (today's
        # articles included), not this script's texts and synthetic history.
        with open(Path(root) / "articles.pickle", "wb") as handle:
            pickle.dump(articles, handle)
        overrides = [f"--set={key}={value}" for key, value in settings.model_dump().items()]
        subprocess.run(
            [sys.executable, __file__, "--day-run", root, *overrides], check=True, timeout=600
        )


def run_one_day(root: str, settings: DedupSettings) -> None:
    """The child process: one deduplicate_against_history over the history under ``root``."""
    with open(Path(root) / "articles.pickle", "rb") as handle:
        articles: list[Article] = pickle.load(handle)
    window = RunWindow.for_day(DAY)
    fingerprint(["warm up the compiled kernels"], settings)
    print(f"  RSS with today's articles loaded: {_rss_mb():,.0f} MB")
    files = history_files(root, window, settings.history_days)
    start = time.perf_counter()
    fp = fingerprint([a.text for a in articles], settings)
    fingerprinting = time.perf_counter() - start
    start = time.perf_counter()
    prior = find_prior_matches(
        [a.article_id for a in articles], DayFingerprints.of(fp), settings, Root(root), files
    )
    print(
        f"  parts: fingerprint {fingerprinting:.2f} s, history join + fetch "
        f"{time.perf_counter() - start:.2f} s ({len(prior.edges)} candidate edges)"
    )
    print(f"  RSS after the parts: {_rss_mb():,.0f} MB")
    del fp, prior
    start = time.perf_counter()
    result = deduplicate_against_history(articles, settings, root, window, run_id="bench")
    elapsed = time.perf_counter() - start
    joined = sum(1 for a in result.assignments if a.is_duplicate)
    print(
        f"  deduplicate_against_history: {elapsed:.2f} s  ({joined} of {len(articles)} joined "
        f"earlier stories; {len(articles) // 10} were planted)"
    )
    print(f"  peak RSS of that process: {_rss_mb():,.0f} MB")


def _rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over an exec from
    the forking parent, so a child would report the parent's peak."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compare_with(ref: str, texts: list[str], settings: DedupSettings, rounds: int = 3) -> None:
    """fingerprint() of git revision ``ref`` against this tree's, alternating, best of rounds."""
    source = subprocess.run(
        ["git", "show", f"{ref}:pipeline/dedup/fingerprint.py"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "baseline_fingerprint.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location("baseline_fingerprint", path)
        assert spec is not None and spec.loader is not None
        baseline = importlib.util.module_from_spec(spec)
        sys.modules["baseline_fingerprint"] = baseline
        spec.loader.exec_module(baseline)
    fingerprint(texts[:10], settings)
    best = {"baseline": float("inf"), "this tree": float("inf")}
    for _ in range(rounds):
        for label, run in (
            ("baseline", lambda: baseline.fingerprint(texts, settings)),
            ("this tree", lambda: fingerprint(texts, settings)),
        ):
            start = time.perf_counter()
            run()
            best[label] = min(best[label], time.perf_counter() - start)
    print(f"\n== fingerprint() against {ref}, same {len(texts)} texts, best of {rounds}, one core")
    for label, seconds in best.items():
        timed(label, len(texts), seconds)
    print(f"  ratio {best['baseline'] / best['this tree']:.2f}x")


def _synthetic_index(
    rows: int, settings: DedupSettings, rng: random.Random, planted: object | None
) -> pa.Table:
    generator = np.random.default_rng(rng.randrange(2**32))
    signatures = generator.integers(0, 2**32, size=(rows, settings.num_perm), dtype=np.uint32)
    hashes = [f"{generator.integers(0, 2**63):032x}" for _ in range(rows)]
    counts = [550] * rows
    if planted is not None:
        fp = planted  # copies of today's articles, published three days earlier
        k = len(fp.content_hashes)  # type: ignore[attr-defined]
        signatures[:k] = fp.signatures  # type: ignore[attr-defined]
        counts[:k] = fp.shingle_counts  # type: ignore[attr-defined]
    keys = band_keys(signatures, settings.lsh_bands, settings.lsh_brief_bands)
    ids = [f"h{rng.getrandbits(64):016x}" for _ in range(rows)]
    return pa.table(
        {
            "article_id": ids,
            "story_id": ["st_" + i[1:] for i in ids],
            "canonical_id": ids,
            "is_canonical": [True] * rows,
            "published_at": [None] * rows,
            "source": ["bench"] * rows,
            "content_hash": hashes,
            "shingle_count": counts,
            "scheme": [signature_scheme(settings)] * rows,
            "signature": [row.tobytes() for row in signatures],
            "band_keys": pa.FixedSizeListArray.from_arrays(
                pa.array(keys.ravel(), pa.uint64()), keys.shape[1]
            ).cast(pa.list_(pa.uint64())),
            # ~40 facts a row, and three recurring (footer) line keys shared by all rows.
            "facts": _facts_column(rows, planted, generator),
            "line_keys": [[11, 12, 13]] * rows,
        },
        schema=INDEX_SCHEMA,
    )


def _facts_column(rows: int, planted: object | None, generator: np.random.Generator) -> pa.Array:
    """The planted copies' own facts, then ~40 random facts for every other row."""
    lists = list(planted.facts) if planted is not None else []  # type: ignore[attr-defined]
    lengths = [len(f) for f in lists] + [40] * (rows - len(lists))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    random_part = generator.integers(0, 2**63, size=40 * (rows - len(lists)), dtype=np.uint64)
    values = np.concatenate([*lists, random_part]) if lists else random_part
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.astype(np.uint64)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--words", type=int, default=600)
    parser.add_argument("--history", type=int, default=600_000)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--compare-ref", metavar="GIT_REF", help="also time fingerprint() of that revision"
    )
    parser.add_argument("--day-only", action="store_true", help="skip the per-library figures")
    parser.add_argument("--day-run", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, DuckDB included
    settings = DedupSettings.model_validate(dict(item.split("=", 1) for item in args.set))
    if args.day_run:
        run_one_day(args.day_run, settings)
        return 0
    print(f"settings: {settings.model_dump()}")
    rng = random.Random(7)
    start = time.perf_counter()
    texts = make_texts(args.docs, args.words, rng)
    print(f"built {len(texts)} texts in {time.perf_counter() - start:.1f} s")
    if not args.day_only:
        signature_throughput(texts, settings)
    if args.compare_ref:
        compare_with(args.compare_ref, texts, settings)
    day_against_history(texts, args.history, settings, rng)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

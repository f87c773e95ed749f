"""Peak memory of the publish stage (dedup included) on synthetic days, before -> after in one run.

    .venv/bin/python bench/publish_memory.py [--articles 10000 50000] [--history-days 1 30]
                                             [--history-rows 10000] [--baseline GIT_REF]

For each day size: S sources (one per 200 articles) of ~600-word texts, 20% of the articles edited
copies of another source's article (a quarter of them truncated), 0.5% second pages of an article
(the same canonical URL), a footer line per source (learned boilerplate). Each is staged with
``stage_source`` as extract stages it. History: ``--history-days`` committed index days of
``--history-rows`` synthetic rows each (random signatures, facts and line keys), 5% of the day's
originals planted in them as near-copies.

``publish_day`` then runs in a child process, once with the code of ``--baseline`` (default
``a9bdd38``, the last commit before publish streamed, taken with ``git archive``) and once with
this tree, each on its own hard-linked copy of the same root; its peak RSS is the child's VmHWM.
The two outputs are compared table by table, rows in file order (run ids and times aside), and
the summaries too. Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DAY = date(2026, 4, 1)
ARTICLES_PER_SOURCE = 200
COPY_SHARE = 0.2
SECOND_PAGE_SHARE = 0.005
PLANTED_SHARE = 0.05
IGNORED = {"run_id", "fetched_at", "archive_file", "warc_record_id", "elapsed_ms"}


# -- the synthetic day ----------------------------------------------------------------------


def vocabulary(rng: random.Random) -> tuple[list[str], list[str]]:
    """Plain words (from the demo site's own texts) and capitalised names (facts)."""
    sys.path.insert(0, str(REPO))
    from pipeline.demo.catalog import load_catalog

    words = sorted(
        {
            w.strip(".,;:\"'()").lower()
            for a in load_catalog()
            for p in a.paragraphs
            for w in p.split()
        }
        - {""}
    )
    syllables = ["ka", "lo", "mer", "tis", "an", "vo", "ret", "sul", "pa", "din", "or", "bel"]
    names = sorted(
        {"".join(rng.choices(syllables, k=rng.randint(2, 3))).title() for _ in range(4000)}
    )
    return words, names


def article_text(rng: random.Random, words: list[str], names: list[str]) -> str:
    paragraphs = []
    for _ in range(8):
        line = []
        for _ in range(75):
            roll = rng.random()
            if roll < 0.06:
                line.append(rng.choice(names))
            elif roll < 0.09:
                line.append(str(rng.randint(2, 9999)))
            else:
                line.append(rng.choice(words))
        paragraphs.append(" ".join(line) + ".")
    return "\n\n".join(paragraphs)


def edited_copy(rng: random.Random, text: str, words: list[str]) -> str:
    tokens = text.split(" ")
    for _ in range(len(tokens) // 30):
        tokens[rng.randrange(len(tokens))] = rng.choice(words)
    copy = " ".join(tokens)
    if rng.random() < 0.25:  # a truncated teaser
        copy = copy[: int(len(copy) * 0.6)]
    return copy


def build_day(root: Path, articles: int, seed: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Stage a synthetic day under ``root``; returns the ExtractResult dicts and the texts of the
    originals (for planting history)."""
    sys.path.insert(0, str(REPO))
    from pipeline.extract.stage import SourceArticles
    from pipeline.fetch.urls import url_hash
    from pipeline.models import Article, FetchOutcome, RunWindow
    from pipeline.publish.stage import stage_source

    rng = random.Random(seed)
    words, names = vocabulary(rng)
    window = RunWindow.for_day(DAY)
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    sources = [f"outlet-{i:03d}" for i in range(max(2, articles // ARTICLES_PER_SOURCE))]
    footers = {s: f"Tips for the {s} newsroom desk line {rng.randint(100, 999)}" for s in sources}
    rows: dict[str, list[Article]] = {s: [] for s in sources}
    originals: list[tuple[str, str, str]] = []  # (source, url, text)
    for number in range(articles):
        source = sources[number % len(sources)]
        url = f"https://{source}.example/news/{number}"
        roll = rng.random()
        canonical = url
        if originals and roll < COPY_SHARE:
            other, _, text = rng.choice(originals)
            body = (
                edited_copy(rng, text, words)
                if other != source
                else article_text(rng, words, names)
            )
        elif originals and roll < COPY_SHARE + SECOND_PAGE_SHARE:
            other, canonical, text = rng.choice(originals)  # another page declaring that URL
            source = other
            body = text
            url = canonical + "?amp=1"
        else:
            body = article_text(rng, words, names)
            originals.append((source, url, body))
        text = f"{body}\n\n{footers[source]}"
        published = None if rng.random() < 0.05 else start + timedelta(seconds=rng.randrange(86400))
        rows[source].append(
            Article(
                article_id=url_hash(canonical),
                url=url,
                canonical_url=canonical,
                source=source,
                title=f"Headline {number}",
                text=text,
                fetched_at=start + timedelta(hours=23),
                published_at=published,
                word_count=len(text.split()),
                provenance={"title": "json-ld", "text": "body"},
            )
        )
    config = _config(root, sources, 0)
    results = []
    for source in sources:
        log = [
            FetchOutcome(a.url, source, "page", "fetched", "ok", http_status=200, attempts=1)
            for a in rows[source]
        ]
        built = SourceArticles(source=source, articles=rows[source], fetch_log=log)
        results.append(stage_source(config, window, "bench", built).as_dict())
    return results, [text for _, _, text in originals]


def build_history(root: Path, days: int, rows: int, planted_texts: list[str], seed: int) -> None:
    sys.path.insert(0, str(REPO))
    import numpy as np
    import pyarrow as pa

    from pipeline.dedup.fingerprint import band_keys, fingerprint, signature_scheme
    from pipeline.dedup.history import INDEX_SCHEMA, write_index
    from pipeline.models import RunWindow
    from pipeline.settings import DedupSettings

    settings = DedupSettings()
    generator = np.random.default_rng(seed)
    planted = fingerprint(planted_texts, settings) if planted_texts else None
    for back in range(1, days + 1):
        signatures = generator.integers(0, 2**32, size=(rows, settings.num_perm), dtype=np.uint32)
        counts = np.full(rows, 550, dtype=np.int64)
        facts = [generator.integers(0, 2**53, size=40, dtype=np.uint64) for _ in range(rows)]
        if planted is not None and back == min(3, days):
            k = min(rows, len(planted.content_hashes))
            signatures[:k] = planted.signatures[:k]
            counts[:k] = planted.shingle_counts[:k]
            facts[:k] = planted.facts[:k]
        keys = band_keys(signatures, settings.lsh_bands, settings.lsh_brief_bands)
        ids = [f"h{back:03d}{i:012x}" for i in range(rows)]
        offsets = np.concatenate([[0], np.cumsum([len(f) for f in facts])]).astype(np.int32)
        table = pa.table(
            {
                "article_id": ids,
                "story_id": ["st_" + i for i in ids],
                "canonical_id": ids,
                "is_canonical": [True] * rows,
                "published_at": [None] * rows,
                "source": [f"outlet-{i % 50:03d}" for i in range(rows)],
                "content_hash": [f"{generator.integers(0, 2**63):032x}" for _ in range(rows)],
                "shingle_count": counts.tolist(),
                "scheme": [signature_scheme(settings)] * rows,
                "signature": [row.tobytes() for row in signatures],
                "band_keys": pa.FixedSizeListArray.from_arrays(
                    pa.array(keys.ravel(), pa.uint64()), keys.shape[1]
                ).cast(pa.list_(pa.uint64())),
                "facts": pa.ListArray.from_arrays(
                    pa.array(offsets), pa.array(np.concatenate(facts), pa.uint64())
                ),
                "line_keys": [[11, 12, 13]] * rows,
            },
            schema=INDEX_SCHEMA,
        )
        write_index(table, root, RunWindow.for_day(DAY - timedelta(days=back)), "history")


def _config(root: Path, sources: list[str], history_days: int) -> Any:
    from pipeline.settings import PipelineConfig

    return PipelineConfig.model_validate(
        {
            "settings": {
                "output_root": str(root),
                "archive_root": str(root) + "-archive",
                "dedup": {"history_days": history_days},
            },
            "sources": [{"name": name, "urls": ["https://example.invalid/"]} for name in sources],
        }
    )


# -- the child: one publish_day ---------------------------------------------------------------


def child(code: str, root: str, history_days: int) -> None:
    sys.path.insert(0, code)
    for name in [m for m in sys.modules if m == "pipeline" or m.startswith("pipeline.")]:
        del sys.modules[name]
    from pipeline.models import RunWindow
    from pipeline.publish.stage import publish_day
    from pipeline.results import ExtractResult

    extracted = [
        ExtractResult.from_dict(d) for d in json.loads(Path(root, "extracted.json").read_text())
    ]
    config = _config(Path(root), [r.source for r in extracted], history_days)
    assert Path(sys.modules["pipeline"].__file__ or "").is_relative_to(code)
    base = _vm("VmRSS")
    started = time.perf_counter()
    result = publish_day(config, RunWindow.for_day(DAY), "bench", extracted)
    totals = result.totals()
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - started,
                "peak_mib": _vm("VmHWM"),
                "base_mib": base,
                "written": totals["written"],
                "duplicates": totals["duplicates"],
                "stories": result.stories,
            }
        )
    )


def _vm(field: str) -> float:
    """VmHWM (peak) or VmRSS of this process, MiB; VmHWM is the child's own, not its parent's."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_child(code: Path, template: Path, workdir: Path, history_days: int) -> dict[str, Any]:
    root = workdir / "out"
    shutil.copytree(template, root, copy_function=os.link)  # history files are only read
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(code), str(root), str(history_days)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=3600,
    )
    if done.returncode:
        raise RuntimeError(f"child ({code}) failed:\n{done.stderr[-3000:]}")
    record: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    record["root"] = str(root)
    return record


def same_output(old: str, new: str) -> tuple[bool, list[str]]:
    """Every committed table of the day, rows in file order; and the summary's counts."""
    import pyarrow.parquet as pq

    notes = []
    same = True
    manifest = "_days/dt=" + DAY.isoformat() + ".json"
    tables_old = json.loads(Path(old, manifest).read_text())["tables"]
    tables_new = json.loads(Path(new, manifest).read_text())["tables"]
    for name in sorted(tables_old):
        a = pq.read_table(Path(old, tables_old[name]["file"]))
        b = pq.read_table(Path(new, tables_new[name]["file"]))
        keep = [c for c in a.column_names if c not in IGNORED]
        equal = a.column_names == b.column_names and a.select(keep).equals(b.select(keep))
        same &= equal
        notes.append(f"{name} {a.num_rows} rows {'same' if equal else 'DIFFERENT'}")
    summary = "reports/dt=" + DAY.isoformat() + "/summary.json"
    a_sum, b_sum = (json.loads(Path(r, summary).read_text()) for r in (old, new))
    for document in (a_sum, b_sum):
        document.pop("paths", None)
    equal = a_sum == b_sum
    same &= equal
    notes.append(f"summary {'same' if equal else 'DIFFERENT'}")
    return same, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--articles", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--history-days", type=int, nargs="+", default=[1, 30])
    parser.add_argument("--history-rows", type=int, default=10_000)
    # The last commit whose publish held the whole day in memory: comparing against main would
    # compare this tree with itself once the streaming publish is merged.
    parser.add_argument("--baseline", default="a9bdd38", metavar="GIT_REF")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="publish-memory-"))
    try:
        baseline = scratch / "baseline"
        baseline.mkdir()
        archive = subprocess.run(
            ["git", "archive", args.baseline, "pipeline"], cwd=REPO, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(baseline)], input=archive, check=True)
        revision = subprocess.run(
            ["git", "rev-parse", "--short", args.baseline],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        print(
            f"publish_day peak RSS (child VmHWM), baseline {args.baseline} ({revision}) -> this "
            f"tree; history days of {args.history_rows:,} index rows"
        )
        print(
            f"{'articles':>9} {'hist.days':>9} | {'peak MiB':>17} {'ratio':>6} | "
            f"{'above imports MiB':>17} | {'seconds':>13} | output"
        )
        after_peaks: dict[int, dict[int, float]] = {}
        for count in args.articles:
            for days in args.history_days:
                template = scratch / f"template-{count}-{days}"
                results, originals = build_day(template, count, seed=count)
                planted = originals[: int(len(originals) * PLANTED_SHARE)]
                build_history(template, days, args.history_rows, planted, seed=days)
                (template / "extracted.json").write_text(json.dumps(results))
                before = run_child(baseline, template, scratch / f"before-{count}-{days}", days)
                after = run_child(REPO, template, scratch / f"after-{count}-{days}", days)
                same, notes = same_output(before["root"], after["root"])
                after_peaks.setdefault(count, {})[days] = after["peak_mib"]
                print(
                    f"{count:>9,} {days:>9} | "
                    f"{before['peak_mib']:>7,.0f} -> {after['peak_mib']:>6,.0f} "
                    f"x{after['peak_mib'] / before['peak_mib']:>4.2f} | "
                    f"{before['peak_mib'] - before['base_mib']:>7,.0f} -> "
                    f"{after['peak_mib'] - after['base_mib']:>6,.0f} | "
                    f"{before['seconds']:>5.1f} -> {after['seconds']:>5.1f} | "
                    f"{'SAME' if same else 'DIFFERENT'} ({after['written']:,} written, "
                    f"{after['duplicates']:,} duplicates; {', '.join(notes)})"
                )
                for folder in (
                    template,
                    scratch / f"before-{count}-{days}",
                    scratch / f"after-{count}-{days}",
                ):
                    shutil.rmtree(folder, ignore_errors=True)
        sizes = sorted(after_peaks)
        if len(sizes) >= 2:
            small, large = sizes[0], sizes[-1]
            for days in sorted(after_peaks[small]):
                if days in after_peaks[large]:
                    slope = (after_peaks[large][days] - after_peaks[small][days]) / (large - small)
                    at_100k = after_peaks[large][days] + slope * (100_000 - large)
                    print(
                        f"this tree, {days} history days: {slope * 1024:.1f} KiB per article; "
                        f"linear extrapolation to 100,000 articles: {at_100k:,.0f} MiB"
                    )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Score our extractor and trafilatura on an article-extraction benchmark directory, side by side.

Usage: ``python bench/extraction.py BENCH_DIR [--csv OUT.csv] [--repeat N] [--worst N] [--show ID]``

BENCH_DIR holds ``html/<id>.html.gz`` and ``ground-truth.json`` (``{id: {"articleBody", "url"}}``).
The metric follows the benchmark's definition: ``\\w+`` tokens, 4-token shingles as multisets,
per-page tp/fp/fn normalised so every page weighs the same, precision and recall averaged over
pages, and F1 of the two means.

Speed: both tools run in this one process, pinned to one CPU when the OS allows it, on the same
already-decoded ``str`` pages; gunzip and file reading happen before any clock starts. The tools
alternate page by page, so load from other processes hits both alike. Each tool gets one
untimed warm-up call first so that one-off imports and model loads (our language detector,
trafilatura's lazy modules) are not charged to the first page. With ``--repeat N`` each tool's
best of N full passes is reported.

This is a dev tool (trafilatura is a dev-only dependency); the project's tests never depend on it.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.extract.metadata import detect_language
from pipeline.extract.page import ExtractionError, extract_article

_TOKEN = re.compile(r"\w+")
DEFAULT_CSV = Path(__file__).resolve().parent / "out" / "extraction-pages.csv"

Extractor = Callable[[str, str], str]


def shingles(text: str, size: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text)
    if not tokens:
        return Counter()
    if len(tokens) < size:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def page_scores(truth: str, prediction: str) -> tuple[float, float]:
    """Per-page (precision, recall) exactly as the benchmark defines them."""
    t, p = shingles(truth), shingles(prediction)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    if total == 0:
        return 1.0, 1.0
    tp_n, fp_n, fn_n = tp / total, fp / total, fn / total
    precision = (
        1.0 if fp_n == 0 and fn_n == 0 else (0.0 if tp_n == fp_n == 0 else tp_n / (tp_n + fp_n))
    )
    recall = (
        1.0 if fp_n == 0 and fn_n == 0 else (0.0 if tp_n == fn_n == 0 else tp_n / (tp_n + fn_n))
    )
    return precision, recall


def f1_of(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


@dataclass
class Run:
    """One tool's predictions, per-page scores and timing over the whole set."""

    name: str
    predictions: dict[str, str] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    seconds: float = 0.0
    precision: float = 0.0
    recall: float = 0.0

    @property
    def f1(self) -> float:
        return f1_of(self.precision, self.recall)

    def pages_per_second(self) -> float:
        return len(self.predictions) / self.seconds if self.seconds else 0.0


def ours(html: str, url: str) -> str:
    try:
        return extract_article(html, url).text
    except ExtractionError:
        return ""


def trafilatura_default(html: str, url: str) -> str:
    import trafilatura

    # Its documented defaults for main text: comments off (the ground truth has none), tables on.
    text = trafilatura.extract(
        html, url=url, output_format="txt", include_comments=False, include_tables=True
    )
    return text or ""


def _pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity here)"


def run_both(
    tools: list[tuple[str, Extractor]],
    pages: list[str],
    htmls: dict[str, str],
    urls: dict[str, str],
    repeat: int,
) -> list[Run]:
    """Run every tool on every page, alternating tools page by page.

    Alternating means a burst of load from other processes slows both tools alike instead of
    whichever happened to be running. Each tool's time is the best of ``repeat`` passes.
    """
    runs = [Run(name) for name, _ in tools]
    for _, fn in tools:
        fn(htmls[pages[0]], urls[pages[0]])  # warm-up, untimed
    for attempt in range(repeat):
        elapsed = [0.0] * len(tools)
        for pid in pages:
            for index, (_, fn) in enumerate(tools):
                started = time.perf_counter()
                try:
                    prediction = fn(htmls[pid], urls[pid])
                except Exception as exc:  # a crash is a scored empty prediction, not a stop
                    prediction = ""
                    if attempt == 0:
                        runs[index].errors[type(exc).__name__] += 1
                elapsed[index] += time.perf_counter() - started
                if attempt == 0:
                    runs[index].predictions[pid] = prediction
        for run, seconds in zip(runs, elapsed, strict=True):
            run.seconds = seconds if attempt == 0 else min(run.seconds, seconds)
    return runs


def score(run: Run, truth_map: dict[str, dict[str, str]]) -> None:
    precisions: list[float] = []
    recalls: list[float] = []
    for pid, prediction in run.predictions.items():
        truth = truth_map[pid]["articleBody"]
        p, r = page_scores(truth, prediction)
        run.scores[pid] = (p, r)
        if not prediction.strip():
            run.errors["empty"] += 1
        else:
            precisions.append(p)
        if truth.strip():
            recalls.append(r)
    run.precision = sum(precisions) / len(precisions) if precisions else 0.0
    run.recall = sum(recalls) / len(recalls) if recalls else 0.0


def write_csv(path: Path, pages: list[str], urls: dict[str, str], mine: Run, theirs: Run) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["id", "host", "ours_p", "ours_r", "ours_f1", "traf_p", "traf_r", "traf_f1", "delta_f1"]
        )
        for pid in pages:
            op, orr = mine.scores[pid]
            tp, tr = theirs.scores[pid]
            of, tf = f1_of(op, orr), f1_of(tp, tr)
            writer.writerow(
                [pid, urlsplit(urls[pid]).hostname or "", *(f"{v:.4f}" for v in (op, orr, of)),
                 *(f"{v:.4f}" for v in (tp, tr, tf)), f"{of - tf:+.4f}"]
            )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("bench_dir", type=Path)
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="per-page scores (CSV)")
    parser.add_argument("--repeat", type=int, default=1, help="timed passes per tool; best wins")
    parser.add_argument("--worst", type=int, default=0, help="list our N pages with lowest F1")
    parser.add_argument("--show", help="print our prediction and the truth for one page id")
    args = parser.parse_args(argv)

    truth_map = json.loads((args.bench_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = sorted(truth_map)
    urls = {pid: truth_map[pid]["url"] for pid in pages}
    # Decoded once, before timing: both tools get the very same str.
    htmls = {
        pid: gzip.decompress((args.bench_dir / "html" / f"{pid}.html.gz").read_bytes()).decode(
            "utf-8", errors="replace"
        )
        for pid in pages
    }
    pinned = _pin_to_one_core()
    # Our language detector loads its model on first use; a long-running pipeline pays that once.
    detect_language("warm up the language model " * 10)

    mine, theirs = run_both(
        [("ours", ours), ("trafilatura", trafilatura_default)], pages, htmls, urls, args.repeat
    )
    score(mine, truth_map)
    score(theirs, truth_map)
    write_csv(args.csv, pages, urls, mine, theirs)

    print(f"pages={len(pages)}  {pinned}  timed passes per tool={args.repeat}")
    print(f"{'tool':<12} {'F1':>7} {'prec':>7} {'recall':>7} {'pages/s':>8} {'seconds':>8}  empty")
    for run in (mine, theirs):
        print(
            f"{run.name:<12} {run.f1:7.4f} {run.precision:7.4f} {run.recall:7.4f} "
            f"{run.pages_per_second():8.1f} {run.seconds:8.2f}  {dict(run.errors) or 0}"
        )
    ratio = mine.pages_per_second() / theirs.pages_per_second() if theirs.seconds else 0.0
    print(f"F1 ours - trafilatura = {mine.f1 - theirs.f1:+.4f}")
    print(f"speed ours / trafilatura = {ratio:.2f}x")
    print(f"per-page scores: {args.csv}")

    if args.worst:
        ranked = sorted(pages, key=lambda pid: f1_of(*mine.scores[pid]))
        for pid in ranked[: args.worst]:
            p, r = mine.scores[pid]
            tf = f1_of(*theirs.scores[pid])
            print(f"  {f1_of(p, r):.3f} P={p:.3f} R={r:.3f} traf={tf:.3f} {pid[:12]} {urls[pid]}")
    if args.show:
        shown = next(pid for pid in pages if pid.startswith(args.show))
        print("=== OURS ===")
        print(mine.predictions[shown])
        print("=== TRUTH ===")
        print(truth_map[shown]["articleBody"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

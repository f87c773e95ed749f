"""Score ``pipeline.extract.extract_article`` on an article-extraction benchmark directory.

Usage: ``python bench/extraction.py /work/shared/extraction-bench/dev [--worst N] [--show ID]``

The directory holds ``html/<id>.html.gz`` and ``ground-truth.json``
(``{id: {"articleBody", "url"}}``).
The metric follows the benchmark's definition: ``\\w+`` tokens, 4-token shingles as multisets,
per-page tp/fp/fn normalised so every page weighs the same, precision and recall averaged over
pages, and F1 of the two means. This is a dev tool: the project's tests never depend on it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.extract import ExtractionError, extract_article

_TOKEN = re.compile(r"\w+")


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench_dir", type=Path)
    parser.add_argument("--worst", type=int, default=0, help="list the N pages with the lowest F1")
    parser.add_argument("--show", help="print prediction and truth for one page id")
    args = parser.parse_args(argv)

    truth_map = json.loads((args.bench_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = sorted(truth_map)
    if args.show:
        pages = [pid for pid in pages if pid.startswith(args.show)][:1]
        args.show = pages[0]
    htmls = {
        pid: gzip.decompress((args.bench_dir / "html" / f"{pid}.html.gz").read_bytes()).decode(
            "utf-8", errors="replace"
        )
        for pid in pages
    }

    predictions: dict[str, str] = {}
    errors: Counter[str] = Counter()
    started = time.perf_counter()
    for pid in pages:
        try:
            predictions[pid] = extract_article(htmls[pid], truth_map[pid]["url"]).text
        except ExtractionError as exc:
            errors[exc.reason] += 1
            predictions[pid] = ""
    elapsed = time.perf_counter() - started

    precisions: list[float] = []
    recalls: list[float] = []
    per_page: list[tuple[float, float, float, str]] = []
    for pid in pages:
        truth = truth_map[pid]["articleBody"]
        prediction = predictions[pid]
        p, r = page_scores(truth, prediction)
        if prediction.strip():
            precisions.append(p)
        if truth.strip():
            recalls.append(r)
        f = 0.0 if p + r == 0 else 2 * p * r / (p + r)
        per_page.append((f, p, r, pid))

    mean_p = sum(precisions) / len(precisions) if precisions else 0.0
    mean_r = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 0.0 if mean_p + mean_r == 0 else 2 * mean_p * mean_r / (mean_p + mean_r)
    print(f"pages={len(pages)} errors={dict(errors)}")
    print(f"F1={f1:.4f} precision={mean_p:.4f} recall={mean_r:.4f}")
    print(f"pages/s={len(pages) / elapsed:.1f} ({elapsed:.2f}s)")

    if args.worst:
        for f, p, r, pid in sorted(per_page)[: args.worst]:
            print(f"  {f:.3f} P={p:.3f} R={r:.3f} {pid[:12]} {truth_map[pid]['url']}")
    if args.show:
        print("=== PREDICTION ===")
        print(predictions[args.show])
        print("=== TRUTH ===")
        print(truth_map[args.show]["articleBody"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

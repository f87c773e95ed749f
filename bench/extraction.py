"""Score our extractor and trafilatura on both extraction dev sets, side by side, in one run.

Usage::

    python bench/extraction.py DEV_DIR [TRAFILATURA_DEV_DIR] [--folds 5] [--repeat N]
        [--whole-process] [--worst N] [--csv OUT.csv] [--gate SET=FLOOR ...] [--no-speed]

For each set it prints, on the same pages and with the set's own metric (see
``bench/extraction_sets.py``):

- ``ours``: the extractor as shipped (rules + the block classifier in ``block_model.json``, which
  was fitted on these very pages: a training figure, not a result);
- ``ours, site CV``: every page extracted by a classifier fitted without any page of its site
  (K-fold by registered domain over both sets together, ``bench/train_blocks.py``): the figure
  that says how the method does on sites it has not seen;
- ``rules only``: the rule-based extractor without the classifier (this is close to the previous
  extractor; its thresholds were tuned on ``dev`` by hand, so its ``dev`` figure is optimistic);
- ``trafilatura``: trafilatura 2.3.1 with the call its own evaluation uses.

Speed: both tools run in this one process, pinned to one CPU, on the same inputs (the dev set's
pages decoded to ``str`` once, the trafilatura set's raw bytes, which each tool decodes itself as in
trafilatura's evaluation); file reading and gunzip happen before any clock starts. The tools
alternate page by page, so load from other processes hits both alike, and each gets an untimed
warm-up call. ``--whole-process`` also times ``newsingest extract`` against a trafilatura script
doing the same job (read files, extract, write JSON lines), each a fresh process on one core,
over the files of both sets listed twice (844 files), start-up included, alternating twice
(best of two each).

``--gate dev=0.96`` exits with status 1 when the cross-validated F1 of a set is below its floor
(the CI evaluation gate, ``.ci/run``). This is a dev tool: trafilatura is a dev-only dependency.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from extraction_sets import BenchSet, SetScore, load_set, score_set
from train_blocks import cross_validated_predictions, page_html

from pipeline.extract.body import DEFAULT_OPTIONS, ExtractionOptions
from pipeline.extract.metadata import detect_language
from pipeline.extract.page import ExtractionError, extract_article

DEFAULT_CSV = Path(__file__).resolve().parent / "out" / "extraction-pages.csv"
ROOT = Path(__file__).resolve().parents[1]
# The previous extractor, as near as the current code gets to it: rules only, and its old
# minimum of 40 words of prose. Pages far below it are listed (docs/extraction.md notes them).
PREVIOUS_OPTIONS = replace(DEFAULT_OPTIONS, rules_only=True, min_article_words=40)

Extractor = Callable[[str | bytes, str], str]


def ours_with(options: ExtractionOptions, rejects: Counter[str] | None = None) -> Extractor:
    def run(html: str | bytes, url: str) -> str:
        try:
            return extract_article(html, url, options=options).text
        except ExtractionError as exc:
            if rejects is not None:
                rejects[exc.reason] += 1
            return ""

    return run


def trafilatura_extract(html: str | bytes, url: str) -> str:
    import trafilatura

    # The call trafilatura's own tests/evaluate.py makes.
    text = trafilatura.extract(
        html,
        url=url,
        fast=False,
        include_comments=False,
        include_tables=True,
        include_formatting=False,
    )
    return text or ""


def _pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity here)"


def predict(bench: BenchSet, tool: Extractor) -> dict[str, str]:
    out: dict[str, str] = {}
    for page in bench.pages:
        try:
            out[page.id] = tool(page_html(bench, page), page.url)
        except Exception:  # a crash is a scored empty prediction, not a stop
            out[page.id] = ""
    return out


def time_side_by_side(
    inputs: list[tuple[str | bytes, str]], tools: list[Extractor], repeat: int
) -> list[float]:
    """Seconds per tool over all inputs (best of ``repeat`` passes), alternating page by page."""
    for tool in tools:
        tool(*inputs[0])  # warm-up, untimed
    best = [float("inf")] * len(tools)
    for _ in range(repeat):
        elapsed = [0.0] * len(tools)
        for html, url in inputs:
            for index, tool in enumerate(tools):
                started = time.perf_counter()
                with contextlib.suppress(Exception):  # a crash is scored elsewhere
                    tool(html, url)
                elapsed[index] += time.perf_counter() - started
        best = [min(b, e) for b, e in zip(best, elapsed, strict=True)]
    return best


_TRAFILATURA_BATCH = """
import gzip, json, sys, trafilatura
with open(sys.argv[1], "w", encoding="utf-8") as out:
    for name in sys.argv[2:]:
        raw = gzip.decompress(open(name, "rb").read())
        text = trafilatura.extract(raw, fast=False, include_comments=False, include_tables=True,
                                   include_formatting=False)
        out.write(json.dumps({"id": name, "text": text}, ensure_ascii=False) + "\\n")
"""


def whole_process(files: list[Path], cpu: int, repeat: int = 2) -> tuple[float, float]:
    """Wall seconds of ``newsingest extract`` and of a trafilatura batch script, one core each.

    The two commands alternate ``repeat`` times and each keeps its best time, so a burst of load
    from other processes does not land on one of them only.
    """
    python = sys.executable
    newsingest = str(Path(python).with_name("newsingest"))
    with tempfile.TemporaryDirectory() as tmp:
        ours_cmd = ["taskset", "-c", str(cpu), newsingest, "extract", "--output"]
        ours_cmd += [f"{tmp}/ours.jsonl", *map(str, files)]
        theirs_cmd = ["taskset", "-c", str(cpu), python, "-c", _TRAFILATURA_BATCH]
        theirs_cmd += [f"{tmp}/theirs.jsonl", *map(str, files)]
        best = [float("inf"), float("inf")]
        for _ in range(repeat):
            for index, cmd in enumerate((ours_cmd, theirs_cmd)):
                started = time.perf_counter()
                subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL, cwd=ROOT)
                best[index] = min(best[index], time.perf_counter() - started)
    return best[0], best[1]


def _line(name: str, score: SetScore, extra: str = "") -> str:
    return (
        f"  {name:<16} F1 {score.f1:.4f}  P {score.precision:.4f}  R {score.recall:.4f}"
        f"  no output {score.empty:>3}{extra}"
    )


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("bench_dirs", type=Path, nargs="+", help="dev and trafilatura-dev dirs")
    parser.add_argument("--folds", type=int, default=5, help="site folds for cross-validation")
    parser.add_argument("--repeat", type=int, default=1, help="timed passes per tool; best wins")
    parser.add_argument("--whole-process", action="store_true", help="also time whole processes")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed measurement")
    parser.add_argument("--no-trafilatura", action="store_true", help="skip trafilatura")
    parser.add_argument(
        "--cv-only", action="store_true", help="only the site-CV figures (the CI gate's run)"
    )
    parser.add_argument("--worst", type=int, default=0, help="list our N worst pages per set")
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="per-page scores (CSV)")
    parser.add_argument(
        "--gate", action="append", default=[], metavar="SET=FLOOR",
        help="fail when the site-CV F1 of SET is below FLOOR",
    )  # fmt: skip
    args = parser.parse_args(argv)

    sets = [load_set(directory) for directory in args.bench_dirs]
    pinned = _pin_to_one_core()
    detect_language("warm up the language model " * 10)  # loaded once per process, not per page

    if args.cv_only:
        args.no_trafilatura = args.no_speed = True
    rejects: dict[str, Counter[str]] = {b.name: Counter() for b in sets}
    cv = cross_validated_predictions(sets, args.folds)
    shipped = rules = previous = cv
    if not args.cv_only:
        shipped = {b.name: predict(b, ours_with(DEFAULT_OPTIONS, rejects[b.name])) for b in sets}
        rules_only = ours_with(replace(DEFAULT_OPTIONS, rules_only=True))
        rules = {b.name: predict(b, rules_only) for b in sets}
        previous = {b.name: predict(b, ours_with(PREVIOUS_OPTIONS)) for b in sets}
    theirs = {} if args.no_trafilatura else {b.name: predict(b, trafilatura_extract) for b in sets}

    print(f"{pinned}; site folds={args.folds} (registered domain, both sets together)")
    failed = False
    floors = dict(item.split("=", 1) for item in args.gate)
    csv_rows: list[dict[str, Any]] = []
    for bench in sets:
        sites = {p.site for p in bench.pages}
        metric = "snippets (trafilatura)" if bench.snippet_metric else "4-token shingles"
        print(f"\n{bench.name}: {len(bench.pages)} pages, {len(sites)} sites, metric: {metric}")
        ours_score = score_set(bench, shipped[bench.name])
        cv_score = score_set(bench, cv[bench.name])
        rules_score = score_set(bench, rules[bench.name])
        previous_score = score_set(bench, previous[bench.name])
        reasons = dict(rejects[bench.name])
        if not args.cv_only:
            print(_line("ours (fitted)", ours_score, f"  rejected {reasons or 0}"))
        print(_line("ours, site CV", cv_score))
        if not args.cv_only:
            print(_line("rules only", rules_score))
            print(_line("previous", previous_score))
        theirs_score = score_set(bench, theirs[bench.name]) if theirs else None
        if theirs_score:
            print(_line("trafilatura", theirs_score))
            print(f"  site-CV F1 - trafilatura F1 = {cv_score.f1 - theirs_score.f1:+.4f}")
        regressions = [
            p for p in bench.pages if cv_score.per_page[p.id] < previous_score.per_page[p.id] - 0.2
        ]
        if args.cv_only:
            regressions = []
        if not args.cv_only:
            print(f"  pages > 0.2 F1 below the previous extractor (site CV): {len(regressions)}")
        for page in regressions:
            print(
                f"    {page.id[:12]} cv={cv_score.per_page[page.id]:.3f}"
                f" previous={previous_score.per_page[page.id]:.3f} {page.url[:90]}"
            )
        if args.worst:
            print(f"  worst {args.worst} (site CV):")
            for page in sorted(bench.pages, key=lambda p: cv_score.per_page[p.id])[: args.worst]:
                other = f" traf={theirs_score.per_page[page.id]:.3f}" if theirs_score else ""
                print(f"    {cv_score.per_page[page.id]:.3f}{other} {page.id[:12]} {page.url[:90]}")
        for page in bench.pages:
            csv_rows.append(
                {
                    "set": bench.name, "id": page.id, "site": page.site,
                    "ours": f"{ours_score.per_page[page.id]:.4f}",
                    "ours_cv": f"{cv_score.per_page[page.id]:.4f}",
                    "rules": f"{rules_score.per_page[page.id]:.4f}",
                    "previous": f"{previous_score.per_page[page.id]:.4f}",
                    "trafilatura": f"{theirs_score.per_page[page.id]:.4f}" if theirs_score else "",
                }
            )  # fmt: skip
        floor = floors.get(bench.name)
        if floor is not None and cv_score.f1 < float(floor):
            print(f"  GATE FAILED: site-CV F1 {cv_score.f1:.4f} < floor {float(floor):.4f}")
            failed = True
        elif floor is not None:
            print(f"  gate passed: site-CV F1 {cv_score.f1:.4f} >= floor {float(floor):.4f}")
    write_csv(args.csv, csv_rows)
    print(f"\nper-page scores: {args.csv}")

    if not args.no_speed and not args.no_trafilatura:
        inputs: list[tuple[str | bytes, str]] = [
            (page_html(b, p), p.url) for b in sets for p in b.pages
        ]
        ours_seconds, theirs_seconds = time_side_by_side(
            inputs, [ours_with(DEFAULT_OPTIONS), trafilatura_extract], args.repeat
        )
        n = len(inputs)
        print(
            f"\nin-process, {n} pages, one core: ours {n / ours_seconds:.1f} pages/s,"
            f" trafilatura {n / theirs_seconds:.1f} pages/s,"
            f" ours/trafilatura = {theirs_seconds / ours_seconds:.2f}x"
        )
        if args.whole_process:
            files = [
                directory / "html" / f"{page.id}.html.gz"
                for directory, bench in zip(args.bench_dirs, sets, strict=True)
                for page in bench.pages
            ] * 2
            cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
            ours_wall, theirs_wall = whole_process(files, cpu)
            print(
                f"whole-process, {len(files)} files, one core: newsingest extract"
                f" {ours_wall:.2f} s, trafilatura {theirs_wall:.2f} s,"
                f" ours/trafilatura = {theirs_wall / ours_wall:.2f}x"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

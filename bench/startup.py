"""Start-up cost of the CLI: wall time of `newsingest --help` and `newsingest extract` on one page.

Prints the median of several runs of each, beside a bare `python -c pass` for scale, and the
targets (0.3 s and 0.6 s). A figure, not a test: the machine's load moves it.

    python bench/startup.py [PAGE.html(.gz)] [--runs 7]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
PAGE = """<html lang="en"><head><title>Harbour fees rise</title></head><body><article>
<h1>Harbour fees rise</h1><p>The harbour authority said on Monday that mooring fees would rise by
four percent from April, the first increase in three years, citing the cost of dredging.</p>
<p>Fishing crews said the change would fall hardest on small boats, and asked for a phased
introduction over two seasons, which the authority said it would consider at its next meeting.</p>
</article></body></html>"""


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", nargs="?", type=Path, help="a saved page (default: a small one)")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        page = args.page
        if page is None:
            page = Path(scratch) / "page.html.gz"
            page.write_bytes(gzip.compress(PAGE.encode()))
        output = str(Path(scratch) / "out.jsonl")
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ("newsingest --help", [str(BIN / "newsingest"), "--help"], 0.3),
            (
                "newsingest extract (1 page)",
                [str(BIN / "newsingest"), "extract", "--output", output, str(page)],
                0.6,
            ),
        ]
        print(f"median of {args.runs} runs each")
        for name, command, target in cases:
            seconds = median_seconds(command, args.runs)
            verdict = (
                ""
                if target is None
                else f"  target <= {target:.1f} s: "
                + ("met" if seconds <= target else f"MISSED by {seconds / target:.2f}x")
            )
            print(f"  {name:<30} {seconds:6.3f} s{verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The two extraction dev sets, their metrics, and the grouping of pages by site.

Shared by ``bench/extraction.py`` (the report) and ``bench/train_blocks.py`` (the block
classifier's training). Benchmark data is read from the directories given on the command line and
never copied into the repository.

- ``dev`` (Scrapinghub article-extraction benchmark): ``html/<id>.html.gz`` + ``ground-truth.json``
  ``{id: {"articleBody", "url"}}``; 4-token-shingle precision/recall averaged over pages.
- ``trafilatura-dev``: ``html/<id>.html.gz`` + ``labels.json`` ``{id: {"url", "with", "without"}}``;
  trafilatura's snippet metric (see that folder's README), summed over snippets.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

_TOKEN = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
# The registered domain is the last two labels, or three under these second-level labels
# (bbc.co.uk, abc.net.au); a public-suffix list is not worth a dependency for grouping pages.
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "gov", "ac", "edu", "ne", "or", "go"})
_ARCHIVED = re.compile(r"^https?://web\.archive\.org/web/[^/]+/(.+)$")


def site_of(url: str) -> str:
    """The registered domain of ``url`` (of the captured page for web.archive.org captures)."""
    archived = _ARCHIVED.match(url)
    if archived:
        inner = archived.group(1)
        url = inner if "://" in inner else "http://" + inner
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


@dataclass
class Page:
    id: str
    url: str
    raw: bytes  # the file's bytes, gunzipped
    truth: str | None = None  # dev: the ground-truth body
    with_snippets: list[str] = field(default_factory=list)  # trafilatura-dev
    without_snippets: list[str] = field(default_factory=list)

    @property
    def site(self) -> str:
        return site_of(self.url)


@dataclass
class BenchSet:
    name: str  # "dev" | "trafilatura-dev"
    pages: list[Page]

    @property
    def snippet_metric(self) -> bool:
        return self.name != "dev"


def _gunzip(path: Path) -> bytes:
    data = path.read_bytes()
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        return data


def load_set(directory: Path) -> BenchSet:
    """A dev directory in either layout (``ground-truth.json`` or ``labels.json``)."""
    truth_file = directory / "ground-truth.json"
    if truth_file.exists():
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        pages = [
            Page(
                pid, row["url"], _gunzip(directory / "html" / f"{pid}.html.gz"), row["articleBody"]
            )
            for pid, row in sorted(truth.items())
        ]
        return BenchSet("dev", pages)
    labels = json.loads((directory / "labels.json").read_text(encoding="utf-8"))
    pages = [
        Page(
            pid,
            row["url"],
            _gunzip(directory / "html" / f"{pid}.html.gz"),
            with_snippets=list(row["with"]),
            without_snippets=list(row["without"]),
        )
        for pid, row in sorted(labels.items())
    ]
    return BenchSet("trafilatura-dev", pages)


def site_folds(sites: Iterable[str], folds: int) -> dict[str, int]:
    """Assign each site to one of ``folds`` folds, deterministically (sorted, round-robin)."""
    return {site: i % folds for i, site in enumerate(sorted(set(sites)))}


# --------------------------------------------------------------------------------------------
# Scrapinghub metric (dev)


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


# --------------------------------------------------------------------------------------------
# trafilatura's snippet metric (trafilatura-dev)


def normalize_snippet_text(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


@dataclass
class SnippetCounts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, other: SnippetCounts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0


def snippet_counts(page: Page, prediction: str) -> SnippetCounts:
    text = normalize_snippet_text(prediction)
    counts = SnippetCounts()
    for snippet in page.with_snippets:
        if text and normalize_snippet_text(snippet) in text:
            counts.tp += 1
        else:
            counts.fn += 1
    for snippet in page.without_snippets:
        if text and normalize_snippet_text(snippet) in text:
            counts.fp += 1
        else:
            counts.tn += 1
    return counts


# --------------------------------------------------------------------------------------------
# One set's score


@dataclass
class SetScore:
    """A tool's score on one set: F1 with its precision and recall, and per-page F1s."""

    f1: float
    precision: float
    recall: float
    per_page: dict[str, float]
    empty: int


def score_set(bench: BenchSet, predictions: dict[str, str]) -> SetScore:
    per_page: dict[str, float] = {}
    empty = sum(1 for page in bench.pages if not predictions.get(page.id, "").strip())
    if bench.snippet_metric:
        total = SnippetCounts()
        for page in bench.pages:
            counts = snippet_counts(page, predictions.get(page.id, ""))
            total.add(counts)
            per_page[page.id] = counts.f1 if counts.tp + counts.fp + counts.fn else 1.0
        return SetScore(total.f1, total.precision, total.recall, per_page, empty)
    precisions: list[float] = []
    recalls: list[float] = []
    for page in bench.pages:
        prediction = predictions.get(page.id, "")
        truth = page.truth or ""
        p, r = page_scores(truth, prediction)
        per_page[page.id] = f1_of(p, r)
        if prediction.strip():
            precisions.append(p)
        if truth.strip():
            recalls.append(r)
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    return SetScore(f1_of(precision, recall), precision, recall, per_page, empty)

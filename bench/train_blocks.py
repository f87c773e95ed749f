"""Train the block classifier (``pipeline/extract/block_model.json``) on both extraction dev sets.

Usage: ``python bench/train_blocks.py DEV_DIR TRAFILATURA_DEV_DIR [--write] [--folds 5]``

Every text block of every page is labelled from the benchmark's own truth:

- ``dev`` (full ground-truth bodies): a block is body when most of its 4-token shingles occur in
  the ground truth (a block shorter than 4 tokens: when its token sequence does). Each page's
  blocks weigh by their token count and sum to 1, as the page-averaged metric weighs pages.
- ``trafilatura-dev`` (snippets): a block holding a ``with`` snippet (or held inside one) is body,
  one holding a ``without`` snippet is not; every other block is unlabelled and left out. Each
  labelled block weighs ``SNIPPET_WEIGHT``: the metric counts snippets.

The model is an L2-regularised logistic regression fitted by Newton's method (numpy, here only).
``--folds K`` prints the site-level K-fold cross-validated score: every site's pages are scored by
a model fitted without any page of that site. ``--write`` fits on everything and writes the weights.
Deterministic: same data, same weights.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from extraction_sets import (
    BenchSet,
    Page,
    load_set,
    normalize_snippet_text,
    shingles,
    site_folds,
)

from pipeline.extract.blocks import MODEL_RESOURCE, BlockModel
from pipeline.extract.body import ExtractionOptions
from pipeline.extract.page import ExtractionError, extract_blocks

MODEL_PATH = Path(__file__).resolve().parents[1] / "pipeline" / "extract" / MODEL_RESOURCE
# Chosen by the site-level cross-validated F1 of both sets (see docs/extraction.md): hashed
# class/id and word features (2,048 buckets) gained under 0.003 F1, so the model goes without.
HASH_DIMENSIONS = 0
L2 = 1.0
SNIPPET_WEIGHT = 0.2
ADD_THRESHOLD = 0.6
DROP_THRESHOLD = 0.1
NEWTON_STEPS = 25


@dataclass
class LabelledBlock:
    page_id: str
    site: str
    features: dict[str, float]
    label: float
    weight: float


def page_html(bench: BenchSet, page: Page) -> str | bytes:
    """What the extractor is given: decoded text for dev (as the bench does), raw bytes else."""
    return page.raw.decode("utf-8", errors="replace") if bench.name == "dev" else page.raw


def _dev_labels(truth: str, texts: list[str]) -> list[tuple[float, float]]:
    truth_shingles = shingles(truth)
    truth_tokens = " " + " ".join(t for t in _tokens(truth)) + " "
    out: list[tuple[float, float]] = []
    token_counts = [len(_tokens(text)) for text in texts]
    total = sum(token_counts) or 1
    for text, n_tokens in zip(texts, token_counts, strict=True):
        if n_tokens == 0:
            out.append((0.0, 0.0))
            continue
        if n_tokens < 4:
            label = 1.0 if " " + " ".join(_tokens(text)) + " " in truth_tokens else 0.0
        else:
            block = shingles(text)
            inside = sum(min(c, truth_shingles.get(s, 0)) for s, c in block.items())
            label = 1.0 if inside / sum(block.values()) >= 0.5 else 0.0
        out.append((label, n_tokens / total))
    return out


def _tokens(text: str) -> list[str]:
    import re

    return re.findall(r"\w+", text)


def _snippet_labels(page: Page, texts: list[str]) -> list[tuple[float, float]]:
    wanted = [normalize_snippet_text(s) for s in page.with_snippets]
    unwanted = [normalize_snippet_text(s) for s in page.without_snippets]

    def hit(text: str, snippets: list[str]) -> bool:
        return any(s in text or (len(text) >= 15 and text in s) for s in snippets)

    out: list[tuple[float, float]] = []
    for text in texts:
        normalized = normalize_snippet_text(text)
        positive, negative = hit(normalized, wanted), hit(normalized, unwanted)
        if positive == negative:
            out.append((0.0, 0.0))  # unlabelled (or contradictory): left out
        else:
            out.append((1.0 if positive else 0.0, SNIPPET_WEIGHT))
    return out


def collect(sets: Iterable[BenchSet], hash_dimensions: int) -> list[LabelledBlock]:
    options = ExtractionOptions(block_model=BlockModel({}, hash_dimensions=hash_dimensions))
    rows: list[LabelledBlock] = []
    for bench in sets:
        for page in bench.pages:
            try:
                blocks = extract_blocks(page_html(bench, page), page.url, options=options)
            except ExtractionError:
                continue
            texts = [b.text for b in blocks]
            if bench.name == "dev":
                labels = _dev_labels(page.truth or "", texts)
            else:
                labels = _snippet_labels(page, texts)
            for block, (label, weight) in zip(blocks, labels, strict=True):
                if weight > 0 and block.is_scorable:
                    rows.append(LabelledBlock(page.id, page.site, block.features, label, weight))
    return rows


def fit(
    rows: list[LabelledBlock], l2: float = L2, hash_dimensions: int = HASH_DIMENSIONS
) -> BlockModel:
    """Weighted L2 logistic regression by Newton's method (the bias is not penalised)."""
    names = sorted({name for row in rows for name in row.features})
    index = {name: i for i, name in enumerate(names)}
    x = np.zeros((len(rows), len(names)), dtype=np.float64)
    for r, row in enumerate(rows):
        for name, value in row.features.items():
            x[r, index[name]] = value
    y = np.array([row.label for row in rows])
    w = np.array([row.weight for row in rows])
    w = w / w.mean()
    penalty = np.full(len(names), l2)
    if "bias" in index:
        penalty[index["bias"]] = 0.0
    beta = np.zeros(len(names))
    for _ in range(NEWTON_STEPS):
        z = np.clip(x @ beta, -30, 30)
        p = 1.0 / (1.0 + np.exp(-z))
        gradient = x.T @ (w * (p - y)) + penalty * beta
        hessian = (x * (w * p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.max(np.abs(step))) < 1e-6:
            break
    weights = {name: float(beta[i]) for name, i in index.items() if abs(beta[i]) > 1e-7}
    return BlockModel(weights, ADD_THRESHOLD, DROP_THRESHOLD, hash_dimensions=hash_dimensions)


def fold_models(
    rows: list[LabelledBlock], sites: Iterable[str], folds: int, **fit_args: float
) -> tuple[dict[str, int], list[BlockModel]]:
    """One model per fold, each fitted without the fold's sites."""
    fold_of = site_folds(sites, folds)
    models = [fit([r for r in rows if fold_of[r.site] != k], **fit_args) for k in range(folds)]  # type: ignore[arg-type]
    return fold_of, models


def extract_text(bench: BenchSet, page: Page, options: ExtractionOptions) -> str:
    """The extractor's text for a page; a rejected page gives no text, as the metrics say."""
    from pipeline.extract.page import extract_article

    try:
        return extract_article(page_html(bench, page), page.url, options=options).text
    except ExtractionError:
        return ""


def cross_validated_predictions(
    sets: list[BenchSet], folds: int = 5, rows: list[LabelledBlock] | None = None, **fit_args: float
) -> dict[str, dict[str, str]]:
    """{set name: {page id: text}}, every page extracted by the model fitted without its site."""
    if rows is None:
        rows = collect(sets, HASH_DIMENSIONS)
    sites = [page.site for bench in sets for page in bench.pages]
    fold_of, models = fold_models(rows, sites, folds, **fit_args)
    options = [ExtractionOptions(block_model=model) for model in models]
    return {
        bench.name: {
            page.id: extract_text(bench, page, options[fold_of[page.site]]) for page in bench.pages
        }
        for bench in sets
    }


def block_accuracy(model: BlockModel, rows: list[LabelledBlock]) -> float:
    correct = total = 0.0
    for row in rows:
        predicted = 1.0 if model.probability(row.features) >= 0.5 else 0.0
        correct += row.weight * (predicted == row.label)
        total += row.weight
    return correct / total if total else math.nan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("dev_dir", type=Path)
    parser.add_argument("trafilatura_dev_dir", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--l2", type=float, default=L2)
    parser.add_argument("--write", action="store_true", help="fit on all pages, write the weights")
    args = parser.parse_args(argv)

    sets = [load_set(args.dev_dir), load_set(args.trafilatura_dev_dir)]
    rows = collect(sets, HASH_DIMENSIONS)
    sites = [page.site for bench in sets for page in bench.pages]
    print(f"blocks={len(rows)} positive={sum(r.label for r in rows):.0f} sites={len(set(sites))}")
    fold_of, models = fold_models(rows, sites, args.folds, l2=args.l2)
    held_out = [
        block_accuracy(models[k], [r for r in rows if fold_of[r.site] == k])
        for k in range(args.folds)
    ]
    print("site-fold block accuracy (weighted):", " ".join(f"{a:.4f}" for a in held_out))
    if args.write:
        model = fit(rows, l2=args.l2)
        model = BlockModel(
            model.weights,
            model.add_threshold,
            model.drop_threshold,
            model.hash_dimensions,
            info={
                "trained_on": [b.name for b in sets],
                "pages": sum(len(b.pages) for b in sets),
                "blocks": len(rows),
                "l2": args.l2,
                "snippet_weight": SNIPPET_WEIGHT,
                "script": "bench/train_blocks.py",
            },
        )
        MODEL_PATH.write_text(model.to_json(), encoding="utf-8")
        print(f"wrote {MODEL_PATH} ({len(model.weights)} weights)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Score article metadata (date, time, authors, title) on the metadata benchmark, side by side.

Usage: ``python bench/metadata.py BENCH_DIR [--sets a,b] [--tools ours,htmldate,trafilatura]
[--with-url] [--worst SET:FIELD] [--csv OUT.csv]``

BENCH_DIR holds one directory per set (``htmldate_eval``, ``trafilatura_meta``, ``fundus``,
``postlight``), each with ``truth.jsonl`` and ``html/<id>.html.gz``. The metrics follow the
benchmark README exactly (date@day, date±1d, no-date false positives, UTC ts@min, micro author
P/R/F1 over split and normalised names, title exact/norm/loose).

All tools see the same decoded page (bytes decoded the way the pipeline decodes a fetched body
without a charset header). By default no tool is given the page URL, as in the README's figures;
``--with-url`` gives every tool the URL from ``truth.jsonl``.

Tools: ``ours`` is the pipeline's ``extract_metadata`` with its default options; ``htmldate`` is
``find_date(html, original_date=True, extensive_search=True)``; ``trafilatura`` is
``extract_metadata(html)``. htmldate and trafilatura are dev-only dependencies.

Generalisation: the date chain has a handful of alternative configurations (where htmldate sits
in it, how far it may search, which days must be visible on the page). Besides the default
configuration's plain score, the script picks a configuration per site *without* that site
(leave-site-out over every set's sites, the site key being the registrable domain, all
web.archive.org captures one site) and scores the held site with it. A configuration is picked
for the sum of the shares the targets are set on (``date_utility``). It also prints the spread
of per-site scores. No other parameter is fitted to these pages: the rules are written from the
formats' specifications and the issue's analysis.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import sys
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.extract.body import iter_tags
from pipeline.extract.decode import decode_html
from pipeline.extract.metadata import MetadataOptions, extract_metadata
from pipeline.extract.page import _parse as parse_page

SETS = ("htmldate_eval", "trafilatura_meta", "fundus", "postlight")

# ---------------------------------------------------------------------------------------------
# The README's metrics, transcribed literally.

_NAME_SPLIT = re.compile(
    r"\s*(?:;|,|\||/|&|·|•|\n|\s[-–—]\s)\s*|\s+(?:[Aa]nd|AND|[Uu]nd|UND|et|y|e|og)\s+"
)
_NAME_PREFIX = re.compile(
    r"^(?:by|von|from|par|por|di|de|door|av|af|text|texte|autor|author|written by)\s*:?\s+",
    re.IGNORECASE,
)
_NOT_NAME_CHAR = re.compile(r"[^\w\s'-]")
_SPACE_RUN = re.compile(r"[\s_]+")


def name_set(value: list[str] | str | None) -> set[str]:
    if value is None:
        return set()
    values = [value] if isinstance(value, str) else value
    names: set[str] = set()
    for item in values:
        for part in _NAME_SPLIT.split(item):
            text = unicodedata.normalize("NFKD", part)
            text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
            text = text.strip()
            text = _NAME_PREFIX.sub("", text, count=1)
            text = _NOT_NAME_CHAR.sub(" ", text)
            text = _SPACE_RUN.sub(" ", text).strip(" -'")
            if text:
                names.add(" ".join(sorted(text.split(" "))))
    return names


_QUOTES = str.maketrans(
    {
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a\u301d\u301e\uff02", '"'),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u0060\u00b4\u2032", "'"),
        **dict.fromkeys(
            "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d",
            "-",
        ),
        **dict.fromkeys("\u00ad\u200b\u200c\u200d\u2060\ufeff", None),
    }
)


def title_norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_QUOTES).casefold()
    text = re.sub(r"\s+", " ", text).strip()
    return text.strip(" .:;,!?\"'-|")


_TRAILING_HHMM = re.compile(r"([+-]\d{2})(\d{2})$")


def read_timestamp(value: str | None) -> datetime | date | None:
    """A timestamp as the README reads it: datetime, a bare date, or None (unparseable)."""
    if not isinstance(value, str):
        return None
    text = value.strip().replace(" ", "T", 1)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    text = _TRAILING_HHMM.sub(r"\1:\2", text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _minute(moment: datetime) -> tuple[int, int, int, int, int]:
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute)


def ts_hit(gold: datetime, predicted: str | None) -> bool:
    pred = read_timestamp(predicted)
    if not isinstance(pred, datetime):
        return False
    if gold.tzinfo is not None:
        as_utc = (
            pred.replace(tzinfo=None)
            if pred.tzinfo is None
            else (pred - pred.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]
        )
        gold_utc = (gold - gold.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]
        return _minute(as_utc) == _minute(gold_utc)
    return _minute(pred) == _minute(gold)


def gold_timestamp(value: str | None) -> datetime | None:
    gold = read_timestamp(value)
    if not isinstance(gold, datetime):
        return None
    if gold.tzinfo is None and (gold.hour, gold.minute, gold.second) == (0, 0, 0):
        return None
    return gold


def _day(value: str | None) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


@dataclass
class PageScore:
    """One page's contribution to each measure (None where the page does not count)."""

    site: str
    date_day: bool | None = None
    date_pm1: bool | None = None
    nodate_fp: bool | None = None
    ts_min: bool | None = None
    author_tp: int = 0
    author_np: int = 0
    author_ng: int = 0
    author_counted: bool = False
    title_exact: bool | None = None
    title_norm: bool | None = None
    title_loose: bool | None = None


def score_page(truth: dict[str, Any], pred: dict[str, Any], site: str) -> PageScore:
    score = PageScore(site=site)
    gold_date = truth.get("date")
    predicted_date = pred.get("date")
    if isinstance(gold_date, str) and gold_date:
        score.date_day = isinstance(predicted_date, str) and predicted_date[:10] == gold_date
        predicted_day, gold_day = _day(predicted_date), _day(gold_date)
        score.date_pm1 = (
            predicted_day is not None
            and gold_day is not None
            and abs((predicted_day - gold_day).days) <= 1
        )
    elif gold_date == "":
        score.nodate_fp = isinstance(predicted_date, str) and predicted_date != ""
    gold_ts = gold_timestamp(truth.get("datetime"))
    if gold_ts is not None:
        score.ts_min = ts_hit(gold_ts, pred.get("datetime"))
    if isinstance(truth.get("authors"), list):
        gold_names, predicted_names = name_set(truth["authors"]), name_set(pred.get("authors"))
        score.author_counted = True
        score.author_tp = len(gold_names & predicted_names)
        score.author_np = len(predicted_names)
        score.author_ng = len(gold_names)
    gold_title = truth.get("title")
    if isinstance(gold_title, str) and gold_title:
        predicted_title = pred.get("title") or ""
        score.title_exact = predicted_title.strip() == gold_title.strip()
        a, b = title_norm(gold_title), title_norm(predicted_title)
        score.title_norm = a == b
        short, long_ = sorted((a, b), key=len)
        score.title_loose = bool(a and b) and short in long_ and len(short) * 2 >= len(long_)
    return score


def _share(values: Iterable[bool | None]) -> tuple[float, int]:
    counted = [v for v in values if v is not None]
    return (sum(counted) / len(counted) if counted else float("nan")), len(counted)


def summarise(scores: list[PageScore]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in (
        "date_day",
        "date_pm1",
        "nodate_fp",
        "ts_min",
        "title_exact",
        "title_norm",
        "title_loose",
    ):
        out[key], out[key + "_n"] = _share(getattr(s, key) for s in scores)
    tp = sum(s.author_tp for s in scores)
    np_ = sum(s.author_np for s in scores)
    ng = sum(s.author_ng for s in scores)
    precision = tp / np_ if np_ else 0.0
    recall = tp / ng if ng else 0.0
    out["auth_p"], out["auth_r"] = precision, recall
    out["auth_f1"] = (
        0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    )
    out["auth_n"] = sum(s.author_counted for s in scores)
    return out


# ---------------------------------------------------------------------------------------------
# Sites

_SECOND_LEVEL = {"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or", "go", "gv", "gob"}


def site_key(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    if host.endswith("web.archive.org"):
        return "web.archive.org"
    labels = host.split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


# ---------------------------------------------------------------------------------------------
# Tools


@dataclass
class Page:
    set_name: str
    truth: dict[str, Any]
    html: str
    site: str


def load_set(bench: Path, set_name: str) -> list[Page]:
    pages: list[Page] = []
    with (bench / set_name / "truth.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            truth = json.loads(line)
            raw = gzip.decompress((bench / set_name / truth["file"]).read_bytes())
            html, _charset = decode_html(raw, None)
            pages.append(Page(set_name, truth, html, site_key(truth.get("url") or "")))
    return pages


Tool = Callable[[str, str], dict[str, Any]]


def ours(options: MetadataOptions) -> Tool:
    def run(html: str, url: str) -> dict[str, Any]:
        try:
            soup = parse_page(html)
        except Exception:
            return {}
        md = extract_metadata(soup, url, tags=list(iter_tags(soup)), metadata_options=options)
        return {
            "date": md.published_date.isoformat() if md.published_date else None,
            "datetime": md.published_iso(),
            "authors": md.authors,
            "agencies": md.agencies,
            "title": md.title,
            "source": md.provenance.get("published_at"),
        }

    return run


def htmldate_tool(html: str, url: str) -> dict[str, Any]:
    from htmldate import find_date

    found = find_date(html, original_date=True, extensive_search=True, url=url or None)
    return {"date": found, "datetime": found}


def trafilatura_tool(html: str, url: str) -> dict[str, Any]:
    from trafilatura import extract_metadata as trafilatura_metadata

    doc = trafilatura_metadata(html, default_url=url or None)
    if doc is None:
        return {}
    return {
        "date": doc.date,
        "datetime": doc.date,
        "authors": doc.author.split("; ") if doc.author else None,
        "title": doc.title,
    }


# ---------------------------------------------------------------------------------------------
# Leave-site-out selection of the date chain's configuration

DATE_FIELDS = ("date_day", "ts_min", "nodate_fp")
# The no-date false-positive share is pooled over the sets that label no-date pages.
POOLED = "no-date pages"


def date_counts(scores: Iterable[PageScore], set_name: str) -> dict[tuple[str, str], list[int]]:
    """[hits, counted] per (set, measure): date@day and ts@min per set, no-date FP pooled."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for s in scores:
        for key in DATE_FIELDS:
            value = getattr(s, key)
            if value is not None:
                cell = counts[(POOLED if key == "nodate_fp" else set_name, key)]
                cell[0] += int(bool(value))
                cell[1] += 1
    return counts


def date_utility(counts: dict[tuple[str, str], list[int]]) -> float:
    """What a configuration is selected for: the sum of the shares the issue sets targets on.

    date@day of every set plus ts@min of every set with times, minus the share of no-date
    pages given a date. Shares, not page counts, because the targets are shares: 51 no-date
    pages would otherwise weigh as little against 750 dated ones as their number.
    """
    total = 0.0
    for (_group, key), (hits, counted) in counts.items():
        if counted:
            total += (-1.0 if key == "nodate_fp" else 1.0) * hits / counted
    return total


@dataclass
class Variant:
    name: str
    options: MetadataOptions
    scores: dict[str, list[PageScore]] = field(default_factory=dict)


def leave_site_out(variants: list[Variant], sets: list[str]) -> dict[str, list[PageScore]]:
    """Per set, each page scored by the variant that is best on all *other* sites' pages."""
    totals: dict[str, dict[tuple[str, str], list[int]]] = {}
    by_site: dict[str, dict[str, dict[tuple[str, str], list[int]]]] = defaultdict(dict)
    for variant in variants:
        totals[variant.name] = defaultdict(lambda: [0, 0])
        for set_name in sets:
            for s in variant.scores[set_name]:
                site_counts = by_site[s.site].setdefault(variant.name, defaultdict(lambda: [0, 0]))
                for key, (hits, counted) in date_counts([s], set_name).items():
                    for cell in (totals[variant.name][key], site_counts[key]):
                        cell[0] += hits
                        cell[1] += counted

    def without(name: str, site: str) -> float:
        held = by_site[site].get(name, {})
        rest = {
            key: [hits - held.get(key, [0, 0])[0], counted - held.get(key, [0, 0])[1]]
            for key, (hits, counted) in totals[name].items()
        }
        return date_utility(rest)

    chosen: dict[str, str] = {}
    for site in by_site:
        chosen[site] = max(variants, key=lambda v: without(v.name, site)).name
    print(
        "date-chain utility on all pages: "
        + ", ".join(f"{v.name}={date_utility(totals[v.name]):.3f}" for v in variants)
    )
    out: dict[str, list[PageScore]] = {}
    lookup = {v.name: v for v in variants}
    for set_name in sets:
        n = len(variants[0].scores[set_name])
        out[set_name] = []
        for i in range(n):
            site = variants[0].scores[set_name][i].site
            out[set_name].append(lookup[chosen[site]].scores[set_name][i])
    picks: dict[str, int] = defaultdict(int)
    for name in chosen.values():
        picks[name] += 1
    print(
        "leave-site-out date-chain choice (sites per variant): "
        + ", ".join(f"{k}={v}" for k, v in sorted(picks.items()))
    )
    return out


# ---------------------------------------------------------------------------------------------
# Report

COLUMNS = (
    ("date@day", "date_day"),
    ("date±1d", "date_pm1"),
    ("no-date FP", "nodate_fp"),
    ("ts@min", "ts_min"),
    ("auth P", "auth_p"),
    ("auth R", "auth_r"),
    ("auth F1", "auth_f1"),
    ("title exact", "title_exact"),
    ("title norm", "title_norm"),
    ("title loose", "title_loose"),
)


def _fmt(value: float) -> str:
    return "  –  " if value != value else f"{value:.3f}"


def print_table(set_name: str, rows: list[tuple[str, dict[str, float]]]) -> None:
    first = rows[0][1]
    shown = [
        (label, key)
        for label, key in COLUMNS
        if not (key.startswith("auth") and first["auth_n"] == 0)
        and not (key in first and first.get(key + "_n", 1) == 0)
    ]
    counts = ", ".join(
        f"{label} n={int(first[key + '_n'])}" for label, key in shown if key + "_n" in first
    )
    print(f"\n{set_name} ({counts}; authors n={int(first['auth_n'])})")
    print(f"| {'tool':<28} | " + " | ".join(f"{label:>11}" for label, _ in shown) + " |")
    print("|" + "-" * 30 + "|" + "|".join("-" * 13 for _ in shown) + "|")
    for name, summary in rows:
        cells = []
        for _label, key in shown:
            blank = name.startswith("htmldate") and not key.startswith(("date", "nodate", "ts"))
            cells.append(f"{'–' if blank else _fmt(summary[key]):>11}")
        print(f"| {name:<28} | " + " | ".join(cells) + " |")


def site_spread(scores: list[PageScore], key: str) -> str:
    per_site: dict[str, list[bool]] = defaultdict(list)
    for s in scores:
        value = getattr(s, key)
        if value is not None:
            per_site[s.site].append(bool(value))
    shares = sorted(sum(v) / len(v) for v in per_site.values())
    if not shares:
        return "–"
    perfect = sum(1 for x in shares if x == 1.0)
    worst = shares[: max(1, len(shares) // 10)]
    return (
        f"{len(shares)} sites, {perfect} all right, mean of sites {sum(shares) / len(shares):.3f}, "
        f"worst decile mean {sum(worst) / len(worst):.3f}"
    )


def speed(bench: Path, sets: list[str]) -> int:
    """ms per page of extract_metadata: the default, the previous default ("unchecked": htmldate
    asked and believed whenever the page's own data is silent) and no htmldate, on one core.

    All settings run on each already-parsed page in turn, in a rotating order, so load from
    other processes hits them alike; parsing is outside the clock. One untimed warm-up loads
    htmldate's modules.
    """
    import os
    import time

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    settings = {
        "default": MetadataOptions(),
        # The previous default: htmldate asked, and believed, whenever the page's own data is
        # silent.
        "unchecked": replace(
            MetadataOptions(),
            htmldate_needs_visible_day=False,
            htmldate_day_outside_furniture=False,
            webpage_date_needs_visible_day=False,
        ),
        "no-htmldate": MetadataOptions(htmldate="off"),
    }
    totals = dict.fromkeys(settings, 0.0)
    parsed = []
    for set_name in sets:
        for page in load_set(bench, set_name):
            try:
                soup = parse_page(page.html)
            except Exception:
                continue
            parsed.append((soup, list(iter_tags(soup))))
    soup, tags = parsed[0]
    extract_metadata(
        soup, "", tags=tags, metadata_options=MetadataOptions(date_order=("htmldate",))
    )
    names = list(settings)
    for number, (soup, tags) in enumerate(parsed):
        # The order rotates from page to page: whichever setting runs first on a page pays
        # htmldate's and dateparser's one-off lazy loads, so no setting should always be first.
        for name in names[number % len(names) :] + names[: number % len(names)]:
            options = settings[name]
            started = time.perf_counter()
            extract_metadata(soup, "", tags=tags, metadata_options=options)
            totals[name] += time.perf_counter() - started
    for name, total in totals.items():
        print(f"{name:>12}: {1000 * total / len(parsed):.1f} ms/page over {len(parsed)} pages")
    print(f"ratio default / no-htmldate: {totals['default'] / totals['no-htmldate']:.2f}")
    print(f"ratio default / unchecked: {totals['default'] / totals['unchecked']:.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bench", type=Path)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--tools", default="ours,htmldate,trafilatura")
    parser.add_argument("--with-url", action="store_true", help="give every tool the page URL")
    parser.add_argument("--no-variants", action="store_true", help="skip leave-site-out")
    parser.add_argument("--worst", default="", help="SET:FIELD, list our misses on it")
    parser.add_argument("--csv", type=Path, help="write our per-page predictions here")
    parser.add_argument(
        "--speed", action="store_true", help="only time our chain with and without htmldate"
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.WARNING)

    sets = [s for s in args.sets.split(",") if s]
    if args.speed:
        return speed(args.bench, sets)
    tools = [t for t in args.tools.split(",") if t]
    default = MetadataOptions()
    variants = [Variant("default", default)]
    if "ours" in tools and not args.no_variants:
        for name, changes in MetadataOptions.date_chain_variants().items():
            if changes:
                variants.append(Variant(name, replace(default, **changes)))
    results: dict[str, dict[str, list[PageScore]]] = defaultdict(dict)
    predictions: dict[str, list[dict[str, Any]]] = {}
    all_pages: dict[str, list[Page]] = {}
    for set_name in sets:
        pages = load_set(args.bench, set_name)
        all_pages[set_name] = pages
        runners: list[tuple[str, Tool]] = []
        if "ours" in tools:
            runners += [(f"ours:{v.name}", ours(v.options)) for v in variants]
        if "htmldate" in tools:
            runners.append(("htmldate 1.11 extensive", htmldate_tool))
        if "trafilatura" in tools:
            runners.append(("trafilatura 2.3.1", trafilatura_tool))
        for name, tool in runners:
            scores: list[PageScore] = []
            preds: list[dict[str, Any]] = []
            for page in pages:
                url = page.truth.get("url") or "" if args.with_url else ""
                try:
                    pred = tool(page.html, url)
                except Exception as exc:  # a baseline's crash is a miss, not a bench failure
                    pred = {"error": f"{type(exc).__name__}: {exc}"}
                preds.append(pred)
                scores.append(score_page(page.truth, pred, page.site))
            results[name][set_name] = scores
            if name == "ours:default":
                # The sets label an agency credit as the author when no person is named.
                results["ours:authors+agencies"][set_name] = [
                    score_page(
                        page.truth,
                        {**p, "authors": p.get("authors", []) + p.get("agencies", [])},
                        page.site,
                    )
                    for page, p in zip(pages, preds, strict=True)
                ]
            if name == "ours:default":
                predictions[set_name] = preds
            if name.startswith("ours:"):
                next(v for v in variants if f"ours:{v.name}" == name).scores[set_name] = scores
    loso = leave_site_out(variants, sets) if len(variants) > 1 else None
    for set_name in sets:
        rows: list[tuple[str, dict[str, float]]] = []
        if "ours" in tools:
            rows.append(("project (default)", summarise(results["ours:default"][set_name])))
            rows.append(
                ("project authors+agencies", summarise(results["ours:authors+agencies"][set_name]))
            )
            if loso is not None:
                rows.append(("project leave-site-out", summarise(loso[set_name])))
                for v in variants[1:]:
                    rows.append((f"  variant {v.name}", summarise(v.scores[set_name])))
        for name in results:
            if not name.startswith("ours"):
                rows.append((name, summarise(results[name][set_name])))
        print_table(set_name, rows)
        if "ours" in tools:
            ours_scores = results["ours:default"][set_name]
            for key in ("date_day", "author_f1_pages", "title_norm"):
                if key == "author_f1_pages":
                    continue
                print(f"  per-site {key}: {site_spread(ours_scores, key)}")
    if args.worst and "ours" in tools:
        set_name, _, key = args.worst.partition(":")
        for page, s, pred in zip(
            all_pages[set_name],
            results["ours:default"][set_name],
            predictions[set_name],
            strict=True,
        ):
            if key == "authors":
                if s.author_counted and (s.author_tp != s.author_np or s.author_tp != s.author_ng):
                    print(
                        f"{page.truth['id']}: gold={page.truth['authors']} "
                        f"ours={pred.get('authors')}"
                    )
            elif getattr(s, key) is (key == "nodate_fp"):
                gold = page.truth.get("datetime") or page.truth.get("date")
                if key.startswith("title"):
                    gold, mine = page.truth.get("title"), pred.get("title")
                else:
                    mine = f"{pred.get('datetime')} [{pred.get('source')}]"
                print(f"{page.truth['id']}: gold={gold!r} ours={mine!r}")
    if args.csv and "ours" in tools:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with args.csv.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["set", "id", "site", "gold_date", "date", "datetime", "source"])
            for set_name in sets:
                for page, pred in zip(all_pages[set_name], predictions[set_name], strict=True):
                    writer.writerow(
                        [
                            set_name,
                            page.truth["id"],
                            page.site,
                            page.truth.get("datetime") or page.truth.get("date"),
                            pred.get("date"),
                            pred.get("datetime"),
                            pred.get("source"),
                        ]
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

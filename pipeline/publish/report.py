"""The run report: what one day's run did, per source, for people.

Run report
    Every run writes ``reports/dt=YYYY-MM-DD/report.json`` and a self-contained
    ``reports/dt=YYYY-MM-DD/report.html`` (inline CSS, charts as embedded PNGs) next to the run's
    ``summary.json``; ``newsingest report --date D`` prints it. Everything is read back from the
    day's PUBLISHED partitions (``fetch_log``, ``rejects``, ``articles``), so the report says what
    readers of the dataset will see, and a reprocessed day gets a fresh report.

    Per source: pages discovered (page rows of the fetch log), fetched (of which not modified, a
    304 answered from the archive), skipped / failed / rejected by reason, written, and written
    rows that are duplicates. For every source ``discovered = written + skipped + failed +
    rejected``; anything else is reported as ``unaccounted`` and flagged. Also: extraction
    coverage (share of written rows with a publication date, with at least one author, with a
    language), the duplicate rate, and the top multi-outlet stories.

    Flags (the red box at the top of the HTML):
      * ``no_items``: the source discovered no page URL at all;
      * ``discovery_failed``: one of its feeds or sitemaps failed;
      * ``failure_rate``: failed / discovered pages is above the source's usual level, the median
        over its reports of the previous ``history_days`` days plus ``FAILURE_RATE_MARGIN``
        (with fewer than ``MIN_HISTORY_REPORTS`` earlier reports: above
        ``DEFAULT_MAX_FAILURE_RATE``);
      * ``rejected_share``: more than ``MAX_REJECTED_SHARE`` of its fetched pages gave no article;
      * ``over_cap``: its listings held more URLs than ``discovery.max_urls_per_source``;
      * ``date_conflicts``: more than ``MAX_DATE_CONFLICT_SHARE`` of its articles are dated more
        than 36 h from their listing (``date_conflict``);
      * ``unaccounted``: the counts above do not add up;
      * ``source_failed``: the source's fetch or extract failed; the day was published without
        it (keeping its rows of an earlier run of the day, if there was one).
"""

from __future__ import annotations

import base64
import html
import io
import logging
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pipeline.models import FetchOutcome, Reject, RunWindow, StoryAssignment
from pipeline.results import SourceCounts
from pipeline.storage import layout
from pipeline.storage.partitions import DatasetStore
from pipeline.storage.root import Root, as_root

log = logging.getLogger(__name__)

REPORT_VERSION = 1
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
SUMMARY_JSON = "summary.json"

#: A source's failure rate may exceed its usual (median) rate by this much before it is flagged.
#: An absolute margin rather than a ratio: against a usual rate of 0 any ratio flags one failure.
FAILURE_RATE_MARGIN = 0.10
#: Without enough history, a source failing more than this share of its pages is flagged.
DEFAULT_MAX_FAILURE_RATE = 0.25
#: Fewer earlier reports than this and the median is noise: the default threshold applies.
MIN_HISTORY_REPORTS = 3
DEFAULT_HISTORY_DAYS = 14
#: A source whose fetched pages are rejected more often than this is flagged.
MAX_REJECTED_SHARE = 0.20
#: A source whose pages' own dates disagree with their listings more often than this is flagged.
MAX_DATE_CONFLICT_SHARE = 0.20
#: Stories copied by at least this many outlets are listed among the top stories.
MIN_OUTLETS_FOR_TOP_STORY = 2
TOP_STORIES = 10

_TABLES = ("fetch_log", "rejects", "articles")
_ARTICLE_COLUMNS = [
    "article_id",
    "source",
    "title",
    "authors",
    "language",
    "published_at",
    "story_id",
    "is_duplicate",
    "date_conflict",
]


class ReportError(FileNotFoundError):
    """The day has no (complete) set of published partitions to report on."""


# -- building ----------------------------------------------------------------------------------


def has_partitions(output_root: str | Path | Root, window: RunWindow) -> bool:
    manifest = DatasetStore(output_root).committed(window)
    return manifest is not None and all(table in manifest.tables for table in _TABLES)


def build_report(
    output_root: str | Path | Root,
    window: RunWindow,
    *,
    history_days: int = DEFAULT_HISTORY_DAYS,
) -> dict[str, Any]:
    """The report of the day's published partitions, as a JSON-serializable dict.

    The per-source counts are the ones the run's stages produced (``summary.json``); a day whose
    summary belongs to another run is counted from its published rows, with the same counters.
    """
    root = as_root(output_root)
    manifest = DatasetStore(root).committed(window)
    files = manifest.tables if manifest else {}
    missing = [table for table in _TABLES if table not in files]
    if manifest is None or missing:
        raise ReportError(
            f"no published {', '.join(missing)} partition for {window.partition} under "
            f"{root.display()}; run the day first (newsingest run --date {window.day.isoformat()})"
        )
    paths = {table: files[table].file for table in _TABLES}
    articles = _read(root, paths["articles"], _ARTICLE_COLUMNS)
    run_id = manifest.run_id
    summary = _run_summary(root, window, run_id)
    counts = _summary_counts(summary) or _counts_from_rows(root, paths, articles)
    failed_sources: dict[str, str] = dict(summary.get("failed_sources") or {})
    history = _history(root, window, history_days)
    rows_of: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in articles:  # once, not once per source: a day may have thousands of sources
        rows_of[row["source"]].append(row)
    sources = {
        name: _source_report(counts[name], rows_of.get(name, []), history)
        for name in sorted(counts)
    }
    totals = _totals(sources.values())
    return {
        "report_version": REPORT_VERSION,
        "partition": window.partition,
        "day": window.day.isoformat(),
        "data_interval": [window.start.isoformat(), window.end.isoformat()],
        "run_id": run_id,
        "sources": sources,
        "totals": totals,
        "coverage": _coverage(articles),
        "duplicate_rate": _share(totals["duplicates"], totals["written"]),
        "top_stories": _top_stories(articles),
        "failed_sources": failed_sources,
        "flags": _failed_source_flags(failed_sources, sources) + _flags(sources),
        "history": {
            "days": sorted(history),
            "min_reports": MIN_HISTORY_REPORTS,
            "failure_rate_margin": FAILURE_RATE_MARGIN,
            "default_max_failure_rate": DEFAULT_MAX_FAILURE_RATE,
        },
        "paths": {table: root.path(file) for table, file in paths.items()},
    }


def _read(root: Root, relative: str, columns: list[str] | None) -> list[dict[str, Any]]:
    data: pa.Table = pq.read_table(root.path(relative), filesystem=root.fs, columns=columns)
    rows: list[dict[str, Any]] = data.to_pylist()
    return rows


def _run_summary(root: Root, window: RunWindow, run_id: str | None) -> dict[str, Any]:
    """The summary of the run that published the day; {} for another run's or none."""
    relative = layout.report_file(window, SUMMARY_JSON)
    if not root.exists(relative):
        return {}
    summary = root.read_json(relative)
    if not isinstance(summary, dict) or summary.get("run_id") != run_id:
        return {}
    return summary


def _summary_counts(summary: Mapping[str, Any]) -> dict[str, SourceCounts] | None:
    """The stages' own per-source counts, as the run's summary recorded them."""
    documents = summary.get("source_counts")
    if not isinstance(documents, dict):
        return None
    return {name: SourceCounts.from_dict(document) for name, document in documents.items()}


def _counts_from_rows(
    root: Root, paths: Mapping[str, str], articles: list[dict[str, Any]]
) -> dict[str, SourceCounts]:
    fetch_log = [FetchOutcome(**row) for row in _read(root, paths["fetch_log"], None)]
    rejects = [Reject(**row) for row in _read(root, paths["rejects"], None)]
    names = {row.source for row in fetch_log} | {row.source for row in rejects}
    names |= {row["source"] for row in articles}
    return {
        name: SourceCounts.from_rows(
            name,
            [row for row in fetch_log if row.source == name],
            [row for row in rejects if row.source == name],
            [
                StoryAssignment(row["article_id"], "", row["story_id"], row["is_duplicate"])
                for row in articles
                if row["source"] == name
            ],
        )
        for name in names
    }


def _history(root: Root, window: RunWindow, days: int) -> dict[str, dict[str, Any]]:
    """Earlier days' reports, by day; unreadable or foreign documents are skipped."""
    found: dict[str, dict[str, Any]] = {}
    for back in range(1, days + 1):
        day: date = window.day - timedelta(days=back)
        relative = layout.report_file(RunWindow.for_day(day), REPORT_JSON)
        if not root.exists(relative):
            continue
        try:
            document = root.read_json(relative)
        except (OSError, ValueError) as exc:
            log.warning("report history: skipping %s (%s)", relative, exc)
            continue
        if isinstance(document, dict) and isinstance(document.get("sources"), dict):
            found[day.isoformat()] = document
    return found


def _usual_failure_rate(
    name: str, history: Mapping[str, Mapping[str, Any]]
) -> tuple[float | None, int]:
    rates = []
    for document in history.values():
        counts = document["sources"].get(name)
        if isinstance(counts, dict) and isinstance(counts.get("failure_rate"), int | float):
            rates.append(float(counts["failure_rate"]))
    if len(rates) < MIN_HISTORY_REPORTS:
        return None, len(rates)
    return statistics.median(rates), len(rates)


def _source_report(
    counts: SourceCounts,
    rows: list[dict[str, Any]],
    history: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    failure_rate = _share(sum(counts.failed.values()), counts.discovered)
    usual, history_reports = _usual_failure_rate(counts.source, history)
    threshold = DEFAULT_MAX_FAILURE_RATE if usual is None else usual + FAILURE_RATE_MARGIN
    return {
        "discovery_urls": counts.discovery_urls,
        "discovery_failed": counts.discovery_failed,
        "discovered": counts.discovered,
        "fetched": counts.fetched,
        "not_modified": counts.not_modified,
        "skipped": counts.skipped,
        "failed": counts.failed,
        "rejected": counts.rejected,
        "written": counts.written,
        "canonical": counts.canonical,
        "duplicates": counts.duplicates,
        "unaccounted": counts.unaccounted,
        "failure_rate": failure_rate,
        "usual_failure_rate": usual,
        "history_reports": history_reports,
        "failure_rate_threshold": round(threshold, 4),
        "rejected_share": _share(sum(counts.rejected.values()), counts.fetched),
        "date_conflicts": sum(1 for row in rows if row.get("date_conflict")),
        "coverage": _coverage(rows),
    }


def _by_reason(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for reason, url in pairs:
        grouped[reason].append(url)
    return {reason: sorted(urls) for reason, urls in sorted(grouped.items())}


_COUNT_KEYS = ("discovered", "fetched", "not_modified", "written", "canonical", "duplicates")


def _totals(sources: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    totals: dict[str, Any] = dict.fromkeys(_COUNT_KEYS, 0)
    by_reason: dict[str, Counter[str]] = {"skipped": Counter(), "failed": Counter()}
    by_reason["rejected"] = Counter()
    unaccounted = 0
    discovery_failures = 0
    for counts in sources:
        for key in _COUNT_KEYS:
            totals[key] += counts[key]
        for kind, counter in by_reason.items():
            counter.update(counts[kind])
        unaccounted += counts["unaccounted"]
        discovery_failures += sum(len(urls) for urls in counts["discovery_failed"].values())
    for kind, counter in by_reason.items():
        totals[kind] = dict(sorted(counter.items()))
    totals["unaccounted"] = unaccounted
    totals["discovery_failures"] = discovery_failures
    totals["failure_rate"] = _share(sum(by_reason["failed"].values()), totals["discovered"])
    return totals


def _coverage(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "rows": len(rows),
        "published_at": _share(sum(1 for r in rows if r["published_at"] is not None), len(rows)),
        "authors": _share(sum(1 for r in rows if r["authors"]), len(rows)),
        "language": _share(sum(1 for r in rows if r["language"]), len(rows)),
    }


def _top_stories(articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stories that several outlets ran today, most outlets first.

    The title is the canonical row's; a story first seen on an earlier day has its canonical row
    in that day's partition, so the earliest copy of today stands in (``canonical_today`` false).
    """
    copies: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in articles:
        copies[row["story_id"]].append(row)
    stories = []
    for story_id, rows in copies.items():
        outlets = sorted({row["source"] for row in rows})
        if len(outlets) < MIN_OUTLETS_FOR_TOP_STORY:
            continue
        canonical = next((row for row in rows if not row["is_duplicate"]), None)
        shown = canonical or min(rows, key=_earliest)
        stories.append(
            {
                "story_id": story_id,
                "outlets": len(outlets),
                "sources": outlets,
                "copies": len(rows),
                "title": shown["title"],
                "canonical_article_id": shown["article_id"] if canonical else None,
                "canonical_today": canonical is not None,
            }
        )
    stories.sort(key=lambda s: (-s["outlets"], -s["copies"], s["story_id"]))
    return stories[:TOP_STORIES]


def _earliest(row: Mapping[str, Any]) -> tuple[bool, str, str]:
    published = row["published_at"]
    return (published is None, published.isoformat() if published else "", row["article_id"])


def _flags(sources: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    flags: list[dict[str, Any]] = []
    for name, counts in sources.items():
        if counts["discovered"] == 0:
            flags.append(_flag(name, "no_items", f"{name} returned 0 items"))
        for reason, urls in counts["discovery_failed"].items():
            flags.append(
                _flag(
                    name,
                    "discovery_failed",
                    f"{name}: discovery failed ({reason}) for {', '.join(urls)}",
                )
            )
        rate = counts["failure_rate"]
        threshold = counts["failure_rate_threshold"]
        if rate is not None and rate > threshold:
            usual = counts["usual_failure_rate"]
            level = "no history" if usual is None else f"usual {_percent(usual)}"
            flags.append(
                _flag(
                    name,
                    "failure_rate",
                    f"{name}: {_percent(rate)} of pages failed "
                    f"({sum(counts['failed'].values())} of {counts['discovered']}; {level}, "
                    f"flagged above {_percent(threshold)})",
                )
            )
        rejected = counts.get("rejected_share")
        if rejected is not None and rejected > MAX_REJECTED_SHARE:
            flags.append(
                _flag(
                    name,
                    "rejected_share",
                    f"{name}: {_percent(rejected)} of fetched pages gave no article "
                    f"({_reasons(counts['rejected'])})",
                )
            )
        if counts["skipped"].get("over_cap"):
            flags.append(
                _flag(
                    name,
                    "over_cap",
                    f"{name}: its listings exceeded the cap; {counts['skipped']['over_cap']} "
                    "URLs were not fetched (discovery.max_urls_per_source)",
                )
            )
        conflicts = counts.get("date_conflicts", 0)
        if counts["written"] and conflicts / counts["written"] > MAX_DATE_CONFLICT_SHARE:
            flags.append(
                _flag(
                    name,
                    "date_conflicts",
                    f"{name}: {conflicts} of {counts['written']} articles are dated more than "
                    "36 h from their feed or sitemap date (date_conflict)",
                )
            )
        if counts["unaccounted"]:
            flags.append(
                _flag(
                    name,
                    "unaccounted",
                    f"{name}: {counts['unaccounted']} discovered URLs are unaccounted for",
                )
            )
    return flags


def _failed_source_flags(
    failed: Mapping[str, str], sources: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    flags = []
    for name, why in sorted(failed.items()):
        kept = (
            f"its {sources[name]['written']} rows from the earlier run of the day are kept"
            if name in sources
            else "it has no rows for the day"
        )
        flags.append(_flag(name, "source_failed", f"{name} failed ({why}); {kept}"))
    return flags


def _flag(source: str, kind: str, message: str) -> dict[str, Any]:
    return {"source": source, "kind": kind, "message": message}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


# -- writing -----------------------------------------------------------------------------------


def write_report(
    output_root: str | Path | Root, window: RunWindow, report: Mapping[str, Any]
) -> tuple[str, str]:
    """Write ``report.json`` and ``report.html`` of the day; returns their two paths."""
    root = as_root(output_root)
    json_relative = layout.report_file(window, REPORT_JSON)
    html_relative = layout.report_file(window, REPORT_HTML)
    root.write_json(json_relative, report)
    root.write_text(html_relative, render_html(report))
    return root.display(json_relative), root.display(html_relative)


def write_run_report(
    output_root: str | Path | Root,
    window: RunWindow,
    *,
    history_days: int = DEFAULT_HISTORY_DAYS,
) -> dict[str, Any]:
    """Build and write the day's report (called by ``publish`` once the partitions are in)."""
    report = build_report(output_root, window, history_days=history_days)
    _, html_path = write_report(output_root, window, report)
    log.info("%s -> %s", report_log_line(report), html_path)
    return report


# -- rendering ---------------------------------------------------------------------------------


def report_log_line(report: Mapping[str, Any]) -> str:
    """One line for a task log."""
    totals = report["totals"]
    flags = report["flags"]
    return (
        f"report {report['partition']}: {len(report['sources'])} sources, "
        f"{totals['discovered']} discovered, {totals['written']} written "
        f"({totals['duplicates']} duplicates), "
        + (f"{len(flags)} flags: {'; '.join(f['message'] for f in flags)}" if flags else "no flags")
    )


def _reasons(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in counts.items()) or "–"


def format_report(report: Mapping[str, Any]) -> str:
    """A compact plain-text rendering for a terminal."""
    totals = report["totals"]
    coverage = report["coverage"]
    lines = [
        f"news-ingest run report {report['day']}  (run {report['run_id']})",
        f"  data interval: {report['data_interval'][0]} .. {report['data_interval'][1]}",
        "",
    ]
    if report["flags"]:
        lines.append(f"FLAGS ({len(report['flags'])}):")
        lines += [f"  ! {flag['message']}" for flag in report["flags"]]
    else:
        lines.append("no problems flagged")
    lines.append("")
    header = (
        "source",
        "discovered",
        "fetched",
        "not mod.",
        "written",
        "dups",
        "skipped",
        "failed",
        "rejected",
    )
    rows: list[tuple[str, ...]] = [header]
    for name, counts in report["sources"].items():
        rows.append(_table_row(name, counts))
    rows.append(_table_row("TOTAL", totals))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  " + "  ".join(cells))
    lines.append("")
    lines.append("  reasons:")
    for name, counts in report["sources"].items():
        parts = [
            f"{kind} {_reasons(counts[kind])}"
            for kind in ("skipped", "failed", "rejected")
            if counts[kind]
        ]
        parts += [f"discovery failed {reason}" for reason in counts["discovery_failed"]]
        lines.append(f"    {name}: {'; '.join(parts) or 'none'}")
    lines += [
        "",
        f"  coverage of {coverage['rows']} written rows: date {_percent(coverage['published_at'])}"
        f", authors {_percent(coverage['authors'])}, language {_percent(coverage['language'])}",
        f"  duplicate rate: {_percent(report['duplicate_rate'])} "
        f"({totals['duplicates']} of {totals['written']} written rows)",
    ]
    if report["top_stories"]:
        lines.append("  top multi-outlet stories:")
        for story in report["top_stories"]:
            lines.append(
                f"    {story['outlets']} outlets, {story['copies']} copies  "
                f"{story['title'] or '(no title)'}  [{story['story_id']}]"
            )
    return "\n".join(lines)


def _table_row(name: str, counts: Mapping[str, Any]) -> tuple[str, ...]:
    return (
        name,
        str(counts["discovered"]),
        str(counts["fetched"]),
        str(counts["not_modified"]),
        str(counts["written"]),
        str(counts["duplicates"]),
        str(sum(counts["skipped"].values())),
        str(sum(counts["failed"].values())),
        str(sum(counts["rejected"].values())),
    )


_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       margin: 24px auto; max-width: 1100px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #57606a; margin: 0 0 16px; }
.flags { border: 2px solid; border-radius: 6px; padding: 10px 14px; margin: 16px 0; }
.flags.bad { border-color: #cf222e; background: #ffebe9; }
.flags.ok { border-color: #1a7f37; background: #dafbe1; }
.flags ul { margin: 6px 0 0; padding-left: 20px; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #d0d7de; padding: 5px 8px; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.flagged td:first-child { color: #cf222e; font-weight: 600; }
tr.total td { font-weight: 600; border-top: 2px solid #d0d7de; }
.reasons { color: #57606a; font-size: 12px; }
.charts img { max-width: 100%; display: block; margin: 8px 0 16px; }
.small { color: #57606a; font-size: 12px; }
"""


def render_html(report: Mapping[str, Any]) -> str:
    """The self-contained HTML page: no external resource, every text escaped."""
    e = html.escape
    totals = report["totals"]
    flagged = {flag["source"] for flag in report["flags"]}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>news-ingest report {e(report['day'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>news-ingest run report — {e(report['day'])}</h1>",
        f'<p class="meta">run <code>{e(str(report["run_id"]))}</code> · partition '
        f"<code>{e(report['partition'])}</code> · data interval "
        f"{e(report['data_interval'][0])} – {e(report['data_interval'][1])}</p>",
    ]
    if report["flags"]:
        items = "".join(f"<li>{e(flag['message'])}</li>" for flag in report["flags"])
        parts.append(
            f'<div class="flags bad"><strong>{len(report["flags"])} problem(s)</strong>'
            f"<ul>{items}</ul></div>"
        )
    else:
        parts.append('<div class="flags ok"><strong>No problems flagged.</strong></div>')

    parts.append(
        f"<p>{totals['discovered']} page URLs discovered, {totals['fetched']} fetched "
        f"({totals['not_modified']} not modified), <strong>{totals['written']} articles "
        f"written</strong> ({totals['canonical']} canonical, {totals['duplicates']} duplicates; "
        f"duplicate rate {_percent(report['duplicate_rate'])}).</p>"
    )

    parts.append("<h2>Sources</h2><table><tr>")
    columns = (
        "source",
        "discovered",
        "fetched",
        "not modified",
        "written",
        "duplicates",
        "skipped",
        "failed",
        "rejected",
        "failure rate",
        "usual",
    )
    parts.append("".join(f"<th>{e(c)}</th>" for c in columns) + "</tr>")
    for name, counts in report["sources"].items():
        css = ' class="flagged"' if name in flagged else ""
        parts.append(f"<tr{css}>{_html_source_cells(name, counts)}</tr>")
    parts.append(f'<tr class="total">{_html_source_cells("total", totals)}</tr></table>')
    parts.append(
        '<p class="small">discovered = written + skipped + failed + rejected; '
        "fetched includes not modified (a 304 answered from the archived copy). "
        "“usual” is the median failure rate of the source's earlier reports.</p>"
    )

    parts.append("<h2>Extraction coverage</h2><table><tr><th>source</th><th>rows</th>")
    parts.append("<th>with a date</th><th>with authors</th><th>with a language</th></tr>")
    coverage_rows = [(name, counts["coverage"]) for name, counts in report["sources"].items()]
    for name, coverage in [*coverage_rows, ("total", report["coverage"])]:
        css = ' class="total"' if name == "total" else ""
        parts.append(
            f"<tr{css}><td>{e(name)}</td><td class=n>{coverage['rows']}</td>"
            + "".join(
                f"<td class=n>{_percent(coverage[key])}</td>"
                for key in ("published_at", "authors", "language")
            )
            + "</tr>"
        )
    parts.append("</table>")

    parts.append("<h2>Top multi-outlet stories</h2>")
    if report["top_stories"]:
        parts.append(
            "<table><tr><th>title</th><th>outlets</th><th>copies</th><th>sources</th>"
            "<th>story_id</th></tr>"
        )
        for story in report["top_stories"]:
            title = e(story["title"] or "(no title)")
            if not story["canonical_today"]:
                title += ' <span class="small">(canonical copy on an earlier day)</span>'
            parts.append(
                f"<tr><td>{title}</td><td class=n>{story['outlets']}</td>"
                f"<td class=n>{story['copies']}</td><td>{e(', '.join(story['sources']))}</td>"
                f"<td><code>{e(story['story_id'])}</code></td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append("<p>No story was run by more than one outlet.</p>")

    parts.append('<h2>Charts</h2><div class="charts">')
    parts.append(
        f'<img src="data:image/png;base64,{articles_chart(report)}" alt="articles per source">'
    )
    parts.append(
        f'<img src="data:image/png;base64,{reasons_chart(report)}" '
        'alt="why URLs did not become articles">'
    )
    parts.append("</div>")
    paths = "".join(
        f"<li>{e(table)}: <code>{e(path)}</code></li>" for table, path in report["paths"].items()
    )
    parts.append(f'<h2>Partitions</h2><ul class="small">{paths}</ul></body></html>')
    return "\n".join(parts) + "\n"


def _html_source_cells(name: str, counts: Mapping[str, Any]) -> str:
    e = html.escape
    cells = [f"<td>{e(name)}</td>"]
    for key in ("discovered", "fetched", "not_modified", "written", "duplicates"):
        cells.append(f"<td class=n>{counts[key]}</td>")
    for kind in ("skipped", "failed", "rejected"):
        reasons = counts[kind]
        detail = f'<div class="reasons">{e(_reasons(reasons))}</div>' if reasons else ""
        cells.append(f"<td class=n>{sum(reasons.values())}{detail}</td>")
    cells.append(f"<td class=n>{_percent(counts['failure_rate'])}</td>")
    usual = counts.get("usual_failure_rate")
    cells.append(f"<td class=n>{_percent(usual) if name != 'total' else ''}</td>")
    return "".join(cells)


# -- charts ------------------------------------------------------------------------------------

_CANONICAL_COLOR = "#2f6fb0"
_DUPLICATE_COLOR = "#9ec5e8"
_KIND_COLORS = {"failed": "#cf222e", "skipped": "#8c959f", "rejected": "#d4a72c"}
_CHART_WIDTH_INCHES = 8.0
_ROW_INCHES = 0.42
_CHART_DPI = 110


def _png(figure: Figure) -> str:
    FigureCanvasAgg(figure)  # the Agg canvas: no display, no pyplot global state
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_CHART_DPI, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(rows: int) -> Figure:
    return Figure(figsize=(_CHART_WIDTH_INCHES, 1.3 + _ROW_INCHES * max(rows, 1)))


def articles_chart(report: Mapping[str, Any]) -> str:
    """Written articles per source, canonical and duplicate rows stacked; a base64 PNG."""
    names = list(report["sources"])[::-1]  # barh draws bottom-up; keep the table's order
    figure = _figure(len(names))
    axes = figure.add_subplot()
    canonical = [report["sources"][n]["canonical"] for n in names]
    duplicates = [report["sources"][n]["duplicates"] for n in names]
    axes.barh(names, canonical, color=_CANONICAL_COLOR, label="canonical")
    axes.barh(names, duplicates, left=canonical, color=_DUPLICATE_COLOR, label="duplicate")
    for index, (first, second) in enumerate(zip(canonical, duplicates, strict=True)):
        axes.text(first + second, index, f" {first + second}", va="center", fontsize=9)
    axes.set_title(f"Articles written per source, {report['day']}")
    axes.set_xlabel("articles")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    # Outside the plot, so that it never hides the end of a long bar.
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(x=0.1)
    if not names:
        axes.text(0.5, 0.5, "no sources", ha="center", va="center", transform=axes.transAxes)
    return _png(figure)


def reasons_chart(report: Mapping[str, Any]) -> str:
    """Why discovered URLs did not become articles (skipped / failed / rejected, by reason)."""
    totals = report["totals"]
    bars = [
        (f"{kind}: {reason}", count, _KIND_COLORS[kind])
        for kind in ("failed", "rejected", "skipped")
        for reason, count in totals[kind].items()
    ]
    bars += [
        (f"discovery failed: {reason}", len(urls), _KIND_COLORS["failed"])
        for counts in report["sources"].values()
        for reason, urls in counts["discovery_failed"].items()
    ]
    merged: dict[str, tuple[int, str]] = {}
    for label, count, color in bars:
        merged[label] = (merged.get(label, (0, color))[0] + count, color)
    labels = list(merged)[::-1]
    figure = _figure(len(labels))
    axes = figure.add_subplot()
    if labels:
        counts = [merged[label][0] for label in labels]
        axes.barh(labels, counts, color=[merged[label][1] for label in labels])
        for index, count in enumerate(counts):
            axes.text(count, index, f" {count}", va="center", fontsize=9)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.margins(x=0.1)
    else:
        axes.set_axis_off()
        axes.text(0.5, 0.5, "nothing skipped, failed or rejected", ha="center", va="center")
    axes.set_title("Why URLs did not become articles (all sources)")
    axes.set_xlabel("URLs")
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)

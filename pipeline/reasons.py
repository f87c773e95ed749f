"""Every reason code the pipeline records: its table, its status and what it means.

A URL that does not become an article row ends as a ``fetch_log`` row (``skipped`` or ``failed``)
or a ``rejects`` row (``rejected``), always with one of these codes. ``docs/schema.md`` lists
exactly these (a test checks it); ``http_NNN`` stands for every HTTP status code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: str
    table: str  # "fetch_log" | "rejects"
    status: str  # "skipped" (we chose not to) | "failed" (it went wrong) | "rejected"
    meaning: str
    discovery: bool = False  # recorded for feeds and sitemaps, not pages


HTTP_STATUS = "http_NNN"

_ALL = (
    # -- discovery and selection: we chose not to fetch ---------------------------------------
    Reason(
        "duplicate_url",
        "fetch_log",
        "skipped",
        "another spelling of the same canonical URL was already listed (tracking parameters, AMP)",
    ),
    Reason(
        "out_of_window",
        "fetch_log",
        "skipped",
        "the feed/sitemap date (or `lastmod`) is outside the run's day",
    ),
    Reason("over_cap", "fetch_log", "skipped", "more URLs than `discovery.max_urls_per_source`"),
    Reason(
        "seen_before",
        "fetch_log",
        "skipped",
        "fetched on an earlier day (within `discovery.seen_days`) and not listed as changed since",
    ),
    Reason(
        "sitemap_out_of_window",
        "fetch_log",
        "skipped",
        "a child sitemap whose `<lastmod>` is before the run's day: none of its URLs is fetched",
        discovery=True,
    ),
    Reason("robots", "fetch_log", "skipped", "robots.txt disallows it"),
    Reason("content_type", "fetch_log", "skipped", "not HTML (a PDF, an image...)"),
    # -- fetching: it went wrong --------------------------------------------------------------
    Reason(
        HTTP_STATUS,
        "fetch_log",
        "failed",
        "the final response had status NNN (after retries for 429/5xx)",
    ),
    Reason(
        "robots_unavailable",
        "fetch_log",
        "failed",
        "robots.txt answered 5xx or was unreachable: the host is deferred to a later run",
    ),
    Reason("host_parked", "fetch_log", "failed", "the host failed repeatedly earlier in this run"),
    Reason(
        "private_address",
        "fetch_log",
        "failed",
        "the host (or a redirect target) resolves to a private/loopback/link-local address",
    ),
    Reason("dns_error", "fetch_log", "failed", "the host name does not resolve"),
    Reason("connect_error", "fetch_log", "failed", "the connection could not be opened"),
    Reason("connect_timeout", "fetch_log", "failed", "the connection was not accepted in time"),
    Reason(
        "read_timeout",
        "fetch_log",
        "failed",
        "the server stopped sending for longer than `http.read_timeout_seconds`",
    ),
    Reason(
        "connection_reset",
        "fetch_log",
        "failed",
        "the connection broke before the body was complete",
    ),
    Reason(
        "deadline",
        "fetch_log",
        "failed",
        "the transfer took longer than `http.fetch_deadline_seconds` (slow-loris protection)",
    ),
    Reason(
        "too_large",
        "fetch_log",
        "failed",
        "the body, after decompression, exceeds `http.max_body_bytes` (compression bombs too)",
    ),
    Reason(
        "bad_encoding",
        "fetch_log",
        "failed",
        "the body's Content-Encoding is corrupt, cut short, or one we did not ask for",
    ),
    Reason(
        "redirect_loop", "fetch_log", "failed", "a redirect chain came back to a URL it had visited"
    ),
    Reason("too_many_redirects", "fetch_log", "failed", "more redirects than allowed"),
    Reason("bad_scheme", "fetch_log", "failed", "not an http(s) URL"),
    Reason(
        "bad_url",
        "fetch_log",
        "failed",
        "the URL cannot be requested: a bad port or IPv6 host, unparseable, or far too long",
    ),
    Reason(
        "not_a_feed",
        "fetch_log",
        "failed",
        "the feed's body is an HTML page, empty, or not RSS/Atom",
        discovery=True,
    ),
    Reason(
        "not_a_sitemap",
        "fetch_log",
        "failed",
        "the sitemap's body is an HTML page, empty, or not sitemap XML",
        discovery=True,
    ),
    Reason(
        "sitemap_depth",
        "fetch_log",
        "failed",
        "a sitemap index nested deeper than `discovery.max_sitemap_depth`",
        discovery=True,
    ),
    Reason(
        "sitemap_cap",
        "fetch_log",
        "failed",
        "more sitemaps than `discovery.max_sitemaps`",
        discovery=True,
    ),
    # -- extraction and dedup: fetched, but no article row ------------------------------------
    Reason("empty_extraction", "rejects", "rejected", "the page has no body text"),
    Reason(
        "not_an_article",
        "rejects",
        "rejected",
        "the page is a listing, a section front or another non-article page",
    ),
    Reason(
        "unparseable",
        "rejects",
        "rejected",
        "the document is empty, cannot be parsed, or nests deeper than the extractor walks",
    ),
    Reason(
        "decode_error",
        "rejects",
        "rejected",
        "the bytes are not text in any encoding found (binary data served as HTML)",
    ),
    Reason(
        "extract_error",
        "rejects",
        "rejected",
        "the extractor failed on this page (a bug: the detail names the exception)",
    ),
    Reason(
        "duplicate_canonical_url",
        "rejects",
        "rejected",
        "another page of the run declares the same canonical URL",
    ),
    Reason(
        "archive_missing",
        "rejects",
        "rejected",
        "a 304 whose archived copy has been deleted",
    ),
)

#: Reasons by (table, code); ``out_of_window`` is a fetch-log skip and a reject, so codes alone
#: are not unique.
REASONS: dict[tuple[str, str], Reason] = {(r.table, r.code): r for r in _ALL}
FETCH_LOG_REASONS: dict[str, Reason] = {r.code: r for r in _ALL if r.table == "fetch_log"}
REJECT_REASONS: dict[str, Reason] = {r.code: r for r in _ALL if r.table == "rejects"}
SKIP_REASONS = frozenset(code for code, r in FETCH_LOG_REASONS.items() if r.status == "skipped")
EXTRACTION_REASONS = frozenset({"empty_extraction", "not_an_article", "unparseable"})


def is_skip(code: str) -> bool:
    """A fetch-log reason that means "we chose not to", as opposed to "it went wrong"."""
    return code in SKIP_REASONS


def fetch_log_reason(code: str) -> Reason:
    """The registry entry of a fetch-log code (``http_404`` -> ``http_NNN``); KeyError if none."""
    if code.startswith("http_") and code[5:].isdigit():
        return FETCH_LOG_REASONS[HTTP_STATUS]
    return FETCH_LOG_REASONS[code]

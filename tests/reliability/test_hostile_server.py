"""Hostile answers from a loopback server, through the real CLI in a child process.

Compression bombs at every URL the fetcher reads (robots.txt, a feed, a sitemap, a page), with
the peak RSS of the run measured in the child; URLs that cannot even be requested; a body whose
gzip is corrupt. A host whose pages all hit the deadline runs the fetch stage in-process (it
needs its timing settings, not the CLI).
"""

from __future__ import annotations

import gzip
import time
from datetime import UTC, date, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from reliability_support import gzip_bomb, newsingest, peak_rss_mib, write_config

from pipeline.dataset import read_day
from pipeline.fetch.archive import latest_per_url, read_events
from pipeline.fetch.fetcher import SourceFetcher
from pipeline.fetch.http import PoliteClient
from pipeline.models import RunWindow
from pipeline.settings import Source

DAY = date(2026, 3, 10)
WINDOW = RunWindow.for_day(DAY)
HTML = {"Content-Type": "text/html; charset=utf-8"}
ARTICLE = (
    "<html><head><title>Ferry fares rise in April</title></head><body><article>"
    "<h1>Ferry fares rise in April</h1>"
    + "<p>The island ferry company will raise its fares by six per cent from the first of "
    "April, citing the cost of fuel and of the new harbour dues.</p>"
    * 6
    + "</article></body></html>"
).encode()
BOMB_MIB = 512  # what each bomb inflates to; the caps keep the run far below it
# The same CLI run of the demo day peaks at about 195 MiB here; an unbounded read of one bomb
# alone would hold 512 MiB, and inflating whole network reads (64 KiB -> 64 MiB) ~440 MiB.
RSS_BOUND_MIB = 300


def fetch_log(out: Path) -> dict[str, dict]:
    return {row["url"]: row for row in read_day(out, "fetch_log", WINDOW).to_pylist()}


def rss_feed(links: list[str]) -> bytes:
    when = format_datetime(datetime(2026, 3, 10, 9, tzinfo=UTC))
    items = "".join(
        f"<item><title>t</title><link>{link}</link><pubDate>{when}</pubDate></item>"
        for link in links
    )
    return f'<rss version="2.0"><channel><title>x</title>{items}</channel></rss>'.encode()


def test_compression_bombs_everywhere_keep_the_run_small(loopback_server, tmp_path) -> None:
    bomb = gzip_bomb(BOMB_MIB)
    for path, content_type in (
        ("/robots.txt", "text/plain"),
        ("/feed.xml", "application/rss+xml"),
        ("/sitemap.xml", "application/xml"),
        ("/bomb.html", "text/html"),
    ):
        loopback_server.routes[path] = (
            200,
            {"Content-Type": content_type, "Content-Encoding": "gzip"},
            bomb,
        )
    loopback_server.routes["/ok.html"] = (200, HTML, ARTICLE)
    source = {
        "name": "bombs",
        "feeds": [loopback_server.url("/feed.xml")],
        "sitemaps": [loopback_server.url("/sitemap.xml")],
        "urls": [loopback_server.url("/bomb.html"), loopback_server.url("/ok.html")],
    }
    config = write_config(tmp_path / "config.yaml", [source])

    result = newsingest("run", "--config", config, "--date", DAY.isoformat(), measure_rss=True)

    assert result.returncode == 0, result.stderr[-3000:]
    peak = peak_rss_mib(result)
    print(f"peak RSS of the run: {peak:.0f} MiB (bound {RSS_BOUND_MIB} MiB)")
    assert peak < RSS_BOUND_MIB, f"peak RSS {peak:.0f} MiB"
    rows = fetch_log(tmp_path / "out")
    outcome = {
        url.removeprefix(loopback_server.base_url): row["outcome"] for url, row in rows.items()
    }
    assert outcome["/bomb.html"] == "too_large" and outcome["/ok.html"] == "ok"
    assert outcome["/feed.xml"] == outcome["/sitemap.xml"] == "too_large"
    assert "/robots.txt" in loopback_server.hits  # read (its first 500 KiB) and obeyed


def test_bad_urls_and_a_corrupt_gzip_body_are_failed_rows(loopback_server, tmp_path) -> None:
    bad = {
        "long": loopback_server.url("/" + "a" * 100_000),
        "port": "http://127.0.0.1:99999/story",
        "ipv6": "http://[::1/story",
    }
    good = gzip.compress(ARTICLE * 20)
    middle = len(good) // 2
    corrupt = good[:middle] + b"\x00" * 16 + good[middle + 16 :]
    loopback_server.routes["/corrupt.html"] = (200, {**HTML, "Content-Encoding": "gzip"}, corrupt)
    loopback_server.routes["/ok.html"] = (200, HTML, ARTICLE)
    links = [*bad.values(), loopback_server.url("/corrupt.html"), loopback_server.url("/ok.html")]
    feed = (200, {"Content-Type": "application/rss+xml"}, rss_feed(links))
    loopback_server.routes["/feed.xml"] = feed
    config = write_config(
        tmp_path / "config.yaml",
        [{"name": "badurls", "feeds": [loopback_server.url("/feed.xml")]}],
    )

    result = newsingest("run", "--config", config, "--date", DAY.isoformat())

    assert result.returncode == 0, result.stderr[-3000:]
    rows = fetch_log(tmp_path / "out")
    assert rows[loopback_server.url("/ok.html")]["outcome"] == "ok"
    assert rows[loopback_server.url("/corrupt.html")]["outcome"] == "bad_encoding"
    failed = {url: row for url, row in rows.items() if row["outcome"] == "bad_url"}
    assert len(failed) == len(bad), sorted(rows)
    assert all(row["status"] == "failed" and row["detail"] for row in failed.values())


def test_pages_that_hit_the_deadline_park_their_host(loopback_server, loopback_settings) -> None:
    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        for _ in range(200):  # until the client gives up; bounded so the thread always ends
            try:
                handler.wfile.write(b"<p>")
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(0.05)

    paths = [f"/slow/{i}" for i in range(12)]
    for path in paths:
        loopback_server.routes[path] = trickle
    settings = loopback_settings.model_copy(
        update={
            "http": loopback_settings.http.model_copy(
                update={"fetch_deadline_seconds": 0.3, "read_timeout_seconds": 5.0}
            ),
            "politeness": loopback_settings.politeness.model_copy(
                update={"max_connections_per_host": 2}
            ),
        }
    )
    source = Source(name="slow", urls=tuple(loopback_server.url(p) for p in paths))

    result = SourceFetcher(source, WINDOW, settings, "run").run()

    events = read_events(settings.archive_root, result.archive_file)
    outcomes = [e.event.reason for e in latest_per_url(events, "page")]
    parked_after = PoliteClient.PARK_AFTER_FAILURES
    # The parking failures, plus at most the pages already downloading when it happened.
    assert parked_after <= outcomes.count("deadline") < parked_after + 2
    assert outcomes.count("host_parked") == len(paths) - outcomes.count("deadline")
    assert sum(path in loopback_server.hits for path in paths) == outcomes.count("deadline")

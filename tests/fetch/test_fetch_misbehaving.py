"""The fetch stage against a misbehaving server on 127.0.0.1.

Each case runs the real stage (discovery, politeness, retries, limits, WARC archive, extraction of
the archive) and asserts the outcome recorded for the URL, and that the run went on: a healthy page
served beside the bad one is always fetched and extracted.
"""

from __future__ import annotations

import gzip
import socket
import struct
import time
from datetime import UTC, date, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from pipeline.extract.stage import build_source_articles
from pipeline.fetch.fetcher import SourceFetcher
from pipeline.models import RunWindow
from pipeline.reasons import REJECT_REASONS, fetch_log_reason
from pipeline.settings import Settings, Source

WINDOW = RunWindow.for_day(date(2026, 3, 10))
HTML = "text/html; charset=utf-8"

PARAGRAPHS = (
    "The town council voted on Tuesday evening to keep the old swimming baths open for another "
    "summer, after residents collected more than four thousand signatures in three weeks.",
    "Councillors said the building needs a new roof and boiler within two years, and that a "
    "full survey will be published before the autumn budget meeting.",
    "Swimming clubs welcomed the decision but warned that the changing rooms still flood after "
    "heavy rain, which has closed the pool on eleven days since January.",
)


def article_html(title: str = "Council keeps the old baths open", extra: str = "") -> str:
    body = "".join(f"<p>{p}{extra}</p>" for p in PARAGRAPHS)
    return (
        f"<!doctype html><html lang='en'><head><title>{title}</title></head><body>"
        f"<nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{body}</article>"
        "<footer>© Test Gazette</footer></body></html>"
    )


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    for key, value in headers.items():
        handler.send_header(key.replace("_", "-"), value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def fails_then_succeeds(failures: list[tuple[int, dict[str, str]]]):  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def handler(request: BaseHTTPRequestHandler) -> None:
        calls.append(1)
        if len(calls) <= len(failures):
            status, headers = failures[len(calls) - 1]
            send(request, status, b"busy", **headers)
        else:
            send(request, 200, article_html().encode(), Content_Type=HTML)

    return handler


def run(
    server: Any,
    settings: Settings,
    urls: tuple[str, ...] = (),
    feeds: tuple[str, ...] = (),
    sitemaps: tuple[str, ...] = (),
    healthy: tuple[str, ...] = ("/ok",),
) -> dict[str, Any]:
    """Run the stage with healthy pages listed after the bad ones; return outcomes by path."""
    for path in healthy:
        server.routes.setdefault(path, (200, {"Content-Type": HTML}, article_html().encode()))
    source = Source(
        name="misbehaving",
        urls=tuple(server.url(u) for u in (*urls, *healthy)),
        feeds=tuple(server.url(f) for f in feeds),
        sitemaps=tuple(server.url(s) for s in sitemaps),
    )
    fixed = datetime(2026, 3, 10, 12, tzinfo=UTC)
    stats = SourceFetcher(source, WINDOW, settings, "run", clock=lambda: fixed).run()
    built = build_source_articles(settings.archive_root, stats.archive_file, WINDOW, "misbehaving")
    log = {row.url.removeprefix(server.base_url): row for row in built.fetch_log}
    articles = {a.url.removeprefix(server.base_url): a for a in built.articles}
    for path in healthy:
        assert log[path].outcome == "ok" and path in articles, "the run did not go on"
    # Every code recorded is one of the registry's (fetch_log_reason raises KeyError otherwise).
    assert all(fetch_log_reason(row.reason) for row in built.fetch_log if row.reason)
    assert {reject.reason for reject in built.rejects} <= set(REJECT_REASONS)
    return {"log": log, "articles": articles, "stats": stats, "rejects": built.rejects}


def tuned(settings: Settings, **http: Any) -> Settings:
    return settings.model_copy(update={"http": settings.http.model_copy(update=http)})


def test_429_with_retry_after_seconds_recovers(loopback_server, loopback_settings) -> None:
    loopback_server.routes["/busy"] = fails_then_succeeds([(429, {"Retry_After": "0"})])
    result = run(loopback_server, loopback_settings, urls=("/busy",))
    assert result["log"]["/busy"].outcome == "ok"
    assert result["log"]["/busy"].attempts == 2


def test_503_with_retry_after_http_date_recovers(loopback_server, loopback_settings) -> None:
    now = datetime.now(UTC)
    headers = {
        "Retry_After": format_datetime(now, usegmt=True),
        "Date": format_datetime(now, usegmt=True),
    }
    loopback_server.routes["/down"] = fails_then_succeeds([(503, headers)])
    result = run(loopback_server, loopback_settings, urls=("/down",))
    assert (result["log"]["/down"].outcome, result["log"]["/down"].attempts) == ("ok", 2)


def test_500_recovers_on_second_try(loopback_server, loopback_settings) -> None:
    loopback_server.routes["/flaky"] = fails_then_succeeds([(500, {})])
    result = run(loopback_server, loopback_settings, urls=("/flaky",))
    assert result["log"]["/flaky"].outcome == "ok" and "/flaky" in result["articles"]


def test_permanent_500_fails_after_bounded_retries(loopback_server, loopback_settings) -> None:
    loopback_server.routes["/broken"] = (500, {}, b"oops")
    settings = tuned(loopback_settings, max_retries=2)
    row = run(loopback_server, settings, urls=("/broken",))["log"]["/broken"]
    assert (row.status, row.outcome, row.attempts) == ("failed", "http_500", 3)
    assert loopback_server.hits.count("/broken") == 3


def test_slow_loris_hits_the_whole_fetch_deadline(loopback_server, loopback_settings) -> None:
    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", HTML)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        for _ in range(10):  # one byte a second; bounded so the thread always ends
            try:
                handler.wfile.write(b"x")
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(1)

    loopback_server.routes["/slow"] = trickle
    settings = tuned(loopback_settings, fetch_deadline_seconds=1.0, read_timeout_seconds=5.0)
    row = run(loopback_server, settings, urls=("/slow",))["log"]["/slow"]
    assert (row.status, row.outcome, row.attempts) == ("failed", "deadline", 1)


def test_body_over_the_cap_and_a_gzip_bomb(loopback_server, loopback_settings) -> None:
    def unannounced_big(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", HTML)
        handler.end_headers()  # no Content-Length: the cap must hold while streaming
        handler.wfile.write(b"<p>" + b"a" * 300_000)

    loopback_server.routes["/big"] = unannounced_big
    loopback_server.routes["/bomb"] = (
        200,
        {"Content-Type": HTML, "Content-Encoding": "gzip"},
        gzip.compress(b" " * 5_000_000),
    )
    settings = tuned(loopback_settings, max_body_bytes=200_000)
    log = run(loopback_server, settings, urls=("/big", "/bomb"))["log"]
    assert log["/big"].outcome == "too_large" and log["/bomb"].outcome == "too_large"


def test_redirect_loop(loopback_server, loopback_settings) -> None:
    loopback_server.routes["/a"] = (302, {"Location": "/b"}, b"")
    loopback_server.routes["/b"] = (301, {"Location": "/a"}, b"")
    assert run(loopback_server, loopback_settings, urls=("/a",))["log"]["/a"].outcome == (
        "redirect_loop"
    )


def test_redirect_to_a_private_address_is_refused(loopback_server, loopback_settings) -> None:
    # Only 127.0.0.1 is allowed; the redirect target 127.0.0.2 is refused before any connection.
    port = loopback_server.base_url.rsplit(":", 1)[1]
    loopback_server.routes["/jump"] = (302, {"Location": f"http://127.0.0.2:{port}/x"}, b"")
    settings = loopback_settings.model_copy(
        update={"allow_private_addresses": False, "allowed_networks": ("127.0.0.1/32",)}
    )
    row = run(loopback_server, settings, urls=("/jump",))["log"]["/jump"]
    assert (row.status, row.outcome) == ("failed", "private_address")


def test_connection_reset_halfway_through_the_body(loopback_server, loopback_settings) -> None:
    def reset(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", HTML)
        handler.send_header("Content-Length", "10000")
        handler.end_headers()
        handler.wfile.write(b"<html><body><p>half")
        handler.wfile.flush()
        # SO_LINGER 0 turns close() into a TCP reset instead of an orderly shutdown.
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
        handler.close_connection = True

    loopback_server.routes["/reset"] = reset
    row = run(loopback_server, loopback_settings, urls=("/reset",))["log"]["/reset"]
    assert (row.status, row.outcome) == ("failed", "connection_reset")


def test_pdf_is_skipped_for_its_content_type(loopback_server, loopback_settings) -> None:
    loopback_server.routes["/paper.pdf"] = (200, {"Content-Type": "application/pdf"}, b"%PDF-1.7")
    row = run(loopback_server, loopback_settings, urls=("/paper.pdf",))["log"]["/paper.pdf"]
    assert (row.status, row.outcome) == ("skipped", "content_type")


def test_html_declaring_utf8_but_written_in_cp1252(loopback_server, loopback_settings) -> None:
    page = article_html("Café owners “relieved”", extra=" Café “quoted” – déjà vu.")
    loopback_server.routes["/cp1252"] = (200, {"Content-Type": HTML}, page.encode("cp1252"))
    result = run(loopback_server, loopback_settings, urls=("/cp1252",))
    assert result["log"]["/cp1252"].charset in {"cp1252", "windows-1252"}
    text = result["articles"]["/cp1252"].text
    assert "Café “quoted” – déjà vu." in text and "\ufffd" not in text


def test_utf8_bom_wins_over_a_wrong_header(loopback_server, loopback_settings) -> None:
    page = "\ufeff" + article_html("Zürich’s trams", extra=" Zürich’s “new” trams.")
    headers = {"Content-Type": "text/html; charset=iso-8859-1"}
    loopback_server.routes["/bom"] = (200, headers, page.encode("utf-8"))
    result = run(loopback_server, loopback_settings, urls=("/bom",))
    assert result["log"]["/bom"].charset == "utf-8"
    assert "Zürich’s “new” trams." in result["articles"]["/bom"].text


def test_feed_url_answering_an_html_page(loopback_server, loopback_settings) -> None:
    loopback_server.routes["/feed"] = (200, {"Content-Type": HTML}, b"<html><body>Sorry</body>")
    row = run(loopback_server, loopback_settings, feeds=("/feed",))["log"]["/feed"]
    assert (row.role, row.status, row.outcome) == ("discovery", "failed", "not_a_feed")


def test_malformed_feed_xml_keeps_what_it_can(loopback_server, loopback_settings) -> None:
    base = loopback_server.base_url
    broken = (
        f'<rss version="2.0"><channel><title>x</title><item><title>One & two</title>'
        f"<link>{base}/ok</link><pubDate>Tue, 10 Mar 2026 08:00:00 GMT</pubDate></item>"
        "<item><title>cut off"
    ).encode()
    loopback_server.routes["/feed"] = (200, {"Content-Type": "application/rss+xml"}, broken)
    result = run(loopback_server, loopback_settings, feeds=("/feed",))
    assert result["log"]["/feed"].status == "fetched"
    assert result["stats"].discovered == 2  # the one recovered item, plus the URL-list /ok


def test_billion_laughs_feed_is_not_expanded(loopback_server, loopback_settings) -> None:
    entities = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss version="2.0"><channel>'
        "<title>&a9;</title><item><title>&a9;</title><link>http://x.invalid/a</link></item>"
        "</channel></rss>"
    ).encode()
    loopback_server.routes["/feed"] = (200, {"Content-Type": "application/rss+xml"}, bomb)
    result = run(loopback_server, loopback_settings, feeds=("/feed",))
    row = result["log"]["/feed"]
    assert row.role == "discovery" and row.outcome in {"ok", "not_a_feed"}
    for logged in result["log"].values():
        assert len(logged.url) < 200 and "lollollol" not in (logged.detail or "")


def sitemap_index(children: list[str]) -> bytes:
    items = "".join(f"<sitemap><loc>{c}</loc></sitemap>" for c in children)
    return (
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</sitemapindex>'
    ).encode()


def urlset(urls: list[str]) -> bytes:
    items = "".join(f"<url><loc>{u}</loc><lastmod>2026-03-10</lastmod></url>" for u in urls)
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</urlset>'.encode()


def test_nested_sitemap_index_stops_at_the_depth_cap(loopback_server, loopback_settings) -> None:
    server = loopback_server
    xml = {"Content-Type": "application/xml"}
    server.routes["/s1.xml"] = (200, xml, sitemap_index([server.url("/s2.xml")]))
    server.routes["/s2.xml"] = (
        200,
        xml,
        sitemap_index([server.url("/s3.xml"), server.url("/leaf.xml")]),
    )
    server.routes["/leaf.xml"] = (200, xml, urlset([server.url("/ok")]))
    server.routes["/s3.xml"] = (200, xml, sitemap_index([server.url("/s4.xml")]))
    settings = loopback_settings.model_copy(
        update={
            "discovery": loopback_settings.discovery.model_copy(update={"max_sitemap_depth": 3})
        }
    )
    log = run(server, settings, sitemaps=("/s1.xml",))["log"]
    assert log["/leaf.xml"].outcome == "ok"
    assert log["/s4.xml"].outcome == "sitemap_depth" and "/s4.xml" not in server.hits


def test_sitemap_with_10k_urls_is_capped_and_every_url_recorded(
    loopback_server, loopback_settings
) -> None:
    server = loopback_server
    urls = [server.url(f"/story/{i}") for i in range(10_000)]
    server.routes["/big.xml"] = (200, {"Content-Type": "application/xml"}, urlset(urls))
    for i in range(5):
        server.routes[f"/story/{i}"] = (200, {"Content-Type": HTML}, article_html(f"S{i}").encode())
    settings = loopback_settings.model_copy(
        update={
            "discovery": loopback_settings.discovery.model_copy(update={"max_urls_per_source": 5})
        }
    )
    result = run(server, settings, sitemaps=("/big.xml",), healthy=())
    pages = [row for row in result["log"].values() if row.role == "page"]
    assert len(pages) == 10_000  # every listed URL has its row
    outcomes = [row.outcome for row in pages]
    assert outcomes.count("over_cap") == 10_000 - 5 and outcomes.count("ok") == 5
    assert len(result["articles"]) == 5
    assert sum(1 for path in server.hits if path.startswith("/story/")) == 5


def test_robots_disallow_503_and_crawl_delay(loopback_server, loopback_settings) -> None:
    server = loopback_server
    server.routes["/robots.txt"] = (
        200,
        {},
        b"User-agent: *\nCrawl-delay: 30\nDisallow: /private/\n",
    )
    server.routes["/private/x"] = (200, {"Content-Type": HTML}, b"secret")
    settings = loopback_settings.model_copy(
        update={
            "politeness": loopback_settings.politeness.model_copy(
                update={"max_crawl_delay_seconds": 0.3, "min_delay_seconds": 0.1}
            )
        }
    )
    started = time.monotonic()
    result = run(server, settings, urls=("/private/x",), healthy=("/ok", "/ok2"))
    assert result["log"]["/private/x"].outcome == "robots" and "/private/x" not in server.hits
    # Crawl-delay 30 s is capped at 0.3 s, and that (not our 0.1 s floor) spaced the two
    # requests. A lower bound only: sleeping never makes this flaky.
    assert time.monotonic() - started >= 0.3


def test_robots_answering_503_defers_the_host(loopback_server, loopback_settings) -> None:
    loopback_server.routes["/robots.txt"] = (503, {}, b"")
    result = run(loopback_server, loopback_settings, urls=("/a", "/b"), healthy=())
    outcomes = {path: row.outcome for path, row in result["log"].items()}
    assert outcomes == {"/a": "robots_unavailable", "/b": "robots_unavailable"}
    assert loopback_server.hits == ["/robots.txt"]  # asked once per run, then deferred

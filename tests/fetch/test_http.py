import asyncio
import gzip
from http.server import BaseHTTPRequestHandler

from pipeline.fetch.http import HttpResult, PoliteClient
from pipeline.settings import Settings


def get(settings: Settings, url: str) -> HttpResult:
    async def go() -> HttpResult:
        async with PoliteClient(settings) as client:
            return await client.get(url)

    return asyncio.run(go())


def test_ok_page_and_robots_disallow(loopback_server, loopback_settings) -> None:
    loopback_server.routes["/robots.txt"] = (200, {}, b"User-agent: *\nDisallow: /private/\n")
    loopback_server.routes["/a"] = (200, {"Content-Type": "text/html"}, b"<p>hi</p>")
    ok = get(loopback_settings, loopback_server.url("/a"))
    assert ok.ok and ok.body == b"<p>hi</p>"
    refused = get(loopback_settings, loopback_server.url("/private/x"))
    assert refused.error == "robots"
    assert "/private/x" not in loopback_server.hits


def test_loopback_refused_unless_allowed(loopback_server, loopback_settings) -> None:
    strict = loopback_settings.model_copy(update={"allow_private_addresses": False})
    result = get(strict, loopback_server.url("/a"))
    assert result.error == "private_address"
    assert loopback_server.hits == []


def test_gzip_bomb_is_stopped_after_decompression(loopback_server, loopback_settings) -> None:
    bomb = gzip.compress(b"\0" * (5 * 1024 * 1024))
    loopback_server.routes["/bomb"] = (200, {"Content-Encoding": "gzip"}, bomb)
    small = loopback_settings.model_copy(
        update={"http": loopback_settings.http.model_copy(update={"max_body_bytes": 1024 * 1024})}
    )
    assert len(bomb) < 1024 * 1024
    assert get(small, loopback_server.url("/bomb")).error == "too_large"


def test_redirect_loop_is_detected(loopback_server, loopback_settings) -> None:
    loopback_server.routes["/r1"] = (302, {"Location": "/r2"}, b"")
    loopback_server.routes["/r2"] = (302, {"Location": "/r1"}, b"")
    assert get(loopback_settings, loopback_server.url("/r1")).error == "redirect_loop"


def test_retry_after_then_success(loopback_server, loopback_settings) -> None:
    calls = []

    def flaky(handler: BaseHTTPRequestHandler) -> None:
        calls.append(1)
        if len(calls) == 1:
            handler.send_response(503)
            handler.send_header("Retry-After", "0")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"ok")

    loopback_server.routes["/flaky"] = flaky
    result = get(loopback_settings, loopback_server.url("/flaky"))
    assert result.ok and result.body == b"ok" and len(calls) == 2


def test_robots_5xx_defers_the_host(loopback_server, loopback_settings) -> None:
    loopback_server.routes["/robots.txt"] = (503, {}, b"")
    loopback_server.routes["/a"] = (200, {"Content-Type": "text/html"}, b"x")
    assert get(loopback_settings, loopback_server.url("/a")).error == "robots_unavailable"


def test_non_http_scheme_is_refused(loopback_settings) -> None:
    assert get(loopback_settings, "file:///etc/passwd").error == "bad_scheme"

import asyncio
import gzip
import zlib
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


def with_http(settings: Settings, **http: object) -> Settings:
    return settings.model_copy(update={"http": settings.http.model_copy(update=http)})


def test_robots_txt_is_read_up_to_its_cap(loopback_server, loopback_settings) -> None:
    # Rules past the cap are ignored (as Google does), the ones before it still hold.
    robots = b"User-agent: *\nDisallow: /early/\n" + b"# padding\n" * 200 + b"Disallow: /late/\n"
    loopback_server.routes["/robots.txt"] = (
        200,
        {"Content-Encoding": "gzip"},
        gzip.compress(robots),
    )
    loopback_server.routes["/late/a"] = (200, {"Content-Type": "text/html"}, b"<p>late</p>")
    settings = with_http(loopback_settings, max_robots_bytes=1000)
    assert get(settings, loopback_server.url("/early/a")).error == "robots"
    assert get(settings, loopback_server.url("/late/a")).ok


def test_gzip_and_both_spellings_of_deflate_are_decoded(loopback_server, loopback_settings):
    body = b"<p>" + b"the same words again " * 500 + b"</p>"
    zlib_wrapped = zlib.compress(body)
    raw = zlib.compressobj(wbits=-15)
    raw_deflate = raw.compress(body) + raw.flush()
    for path, encoding, data in (
        ("/gzip", "gzip", gzip.compress(body)),
        ("/deflate", "deflate", zlib_wrapped),
        ("/raw-deflate", "deflate", raw_deflate),
        ("/twice", "gzip, gzip", gzip.compress(gzip.compress(body))),
    ):
        loopback_server.routes[path] = (200, {"Content-Encoding": encoding}, data)
        assert get(loopback_settings, loopback_server.url(path)).body == body, path


def test_undecodable_or_unrequested_encodings_fail_the_url(loopback_server, loopback_settings):
    cut = gzip.compress(b"<p>" + bytes(range(256)) * 400 + b"</p>")[:-200]
    loopback_server.routes["/cut"] = (200, {"Content-Encoding": "gzip"}, cut)
    loopback_server.routes["/br"] = (200, {"Content-Encoding": "br"}, b"\x0b\x02\x80hi\x03")
    for path in ("/cut", "/br"):
        result = get(loopback_settings, loopback_server.url(path))
        assert (result.error, result.attempts) == ("bad_encoding", 1), path


def test_urls_that_cannot_be_requested(loopback_server, loopback_settings) -> None:
    for url in (
        loopback_server.url("/" + "x" * 100_000),
        "http://127.0.0.1:99999/a",
        "http://[::1/a",
    ):
        result = get(loopback_settings, url)
        assert result.error == "bad_url" and result.detail and len(result.detail) < 400, url

"""Sources fetched at once keep politeness per host: real HTTP servers on 127.0.0.1 log arrivals.

Four sources over three hosts (one source spans two hosts, two hosts are shared by two sources).
Each server records when every request arrived and how many of its requests were in flight, so
the assertions are about what the hosts saw, not about the client's own bookkeeping.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path

import pytest

from pipeline.fetch.fetcher import fetch_sources_async
from pipeline.models import RunWindow
from pipeline.results import FetchResult
from pipeline.settings import Settings, Source

WINDOW = RunWindow.for_day(date(2026, 3, 10))
PAGE = b"<html><body><p>" + b"word " * 200 + b"</p></body></html>"


@dataclass
class Host:
    """One loopback server and what it saw."""

    base_url: str = ""
    arrivals: list[tuple[float, str]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    response_seconds: float = 0.03

    def page(self, number: int) -> str:
        return f"{self.base_url}/p/{number}"


@pytest.fixture
def hosts() -> Iterator[list[Host]]:
    servers = []
    found = []
    for _ in range(3):
        host = Host()

        class Handler(BaseHTTPRequestHandler):
            seen = host

            def do_GET(self) -> None:
                seen = self.seen
                with seen.lock:
                    seen.arrivals.append((time.monotonic(), self.path))
                    seen.in_flight += 1
                    seen.most_in_flight = max(seen.most_in_flight, seen.in_flight)
                try:
                    if self.path == "/robots.txt":
                        body, kind = b"User-agent: *\nAllow: /\n", "text/plain"
                    else:
                        time.sleep(seen.response_seconds)  # a request takes a while
                        body, kind = PAGE, "text/html; charset=utf-8"
                    self.send_response(200)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with seen.lock:
                        seen.in_flight -= 1

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
        host.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        servers.append(server)
        found.append(host)
    try:
        yield found
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def sources(hosts: list[Host]) -> list[Source]:
    a, b, c = hosts
    return [
        Source(name="a-first", urls=tuple(a.page(n) for n in range(0, 6))),
        Source(
            name="a-and-b",  # one source over two hosts
            urls=tuple(a.page(n) for n in range(6, 12)) + tuple(b.page(n) for n in range(0, 6)),
        ),
        Source(name="b-second", urls=tuple(b.page(n) for n in range(6, 12))),
        Source(name="c-alone", urls=tuple(c.page(n) for n in range(0, 6))),
    ]


def settings(tmp_path: Path, delay: float, connections: int) -> Settings:
    return Settings.model_validate(
        {
            "output_root": str(tmp_path / "out"),
            "archive_root": str(tmp_path / "archive"),
            "allow_private_addresses": True,
            "politeness": {
                "min_delay_seconds": delay,
                "max_connections_per_host": connections,
            },
            "http": {"max_retries": 0},
        }
    )


def fetch_all(config: Settings, hosts: list[Host]) -> dict[str, FetchResult | Exception]:
    return asyncio.run(fetch_sources_async(sources(hosts), WINDOW, config, "run"))


def test_the_delay_between_two_requests_to_one_host_holds_across_sources(
    hosts: list[Host], tmp_path: Path
) -> None:
    delay = 0.25
    outcomes = fetch_all(settings(tmp_path, delay, connections=1), hosts)

    assert all(isinstance(result, FetchResult) for result in outcomes.values()), outcomes
    assert {name: result.fetched for name, result in outcomes.items()} == {  # type: ignore[union-attr]
        "a-first": 6,
        "a-and-b": 12,
        "b-second": 6,
        "c-alone": 6,
    }
    for host in hosts:
        times = sorted(moment for moment, _ in host.arrivals)
        gaps = [later - earlier for earlier, later in pairwise(times)]
        # Arrival times carry a little loopback jitter; two clients on one host would give gaps
        # near zero whenever their turns coincide.
        assert min(gaps) >= delay - 0.05, (host.base_url, [round(gap, 3) for gap in gaps])
        assert host.most_in_flight == 1
        # One client for the run: each host's robots.txt is read once, not once per source.
        assert [path for _, path in host.arrivals].count("/robots.txt") == 1
    # And the hosts were fetched at once: host c's pages came while host a's were still coming.
    a, _, c = hosts
    a_pages = [moment for moment, path in a.arrivals if path.startswith("/p/")]
    c_pages = [moment for moment, path in c.arrivals if path.startswith("/p/")]
    assert min(c_pages) < max(a_pages) and min(a_pages) < max(c_pages)


def test_the_connection_limit_per_host_holds_across_sources(
    hosts: list[Host], tmp_path: Path
) -> None:
    for host in hosts:
        host.response_seconds = 0.15  # long enough for requests to pile up at the host
    outcomes = fetch_all(settings(tmp_path, 0.0, connections=2), hosts)

    assert all(isinstance(result, FetchResult) for result in outcomes.values()), outcomes
    a, b, c = hosts
    # Hosts a and b each get 12 pages from two sources at once: never more than 2 in flight.
    assert a.most_in_flight == 2 and b.most_in_flight == 2
    assert c.most_in_flight <= 2

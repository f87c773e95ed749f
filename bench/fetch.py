"""Fetch benchmark: N pages from H loopback hosts through the real fetch stage.

Run with `make bench` (or `python bench/fetch.py`). A child process serves the hosts; each
measured run is its own process, so its peak RSS is its own. Two runs side by side, a quarter of
the pages and all of them, show whether memory grows with the number of pages (it must not:
pages stream to the WARC archive instead of piling up in memory).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PARAGRAPH = (
    "The regional transport authority said on Monday that the new timetable would add four "
    "evening trains on the coastal line, after passengers complained about crowding on the last "
    "services of the day and long waits at the interchange. "
)


def page(host: int, number: int) -> bytes:
    paragraphs = "".join(f"<p>{PARAGRAPH * 3}</p>" for _ in range(12))
    return (
        f"<!doctype html><html lang='en'><head><title>Host {host} story {number}</title></head>"
        f"<body><nav>Home · World · Sport</nav><article><h1>Story {number}</h1>{paragraphs}"
        "</article><footer>Bench Gazette</footer></body></html>"
    ).encode()


def serve(hosts: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path == "/robots.txt":
                body, content_type = b"User-agent: *\nAllow: /\n", "text/plain"
            else:
                number = int(self.path.rsplit("/", 1)[1].split(".")[0])
                body, content_type = page(self.server.server_port, number), "text/html"
            self.send_response(200)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(hosts)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps([server.server_address[1] for server in servers]), flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin


def measure(ports: list[int], pages: int, concurrency: int) -> None:
    from datetime import date

    from pipeline.fetch.fetcher import SourceFetcher
    from pipeline.models import RunWindow
    from pipeline.settings import Settings, Source

    urls = tuple(f"http://127.0.0.1:{ports[i % len(ports)]}/p/{i}.html" for i in range(pages))
    with tempfile.TemporaryDirectory() as archive:
        settings = Settings.model_validate(
            {
                "archive_root": archive,
                "allow_private_addresses": True,
                "politeness": {"min_delay_seconds": 0},
                "http": {"max_concurrency": concurrency},
                "discovery": {"max_urls_per_source": pages},
            }
        )
        source = Source(name="bench", urls=urls)
        window = RunWindow.for_day(date(2026, 3, 10))
        started = time.perf_counter()
        stats = SourceFetcher(source, window, settings, "bench").run()
        elapsed = time.perf_counter() - started
        archived = (Path(archive) / stats.archive_file).stat().st_size
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "pages": pages,
                "fetched": stats.fetched,
                "seconds": elapsed,
                "peak_rss_mib": peak_kib / 1024,
                "archive_mib": archived / 2**20,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.hosts)
        return 0
    if args.measure:
        measure(json.loads(args.measure), args.pages, args.concurrency)
        return 0

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--hosts", str(args.hosts)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        ports = server.stdout.readline().strip()
        results = []
        for pages in (args.pages // 4, args.pages):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--measure",
                    ports,
                    "--pages",
                    str(pages),
                    "--concurrency",
                    str(args.concurrency),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=10)

    print(
        f"fetch bench: {args.hosts} loopback hosts, politeness delay 0, "
        f"1 connection per host, {args.concurrency} in flight"
    )
    for result in results:
        print(
            f"  {result['pages']:>6} pages: {result['fetched']} fetched in "
            f"{result['seconds']:.2f}s = {result['pages'] / result['seconds']:.0f} pages/s, "
            f"peak RSS {result['peak_rss_mib']:.0f} MiB, WARC {result['archive_mib']:.1f} MiB"
        )
    small, large = results
    print(
        f"  pages x{large['pages'] / small['pages']:.0f} -> peak RSS "
        f"x{large['peak_rss_mib'] / small['peak_rss_mib']:.2f} "
        f"(archive x{large['archive_mib'] / small['archive_mib']:.1f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

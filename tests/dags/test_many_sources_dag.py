"""2,000 sources plan into shards and run through the real news_ingest DAG (one dag.test run).

A small loopback web: 8 hosts (HTTP servers on 127.0.0.1 to .8), 250 sources on each, one page
per source. Sources sharing a host must land in one shard (politeness is kept inside one task), so
the plan is 8 shards, far under Airflow's map limit, whatever ``shard_size`` says. The day must
publish every source, with every discovered URL accounted for.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from pipeline.planning import MAX_SHARDS, plan_shards
from pipeline.settings import load_config

DAY = date(2026, 3, 10)
HOSTS = 8
SOURCES_PER_HOST = 250
WORDS = [
    "harbour",
    "council",
    "river",
    "ferry",
    "market",
    "winter",
    "school",
    "bridge",
    "orchard",
    "station",
    "budget",
    "museum",
    "library",
    "tunnel",
    "festival",
    "railway",
    "quarry",
    "garden",
    "clinic",
    "theatre",
    "dairy",
    "vineyard",
    "airport",
    "court",
    "approved",
    "delayed",
    "opened",
    "closed",
    "funded",
    "reviewed",
    "extended",
    "repaired",
    "inspected",
    "moved",
    "renamed",
    "northern",
    "coastal",
    "regional",
    "rural",
    "central",
    "eastern",
    "western",
    "historic",
    "annual",
    "temporary",
    "quiet",
]


def article(host: int, number: int) -> bytes:
    """A short article of its own words (random text, so no two sources' texts are copies)."""
    rng = random.Random(host * 10_000 + number)
    paragraphs = "".join(
        "<p>" + " ".join(rng.choice(WORDS) for _ in range(40)).capitalize() + ".</p>"
        for _ in range(5)
    )
    return (
        f"<!doctype html><html lang='en'><head><title>Host {host} story {number}</title>"
        f"<meta property='article:published_time' content='{DAY.isoformat()}T09:00:00Z'>"
        f"</head><body><nav><a href='/'>Home</a></nav><article><h1>Host {host} story {number}"
        f"</h1>{paragraphs}</article><footer>Host {host}</footer></body></html>"
    ).encode()


@pytest.fixture(scope="module")
def web() -> Iterator[list[str]]:
    servers = []
    for host in range(HOSTS):

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            number_of_host = host

            def do_GET(self) -> None:
                if self.path == "/robots.txt":
                    body, kind = b"User-agent: *\nAllow: /\n", "text/plain"
                else:
                    number = int(self.path.rsplit("/", 1)[-1].removesuffix(".html"))
                    body, kind = article(self.number_of_host, number), "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        # One address per host (all of 127.0.0.0/8 is loopback): planning groups by host name.
        server = ThreadingHTTPServer((f"127.0.0.{host + 1}", 0), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
        servers.append(server)
    try:
        yield [
            f"http://{server.server_address[0]}:{server.server_address[1]}" for server in servers
        ]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def write_config(bases: list[str], folder: Path) -> Path:
    sources = [
        {"name": f"h{host}-s{number:03d}", "urls": [f"{base}/story/{number}.html"]}
        for host, base in enumerate(bases)
        for number in range(SOURCES_PER_HOST)
    ]
    settings = {
        "output_root": str(folder / "out"),
        "archive_root": str(folder / "archive"),
        "allow_private_addresses": True,
        "politeness": {"min_delay_seconds": 0.0},
    }
    path = folder / "many.yaml"
    path.write_text(yaml.safe_dump({"settings": settings, "sources": sources}))
    return path


def test_2000_sources_plan_into_host_shards_and_run_in_the_dag(
    airflow_db: None, dagbag: Any, web: list[str], tmp_path: Path
) -> None:
    config_file = write_config(web, tmp_path)
    config = load_config(config_file)
    assert len(config.enabled_sources) == HOSTS * SOURCES_PER_HOST == 2000

    shards = plan_shards(config.enabled_sources, config.settings.shard_size)
    assert len(shards) == HOSTS <= MAX_SHARDS  # a host's 250 sources stay together
    for shard in shards:
        assert len({name.split("-")[0] for name in shard}) == 1
    assert sorted(name for shard in shards for name in shard) == sorted(
        source.name for source in config.enabled_sources
    )

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEWSINGEST_CONFIG", str(config_file))
        run = dagbag.dags["news_ingest"].test(
            logical_date=datetime(2026, 3, 10, tzinfo=UTC),
            run_conf={"date": DAY.isoformat(), "from_archive": False},
        )
    assert str(run.state) == "success"

    out = tmp_path / "out"
    pages = duckdb.sql(
        f"SELECT url, source, status FROM read_parquet('{out}/fetch_log/*/*.parquet') "
        "WHERE role = 'page'"
    ).fetchall()
    assert len(pages) == 2000 and len({source for _, source, _ in pages}) == 2000
    fetched = {url for url, _, status in pages if status == "fetched"}
    assert len(fetched) == 2000
    written = {
        url for (url,) in duckdb.sql(f"SELECT url FROM '{out}/articles/*/*.parquet'").fetchall()
    }
    rejected = {
        url for (url,) in duckdb.sql(f"SELECT url FROM '{out}/rejects/*/*.parquet'").fetchall()
    }
    assert fetched == written | rejected and not written & rejected
    assert len(written) >= 1900  # short, dated article pages: (nearly) all are articles
    summary = yaml.safe_load((out / "reports" / f"dt={DAY.isoformat()}" / "summary.json").open())
    assert summary["failed_sources"] == {} and summary["unaccounted"] == 0
    assert len(summary["sources"]) == 2000

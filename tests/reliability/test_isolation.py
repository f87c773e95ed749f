"""A bad page never costs the day: hostile pages become rejects, a failed source a flag.

Everything is served over real HTTP on 127.0.0.1 and published as real Parquet.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipeline.dataset import read_day
from pipeline.errors import ConfigError
from pipeline.models import RunWindow
from pipeline.runner import SourcesFailed, run_day
from pipeline.settings import PipelineConfig, Settings, Source, load_config
from pipeline.storage import layout

DAY = date(2026, 3, 10)
WINDOW = RunWindow.for_day(DAY)
HTML = {"Content-Type": "text/html; charset=utf-8"}
STORY = " ".join(
    "The harbour board met on Tuesday to agree the spring dredging plan, which crews say is late."
    for _ in range(12)
)


def page(title: str, extra_head: str = "", body: str = "") -> bytes:
    return (
        f"<html lang='en'><head><title>{title}</title>{extra_head}"
        "<meta property='article:published_time' content='2026-03-10T08:00:00Z'></head>"
        f"<body><article><h1>{title}</h1>{body or f'<p>{STORY}</p>'}</article></body></html>"
    ).encode()


def feed(links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>t{i}</title><link>{link}</link>"
        "<pubDate>Tue, 10 Mar 2026 08:00:00 GMT</pubDate></item>"
        for i, link in enumerate(links)
    )
    return f"<rss version='2.0'><channel><title>f</title>{items}</channel></rss>".encode()


def published(settings: Settings, table: str) -> list[dict[str, Any]]:
    return read_day(settings.output_root, table, WINDOW).to_pylist()


def config_of(settings: Settings, *sources: Source) -> PipelineConfig:
    return PipelineConfig(settings=settings, sources=sources)


def test_hostile_pages_are_rejects_and_the_day_is_published(loopback_server, loopback_settings):
    server = loopback_server
    deep = "<font>" * 1200 + f"<p>{STORY}</p>"
    server.routes.update(
        {
            "/deep": (200, HTML, page("Deep", body=deep)),
            "/punycode": (
                200,
                {"Content-Type": "text/html"},
                page("Puny", extra_head="<meta charset='punycode'>"),
            ),
            "/junk": (200, {"Content-Type": "text/html"}, os.urandom(6000)),
            "/relative": (200, HTML, page("Relative")),
            "/ok": (200, HTML, page("Fine")),
            "/feed.xml": (
                200,
                {"Content-Type": "application/rss+xml"},
                feed(
                    [
                        server.url("/deep"),
                        server.url("/punycode"),
                        server.url("/junk"),
                        "/relative",  # resolved against the feed's URL
                        "http://127.0.0.1:99999/bad-port",
                        "http://[::1/bad-ipv6",
                        server.url("/ok"),
                    ]
                ),
            ),
        }
    )
    hostile = Source(name="hostile", feeds=(server.url("/feed.xml"),))
    result = run_day(config_of(loopback_settings, hostile), WINDOW, "isolation")

    summary = result.summary()
    assert summary["unaccounted"] == 0 and summary["failed_sources"] == {}
    rejects = {
        row["url"].rsplit("/", 1)[-1]: row["reason"]
        for row in published(loopback_settings, "rejects")
    }
    # Too deep to walk: a reject with a reason, never an exception. (libxml2 stops nesting at its
    # depth limit, so the lxml-built tree may have no text left; bs4's builder would recurse.)
    assert rejects["deep"] in {"unparseable", "empty_extraction"}
    assert rejects["junk"] == "decode_error"
    fetch_log = {row["url"]: row for row in published(loopback_settings, "fetch_log")}
    bad = {url: row["reason"] for url, row in fetch_log.items() if row["status"] == "failed"}
    assert bad == {
        "http://127.0.0.1:99999/bad-port": "bad_url",
        "http://[::1/bad-ipv6": "bad_url",
    }
    titles = {row["title"] for row in published(loopback_settings, "articles")}
    # The page declaring "punycode" is decoded by detection; the relative link was followed.
    assert {"Fine", "Puny", "Relative"} <= titles


def test_a_failed_source_is_flagged_and_the_others_are_published(
    loopback_server, loopback_settings
):
    server = loopback_server
    server.routes["/ok"] = (200, HTML, page("Fine"))
    healthy = Source(name="healthy", urls=(server.url("/ok"),))
    broken = Source(name="broken", urls=(server.url("/ok2"),))
    config = config_of(loopback_settings, healthy, broken)
    run_day(config, WINDOW, "first", source_names=["healthy"])  # "broken" has no archive yet

    # Replaying the archive: "broken" has none, so its source fails; "healthy" is published.
    result = run_day(config, WINDOW, "replay", from_archive=True)
    assert set(result.failed_sources) == {"broken"}
    assert "no archived run" in result.failed_sources["broken"]
    assert [row["source"] for row in published(loopback_settings, "articles")] == ["healthy"]
    report_path = Path(loopback_settings.output_root) / layout.report_file(WINDOW, "report.json")
    flags = json.loads(report_path.read_text())["flags"]
    assert [(f["source"], f["kind"]) for f in flags] == [("broken", "source_failed")]

    # With every source failing there is nothing to publish: a clear error, the day unchanged.
    before = published(loopback_settings, "articles")
    with pytest.raises(SourcesFailed, match="every source failed"):
        run_day(config_of(loopback_settings, broken), WINDOW, "none", from_archive=True)
    assert published(loopback_settings, "articles") == before


def test_config_urls_with_a_bad_port_and_empty_sources_are_config_errors(tmp_path: Path):
    bad_port = tmp_path / "bad-port.yaml"
    bad_port.write_text("sources:\n  - name: a\n    feeds: ['http://example.org:99999/rss']\n")
    with pytest.raises(ConfigError, match=r"sources\[0\]\.feeds.*99999.*out of range"):
        load_config(bad_port, environ={})
    empty = tmp_path / "empty.yaml"
    empty.write_text("sources: []\n")
    with pytest.raises(ConfigError, match="no enabled source"):
        load_config(empty, environ={})


def test_an_unwritable_root_fails_before_any_fetch(loopback_server, loopback_settings, tmp_path):
    loopback_server.routes["/ok"] = (200, HTML, page("Fine"))
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the output root should be")
    settings = loopback_settings.model_copy(update={"output_root": str(blocker / "out")})
    config = config_of(settings, Source(name="s", urls=(loopback_server.url("/ok"),)))
    with pytest.raises(ConfigError, match=r"settings\.output_root"):
        run_day(config, WINDOW, "unwritable")
    assert loopback_server.hits == []  # nothing was fetched

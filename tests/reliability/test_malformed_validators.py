"""Malformed validator state costs a full download of the URLs concerned, never the fetch.

A first run against a loopback site that answers ETag / If-None-Match keeps validators; the file
is then damaged as a crash, a hand edit or an older version would, and the next run must go on,
warn naming the file, and rebuild it.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from pipeline.fetch.fetcher import SourceFetcher
from pipeline.models import RunWindow
from pipeline.results import FetchResult
from pipeline.settings import Settings, Source

WINDOW = RunWindow.for_day(date(2026, 3, 10))
PAGES = ("/a", "/b", "/c")


def page(path: str) -> bytes:
    text = f"<p>Page {path} of the test site.</p>"
    return f"<html><body><article>{text}</article></body></html>".encode()


@pytest.fixture
def site(loopback_server):  # type: ignore[no-untyped-def]
    """Pages with an ETag; a matching If-None-Match is answered 304. Records what was sent."""
    conditional: list[tuple[str, str | None]] = []

    def serve(handler: BaseHTTPRequestHandler) -> None:
        etag = f'"v1-{handler.path}"'
        sent = handler.headers.get("If-None-Match")
        conditional.append((handler.path, sent))
        if sent == etag:
            handler.send_response(304)
            handler.send_header("ETag", etag)
            handler.end_headers()
            return
        body = page(handler.path)
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("ETag", etag)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    for path in PAGES:
        loopback_server.routes[path] = serve
    loopback_server.conditional = conditional
    return loopback_server


def fetch(site: Any, settings: Settings, run_id: str) -> FetchResult:
    source = Source(name="site", urls=tuple(site.url(p) for p in PAGES))
    return SourceFetcher(source, WINDOW, settings, run_id).run()


def validators_path(settings: Settings) -> Path:
    return Path(settings.archive_root) / "_validators" / "site.json"


def second_run(site: Any, settings: Settings, caplog: pytest.LogCaptureFixture) -> FetchResult:
    site.conditional.clear()
    with caplog.at_level(logging.WARNING):
        result = fetch(site, settings, "second")
    assert result.fetched == len(PAGES) and not result.failed
    return result


def sent_validators(site: Any) -> dict[str, str | None]:
    return dict(site.conditional)


def test_a_healthy_rerun_answers_every_page_from_the_archive(site, loopback_settings, caplog):
    fetch(site, loopback_settings, "first")
    result = second_run(site, loopback_settings, caplog)
    assert result.not_modified == len(PAGES)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_validators_file_holding_a_json_list(site, loopback_settings, caplog) -> None:
    fetch(site, loopback_settings, "first")
    path = validators_path(loopback_settings)
    path.write_text(json.dumps([["/a", "etag"]]))

    result = second_run(site, loopback_settings, caplog)

    assert result.not_modified == 0 and set(sent_validators(site).values()) == {None}
    assert any(str(path) in r.getMessage() and "list" in r.getMessage() for r in caplog.records)
    rebuilt = json.loads(path.read_text())
    assert isinstance(rebuilt, dict) and len(rebuilt) == len(PAGES)


@pytest.mark.parametrize("missing", ["archive_file", "record_id"])
def test_entries_lacking_a_key_are_downloaded_in_full(site, loopback_settings, caplog, missing):
    fetch(site, loopback_settings, "first")
    path = validators_path(loopback_settings)
    entries = json.loads(path.read_text())
    broken = site.url("/a")
    del entries[broken][missing]
    path.write_text(json.dumps(entries))

    result = second_run(site, loopback_settings, caplog)

    assert result.not_modified == len(PAGES) - 1  # only the broken entry costs a download
    assert sent_validators(site)["/a"] is None
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert str(path) in warning and broken in warning
    assert missing in json.loads(path.read_text())[broken]  # rebuilt


def test_an_offset_in_the_middle_of_a_gzip_member(site, loopback_settings, caplog) -> None:
    fetch(site, loopback_settings, "first")
    path = validators_path(loopback_settings)
    entries = json.loads(path.read_text())
    for entry in entries.values():
        entry["offset"] += 7
    path.write_text(json.dumps(entries))

    result = second_run(site, loopback_settings, caplog)

    # The record is still found by a scan of its file, so nothing is downloaded again.
    assert result.not_modified == len(PAGES)
    warc = (
        Path(loopback_settings.archive_root)
        / json.loads(path.read_text())[site.url("/a")]["archive_file"]
    )
    scans = [r.getMessage() for r in caplog.records if "scanning the file" in r.getMessage()]
    assert len(scans) == len(PAGES) and all(str(warc) in m for m in scans)
    # The offsets are corrected: the next run reads each record directly again.
    caplog.clear()
    assert second_run(site, loopback_settings, caplog).not_modified == len(PAGES)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("keep", ["half", "nothing"])
def test_validators_pointing_into_a_damaged_archive(site, loopback_settings, caplog, keep) -> None:
    first = fetch(site, loopback_settings, "first")
    warc = Path(loopback_settings.archive_root) / first.archive_file
    data = warc.read_bytes()
    warc.write_bytes(data[: len(data) // 2] if keep == "half" else b"")

    result = second_run(site, loopback_settings, caplog)

    # A record before the cut still answers its 304; each one behind it costs one warning
    # naming the file and one full download, never an error.
    downloaded = len(PAGES) - result.not_modified
    assert downloaded >= 1 if keep == "half" else downloaded == len(PAGES)
    warnings = [r.getMessage() for r in caplog.records if "downloading it" in r.getMessage()]
    assert len(warnings) == downloaded and all(str(warc) in w for w in warnings)


def test_an_etag_that_cannot_be_sent_back(site, loopback_settings, caplog) -> None:
    fetch(site, loopback_settings, "first")
    path = validators_path(loopback_settings)
    entries = json.loads(path.read_text())
    entries[site.url("/b")]["etag"] = '"caf\u00e9"'  # as a Latin-1 header would be decoded
    path.write_text(json.dumps(entries))

    result = second_run(site, loopback_settings, caplog)

    assert result.not_modified == len(PAGES) - 1 and sent_validators(site)["/b"] is None

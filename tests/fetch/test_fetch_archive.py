"""The fetch stage against a loopback site: every discovered URL gets one archived outcome."""

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

from pipeline.fetch.archive import (
    ResponseRef,
    latest_per_url,
    load_response,
    read_events,
    run_files,
)
from pipeline.fetch.fetcher import SourceFetcher
from pipeline.models import RunWindow
from pipeline.settings import Source

DAY = date(2026, 3, 10)
HTML = {"Content-Type": "text/html; charset=utf-8"}


def rss(base: str) -> bytes:
    items = [
        ("/a", "Tue, 10 Mar 2026 08:00:00 +0000"),
        ("/a?utm_source=rss", "Tue, 10 Mar 2026 08:00:00 +0000"),  # same page, tracking params
        ("/old", "Mon, 09 Mar 2026 08:00:00 +0000"),  # outside the window
        ("/gone", "Tue, 10 Mar 2026 09:00:00 +0000"),  # 404
        ("/report.pdf", "Tue, 10 Mar 2026 10:00:00 +0000"),  # not HTML
    ]
    body = "".join(
        f"<item><title>t</title><link>{base}{path}</link><pubDate>{when}</pubDate></item>"
        for path, when in items
    )
    return f'<rss version="2.0"><channel><title>x</title>{body}</channel></rss>'.encode()


def test_every_discovered_url_is_archived_with_an_outcome(loopback_server, loopback_settings):
    server = loopback_server
    server.routes["/robots.txt"] = (200, {}, b"User-agent: *\nDisallow: /private/\n")
    server.routes["/rss.xml"] = (200, {"Content-Type": "application/rss+xml"}, rss(server.base_url))
    server.routes["/broken-feed"] = (200, HTML, b"<html><body>Oops, error page</body></html>")
    server.routes["/a"] = (200, HTML, b"<html><body><p>article a</p></body></html>")
    server.routes["/report.pdf"] = (200, {"Content-Type": "application/pdf"}, b"%PDF-1.4")
    server.routes["/b"] = (200, HTML, b"<html><body><p>b</p></body></html>")
    source = Source(
        name="site",
        feeds=(server.url("/rss.xml"), server.url("/broken-feed")),
        urls=(server.url("/b"), server.url("/private/c")),
    )
    window = RunWindow.for_day(DAY)
    fixed = datetime(2026, 3, 10, 12, tzinfo=UTC)
    stats = SourceFetcher(source, window, loopback_settings, "run-1", clock=lambda: fixed).run()

    assert stats.discovered == 7
    (archive_file,) = run_files(loopback_settings.archive_root, window, "site")
    assert archive_file == stats.archive_file == f"{window.partition}/site/run-1.warc.gz"
    events = read_events(loopback_settings.archive_root, archive_file)
    pages = {e.url.removeprefix(server.base_url): e for e in latest_per_url(events, "page")}
    outcomes = {path: (e.event.status, e.event.reason) for path, e in pages.items()}
    assert outcomes == {
        "/a": ("fetched", None),
        "/a?utm_source=rss": ("skipped", "duplicate_url"),
        "/old": ("skipped", "out_of_window"),
        "/gone": ("failed", "http_404"),
        "/report.pdf": ("skipped", "content_type"),
        "/b": ("fetched", None),
        "/private/c": ("skipped", "robots"),
    }
    assert pages["/a?utm_source=rss"].event.detail.endswith("/a")
    assert pages["/a"].body == b"<html><body><p>article a</p></body></html>"
    assert pages["/gone"].status == 404  # error responses are archived as well
    assert "/old" not in server.hits and "/private/c" not in server.hits

    discovery = {
        e.url.removeprefix(server.base_url): e.event for e in events if e.event.role == "discovery"
    }
    assert discovery["/broken-feed"].reason == "not_a_feed"
    assert discovery["/rss.xml"].status == "fetched"
    assert Counter(e.event.role for e in events) == Counter({"page": 7, "discovery": 2})
    archived = list((Path(loopback_settings.archive_root) / window.partition).rglob("*"))
    assert [p.name for p in archived if p.is_file()] == ["run-1.warc.gz"]


def test_a_second_run_with_the_same_run_id_never_overwrites_the_archive(
    loopback_server, loopback_settings
):
    loopback_server.routes["/b"] = (200, HTML, b"<html><body><p>b</p></body></html>")
    source = Source(name="site", urls=(loopback_server.url("/b"),))
    window = RunWindow.for_day(DAY)
    first = SourceFetcher(source, window, loopback_settings, "retry").run()
    second = SourceFetcher(source, window, loopback_settings, "retry").run()
    assert Path(first.archive_file).name == "retry.warc.gz"
    assert Path(second.archive_file).name == "retry.1.warc.gz"
    root = loopback_settings.archive_root
    assert [len(read_events(root, f.archive_file)) for f in (first, second)] == [1, 1]


def test_archived_responses_are_found_by_offset_and_by_scan(loopback_server, loopback_settings):
    for i in range(3):
        loopback_server.routes[f"/p{i}"] = (200, HTML, f"<p>page {i}</p>".encode())
    source = Source(name="site", urls=tuple(loopback_server.url(f"/p{i}") for i in range(3)))
    window = RunWindow.for_day(DAY)
    stats = SourceFetcher(source, window, loopback_settings, "offsets").run()
    root = loopback_settings.archive_root
    events = {e.url.rsplit("/", 1)[1]: e for e in read_events(root, stats.archive_file)}
    writer_name = f"{window.partition}/site/{Path(stats.archive_file).name}"
    for name, event in events.items():
        assert event.record_id is not None
        scanned = load_response(
            loopback_settings.archive_root, ResponseRef(writer_name, event.record_id)
        )
        assert scanned is not None and scanned.body == f"<p>page {name[1:]}</p>".encode()
        # A wrong offset is not trusted: the record is still found by a scan.
        stale = ResponseRef(writer_name, event.record_id, offset=0)
        assert load_response(loopback_settings.archive_root, stale) == scanned


def test_a_second_writer_of_the_same_run_leaves_the_live_writers_file_alone(tmp_path: Path):
    """A retry beside its stuck first attempt (same run id) must not truncate the first's WARC."""
    from dataclasses import replace

    import pytest

    from pipeline.fetch.archive import ArchiveWriter
    from pipeline.models import FetchEvent
    from pipeline.storage.root import Root

    root, window = Root(tmp_path), RunWindow.for_day(DAY)
    event = FetchEvent(
        url="http://x/a",
        source="site",
        run_id="same",
        role="page",
        status="skipped",
        fetched_at=datetime(2026, 3, 10, 12, tzinfo=UTC),
        reason="robots",
    )
    first = ArchiveWriter(root, window, "site", "same")
    first.record(event, None)
    with pytest.raises(FileExistsError, match="being written by another fetch"):
        ArchiveWriter(root, window, "site", "same")
    first.record(replace(event, url="http://x/b"), None)
    first.close()
    (archive_file,) = run_files(root, window, "site")
    assert [e.url for e in read_events(root, archive_file)] == ["http://x/a", "http://x/b"]

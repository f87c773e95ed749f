"""Discovery and the window on a realistic web: fetch only what is new, keep everything fetched.

Each case is a hostile fixture of our own, served over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pipeline.dataset import read_day
from pipeline.models import RunWindow
from pipeline.runner import run_day
from pipeline.settings import PipelineConfig, Settings, Source

DAY = date(2026, 3, 10)
HTML = {"Content-Type": "text/html; charset=utf-8"}
XML = {"Content-Type": "application/xml"}
BODY = " ".join(
    "Volunteers counted the spring migration at the estuary, a tally kept since the 1970s."
    for _ in range(10)
)


def article(title: str, published: str) -> bytes:
    return (
        f"<html lang='en'><head><title>{title}</title>"
        f"<meta property='article:published_time' content='{published}'></head>"
        f"<body><article><h1>{title}</h1><p>{BODY}</p></article></body></html>"
    ).encode()


def urlset(entries: list[tuple[str, str | None]]) -> bytes:
    items = "".join(
        f"<url><loc>{loc}</loc>{f'<lastmod>{mod}</lastmod>' if mod else ''}</url>"
        for loc, mod in entries
    )
    return (
        "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        f"{items}</urlset>"
    ).encode()


def run(settings: Settings, source: Source, day: date = DAY) -> dict[str, Any]:
    config = PipelineConfig(settings=settings, sources=(source,))
    result = run_day(config, RunWindow.for_day(day), f"run-{day.isoformat()}")
    return {
        "summary": result.summary(),
        "log": {r["url"]: r for r in read_day(settings.output_root, "fetch_log", day).to_pylist()},
        "articles": read_day(settings.output_root, "articles", day).to_pylist(),
    }


def test_a_sitemap_index_branch_dated_before_the_day_is_never_walked(
    loopback_server, loopback_settings
):
    server = loopback_server
    fresh = [server.url(f"/news/{i}") for i in range(3)]
    old = [server.url(f"/archive/2019/{i}") for i in range(50)]
    for i, url in enumerate(fresh):
        server.routes[url.removeprefix(server.base_url)] = (
            200,
            HTML,
            article(f"Fresh {i}", "2026-03-10T09:00:00Z"),
        )
    server.routes["/sitemap-index.xml"] = (
        200,
        XML,
        (
            "<?xml version='1.0'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"<sitemap><loc>{server.url('/sitemap-today.xml')}</loc>"
            "<lastmod>2026-03-10T06:00:00Z</lastmod></sitemap>"
            f"<sitemap><loc>{server.url('/sitemap-2019.xml')}</loc>"
            "<lastmod>2019-05-01</lastmod></sitemap></sitemapindex>"
        ).encode(),
    )
    server.routes["/sitemap-today.xml"] = (
        200,
        XML,
        urlset([(url, "2026-03-10T08:00:00Z") for url in fresh]),
    )
    server.routes["/sitemap-2019.xml"] = (200, XML, urlset([(url, "2019-05-01") for url in old]))
    source = Source(name="outlet", sitemaps=(server.url("/sitemap-index.xml"),))
    outcome = run(loopback_settings, source)

    assert "/sitemap-2019.xml" not in server.hits
    assert not [hit for hit in server.hits if hit.startswith("/archive/")]
    skipped = outcome["log"][server.url("/sitemap-2019.xml")]
    assert (skipped["role"], skipped["status"], skipped["reason"]) == (
        "discovery",
        "skipped",
        "sitemap_out_of_window",
    )
    assert sorted(a["title"] for a in outcome["articles"]) == ["Fresh 0", "Fresh 1", "Fresh 2"]


def test_a_plain_urlset_is_filtered_by_its_lastmod(loopback_server, loopback_settings):
    server = loopback_server
    server.routes["/new"] = (200, HTML, article("New", "2026-03-10T09:00:00Z"))
    server.routes["/old"] = (200, HTML, article("Old", "2019-05-01T09:00:00Z"))
    server.routes["/sitemap.xml"] = (
        200,
        XML,
        urlset([(server.url("/new"), "2026-03-10"), (server.url("/old"), "2019-05-01")]),
    )
    outcome = run(loopback_settings, Source(name="outlet", sitemaps=(server.url("/sitemap.xml"),)))
    assert "/old" not in server.hits and "/new" in server.hits
    assert outcome["log"][server.url("/old")]["reason"] == "out_of_window"


def test_an_undated_listing_fetches_only_new_urls_the_next_day(loopback_server, loopback_settings):
    server = loopback_server
    day_one = [server.url(f"/story/{i}") for i in range(4)]
    day_two = [*day_one, server.url("/story/new")]
    for url in day_two:
        server.routes[url.removeprefix(server.base_url)] = (
            200,
            HTML,
            article(url.rsplit("/", 1)[1], "2026-03-10T09:00:00Z"),
        )
    server.routes["/sitemap.xml"] = (200, XML, urlset([(url, None) for url in day_one]))
    source = Source(name="outlet", sitemaps=(server.url("/sitemap.xml"),))
    first = run(loopback_settings, source)
    assert len(first["articles"]) == 4

    server.routes["/sitemap.xml"] = (200, XML, urlset([(url, None) for url in day_two]))
    server.hits.clear()
    second = run(loopback_settings, source, DAY + timedelta(days=1))
    assert [hit for hit in server.hits if hit.startswith("/story/")] == ["/story/new"]
    seen = {url: row for url, row in second["log"].items() if row["reason"] == "seen_before"}
    assert sorted(seen) == sorted(day_one)
    assert all("fetched on 2026-03-10" in row["detail"] for row in seen.values())
    assert second["summary"]["skipped"] == {"seen_before": 4}
    assert [a["title"] for a in second["articles"]] == ["new"]

    # A rerun of day 2 sees only the days before it: the same partition again.
    server.hits.clear()
    again = run(loopback_settings, source, DAY + timedelta(days=1))
    assert [a["title"] for a in again["articles"]] == ["new"]
    # And a URL list that asks for it is fetched on every run.
    server.hits.clear()
    live = Source(name="outlet", urls=(server.url("/story/0"),), refetch_urls=True)
    run(loopback_settings, live, DAY + timedelta(days=2))
    assert "/story/0" in server.hits


def test_a_page_dated_long_before_its_feed_item_is_kept_and_flagged(
    loopback_server, loopback_settings
):
    server = loopback_server
    server.routes["/repromoted"] = (200, HTML, article("Repromoted", "2024-03-01T09:00:00Z"))
    server.routes["/fresh"] = (200, HTML, article("Fresh", "2026-03-10T10:00:00Z"))
    items = "".join(
        f"<item><title>{t}</title><link>{server.url(p)}</link>"
        "<pubDate>Tue, 10 Mar 2026 08:00:00 GMT</pubDate></item>"
        for t, p in (("Repromoted", "/repromoted"), ("Fresh", "/fresh"))
    )
    server.routes["/rss.xml"] = (
        200,
        {"Content-Type": "application/rss+xml"},
        f"<rss version='2.0'><channel><title>f</title>{items}</channel></rss>".encode(),
    )
    outcome = run(loopback_settings, Source(name="outlet", feeds=(server.url("/rss.xml"),)))
    rows = {a["title"]: a for a in outcome["articles"]}
    assert set(rows) == {"Repromoted", "Fresh"}
    old = rows["Repromoted"]
    assert old["published_at"].year == 2024 and old["listed_at"].isoformat().startswith(
        "2026-03-10T08:00"
    )
    assert old["date_conflict"] and not rows["Fresh"]["date_conflict"]
    assert outcome["summary"]["rejected"] == {}

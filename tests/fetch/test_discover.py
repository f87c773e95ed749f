import gzip
from datetime import UTC, date, datetime

import pytest

from pipeline.fetch.discover import Entry, NotAFeed, parse_feed, parse_sitemap, window_decision
from pipeline.models import RunWindow

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>One</title><link>http://h/1</link>
<pubDate>Tue, 10 Mar 2026 08:00:00 -0500</pubDate></item>
<item><title>Undated</title><link>http://h/2</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>A</title><id>urn:a</id><updated>2026-03-10T00:00:00Z</updated>
<entry><title>E</title><id>urn:e</id><link href="http://h/e"/>
<published>2026-03-09T23:30:00-01:00</published><updated>2026-03-10T01:00:00Z</updated></entry>
</feed>"""

NEWS_SITEMAP = b"""<?xml version="1.0"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>http://h/n1</loc><lastmod>2026-03-10</lastmod><news:news>
<news:publication><news:name>P</news:name><news:language>en</news:language></news:publication>
<news:publication_date>2026-03-10T12:00:00+02:00</news:publication_date>
<news:title>Headline</news:title></news:news></url>
</urlset>"""


def test_rss_dates_become_utc_and_titles_are_kept() -> None:
    entries = parse_feed(RSS)
    assert [e.url for e in entries] == ["http://h/1", "http://h/2"]
    assert entries[0].published_at == datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    assert entries[0].title == "One"
    assert entries[1].published_at is None


def test_atom_published_preferred_over_updated() -> None:
    (entry,) = parse_feed(ATOM)
    assert entry.published_at == datetime(2026, 3, 10, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("body", [b"", b"  \n", b"<html><body><h1>502 Bad Gateway</h1></body>"])
def test_html_or_empty_body_is_not_a_feed(body: bytes) -> None:
    with pytest.raises(NotAFeed):
        parse_feed(body)


def test_news_sitemap_and_gzip() -> None:
    document = parse_sitemap(gzip.compress(NEWS_SITEMAP))
    (entry,) = document.entries
    assert entry.title == "Headline"
    assert entry.published_at == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def test_sitemap_index_lists_children() -> None:
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <sitemap><loc>http://h/a.xml</loc></sitemap><sitemap><loc>http://h/b.xml.gz</loc></sitemap>
    </sitemapindex>"""
    assert parse_sitemap(index).child_sitemaps == ["http://h/a.xml", "http://h/b.xml.gz"]


def test_sitemap_entities_are_not_expanded() -> None:
    evil = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "AAAAAAAAAA">
    <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY ext SYSTEM "file:///etc/passwd">]>
    <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <url><loc>http://h/&b;&ext;</loc></url></urlset>"""
    document = parse_sitemap(evil)
    assert all("AAAA" not in e.url and "root:" not in e.url for e in document.entries)


def test_html_at_sitemap_url_is_refused() -> None:
    with pytest.raises(NotAFeed):
        parse_sitemap(b"<html><body>Not found</body></html>")


def test_window_filter() -> None:
    window = RunWindow.for_day(date(2026, 3, 10))
    inside = Entry("u", published_at=datetime(2026, 3, 10, 23, 59, tzinfo=UTC))
    after = Entry("u", published_at=datetime(2026, 3, 11, 0, 0, tzinfo=UTC))
    stale = Entry("u", lastmod=datetime(2026, 3, 1, tzinfo=UTC))
    assert window_decision(inside, window).take
    assert window_decision(after, window).reason == "out_of_window"
    assert window_decision(stale, window).reason == "out_of_window"
    assert window_decision(Entry("u"), window).take  # undated: decided from the page later

"""The bundled demo news web: real server on a free port, real HTTP."""

from __future__ import annotations

import gzip
import html
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date
from pathlib import Path

import feedparser
import httpx
import pytest
import yaml

from pipeline.demo.catalog import (
    AMP_CANONICAL_PATH,
    AMP_PATH,
    CROSS_DAY_WIRE_STORY,
    DEMO_DAYS,
    EXACT_CROSSPOST_STORY,
    INDEPENDENT_PAIR,
    MAIN_DAY,
    OUTLETS,
    ROBOTS_DISALLOWED_PATH,
    SECTION_INDEX_PATH,
    TIMEZONE_EDGE_PATH,
    WIRE_STORY,
    DemoArticle,
    load_catalog,
    story_copies,
    utc_day,
)
from pipeline.demo.server import DemoSite

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "demo.yaml"
DEMO_URL_VAR = "${NEWSINGEST_DEMO_URL:-http://127.0.0.1:8765}"


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    with DemoSite(host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as c:
        yield c


def _by_path() -> dict[str, DemoArticle]:
    return {a.path: a for a in load_catalog()}


def _shingles(text: str, k: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}


def _jaccard(a: DemoArticle, b: DemoArticle) -> float:
    sa, sb = _shingles(" ".join(a.paragraphs)), _shingles(" ".join(b.paragraphs))
    return len(sa & sb) / len(sa | sb)


# --- server basics ---------------------------------------------------------------------------


def test_base_url_shape(site: DemoSite) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", site.base_url)
    assert site.port > 0


def test_start_stop_without_context_manager(client: httpx.Client) -> None:
    other = DemoSite(port=0).start()
    try:
        assert client.get(other.url("/robots.txt")).status_code == 200
    finally:
        other.stop()
    other.stop()  # idempotent


def test_robots_txt(site: DemoSite, client: httpx.Client) -> None:
    r = client.get(site.url("/robots.txt"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    lines = r.text.splitlines()
    assert "User-agent: *" in lines
    assert "Disallow: /courier/private/" in lines
    assert "Disallow: /search" in lines
    assert f"Sitemap: {site.base_url}/sitemap_index.xml" in lines


def test_unknown_path_is_404(site: DemoSite, client: httpx.Client) -> None:
    for path in ("/nope", "/harbor/2026/03/10/no-such-story.html", "/search?q=x", "/static/x.exe"):
        assert client.get(site.url(path)).status_code == 404, path


def test_query_string_is_ignored_for_routing(site: DemoSite, client: httpx.Client) -> None:
    r = client.get(site.url(AMP_CANONICAL_PATH + "?utm_source=rss&utm_medium=feed"))
    assert r.status_code == 200


# --- feeds and sitemaps ----------------------------------------------------------------------


def test_harbor_rss(site: DemoSite, client: httpx.Client) -> None:
    r = client.get(site.url("/harbor/rss.xml"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/rss+xml")
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.get("bozo_exception")
    harbor = [a for a in load_catalog() if a.outlet == "harbor-times"]
    assert len(feed.entries) == len(harbor)
    days = set()
    for entry in feed.entries:
        assert entry.link.startswith(site.base_url + "/harbor/")
        assert entry.link.endswith("?utm_source=rss&utm_medium=feed")
        assert entry.title and entry.id and entry.description
        assert re.search(r"[-+]0500$", entry.published)  # RFC-822 with the local offset
        days.add(date(*entry.published_parsed[:3]))  # feedparser normalises to UTC
    assert len(days) >= 3
    links = {e.link.split("?")[0] for e in feed.entries}
    assert site.url(AMP_CANONICAL_PATH) in links
    assert site.url(AMP_PATH) not in links


def test_ledger_atom(site: DemoSite, client: httpx.Client) -> None:
    r = client.get(site.url("/ledger/atom.xml"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    links = [e.link for e in feed.entries]
    ledger = [a for a in load_catalog() if a.outlet == "northgate-ledger"]
    assert sorted(links) == sorted(site.url(a.path) for a in ledger)
    for entry in feed.entries:
        assert entry.published.endswith("+01:00") and entry.updated and entry.author
    assert len({date(*e.published_parsed[:3]) for e in feed.entries}) >= 3
    twins = [site.url(a.path) for a in story_copies(EXACT_CROSSPOST_STORY)]
    assert len(twins) == 2 and all(t in links for t in twins)


def test_sitemap_index_and_news_sitemap(site: DemoSite, client: httpx.Client) -> None:
    r = client.get(site.url("/sitemap_index.xml"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/xml")
    index = ET.fromstring(r.content)
    assert index.tag == f"{SM}sitemapindex"
    locs = [el.text for el in index.iter(f"{SM}loc")]
    assert locs == [
        site.url("/coastline/sitemap-news.xml"),
        site.url("/coastline/sitemap-archive.xml.gz"),
    ]
    news = client.get(site.url("/coastline/sitemap-news.xml"))
    assert news.headers["content-type"].startswith("application/xml")
    urlset = ET.fromstring(news.content)
    urls = urlset.findall(f"{SM}url")
    assert urls
    news_days = set()
    for url in urls:
        assert url.find(f"{SM}lastmod") is not None
        assert url.find(f"{NEWS}news/{NEWS}title") is not None
        stamp = url.find(f"{NEWS}news/{NEWS}publication_date")
        assert stamp is not None and stamp.text and stamp.text.endswith("Z")
        news_days.add(stamp.text[:10])
    assert len(news_days) >= 3


def test_gzip_archive_sitemap(site: DemoSite, client: httpx.Client) -> None:
    r = client.get(site.url("/coastline/sitemap-archive.xml.gz"))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/gzip"
    assert "content-encoding" not in r.headers
    urlset = ET.fromstring(gzip.decompress(r.content))
    assert urlset.tag == f"{SM}urlset"
    archive = {el.text for el in urlset.iter(f"{SM}loc")}
    news = ET.fromstring(client.get(site.url("/coastline/sitemap-news.xml")).content)
    news_locs = {el.text for el in news.iter(f"{SM}loc")}
    coastline = {site.url(a.path) for a in load_catalog() if a.outlet == "coastline-post"}
    assert archive and news_locs and not (archive & news_locs)
    assert archive | news_locs == coastline


# --- article pages ---------------------------------------------------------------------------


def test_every_catalog_article_is_served(site: DemoSite, client: httpx.Client) -> None:
    for article in load_catalog():
        r = client.get(site.url(article.path))
        assert r.status_code == 200, article.path
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert r.headers["etag"] and r.headers["last-modified"]
        page = html.unescape(r.text)
        assert article.title in page, article.path
        for paragraph in article.paragraphs:
            assert f"{paragraph}</p>" in page, (article.path, paragraph[:40])
        assert 'lang="en' in r.text


def test_metadata_profiles(site: DemoSite, client: httpx.Client) -> None:
    wanted = {  # outlet: (JSON-LD, OpenGraph)
        "harbor-times": (True, True),
        "northgate-ledger": (False, True),
        "coastline-post": (True, False),
        "valley-courier": (False, False),
    }
    for article in load_catalog():
        text = client.get(site.url(article.path)).text
        has_ld, has_og = wanted[article.outlet]
        assert ("application/ld+json" in text) is has_ld, article.path
        assert ('property="og:' in text) is has_og, article.path
        if article.outlet == "valley-courier":
            assert f"<h1>{html.escape(article.title, quote=False)}</h1>" in text
            assert f"By {article.authors[0]}" in text
            assert f'<time datetime="{article.published_at.isoformat()}">' in text
            assert article.published_at.isoformat().endswith("+02:00")


def test_harbor_jsonld_is_truncated_and_offset(site: DemoSite, client: httpx.Client) -> None:
    article = _by_path()[AMP_CANONICAL_PATH]
    text = client.get(site.url(article.path)).text
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', text, re.S)
    assert block
    data = json.loads(block.group(1))
    assert data["@type"] == "NewsArticle"
    assert data["datePublished"] == "2026-03-10T11:30:00-05:00"
    assert data["articleBody"] == "\n\n".join(article.paragraphs[:2])
    assert [a["name"] for a in data["author"]] == list(article.authors)


def test_amp_variant(site: DemoSite, client: httpx.Client) -> None:
    canonical = client.get(site.url(AMP_CANONICAL_PATH)).text
    assert f'<link rel="amphtml" href="{site.url(AMP_PATH)}">' in canonical
    amp = client.get(site.url(AMP_PATH))
    assert amp.status_code == 200
    assert "<html ⚡" in amp.text
    assert f'<link rel="canonical" href="{site.url(AMP_CANONICAL_PATH)}">' in amp.text
    for paragraph in _by_path()[AMP_CANONICAL_PATH].paragraphs:
        assert paragraph in html.unescape(amp.text)


def test_crosspost_pages_are_self_canonical(site: DemoSite, client: httpx.Client) -> None:
    twins = story_copies(EXACT_CROSSPOST_STORY)
    assert len(twins) == 2 and twins[0].paragraphs == twins[1].paragraphs
    assert twins[0].path != twins[1].path
    for twin in twins:
        text = client.get(site.url(twin.path)).text
        assert f'<link rel="canonical" href="{site.url(twin.path)}">' in text


def test_section_index_and_private_page(site: DemoSite, client: httpx.Client) -> None:
    index = client.get(site.url(SECTION_INDEX_PATH))
    assert index.status_code == 200
    assert index.text.count('class="teaser"') >= 4
    assert SECTION_INDEX_PATH not in _by_path()
    private = _by_path()[ROBOTS_DISALLOWED_PATH]
    assert private.robots_disallowed and private.path.startswith("/courier/private/")
    assert client.get(site.url(ROBOTS_DISALLOWED_PATH)).status_code == 200  # only robots forbids


def test_conditional_requests(site: DemoSite, client: httpx.Client) -> None:
    url = site.url(AMP_CANONICAL_PATH)
    first = client.get(url)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert last_modified == "Tue, 10 Mar 2026 17:05:00 GMT"  # dateModified 12:05 -05:00
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": last_modified}).status_code == 304
    older = "Mon, 09 Mar 2026 00:00:00 GMT"
    assert client.get(url, headers={"If-Modified-Since": older}).status_code == 200
    feed = client.get(site.url("/harbor/rss.xml"))
    assert client.get(feed.url, headers={"If-None-Match": feed.headers["etag"]}).status_code == 304


def test_head_request(site: DemoSite, client: httpx.Client) -> None:
    r = client.head(site.url("/ledger/atom.xml"))
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["content-length"]) > 1000


# --- catalog ground truth --------------------------------------------------------------------


def test_catalog_counts() -> None:
    catalog = load_catalog()
    assert len(catalog) >= 34
    assert {a.outlet for a in catalog} == set(OUTLETS)
    assert (date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12)) == DEMO_DAYS
    per_day = Counter(utc_day(a) for a in catalog)
    assert set(per_day) == set(DEMO_DAYS)
    assert 14 <= per_day[MAIN_DAY] <= 16
    for outlet in OUTLETS:
        assert len({utc_day(a) for a in catalog if a.outlet == outlet}) >= 3, outlet


def test_catalog_article_shape() -> None:
    for a in load_catalog():
        assert a.published_at.tzinfo is not None
        assert 3 <= len(a.paragraphs) <= 7, a.path
        assert 120 <= sum(len(p.split()) for p in a.paragraphs) <= 350, a.path
        assert a.authors and a.title


def test_timezone_edge_case() -> None:
    edge = _by_path()[TIMEZONE_EDGE_PATH]
    assert edge.published_at.date() == date(2026, 3, 9)
    assert edge.published_at.astimezone(UTC).date() == MAIN_DAY == utc_day(edge)


def test_wire_story_has_three_differing_copies(site: DemoSite, client: httpx.Client) -> None:
    copies = story_copies(WIRE_STORY)
    assert sorted(a.outlet for a in copies) == sorted(
        ["harbor-times", "northgate-ledger", "coastline-post"]
    )
    assert len({a.title for a in copies}) == 3
    assert all(utc_day(a) == MAIN_DAY for a in copies)
    assert len({len(a.paragraphs) for a in copies}) >= 2  # a paragraph is dropped in one copy
    assert len({a.paragraphs[0] for a in copies}) == 3
    for i, a in enumerate(copies):
        assert "Karaağaçoğlu" in " ".join(a.paragraphs) and "“" in " ".join(a.paragraphs)
        for b in copies[i + 1 :]:
            assert 0.5 < _jaccard(a, b) < 0.95
        assert client.get(site.url(a.path)).status_code == 200


def test_cross_day_wire_story() -> None:
    copies = sorted(story_copies(CROSS_DAY_WIRE_STORY), key=lambda a: a.published_at)
    assert [(a.outlet, utc_day(a)) for a in copies] == [
        ("harbor-times", MAIN_DAY),
        ("northgate-ledger", date(2026, 3, 11)),
    ]
    assert copies[0].title != copies[1].title
    assert _jaccard(copies[0], copies[1]) > 0.5


def test_independent_pair_is_not_a_copy() -> None:
    a, b = (_by_path()[p] for p in INDEPENDENT_PAIR)
    assert a.outlet != b.outlet and utc_day(a) == utc_day(b) == MAIN_DAY
    assert a.story is None and b.story is None
    assert _jaccard(a, b) < 0.02


# --- config and command line -----------------------------------------------------------------


def test_demo_config_lists_the_right_urls() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    sources = {s["name"]: s for s in config["sources"]}
    assert list(sources) == list(OUTLETS)
    assert config["settings"]["allow_private_addresses"] is True

    def paths(urls: list[str]) -> list[str]:
        assert all(u.startswith(DEMO_URL_VAR + "/") for u in urls)
        return [u.removeprefix(DEMO_URL_VAR) for u in urls]

    assert paths(sources["harbor-times"]["feeds"]) == ["/harbor/rss.xml"]
    assert paths(sources["harbor-times"]["urls"]) == [AMP_PATH]
    assert paths(sources["northgate-ledger"]["feeds"]) == ["/ledger/atom.xml"]
    assert paths(sources["coastline-post"]["sitemaps"]) == ["/sitemap_index.xml"]
    courier = {a.path for a in load_catalog() if a.outlet == "valley-courier"}
    listed = paths(sources["valley-courier"]["urls"])
    assert set(listed) == courier | {SECTION_INDEX_PATH}
    assert ROBOTS_DISALLOWED_PATH in listed


def test_command_line_runs_until_terminated() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.demo.server", "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base), base
        assert httpx.get(base + "/robots.txt", timeout=5).status_code == 200
        proc.terminate()
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

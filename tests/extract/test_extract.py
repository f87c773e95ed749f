"""The article extractor on small hand-written pages (tests/fixtures/pages)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.extract.body import (
    _vocabulary,
    is_boilerplate_line,
    normalize_text,
    prune_stats,
    walk_tree,
)
from pipeline.extract.decode import decode_html
from pipeline.extract.metadata import clean_authors, parse_datetime
from pipeline.extract.page import Extraction, ExtractionError, extract_article
from pipeline.extract.tree import parse_html

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
ARTICLE_URL = "https://news.example.org/local/2026/03/10/harbour-ferry"


def page(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


def extract(name: str, url: str = ARTICLE_URL, fetched_at: datetime | None = None) -> Extraction:
    return extract_article(page(name), url, fetched_at=fetched_at)


@pytest.fixture(scope="module")
def ferry() -> Extraction:
    return extract("jsonld_og.html")


# --- page with JSON-LD and OpenGraph --------------------------------------------------------


def test_body_keeps_story_and_drops_boilerplate(ferry: Extraction) -> None:
    text = ferry.text
    assert text.startswith("The Kestrel, the small blue ferry")
    assert text.endswith("an extra sailing on market days.")
    for boilerplate in (
        "Home",  # nav
        "cookies",  # consent banner
        "Share on Facebook",  # share widget
        "Bridge repairs delayed",  # related list
        "Most read",  # sidebar
        "missed that boat",  # comments
        "Read more",  # read-more link
        "Photo: Harbour Trust",  # image credit
        "2 hours ago",  # byline/timestamp
        "All rights reserved",  # footer
    ):
        assert boilerplate not in text, boilerplate
    # The headline is metadata, not body text.
    assert "return after winter refit" not in text


def test_headings_list_items_and_quotes_are_own_paragraphs(ferry: Extraction) -> None:
    paragraphs = ferry.text.split("\n\n")
    assert "What changed on board" in paragraphs
    assert "Covered seating for forty passengers" in paragraphs
    assert "A ramp for wheelchairs and bicycles" in paragraphs
    assert "We kept the old bell, because people would never forgive us if we hadn’t." in paragraphs
    assert all(p == p.strip() and "\n" not in p and "  " not in p for p in paragraphs)


def test_entities_decoded_and_non_ascii_kept(ferry: Extraction) -> None:
    assert "£1.2 million" in ferry.text  # &pound; and &nbsp; (collapsed to a space)
    assert "“like a washing machine”" in ferry.text  # curly quotes stay curly
    assert "José Ørsted" in ferry.text
    assert ferry.title == "Harbour ferry & its crew return after winter refit"


def test_json_ld_wins_over_opengraph(ferry: Extraction) -> None:
    assert ferry.provenance["title"] == "json-ld"
    assert ferry.description == "The Kestrel is back on the Old Quay route with a new engine."
    assert ferry.published_at == datetime(2026, 3, 10, 6, 30, tzinfo=UTC)  # +02:00 -> UTC
    assert ferry.modified_at == datetime(2026, 3, 10, 10, 5, tzinfo=UTC)
    assert ferry.provenance["published_at"] == "json-ld"
    assert ferry.section == "Local"
    assert ferry.tags == ["ferries", "harbour", "transport"]
    assert ferry.top_image == "https://news.example.org/images/kestrel-at-quay.jpg"
    assert ferry.provenance["top_image"] == "json-ld"


def test_authors_are_people_only(ferry: Extraction) -> None:
    # "Staff Reporter" and the outlet itself are dropped; the Turkish name is kept intact.
    assert ferry.authors == ["Meryem Çavuşoğlu"]
    assert ferry.provenance["authors"] == "json-ld"


def test_canonical_and_language(ferry: Extraction) -> None:
    assert ferry.canonical_url == "https://news.example.org/local/2026/03/10/harbour-ferry-returns"
    assert ferry.provenance["canonical_url"] == "html"
    assert ferry.language == "en"
    assert ferry.is_truncated is False


def test_bytes_input_is_decoded_by_the_parser() -> None:
    from_bytes = extract_article(page("jsonld_og.html").encode("utf-8"), ARTICLE_URL)
    assert "José Ørsted" in from_bytes.text
    assert from_bytes.authors == ["Meryem Çavuşoğlu"]


# --- page with OpenGraph only ---------------------------------------------------------------


def test_opengraph_only_page() -> None:
    result = extract("og_only.html", url="https://valley.example.com/farming/night-picking?ref=x")
    assert result.title == "Orchard growers try night picking"
    assert result.provenance["title"] == "opengraph"
    # article:author is a profile URL, so the <meta name=author> person is used.
    assert result.authors == ["Priya Raman"]
    assert result.published_at == datetime(2026, 3, 8, 21, 40, tzinfo=UTC)
    assert result.modified_at == datetime(2026, 3, 9, 12, 15, tzinfo=UTC)  # RFC 822, -0500
    assert result.language == "en"
    assert result.provenance["language"] == "opengraph"
    assert result.canonical_url == "https://valley.example.com/farming/night-picking"
    assert result.tags == ["agriculture", "labour"]
    assert result.section == "Farming"
    assert "newsletter" not in result.text
    assert "Tweet" not in result.text
    assert result.text.endswith("survey of its members before next season.")


# --- page with neither ----------------------------------------------------------------------


def test_plain_page_byline_time_tag_and_detected_language() -> None:
    result = extract("plain.html", url="https://northside.example.net/news/library-late")
    assert result.title == "Library opens late on Thursdays"
    assert result.authors == ["Ana Lima", "Tomás Ortega"]
    assert result.provenance["authors"] == "html"
    # <time datetime="2026-03-09T23:15:00+02:00"> is 21:15 UTC.
    assert result.published_at == datetime(2026, 3, 9, 21, 15, tzinfo=UTC)
    assert result.published_at.tzinfo is UTC
    assert result.provenance["published_at"] == "time-tag"
    assert result.language == "en"
    assert result.provenance["language"] == "detected"
    assert result.canonical_url == "https://northside.example.net/news/library-late"
    assert result.provenance["canonical_url"] == "url"
    text = result.text
    assert text.startswith("The public library on Mill Street")
    for boilerplate in ("By Ana Lima", "23:15", "Continue reading", "Pool reopens", "News"):
        assert boilerplate not in text, boilerplate
    # Soft hyphens and zero-width spaces are gone, the words they split are whole again.
    assert "Software for the new self-service desks was installed" in text
    assert "\u00ad" not in text and "\u200b" not in text
    assert "stay open. Entry remains free" in text


def test_future_date_is_rejected() -> None:
    fetched = datetime(2026, 3, 1, tzinfo=UTC)  # before the page's own date
    result = extract("plain.html", url="https://northside.example.net/news/x", fetched_at=fetched)
    assert result.published_at is None
    assert "published_at" not in result.provenance


def test_date_from_url_path_when_page_has_none() -> None:
    html = page("plain.html").replace(
        '<time datetime="2026-03-09T23:15:00+02:00">9 March 2026, 23:15</time>', ""
    )
    result = extract_article(html, "https://northside.example.net/2026/03/07/library-late/")
    assert result.published_at == datetime(2026, 3, 7, tzinfo=UTC)
    assert result.provenance["published_at"] == "url"


# --- rejects --------------------------------------------------------------------------------


def test_listing_page_is_not_an_article() -> None:
    with pytest.raises(ExtractionError) as info:
        extract("listing.html", url="https://riverside.example.com/local/")
    assert info.value.reason == "not_an_article"
    assert str(info.value)


def test_empty_shell_is_empty_extraction() -> None:
    with pytest.raises(ExtractionError) as info:
        extract("empty_shell.html")
    assert info.value.reason == "empty_extraction"


@pytest.mark.parametrize("html", ["", "   ", b""])
def test_nothing_to_parse(html: str | bytes) -> None:
    with pytest.raises(ExtractionError) as info:
        extract_article(html, ARTICLE_URL)
    assert info.value.reason == "unparseable"


def test_too_little_prose_is_not_an_article() -> None:
    html = "<html><body><article><p>Short note about the weather today.</p></article></body></html>"
    with pytest.raises(ExtractionError) as info:
        extract_article(html, ARTICLE_URL)
    assert info.value.reason == "not_an_article"


# --- paywall --------------------------------------------------------------------------------


def test_paywall_teaser_is_marked_truncated() -> None:
    result = extract("paywall.html", url="https://stadt.example.de/lokales/waermenetz")
    assert result.is_truncated is True
    assert result.text.startswith("Die Stadtwerke wollen bis 2030")
    assert "Weiterlesen mit Abo" not in result.text
    assert "Subscribe" not in result.text
    assert result.language == "de"
    assert result.authors == ["Lena Brückner"]
    # A date without a time or offset is taken as midnight UTC.
    assert result.published_at == datetime(2026, 3, 11, tzinfo=UTC)


# --- helpers --------------------------------------------------------------------------------


def test_normalize_text() -> None:
    raw = "Cafe\u0301\u00a0 au\u200b lait\u00ad\n\tnow\ufeff "
    assert normalize_text(raw) == "Café au lait now"
    # Every Unicode space counts, as re's \\s does; ASCII takes the short way through.
    assert normalize_text("\u3000two\u2009words\x1f ") == "two words"
    assert normalize_text("  plain \r\n ascii\t") == "plain ascii"


@pytest.mark.parametrize(
    ("classes", "negative"),
    [
        ("field field-name-body field-label-hidden", False),  # Drupal's body field
        ("overflow-hidden rounded", False),
        ("elementor-widget-container", False),  # Elementor wraps all page text in widgets
        ("recipe-print-step", False),
        ("Layout_main__2pNav Layout_wide", False),  # CSS modules: "2pNav" is a hash
        ("hidden", True),
        ("widget widget_recent_entries", True),
        ("print", True),
        ("site-nav", True),
        ("sidebar__item", True),
        ("article__body", False),
    ],
)
def test_boilerplate_vocabulary(classes: str, negative: bool) -> None:
    assert _vocabulary(classes).negative is negative


@pytest.mark.parametrize(
    ("line", "boilerplate"),
    [
        ("Lesen Sie auch", True),
        ("Das könnte Sie auch interessieren!", True),
        ("Weitere Artikel zum Thema", True),
        ("À lire aussi : la crue de la Loire", True),
        ("Anzeige", True),
        ("Foto: Ola Berg", True),
        ("(Credit: Ola Berg / River Agency)", True),
        ("The ferry at dawn. © River Agency", True),
        ("Never miss a story by signing up to our newsletter today!", True),
        ("Die Polizei erstattete Anzeige gegen den Fahrer.", False),
        ("Weitere zwanzig Boote sollen im Sommer folgen.", False),
    ],
)
def test_boilerplate_lines_in_several_languages(line: str, boilerplate: bool) -> None:
    assert is_boilerplate_line(line) is boilerplate


def test_pruned_statistics_equal_a_second_walk() -> None:
    soup = parse_html(
        "<html><body class='no-sidebars'><div id='main'><p>Story text <a href='/a'>link "
        "<b>bold</b></a> more.</p><div class='share'><a href='/s'>Share <i>this</i></a>"
        "<p>inner</p></div><a href='/x'><span class='ad'>ad text</span> tail</a></div>"
        "<aside><p>side</p></aside><footer>foot</footer></body></html>"
    )
    first, _ = walk_tree(soup)

    def drop(tag: object) -> bool:
        return getattr(tag, "name", "") in ("aside", "footer", "span") or (
            getattr(tag, "attrs", {}).get("class") == "share"
        )

    pruned, pruned_dropped = prune_stats(first, drop)
    walked, walked_dropped = walk_tree(soup, drop)
    assert pruned.text == walked.text
    assert pruned.links == walked.links
    assert [id(t) for t in pruned.order] == [id(t) for t in walked.order]
    assert [id(t) for t in pruned_dropped] == [id(t) for t in walked_dropped]
    assert len(pruned_dropped) == 4  # the share box, the ad span, the aside, the footer


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["By Ana Lima and Tomás Ortega"], ["Ana Lima", "Tomás Ortega"]),
        (["Ana Lima, Bo Chen & Dee Roy"], ["Ana Lima", "Bo Chen", "Dee Roy"]),
        (["Updated 3 hours ago"], []),
        (["By Staff | 3 hours ago"], []),
        (["By Staff"], []),
        (["AP Staff"], []),
        (["Ana Lima | Courier"], []),
        (["https://twitter.com/ana"], []),
        (["ana@example.org"], []),
        (["Riverside Post"], []),
    ],
)
def test_clean_authors(raw: list[str], expected: list[str]) -> None:
    assert clean_authors(raw, outlet_names=["Riverside Post"]) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-10T08:30:00+02:00", datetime(2026, 3, 10, 6, 30, tzinfo=UTC)),
        ("2026-03-10T08:30:00Z", datetime(2026, 3, 10, 8, 30, tzinfo=UTC)),
        ("2026-03-10T08:30:00.000-0500", datetime(2026, 3, 10, 13, 30, tzinfo=UTC)),
        ("Tue, 10 Mar 2026 08:30:00 +0100", datetime(2026, 3, 10, 7, 30, tzinfo=UTC)),
        ("Tue, 10 Mar 2026 08:30:00 GMT", datetime(2026, 3, 10, 8, 30, tzinfo=UTC)),
        ("Mon, 09 Mar 2026 23:30:00 -0500", datetime(2026, 3, 10, 4, 30, tzinfo=UTC)),
        ("2026-03-10T01:15:00+05:30", datetime(2026, 3, 9, 19, 45, tzinfo=UTC)),
    ],
)
def test_parse_datetime(raw: str, expected: datetime) -> None:
    parsed = parse_datetime(raw)
    assert parsed is not None
    assert parsed[0] == expected
    assert parsed[1] is False


def test_naive_datetime_is_utc_and_flagged() -> None:
    assert parse_datetime("2026-03-10 08:30") == (datetime(2026, 3, 10, 8, 30, tzinfo=UTC), True)
    assert parse_datetime("not a date") is None


# --- one page with every kind of boilerplate ------------------------------------------------

GAZETTE_URL = "https://gazette.example.com/garden/2026/03/09/allotments"


@pytest.fixture(scope="module")
def allotments() -> Extraction:
    return extract("boilerplate_kinds.html", url=GAZETTE_URL)


@pytest.mark.parametrize(
    "marker",
    [
        "NAVMARKER",  # navigation (and the same word inside a <script>)
        "ADMARKER",  # advertisement slot
        "Advertisement",  # its label
        "SHAREMARKER",  # share widget
        "RELATEDMARKER",  # related-stories list
        "COMMENTMARKER",  # comments section
        "COOKIEMARKER",  # cookie banner
        "NEWSLETTERMARKER",  # newsletter box
        "Garden Weekly",  # the newsletter box's heading
        "Hannelore Quist",  # byline inside the text
        "3 hours ago",  # timestamp inside the text
        "CAPTIONMARKER",  # image caption
        "CREDITMARKER",  # image credit line
        "READMOREMARKER",  # "Read more" link
        "FOOTERMARKER",  # footer
        "Allotment waiting list shrinks",  # the headline is metadata, not body
    ],
)
def test_each_boilerplate_kind_is_dropped(allotments: Extraction, marker: str) -> None:
    assert marker not in allotments.text


def test_story_paragraphs_survive_in_order(allotments: Extraction) -> None:
    paragraphs = allotments.text.split("\n\n")
    assert [p.split()[0] for p in paragraphs] == ["Forty", "The", "Each", "Rents"]
    assert paragraphs[-1].endswith("if the drainage work goes well.")


def test_staff_timestamp_author_falls_back_to_the_byline(allotments: Extraction) -> None:
    # <meta name=author content="By Staff | 3 hours ago"> names nobody; the visible byline does.
    assert allotments.authors == ["Hannelore Quist"]
    assert allotments.provenance["authors"] == "html"


def test_meta_date_with_negative_offset(allotments: Extraction) -> None:
    assert allotments.published_at == datetime(2026, 3, 9, 22, 45, tzinfo=UTC)  # 17:45 -05:00
    assert allotments.provenance["published_at"] == "meta"
    assert allotments.title == "Allotment waiting list shrinks as new plots open"
    assert allotments.provenance["title"] == "html"


def test_future_meta_date_falls_back_to_the_url_date() -> None:
    fetched = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # the meta date is a day and more later
    result = extract("boilerplate_kinds.html", url=GAZETTE_URL, fetched_at=fetched)
    assert result.published_at == datetime(2026, 3, 9, tzinfo=UTC)
    assert result.provenance["published_at"] == "url"


def test_naive_fetched_at_is_taken_as_utc() -> None:
    result = extract("plain.html", fetched_at=datetime(2026, 3, 1))
    assert result.published_at is None  # 2026-03-09 is in the future of 1 March


# --- non-UTF-8 bytes ------------------------------------------------------------------------


def test_cp1252_page_keeps_curly_quotes_and_accents() -> None:
    raw = (PAGES / "cp1252.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the fixture really is not UTF-8
    html, charset = decode_html(raw, None)
    assert charset == "cp1252"
    result = extract_article(html, "https://market.example.org/hall")
    assert result.title == "Café owners welcome the new market hall"
    assert "Café Belén" in result.text
    assert "“and the winter has barely ended”" in result.text
    assert "“We’re naïve about a lot of things,”" in result.text
    assert "£640,000" in result.text
    assert "Renée Marchetti" in result.text


def test_cp1252_bytes_passed_directly_are_decoded_too() -> None:
    result = extract_article((PAGES / "cp1252.html").read_bytes(), "https://market.example.org/h")
    assert "Renée Marchetti" in result.text


# --- markup that used to be costly or lost ---------------------------------------------------

STORY = (
    "<p>The river authority has opened a new footbridge below the weir, linking the two halves "
    "of the towpath for the first time since the flood of the year before last.</p>"
    "<p>Walkers and cyclists had faced a detour of almost two miles through the industrial "
    "estate, and local businesses say the bridge has already brought customers back.</p>"
)


def test_story_inside_a_page_wide_form_is_kept() -> None:
    # Old CMSs wrap the whole page in one <form>; it is furniture only when it holds no story.
    html = (
        "<html><body><form id='aspnetForm'><div id='main'><h1>Bridge opens</h1>"
        f"{STORY}</div></form><form class='search'><a href='/s'>Search</a></form></body></html>"
    )
    result = extract_article(html, ARTICLE_URL)
    assert result.text.startswith("The river authority has opened")
    assert "Search" not in result.text


def test_header_with_byline_and_time_still_feeds_metadata() -> None:
    html = (
        "<html><body><nav><nav><a href='/'>Home</a></nav><a href='/x'>Sport</a></nav>"
        "<article><header><h1>Bridge opens</h1><span class='author'>Ola Berg</span>"
        "<time datetime='2026-03-10T07:00:00+01:00'>10 March</time></header>"
        f"{STORY}</article></body></html>"
    )
    result = extract_article(html, ARTICLE_URL)
    assert result.authors == ["Ola Berg"]
    assert result.published_at == datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    assert "Home" not in result.text and "Sport" not in result.text


def test_links_written_out_as_addresses_are_kept() -> None:
    html = (
        f"<html><body><article>{STORY}<p>Bridge timetable</p>"
        "<p><a href='https://river.example.org/t'>https://river.example.org/timetable</a></p>"
        "<p><a href='https://social.example/@riverauth'>@riverauth</a></p></article></body></html>"
    )
    text = extract_article(html, ARTICLE_URL).text
    assert "https://river.example.org/timetable" in text
    assert "@riverauth" in text


@pytest.mark.parametrize(
    "trailer",
    [
        "Follow us on Twitter and Facebook for more river news.",
        "Ola Berg contributed to this report.",
        "Tell us what you think in the box below.",
        "[button link=”/send” type=”big”]Send us your photos[/button]",
        "Join our community forums to keep talking about the river.",
    ],
)
def test_closing_calls_to_action_are_dropped(trailer: str) -> None:
    html = f"<html><body><article>{STORY}<p>{trailer}</p></article></body></html>"
    text = extract_article(html, ARTICLE_URL).text
    assert text.endswith("brought customers back.")
    assert trailer[:12] not in text


def test_html_templates_in_scripts_are_read_as_content() -> None:
    # Some blog platforms ship the post as <script type="text/template"> for client-side rendering.
    html = (
        "<html><body><article><div itemprop='articleBody'><script type='text/template'>"
        f"{STORY}</script></div></article><script>var tracking = 1;</script></body></html>"
    )
    text = extract_article(html, ARTICLE_URL).text
    assert text.startswith("The river authority has opened a new footbridge")
    assert "tracking" not in text

"""Publication dates: where they are looked for, and what they keep (day, offset, time known)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from bs4 import BeautifulSoup

from pipeline.extract.body import strip_raw_html
from pipeline.extract.dates import parse_date, parse_visible_date, visible_days
from pipeline.extract.metadata import (
    DEFAULT_METADATA_OPTIONS,
    MetadataOptions,
    PageMetadata,
    extract_metadata,
)
from pipeline.extract.page import Extraction, extract_article
from pipeline.extract.tree import parse_html, source_markup

URL = "https://harbour.example.org/news/ferry-timetable"
BODY = (
    "<p>The harbour board has agreed a winter timetable for the island ferry, with two extra "
    "crossings on Saturdays and an earlier first boat on weekdays for commuters.</p>"
    "<p>Skippers said the new times follow a survey of passengers last autumn, in which most "
    "asked for a boat before seven in the morning and fewer late evening crossings.</p>"
    "<p>The timetable starts in November and will be reviewed at the board's spring meeting, "
    "when the operator expects to report on passenger numbers and fuel costs.</p>"
)


def page(head: str = "", header: str = "", after: str = "", lang: str = "en") -> str:
    return (
        f'<html lang="{lang}"><head><title>Winter timetable agreed | Harbour News</title>{head}'
        f"</head><body><article><header><h1>Winter timetable agreed</h1>{header}</header>"
        f"{BODY}</article>{after}</body></html>"
    )


def extract(html: str, url: str = URL, fetched_at: datetime | None = None) -> Extraction:
    return extract_article(html, url, fetched_at=fetched_at)


def test_date_only_value_stays_a_day() -> None:
    ld = '<script type="application/ld+json">{"@type":"NewsArticle","datePublished":"2026-03-10"}'
    result = extract(page(head=ld + "</script>"))
    assert result.published_at == datetime(2026, 3, 10, tzinfo=UTC)
    assert result.published_time_known is False
    assert result.published_offset_minutes is None


def test_offset_is_kept_next_to_the_utc_time() -> None:
    meta = '<meta property="article:published_time" content="2026-03-10T00:30:00+02:00">'
    result = extract(page(head=meta))
    assert result.published_at == datetime(2026, 3, 9, 22, 30, tzinfo=UTC)
    assert result.published_offset_minutes == 120
    assert result.published_time_known is True


@pytest.mark.parametrize(
    "head",
    [
        '<meta property="og:article:published_time" content="2026-03-10T08:00:00Z">',
        '<meta property="article:published:time" content="2026-03-10T08:00:00Z">',
        '<meta name="publication_date" content="2026-03-10T08:00:00Z">',
        '<meta itemprop="uploadDate" content="2026-03-10T08:00:00Z">',
    ],
)
def test_more_meta_keys(head: str) -> None:
    assert extract(page(head=head)).published_at == datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # <time> without datetime: its text.
        ("<time>10 March 2026, 09:15</time>", datetime(2026, 3, 10, 9, 15, tzinfo=UTC)),
        ('<abbr class="published" title="2026-03-10T09:15:00+01:00">10 Mar</abbr>', None),
        ('<span itemprop="datePublished" content="2026-03-10">10.3.</span>', None),
        ('<relative-time datetime="2026-03-10T08:15:00Z">Mar 10</relative-time>', None),
    ],
)
def test_markup_dates_beyond_time_datetime(header: str, expected: datetime | None) -> None:
    result = extract(page(header=header))
    assert result.published_at is not None
    assert result.published_at.date() == date(2026, 3, 10)
    if expected is not None:
        assert result.published_at == expected
        assert result.published_offset_minutes is None  # the page gave a wall clock only
    assert result.provenance["published_at"] == "time-tag"


def test_comment_and_teaser_times_do_not_outrank_the_articles_own() -> None:
    teaser = (
        '<aside class="related"><article><h3>Older story</h3>'
        '<time datetime="2025-12-01T10:00:00Z">1 Dec</time></article></aside>'
    )
    comments = '<section class="comments"><time datetime="2026-03-12T18:00:00Z">x</time></section>'
    html = page(header='<time datetime="2026-03-10T07:00:00Z">10 March</time>', after=comments)
    html = html.replace("<article><header>", teaser + "<article><header>")
    result = extract(html)
    assert result.published_at == datetime(2026, 3, 10, 7, 0, tzinfo=UTC)


def test_updated_time_goes_to_modified_at() -> None:
    header = (
        '<p>Updated: <time datetime="2026-03-11T12:00:00Z">11 March</time></p>'
        '<p>Published <time datetime="2026-03-10T07:00:00Z">10 March</time></p>'
    )
    result = extract(page(header=header))
    assert result.published_at == datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
    assert result.modified_at == datetime(2026, 3, 11, 12, 0, tzinfo=UTC)


def test_only_an_updated_time_is_no_publication_date() -> None:
    header = '<p>Aktualisiert am <time datetime="2026-03-11T12:00:00+01:00">11.03.</time></p>'
    result = extract(page(header=header, lang="de"), url="https://harbour.example.org/x")
    assert result.modified_at == datetime(2026, 3, 11, 11, 0, tzinfo=UTC)
    assert result.published_at is None


def test_visible_text_date_found_through_htmldate() -> None:
    header = '<p class="meta">Veröffentlicht am 4. März 2026</p>'
    result = extract(page(header=header, lang="de"))
    assert result.published_at == datetime(2026, 3, 4, tzinfo=UTC)
    assert result.published_time_known is False
    assert result.provenance["published_at"] == "htmldate"


def test_a_copyright_year_is_no_publication_date() -> None:
    result = extract(page(after="<footer><p>© 2024 Harbour News</p></footer>"))
    assert result.published_at is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jueves 2 de abril de 2020", date(2020, 4, 2)),
        ("April 8, 2020", date(2020, 4, 8)),
        ("8. April 2020", date(2020, 4, 8)),
        ("le 10 mars 2026 à 08h15", date(2026, 3, 10)),
        ("2 kwietnia 2020 r.", date(2020, 4, 2)),
        ("22/11/2020 - 04:30", date(2020, 11, 22)),
        ("22.11.2020", date(2020, 11, 22)),
        ("2020年4月2日", date(2020, 4, 2)),
    ],
)
def test_visible_dates_in_many_languages(text: str, expected: date) -> None:
    found = parse_visible_date(text)
    assert found is not None
    assert found.day == expected


def test_visible_time_of_day_is_kept_without_an_offset() -> None:
    found = parse_visible_date("22/11/2020 - 04:30")
    assert found is not None
    assert found.time_known is True
    assert found.offset_minutes is None
    assert found.iso() == "2020-11-22T04:30:00"
    pm = parse_visible_date("April 8, 2020 at 4:30 pm")
    assert pm is not None and pm.iso() == "2020-04-08T16:30:00"


def test_parse_date_keeps_what_the_source_said() -> None:
    day = parse_date("2026-03-10")
    assert day is not None and (day.time_known, day.iso()) == (False, "2026-03-10")
    local = parse_date("2026-03-10T00:30:00+0200")
    assert local is not None
    assert (local.day, local.offset_minutes, local.iso()) == (
        date(2026, 3, 10),
        120,
        "2026-03-10T00:30:00+02:00",
    )
    assert parse_date("not a date") is None


# A day the page never shows is no publication date: the "no date" pages of the benchmark carry
# such stamps in attributes and in generic WebPage declarations (docs/metadata.md).
HIDDEN_STAMP = '<div class="cache" data-built="2025-11-02 10:41:07"></div>'
WEBPAGE_LD = (
    '<script type="application/ld+json">{"@type": "WebPage", "name": "Winter timetable",'
    ' "datePublished": "2025-11-02T10:41:07+00:00"}</script>'
)


def metadata_of(html: str, options: MetadataOptions = DEFAULT_METADATA_OPTIONS) -> PageMetadata:
    soup = parse_html(strip_raw_html(html))  # as extract_article parses a page
    return extract_metadata(soup, URL, metadata_options=options)


def test_htmldate_day_the_page_never_shows_is_refused() -> None:
    html = page(after=HIDDEN_STAMP)
    assert extract(html).published_at is None
    # The check is what refuses it: unchecked, htmldate reads the attribute's stamp.
    unchecked = MetadataOptions(
        htmldate_needs_visible_day=False, htmldate_day_outside_furniture=False
    )
    found = metadata_of(html, unchecked).published
    assert found is not None and found.day == date(2025, 11, 2)


def test_htmldate_day_the_page_shows_is_taken() -> None:
    header = '<p class="meta">Veröffentlicht am 4. März 2026</p>'
    result = extract(page(header=header, after=HIDDEN_STAMP, lang="de"))
    assert result.published_at == datetime(2026, 3, 4, tzinfo=UTC)
    assert result.provenance["published_at"] == "htmldate"


def test_htmldate_day_shown_only_in_the_footer_or_comments_with_the_strict_option() -> None:
    strict = MetadataOptions(htmldate_day_outside_furniture=True)
    for region in ("footer", 'section class="comments"'):
        html = page(after=f"<{region}><p>Seite erstellt am 4. März 2026</p></{region.split()[0]}>")
        assert metadata_of(html, strict).published is None
        found = metadata_of(html).published  # the default: visible anywhere on the page
        assert found is not None and found.day == date(2026, 3, 4)


def test_webpage_json_ld_date_needs_the_day_on_the_page() -> None:
    assert extract(page(head=WEBPAGE_LD)).published_at is None
    shown = extract(page(head=WEBPAGE_LD, header="<p>2 November 2025</p>"))
    assert shown.published_at == datetime(2025, 11, 2, 10, 41, 7, tzinfo=UTC)
    assert shown.provenance["published_at"] == "json-ld"


def test_article_json_ld_date_needs_no_visible_day() -> None:
    ld = WEBPAGE_LD.replace('"WebPage"', '"NewsArticle"')
    assert extract(page(head=ld)).published_at == datetime(2025, 11, 2, 10, 41, 7, tzinfo=UTC)


def test_webpage_stamp_repeated_in_meta_is_refused_too() -> None:
    meta = '<meta property="article:published_time" content="2025-11-02T10:41:07+00:00">'
    assert extract(page(head=WEBPAGE_LD + meta)).published_at is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Stand: 01.11.2021", {date(2021, 11, 1), date(2021, 1, 11)}),
        ("posted 26.10.13 by ...", {date(2013, 10, 26)}),
        ("jueves 2 de abril de 2020", {date(2020, 4, 2)}),
        ("Jan. 5, 2021 and 8. März 2019", {date(2021, 1, 5), date(2019, 3, 8)}),
        ("2020年4月2日 / 2019-3-05", {date(2020, 4, 2), date(2019, 3, 5)}),
        ("31.02.2020, 2020, version 4.2", set()),
    ],
)
def test_visible_days(text: str, expected: set[date]) -> None:
    assert visible_days(text) == expected


@pytest.mark.parametrize(
    "header",
    [
        '<p class="meta">Veröffentlicht am 4. März 2026</p>',
        '<p class="meta">Posted <span data-stamp="2026-02-01">on 3 March 2026</span></p>',
    ],
)
def test_htmldate_reads_the_source_markup_as_it_read_the_serialised_soup(header: str) -> None:
    # parse_html keeps the markup, and htmldate is given that instead of str(soup); a soup bs4
    # built itself has none and is serialised as before. Both must give the same date.
    html = strip_raw_html(page(header=header, lang="de"))
    from_markup = parse_html(html)
    serialised = BeautifulSoup(html, "lxml", multi_valued_attributes=None)
    assert source_markup(from_markup) == html and source_markup(serialised) is None
    first = extract_metadata(from_markup, URL)
    second = extract_metadata(serialised, URL)
    assert first.provenance.get("published_at") == "htmldate"
    assert first.published_iso() == second.published_iso()

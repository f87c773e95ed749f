"""Authors: people or named desks, from the article's own byline, agencies apart."""

from __future__ import annotations

import pytest

from pipeline.extract.authors import looks_like_person, split_byline
from pipeline.extract.page import Extraction, extract_article

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
        f'<html lang="{lang}"><head><title>Winter timetable agreed | Harbour News</title>'
        f'<meta property="og:site_name" content="Harbour News">{head}</head><body><article>'
        f"<header><h1>Winter timetable agreed</h1>{header}</header>{BODY}</article>{after}"
        "</body></html>"
    )


def extract(html: str) -> Extraction:
    return extract_article(html, URL)


@pytest.mark.parametrize(
    "meta_author", ["Super User", "Harbour News", "admin", "Harbour News Online", "dpa"]
)
def test_meta_author_that_is_no_person_is_not_taken(meta_author: str) -> None:
    result = extract(page(head=f'<meta name="author" content="{meta_author}">'))
    assert result.authors == []


def test_meta_author_that_is_a_person_is_taken() -> None:
    result = extract(page(head='<meta name="author" content="Ingrid Solberg">'))
    assert result.authors == ["Ingrid Solberg"]
    assert result.provenance["authors"] == "meta"


def test_byline_sweep_stays_in_the_article() -> None:
    header = '<p class="byline">By <a rel="author" href="/a/ms">Maren Sand</a></p>'
    after = (
        '<section class="comments"><p><a rel="author" href="/u/1">Kjell Ruud</a> says</p></section>'
        '<aside class="related"><article><h3>Older story</h3><span itemprop="author">'
        "Per Dahl</span></article></aside>"
    )
    result = extract(page(header=header, after=after))
    assert result.authors == ["Maren Sand"]


@pytest.mark.parametrize(
    ("lang", "byline", "expected"),
    [
        ("no", "Av Ingrid Solberg og Maren Sand", ["Ingrid Solberg", "Maren Sand"]),
        ("es", "Por Lucía Pérez y Mateo Ruiz", ["Lucía Pérez", "Mateo Ruiz"]),
        ("de", "Von Lena Brückner und Jonas Fuchs", ["Lena Brückner", "Jonas Fuchs"]),
        ("fr", "Par Claire Dubois et Hugo Martin", ["Claire Dubois", "Hugo Martin"]),
    ],
)
def test_compound_bylines_split_in_the_pages_language(
    lang: str, byline: str, expected: list[str]
) -> None:
    result = extract(page(header=f'<p class="byline">{byline}</p>', lang=lang))
    assert result.authors == expected


def test_and_word_of_another_language_does_not_split() -> None:
    # In English, "y" is no conjunction; the name is left whole.
    assert split_byline("By Anna y Vidal", lang="en")[0] == ["Anna y Vidal"]


def test_agency_credits_go_to_their_own_column() -> None:
    result = extract(page(header='<p class="byline">Von Lena Brückner, dpa</p>', lang="de"))
    assert result.authors == ["Lena Brückner"]
    assert result.agencies == ["dpa"]
    only_agency = extract(page(header='<p class="byline">(AFP)</p>'))
    assert only_agency.authors == []
    assert only_agency.agencies == ["AFP"]


def test_json_ld_author_reference_is_resolved() -> None:
    ld = (
        '<script type="application/ld+json">{"@graph":['
        '{"@type":"NewsArticle","headline":"Winter timetable agreed","author":{"@id":"#p1"}},'
        '{"@type":"Person","@id":"#p1","name":"Maren Sand"}]}</script>'
    )
    result = extract(page(head=ld))
    assert result.authors == ["Maren Sand"]
    assert result.provenance["authors"] == "json-ld"


def test_byline_runs_on_into_its_date() -> None:
    result = extract(page(header='<p class="author">By Maren Sand March 10, 2026</p>'))
    assert result.authors == ["Maren Sand"]


def test_named_desk_is_an_author_a_bare_desk_is_not() -> None:
    assert split_byline("Harbour staff reporter")[0] == ["Harbour staff reporter"]
    assert split_byline("By Staff")[0] == []
    assert split_byline("Redaktion", lang="de")[0] == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ingrid Solberg", True),
        ("Ludwig van der Berg", True),
        ("wordpressadmin", False),
        ("Harbour News", False),
        ("Nachrichten GmbH", False),
        ("Solberg", False),
    ],
)
def test_looks_like_person(name: str, expected: bool) -> None:
    assert looks_like_person(name, ["Harbour News", "harbour.example.org"]) is expected


def test_brand_word_before_the_lead_word_is_not_part_of_the_name() -> None:
    assert split_byline("almanac von Ingrid Solberg", "de")[0] == ["Ingrid Solberg"]
    assert split_byline("Richard von Weizsäcker", "de")[0] == ["Richard von Weizsäcker"]
    assert split_byline("Ursula von der Leyen", "de")[0] == ["Ursula von der Leyen"]


def test_author_label_in_an_element_of_its_own() -> None:
    after = "<ul><li><strong>Autorin/Autor</strong> Maren Sand</li></ul>"
    html = page(lang="de").replace("</article>", after + "</article>")
    assert extract(html).authors == ["Maren Sand"]


def test_labelled_credit_at_the_end_of_the_article() -> None:
    credit = "<p><strong>Text:</strong> Maren Sand</p><p><strong>Fotos:</strong> Per Dahl</p>"
    html = page(lang="de").replace("</article>", credit + "</article>")
    assert extract(html).authors == ["Maren Sand"]


def test_redaktion_without_a_colon_stays_a_desk_name() -> None:
    header = '<p class="byline">Redaktion Hafenblatt</p>'
    assert extract(page(header=header, lang="de")).authors == ["Redaktion Hafenblatt"]

"""parse_html builds the same BeautifulSoup tree as BeautifulSoup(html, "lxml"), only faster."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, Tag

from pipeline.extract.tree import parse_html, source_markup

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"

SNIPPETS = [
    "<p>One <b>bold</b> and <i>italic <a href='/x'>link</a></i> tail.</p>",
    "<div><pre>  keep\n   spacing  </pre><p>\n\n</p>  <span> </span></div>",
    "<html><head><script type='application/ld+json'>{\"a\": 1}</script>"
    "<style>p{}</style></head><body><p>x</p></body></html>",
    "<p>Caf&eacute; &amp; bar &#8211; &nbsp;ok</p><p>unclosed<div>block</div>",
    "<table><tr><td>cell</td></tr></table><ul><li>one<li>two</ul>",
    "<p>ruby <ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby> text</p>",
    "<input disabled><hr noshade><p class='a  b' data-x=\"1\">attrs</p>",
]


def _bs4(html: str) -> BeautifulSoup:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BeautifulSoup(html, "lxml", multi_valued_attributes=None)


def _shape(soup: BeautifulSoup) -> list[tuple[str, Any]]:
    """Tags (name, attribute names) and non-blank text, in document order."""
    out: list[tuple[str, Any]] = []
    for node in soup.descendants:
        if isinstance(node, Comment | Doctype):
            continue
        if isinstance(node, Tag):
            out.append((node.name, sorted(node.attrs)))
        elif isinstance(node, NavigableString) and node.strip():
            out.append((type(node).__name__, " ".join(node.split())))
    return out


def _joined(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    "html",
    [
        *SNIPPETS,
        *(p.read_text(encoding="utf-8", errors="replace") for p in sorted(PAGES.glob("*.html"))),
    ],
)
def test_same_tree_as_bs4_lxml(html: str) -> None:
    ours, theirs = parse_html(html), _bs4(html)
    assert _shape(ours) == _shape(theirs)
    assert _joined(ours.get_text()) == _joined(theirs.get_text())
    assert [t.get("class") for t in ours.find_all(True)] == [
        t.get("class") for t in theirs.find_all(True)
    ]


def test_links_between_nodes_are_consistent() -> None:
    soup = parse_html(SNIPPETS[0] + SNIPPETS[4])
    nodes = list(soup.descendants)
    # next_element walks the document in order; siblings and parents agree with contents.
    assert [n.next_element for n in nodes[:-1]] == nodes[1:]
    for node in nodes:
        parent = node.parent
        assert parent is not None
        index = next(i for i, c in enumerate(parent.contents) if c is node)
        if index:
            assert node.previous_sibling is parent.contents[index - 1]
        else:
            assert node.previous_sibling is None
    # The ordinary bs4 API works on it, including changing the tree.
    link = soup.find("a")
    assert isinstance(link, Tag)
    link.extract()
    assert "link" not in soup.get_text()
    assert soup.find("td") is not None


def test_script_text_keeps_its_string_class() -> None:
    soup = parse_html(SNIPPETS[2])
    script = soup.find("script")
    assert isinstance(script, Tag)
    assert script.string == '{"a": 1}'
    assert soup.get_text() == "x"  # code is not text, as in bs4's own tree


@pytest.mark.parametrize("html", ["", "   ", "<?xml version='1.0' encoding='utf-8'?><p>x</p>"])
def test_what_lxml_refuses_goes_through_bs4(html: str) -> None:
    assert _joined(parse_html(html).get_text()) == _joined(_bs4(html).get_text())


def test_comments_are_left_out() -> None:
    # The one documented difference: no Comment nodes (the text around one is a single string).
    soup = parse_html("<p>before<!-- a comment -->after</p>")
    assert not any(isinstance(n, Comment) for n in soup.descendants)
    assert soup.get_text() == "beforeafter"


def test_attributes_lxml_cannot_name_go_through_bs4() -> None:
    html = "<div><img {{src}}><p>text</p></div>"
    assert _joined(parse_html(html).get_text()) == _joined(_bs4(html).get_text())


def test_the_soup_keeps_the_markup_it_was_built_from() -> None:
    html = "<html><body><p>Published 4 March 2026</p></body></html>"
    assert source_markup(parse_html(html)) == html


@pytest.mark.parametrize("html", ["", "<?xml version='1.0' encoding='utf-8'?><p>x</p>"])
def test_a_soup_bs4_built_has_no_source_markup(html: str) -> None:
    # Whatever lxml refused went through bs4: readers must serialise that soup themselves.
    assert source_markup(parse_html(html)) is None
    assert source_markup(_bs4(html)) is None

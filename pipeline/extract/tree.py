"""Build a BeautifulSoup tree from lxml's HTML parse, without bs4's per-event tree builder.

``BeautifulSoup(html, "lxml")`` drives libxml2's HTML parser through Python callbacks, one per
start tag, end tag and text run, and runs bs4's bookkeeping on each; that is most of the time an
extraction takes. Here libxml2 builds its own tree in C (``lxml.etree.fromstring`` with the same
``HTMLParser`` settings bs4 uses), and one walk copies it into bs4 ``Tag`` and ``NavigableString``
objects, linked exactly as bs4's builder links them (parent, siblings, next/previous element).
The result is an ordinary ``BeautifulSoup`` object: every bs4 API works on it.

The copy reproduces what bs4's lxml builder makes of the same markup (the tests compare the two
trees), except that comments, processing instructions and the doctype are left out: nothing
downstream reads them, and the raw pre-pass has removed comments already. Whatever lxml cannot
take this way (an empty document, an XML declaration in a ``str``) goes through bs4's own builder.
"""

from __future__ import annotations

import warnings
from typing import Any

from bs4 import (
    BeautifulSoup,
    MarkupResemblesLocatorWarning,
    NavigableString,
    Tag,
    XMLParsedAsHTMLWarning,
)
from lxml import etree

# The parser bs4's lxml builder uses for HTML (recover from errors), without comments and PIs.
_PARSER = etree.HTMLParser(recover=True, remove_comments=True, remove_pis=True)
# The attribute of a soup built here that holds the markup it was parsed from.
_SOURCE_MARKUP = "_source_markup"
# As bs4 does: whitespace-only text outside these becomes a single "\n" or " ".
_PRESERVE_WHITESPACE = frozenset({"pre", "textarea"})
_ASCII_SPACES = str.maketrans(dict.fromkeys("\x20\x0a\x09\x0c\x0d"))


def _bs4_parse(html: str) -> BeautifulSoup:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(html, "lxml", multi_valued_attributes=None)


_EXCLUDED_FIELDS = frozenset(
    {"attrs", "contents", "parent", "previous_element", "next_element", "previous_sibling",
     "next_sibling"}
)  # fmt: skip
# Per tag name, the fields bs4's constructor sets up (empty-element flag, string types, ...):
# they depend only on the name and the builder's settings, which never change here.
_TEMPLATES: dict[str, dict[str, Any]] = {}


def _template(soup: BeautifulSoup, name: str) -> dict[str, Any]:
    template = _TEMPLATES.get(name)
    if template is None:
        sample = Tag(soup, soup.builder, name)
        template = {k: v for k, v in sample.__dict__.items() if k not in _EXCLUDED_FIELDS}
        # The links a new tag starts with; element() sets the others.
        template.update(next_element=None, next_sibling=None, previous_sibling=None)
        _TEMPLATES[name] = template
    return template


def _copy_tree(root: Any, soup: BeautifulSoup) -> None:
    """Copy lxml's tree under ``soup``, linking nodes in document order as bs4 does."""
    builder = soup.builder
    attribute_dict = builder.attribute_dict_class
    templates = _TEMPLATES
    new_tag = Tag.__new__
    new_string = str.__new__
    previous: list[Any] = [soup]  # the node made last, in document order
    # bs4 keeps the text of script, style, template, rt and rp in string subclasses, and
    # get_text() relies on the classes (it leaves ruby annotations and code out).
    string_classes: dict[str, type] = dict(builder.string_containers)

    def text(value: str, tag: Tag, contents: list[Any], preserve: int, string_class: type) -> None:
        if not preserve and value.isspace() and not value.translate(_ASCII_SPACES):
            value = "\n" if "\n" in value else " "
        string: Any = new_string(string_class, value)
        string.hidden = False
        string.parent = tag
        last = previous[0]
        string.previous_element = last
        last.next_element = string
        string.next_element = None
        string.next_sibling = None
        if contents:
            sibling = contents[-1]
            sibling.next_sibling = string
            string.previous_sibling = sibling
        else:
            string.previous_sibling = None
        contents.append(string)
        previous[0] = string

    def element(node: Any, parent: Tag, preserve: int, string_class: type) -> None:
        # link() written out for the tag: this runs for every element of the page.
        name = node.tag
        tag = new_tag(Tag)
        template = templates.get(name)
        if template is None:
            template = _template(soup, name)
        tag.__dict__.update(template)
        items = node.items()  # a list built in C: cheaper than reading node.attrib
        tag.attrs = attribute_dict(items) if items else attribute_dict()
        contents: list[Any] = []
        tag.contents = contents
        if name == "meta":
            builder.set_up_substitutions(tag)  # charset values, as bs4 does
        tag.parent = parent
        last = previous[0]
        tag.previous_element = last
        last.next_element = tag
        siblings = parent.contents
        if siblings:
            sibling = siblings[-1]
            sibling.next_sibling = tag
            tag.previous_sibling = sibling
        siblings.append(tag)
        previous[0] = tag
        if name in _PRESERVE_WHITESPACE:
            preserve += 1
        string_class = string_classes.get(name, string_class)
        value = node.text
        if value:
            text(value, tag, contents, preserve, string_class)
        for child in node:
            if type(child.tag) is str:
                element(child, tag, preserve, string_class)
            value = child.tail
            if value:
                text(value, tag, contents, preserve, string_class)

    element(root, soup, 0, NavigableString)


def parse_html(markup: str) -> BeautifulSoup:
    """``BeautifulSoup(html, "lxml", multi_valued_attributes=None)``, built several times faster.

    The soup keeps the markup it was built from (``source_markup``).
    """
    try:
        root = etree.fromstring(markup, _PARSER)
    except (ValueError, etree.ParserError, etree.XMLSyntaxError):
        root = None
    if root is None or not isinstance(root.tag, str):
        return _bs4_parse(markup)
    soup = _bs4_parse("")
    try:
        _copy_tree(root, soup)
    except (ValueError, KeyError, RecursionError):  # e.g. an attribute lxml cannot name
        return _bs4_parse(markup)
    soup.__dict__[_SOURCE_MARKUP] = markup
    return soup


def source_markup(soup: BeautifulSoup) -> str | None:
    """The markup ``parse_html`` built ``soup`` from (None for a soup bs4 built itself).

    For readers that parse HTML themselves (htmldate): handing them this string spares
    ``str(soup)``, a serialisation of the whole tree that costs several parses. It is the soup's
    source, so edits made to the soup since are not in it.
    """
    markup = soup.__dict__.get(_SOURCE_MARKUP)
    return markup if isinstance(markup, str) else None

"""Where on a page the article's own metadata is: its header, its container, or neither.

A page carries many dates and names besides the article's: comments, teasers of other stories,
sidebars, "most read" lists, the site footer. Visible-markup sources (``<time>``, bylines) are only
trusted inside the article, and the article's header (the block around its headline) is trusted
first. When no article container can be found, the whole page minus the excluded regions counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import IntEnum

from bs4 import Tag

# class/id words of regions that hold other content's metadata.
_EXCLUDED = re.compile(
    r"comment|teaser|related|sidebar|side-bar|aside|recirc|recommend|promo|widget|popular"
    r"|trending|most-?read|newsletter|share|social|more-?stories|read-?more|also-?read"
    r"|carousel|slider|breadcrumb|navigation|navbar|menu|masthead|topbar|cookie|advert",
    re.IGNORECASE,
)
_EXCLUDED_TAGS = frozenset({"aside", "nav"})
# A page-level footer; the article's own footer (inside the container) is not excluded.
_FOOTER = re.compile(r"footer", re.IGNORECASE)
_ARTICLE_ITEMTYPE = re.compile(r"schema\.org/\w*(?:Article|Posting|Report)\b", re.IGNORECASE)
_BODY_HINT = re.compile(
    r"articlebody|article-body|article__body|story-body|post-content|entry-content"
)
# How many levels above the headline the header block reaches.
HEADER_LEVELS = 3


class Place(IntEnum):
    """How much a tag's position vouches for it; lower is better."""

    HEADER = 0
    ARTICLE = 1
    PAGE = 2


def _words(tag: Tag) -> str:
    parts = [tag.attrs.get("class"), tag.attrs.get("id")]
    return " ".join(p if isinstance(p, str) else " ".join(p) for p in parts if p)


def is_excluded_region(tag: Tag) -> bool:
    """The tag itself (not its ancestors) is a comment, teaser, sidebar or navigation block."""
    if tag.name in _EXCLUDED_TAGS:
        return True
    words = _words(tag)
    return bool(words) and bool(_EXCLUDED.search(words))


class ArticleScope:
    """The article container and header of a page, found once, asked about many tags.

    The headline anchors everything: a region that contains it is never "other content", even
    when a layout class says ``sidebar`` or ``navigation-container``; the container is the
    ``<article>`` (or Article itemtype) around it when there is one.
    """

    def __init__(self, tags: Sequence[Tag], title: str | None = None) -> None:
        self.headline = _find_headline(tags, title)
        self._protected: set[int] = set()
        node = self.headline
        while node is not None:
            self._protected.add(id(node))
            node = node.parent if isinstance(node.parent, Tag) else None
        self.root = self._find_root(tags)
        header: list[Tag] = []
        node = self.headline
        for _ in range(HEADER_LEVELS):
            if node is None or node is self.root or node.name in ("body", "html"):
                break
            node = node.parent if isinstance(node.parent, Tag) else None
            if node is not None:
                header.append(node)
        self.header_ids = {id(t) for t in header}
        # The outermost block of the header: the headline's surroundings.
        self.header: Tag | None = header[-1] if header else None

    def excluded(self, tag: Tag) -> bool:
        return id(tag) not in self._protected and is_excluded_region(tag)

    def _inside_excluded(self, tag: Tag) -> bool:
        node: Tag | None = tag
        while node is not None and node.name not in ("body", "html", "[document]"):
            if self.excluded(node):
                return True
            node = node.parent if isinstance(node.parent, Tag) else None
        return False

    def _find_root(self, tags: Sequence[Tag]) -> Tag | None:
        """The article container: around the headline if possible, else the page's main one."""
        node = self.headline
        while node is not None and node.name not in ("body", "html"):
            itemtype = node.attrs.get("itemtype")
            if node.name == "article" or (
                isinstance(itemtype, str) and _ARTICLE_ITEMTYPE.search(itemtype)
            ):
                return node
            node = node.parent if isinstance(node.parent, Tag) else None
        articles: list[Tag] = []
        body_hint: Tag | None = None
        main: Tag | None = None
        for tag in tags:
            itemtype = tag.attrs.get("itemtype")
            is_article_type = isinstance(itemtype, str) and _ARTICLE_ITEMTYPE.search(itemtype)
            if is_article_type and not self._inside_excluded(tag):
                return tag
            if tag.name == "article" and not self._inside_excluded(tag):
                articles.append(tag)
            elif body_hint is None and (
                tag.attrs.get("itemprop") == "articleBody" or _BODY_HINT.search(_words(tag))
            ):
                body_hint = tag
            elif main is None and (tag.name == "main" or tag.attrs.get("role") == "main"):
                main = tag
        if articles:
            # Several <article>s (a story and its teasers): the one with the most text.
            return max(articles, key=lambda a: len(a.get_text()))
        if body_hint is not None:
            parent = body_hint.parent
            if isinstance(parent, Tag) and parent.name not in ("body", "html"):
                return parent
            return body_hint
        return main

    def place(self, tag: Tag) -> Place | None:
        """Where ``tag`` sits, or None when it is inside a region of other content."""
        in_root = False
        in_header = False
        ancestors: list[Tag] = []
        node: Tag | None = tag
        while node is not None and node.name not in ("body", "html", "[document]"):
            ancestors.append(node)
            if node is self.root:
                in_root = True
            if id(node) in self.header_ids:
                in_header = True
            node = node.parent if isinstance(node.parent, Tag) else None
        for ancestor in ancestors:
            if ancestor is self.root:
                break
            if self.excluded(ancestor) and not (ancestor is tag and tag.name == "time"):
                return None
            if (
                not (in_root or in_header)
                and id(ancestor) not in self._protected
                and _FOOTER.search(ancestor.name + " " + _words(ancestor))
            ):
                return None
        if in_header:
            return Place.HEADER
        if in_root:
            return Place.ARTICLE
        return Place.PAGE if self.root is None else None


_TITLE_WORDS = re.compile(r"\w+")


def _title_key(text: str) -> str:
    return " ".join(_TITLE_WORDS.findall(text.casefold()))


def _find_headline(tags: Sequence[Tag], title: str | None) -> Tag | None:
    """The <h1> that carries the title (the first <h1> when none does)."""
    h1s = [t for t in tags if t.name == "h1"]
    if not h1s:
        return None
    if title:
        key = _title_key(title)
        for h1 in h1s:
            text = _title_key(h1.get_text(" "))
            if text and (text in key or key in text):
                return h1
    return h1s[0]

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
    """The article container and header of a page, found once, asked about many tags."""

    def __init__(self, tags: Sequence[Tag], title: str | None = None) -> None:
        self.root = _find_root(tags)
        self.headline = _find_headline(tags, self.root)
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
            if is_excluded_region(ancestor) and not (ancestor is tag and tag.name == "time"):
                return None
            if not (in_root or in_header) and _FOOTER.search(
                ancestor.name + " " + _words(ancestor)
            ):
                return None
        if in_header:
            return Place.HEADER
        if in_root:
            return Place.ARTICLE
        return Place.PAGE if self.root is None else None


def _find_root(tags: Sequence[Tag]) -> Tag | None:
    """The article container: an Article itemtype, the <article> holding the body, or <main>."""
    articles: list[Tag] = []
    body_hint: Tag | None = None
    main: Tag | None = None
    for tag in tags:
        itemtype = tag.attrs.get("itemtype")
        if isinstance(itemtype, str) and _ARTICLE_ITEMTYPE.search(itemtype):
            if not _inside_excluded(tag):
                return tag
        if tag.name == "article" and not _inside_excluded(tag):
            articles.append(tag)
        elif body_hint is None and (
            tag.attrs.get("itemprop") == "articleBody" or _BODY_HINT.search(_words(tag).lower())
        ):
            body_hint = tag
        elif main is None and (tag.name == "main" or tag.attrs.get("role") == "main"):
            main = tag
    if articles:
        if len(articles) == 1:
            return articles[0]
        # Several <article>s (a story and its teasers): the one with the most text.
        return max(articles, key=lambda a: len(a.get_text()))
    if body_hint is not None:
        parent = body_hint.parent
        return (
            parent if isinstance(parent, Tag) and parent.name not in ("body", "html") else body_hint
        )
    return main


def _find_headline(tags: Sequence[Tag], root: Tag | None) -> Tag | None:
    first_h1: Tag | None = None
    for tag in tags:
        if tag.name != "h1":
            continue
        if root is None or _is_inside(tag, root):
            return tag
        if first_h1 is None and not _inside_excluded(tag):
            first_h1 = tag
    # A headline above the container (a page header band) still heads the article.
    return first_h1


def _is_inside(tag: Tag, root: Tag) -> bool:
    node: Tag | None = tag
    while node is not None:
        if node is root:
            return True
        node = node.parent if isinstance(node.parent, Tag) else None
    return False


def _inside_excluded(tag: Tag) -> bool:
    node: Tag | None = tag
    while node is not None and node.name not in ("body", "html", "[document]"):
        if is_excluded_region(node):
            return True
        node = node.parent if isinstance(node.parent, Tag) else None
    return False

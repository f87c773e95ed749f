"""Body extraction: find the article container in a parsed page and turn it into clean paragraphs.

The approach is a readability-style vote: every paragraph-like block scores its ancestors, the best
ancestor (weighted by class/id vocabulary and link density) is the article container, and sibling
blocks that look like continuation text are merged in. Boilerplate is removed up front by tag and
by class/id vocabulary, and again per paragraph by link density and phrase patterns.

All heuristics live at module top as named data so they can be reviewed and tuned in one place.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Protocol

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, Tag
from bs4.element import CData, ProcessingInstruction

from pipeline.extract.blocks import (
    FURNITURE_TAGS,
    TOKEN_ANCESTORS,
    BlockContext,
    BlockModel,
    ScoredBlock,
    add_features,
    shipped_model,
)

# --------------------------------------------------------------------------------------------
# Tunable thresholds


# Where section fronts put their linked headlines (see _count_teasers).
TEASER_HEADING_TAGS: tuple[str, ...] = ("h2", "h3", "h4", "h5")
TEASER_ITEM_TAGS: tuple[str, ...] = ("li", "article")


@dataclass(frozen=True)
class ExtractionOptions:
    """Thresholds for extraction; the defaults were tuned on the dev benchmark."""

    # A block shorter than this does not vote for its ancestors (captions, labels, buttons).
    min_block_chars: int = 25
    # Fewer words of non-link prose than this and the page is not an article.
    # (40 before the block classifier; trafilatura-dev has real articles of 11 to 38 words.)
    min_article_words: int = 10
    # A paragraph whose characters are more than this share link text is navigation.
    max_block_link_density: float = 0.65
    # Short paragraphs are held to a stricter link-density bar: "Read: <a>headline</a>".
    short_block_chars: int = 80
    max_short_block_link_density: float = 0.3
    # A paragraph that is mostly a <time> element is a timestamp line, not prose.
    timestamp_share: float = 0.5
    # Siblings of the best container scoring above this share of its score are merged in.
    sibling_score_ratio: float = 0.2
    # A negative-vocabulary block is kept anyway when it holds more than this share of the page's
    # non-link text, or wraps a body marker (itemprop=articleBody, "article-body", ...) holding
    # more than protect_marker_ratio of it: page wrappers carry classes like "widget" or "tags".
    protect_text_ratio: float = 0.8
    protect_marker_ratio: float = 0.15
    # A paywall marker only means "truncated" when the body is at most this many words.
    truncated_max_words: int = 350
    # Listing pages: at least this many linked headlines, making up this share of the blocks.
    listing_min_teasers: int = 4
    listing_teaser_ratio: float = 0.5
    # A container whose text is mostly link text is a listing, not an article.
    listing_link_density: float = 0.5
    # ... and the text kept looks like teasers too: at most this many words of prose (the dek
    # lines under linked headings), or at least this share of its paragraphs open with a link
    # (headline + summary in one block). Otherwise the linked headlines are a related-stories
    # block inside an article.
    listing_max_prose_words: int = 150
    listing_linked_opening_ratio: float = 0.5
    # Language detection needs at least this many words of text to be trusted.
    min_language_words: int = 30
    # Dates later than fetched_at by more than this are rejected as bogus.
    future_slack: timedelta = timedelta(days=1)
    # JSON-LD articleBody with at least this many words is used as a hint and a fallback.
    min_hint_words: int = 40
    # The block classifier that makes the final keep/drop decision per block; None means the
    # weights shipped with the package (block_model.json). rules_only skips it altogether.
    block_model: BlockModel | None = field(default=None, compare=False, hash=False)
    rules_only: bool = False


DEFAULT_OPTIONS = ExtractionOptions()

# --------------------------------------------------------------------------------------------
# Vocabulary

# Never content; removed before anything else.
ALWAYS_DROP_TAGS: frozenset[str] = frozenset(
    {
        "script", "style", "noscript", "iframe", "svg", "template", "button", "input", "select",
        "textarea", "object", "embed", "canvas", "video", "audio", "picture", "figcaption",
        "dialog", "link", "meta", "head", "title", "label", "option",
    }
)  # fmt: skip

# Structural boilerplate; removed unless it holds most of the page's paragraph text (old sites
# wrap the whole page in a <form>, some themes put the story inside <header>).
BOILERPLATE_TAGS: frozenset[str] = frozenset(
    {"nav", "aside", "footer", "form", "header", "figure", "menu"}
)

# Never removed by class/id vocabulary: they are the containers we are looking for.
PROTECTED_TAGS: frozenset[str] = frozenset({"html", "body", "article", "main"})

# class/id tokens (after splitting on punctuation and camelCase) that mark boilerplate.
NEGATIVE_TOKENS: frozenset[str] = frozenset(
    {
        "nav", "navbar", "navigation", "menu", "footer", "masthead", "sidebar", "rail",
        "related", "recommended", "recommendations", "recirc", "trending", "popular",
        "share", "sharing", "sharebar", "social", "newsletter", "subscribe", "subscription",
        "signup", "login", "cookie", "cookies", "consent", "gdpr", "comment", "comments",
        "commenting", "disqus", "ad", "ads", "adv", "advert", "advertisement", "adslot",
        "adunit", "dfp", "sponsor", "sponsored", "promo", "promotion", "banner", "byline",
        "timestamp", "dateline", "date", "caption", "credit", "credits", "breadcrumb",
        "breadcrumbs", "tags", "taboola", "outbrain", "widget", "toolbar", "print", "modal",
        "popup", "overlay", "hidden", "pagination", "pager", "author", "bio", "meta", "cta",
        "copyright", "skip", "jump", "toc", "subnav", "topbar", "bottombar", "tooltip",
    }
)  # fmt: skip

# Multi-token boilerplate markers matched as substrings of the joined, lower-cased class/id.
NEGATIVE_PHRASES: tuple[str, ...] = (
    "read-more", "readmore", "more-stories", "most-read", "mostread", "most-popular",
    "mostpopular", "you-may-like", "also-read", "see-also", "related", "recommend",
    "newsletter", "subscribe", "cookie", "consent", "sidebar", "breadcrumb", "social",
    "share-", "-share", "sharing", "taboola", "outbrain", "advert", "sponsor", "sr-only",
    "visually-hidden", "screen-reader", "author-info", "about-author", "post-meta",
    "article-meta", "entry-meta", "story-meta",
)  # fmt: skip

# class/id substrings that mark the article body (readability's list plus news-specific ones).
POSITIVE_PHRASES: tuple[str, ...] = (
    "article", "body", "content", "entry", "hentry", "h-entry", "main", "post", "text",
    "blog", "story", "prose", "richtext", "rich-text",
)  # fmt: skip

# Strong container signals worth more than a vocabulary hit.
STRONG_BODY_PHRASES: tuple[str, ...] = (
    "article-body", "articlebody", "article-content", "articlecontent", "story-body",
    "storybody", "story-content", "entry-content", "post-content", "post-body", "postbody",
    "article-text", "articletext", "body-text", "bodytext", "main-text", "article__body",
    "story__body", "c-entry-content", "post-entry",
)  # fmt: skip

# ARIA landmark roles of page furniture.
BOILERPLATE_ROLES: frozenset[str] = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "menu", "dialog", "alert"}
)

# Wrappers of embedded posts (tweets, Instagram) that stories quote as part of their text.
EMBEDDED_POST_PHRASES: tuple[str, ...] = ("tweet", "instagram-media", "social-embed", "embed-post")

# class/id tokens that mark a paywall or metered teaser.
PAYWALL_TOKENS: frozenset[str] = frozenset(
    {"paywall", "premium", "metered", "regwall", "subscriber", "locked", "piano"}
)
PAYWALL_PHRASES: tuple[str, ...] = (
    "paywall", "subscriber-only", "subscribers-only", "premium-content", "pay-wall",
    "meter-", "regwall", "article-locked", "content-locked", "gated",
)  # fmt: skip

# Block-level tags: their text becomes its own paragraph.
BLOCK_TAGS: frozenset[str] = frozenset(
    {
        "p", "div", "section", "article", "main", "header", "ul", "ol", "li", "dl", "dt", "dd",
        "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "tr", "td", "th",
        "tbody", "thead", "tfoot", "caption", "figure", "address", "hr", "center", "details",
        "summary", "fieldset", "hgroup",
    }
)  # fmt: skip
HEADING_TAGS: frozenset[str] = frozenset({"h2", "h3", "h4", "h5", "h6"})

# Blocks that vote for their ancestors with their whole text.
SCORED_TAGS: tuple[str, ...] = ("p", "pre", "td", "blockquote")
# Blocks that vote only with their own loose text (sites that separate paragraphs with <br>).
LOOSE_TEXT_TAGS: tuple[str, ...] = ("div", "section", "article")

# Initial container score by tag (readability's weights).
TAG_BASE_SCORES: dict[str, float] = {
    "div": 5.0, "article": 8.0, "main": 3.0, "section": 3.0, "pre": 3.0, "td": 3.0,
    "blockquote": 3.0, "address": -3.0, "ol": -3.0, "ul": -3.0, "dl": -3.0, "dd": -3.0,
    "dt": -3.0, "li": -3.0, "form": -3.0, "h1": -5.0, "h2": -5.0, "h3": -5.0, "h4": -5.0,
    "h5": -5.0, "h6": -5.0, "th": -5.0,
}  # fmt: skip
CLASS_WEIGHT = 25.0
STRONG_BODY_WEIGHT = 40.0
ITEMPROP_BODY_WEIGHT = 60.0
# How much of a block's score each ancestor level receives.
ANCESTOR_SHARES: tuple[float, ...] = (1.0, 0.5, 1 / 6, 1 / 9, 1 / 12)

# Short paragraphs matching these are boilerplate even inside the article container.
BOILERPLATE_LINE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"^(read|see|click|tap) (more|here|also|next|the full)\b",
        r"^continue reading\b",
        r"^(related|recommended|more)( stories| articles| coverage| news| reading)?\s*:",
        r"^advertisement\b",
        r"^(advertisement|ad|sponsored|story continues below)$",
        r"^(share|share this|follow us|sign up|subscribe)\b",
        r"^(photo|image|picture|video|credit|source|illustration)s?\s*(:|by\b|credit\b)",
        r"^\(?(photo|image|picture|credit|foto|bild|titelbild|crédits?( photos?)?)s?\s*:",
        r"©",
        r"\b(getty images|shutterstock|ap photo|afp via getty|reuters/)\b",
        r"^by\s+[A-Z\w.'’-]+(\s+[A-Z\w.'’-]+){0,4}(\s*(,|and|&)\s*[A-Z\w.'’-]+(\s+[A-Z\w.'’-]+){0,4})*\s*$",
        r"^(published|updated|posted|last updated|first published)\b.{0,60}$",
        r"^\d+\s+(second|minute|hour|day|week)s?\s+ago$",
        r"^(this|the) (article|story) (was|is) (originally )?(published|updated)\b.{0,80}$",
        r"^(we|you) (use|are using) cookies\b",
        r"^(comments?|leave a comment|\d+ comments?)$",
        r"^(previous|next) (article|post|story)\b",
        r"^(image|photo|picture|slide) \d+ (of|/) \d+$",
        r"^this (slideshow|video|content|feature) requires javascript\b",
        r"^(topics|tags|caption|close|open|menu|related news|related stories|related articles"
        r"|you may also like|recommended for you|more on this( story)?|trending now"
        r"|advert|advertisement|sponsored content)\s*:?$",
        # The same furniture in the benchmarks' other languages (German, French, Spanish,
        # Italian): "read also" leads, further-reading headings, ad labels.
        r"^(lesen sie (auch|mehr|hier)|lies auch|auch interessant|das könnte (sie|dich) auch"
        r" interessieren|zum weiterlesen|mehr zum thema|weitere (themen|artikel|beiträge"
        r"|nachrichten|meldungen)\b|à lire aussi|lire aussi|à voir aussi|sur le même sujet"
        r"|voir aussi|lee también|te puede interesar|leggi anche)",
        r"^(anzeige|werbung|publicité|publicidad|pubblicità)\b",
    )
)
# Only paragraphs up to this many words are tested against the patterns above.
BOILERPLATE_LINE_MAX_WORDS = 20

# Calls to action that close a story (subscribe, follow the author, comment, shortcodes a CMS
# failed to render). They run longer than the lines above, so they get their own, stricter list.
TRAILER_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"\bfollow (us|him|her|them|me)\b.{0,60}\b(twitter|facebook|instagram|linkedin)\b",
        r"^follow (the )?[\w .’'-]{0,60} on (twitter|facebook|instagram)\b",
        r"\bclick here (for|to) (more|subscribe|sign up|read)\b",
        r"^(get|subscribe to) .{0,80}\b(delivered|subscription|issues? for)\b",
        r"^tell us what you think\b",
        r"^join (us|our)\b.{0,80}\b(forums?|community|conversation|newsletter)\b",
        r"\b(contributed|contributed reporting) to this (report|story|article)\.?$",
        r"^\[\w+[^\]]*\].*\[/\w+\]$",
        r"\bis committed to publishing a diversity of letters\b",
        r"\b(sign(ing)? up (to|for)|subscribe to) (our|the) newsletter\b",
    )
)
TRAILER_MAX_WORDS = 60

# Link text that is itself an address (a URL, an e-mail, a social handle) is cited content,
# e.g. a list of shop links or sources; menus and related lists show titles instead.
ADDRESS_LINK_TEXT = re.compile(r"^\s*(https?://\S+|www\.\S+|\S+@\S+\.\w+|@\w{2,})\s*$")

# Characters that carry no text: zero-width space/non-joiner/joiner, word joiner, BOM, soft hyphen.
INVISIBLE_CHARS: dict[int, None] = dict.fromkeys((0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD))
_CAMEL = re.compile(r"([a-z])([A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_WORD = re.compile(r"\w+")
_COMMAS = re.compile(r"[,，、]")

# --------------------------------------------------------------------------------------------
# Results


# Container scores keyed by id(tag): bs4 hashes and compares tags by their serialized markup.
Scores = dict[int, tuple[Tag, float]]


@dataclass
class Block:
    """One paragraph of output, with what is needed to judge it."""

    kind: str  # "p" | "heading" | "li" | "quote" | "pre" | "h1"
    text: str
    link_chars: int = 0
    time_chars: int = 0  # characters inside <time>: a block made of them is a timestamp

    @property
    def link_density(self) -> float:
        return self.link_chars / len(self.text) if self.text else 0.0


@dataclass
class Body:
    """The extracted body and the signals extract.py needs to accept or reject it."""

    paragraphs: list[str] = field(default_factory=list)
    prose_words: int = 0  # words outside links
    container_link_density: float = 0.0
    teasers: int = 0  # linked headlines inside the container
    blocks_seen: int = 0
    blocks: list[ScoredBlock] = field(default_factory=list)  # every block, for training
    paywall_marker: bool = False  # an element carries paywall vocabulary (see PAYWALL_TOKENS)
    kept_blocks: int = 0
    linked_openings: int = 0  # kept blocks whose text opens with a link (a teaser's headline)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def word_count(self) -> int:
        return sum(len(_WORD.findall(p)) for p in self.paragraphs)


# --------------------------------------------------------------------------------------------
# Normalization


def normalize_text(text: str) -> str:
    """NFC, no invisible characters, whitespace collapsed to single spaces, stripped."""
    if not text.isascii():  # ASCII is in NFC and holds no invisible characters
        text = unicodedata.normalize("NFC", text).translate(INVISIBLE_CHARS)
    # str.split() splits on the same Unicode whitespace as re's \s, and faster.
    return " ".join(text.split())


def _collapsed_length(text: str) -> int:
    """len(normalize_text(text)) up to invisible characters, without the cost of normalizing."""
    return len(" ".join(text.split()))


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


# --------------------------------------------------------------------------------------------
# Class/id vocabulary


def _attr_string(tag: Tag) -> str:
    attrs = tag.attrs
    raw_classes = attrs.get("class")
    ident = attrs.get("id")
    if not raw_classes and not ident:
        return ""
    if type(raw_classes) is str and ident is None:  # the common case, without a list
        return raw_classes + " "
    classes: list[str] = [raw_classes] if isinstance(raw_classes, str) else list(raw_classes or ())
    return " ".join([*classes, ident if isinstance(ident, str) else ""])


# Tokens that mark boilerplate only as a class or id of their own ("hidden", "widget"): inside a
# compound they name something else: Drupal's "field-label-hidden" on every body field, the
# "overflow-hidden" layout utility, Elementor's "elementor-widget-container" around page text,
# "print-step" or "no-print" on the printable recipe steps themselves.
WHOLE_WORD_NEGATIVE_TOKENS: frozenset[str] = frozenset({"hidden", "widget", "print"})
# A CSS-modules class ends in a generated hash ("Layout_main__2pNav"); its case and digits
# would split into spurious tokens ("nav").
_CSS_MODULE_HASH = re.compile(r"__(?=[A-Za-z0-9]{5}(?:\s|$))[a-z]*[A-Z0-9][A-Za-z0-9]*")


def _strip_css_module_hashes(raw: str) -> str:
    return _CSS_MODULE_HASH.sub("", raw) if "__" in raw else raw


@lru_cache(maxsize=8192)
def _tokens(raw: str) -> frozenset[str]:
    raw = _strip_css_module_hashes(raw)
    return frozenset(t for t in _NON_ALNUM.split(_CAMEL.sub(r"\1 \2", raw).lower()) if t)


def _negative_tokens(raw: str, tokens: frozenset[str]) -> bool:
    hits = tokens & NEGATIVE_TOKENS
    if not hits:
        return False
    if hits - WHOLE_WORD_NEGATIVE_TOKENS:
        return True
    words = raw.lower().split()
    return any(hit in words for hit in hits)


@lru_cache(maxsize=8192)
def _flat(raw: str) -> str:
    return _CAMEL.sub(r"\1-\2", raw).lower().replace("_", "-")


@dataclass(frozen=True)
class _Vocabulary:
    """What a class/id string says about its element (computed once per distinct string)."""

    negative: bool
    strong_body: bool
    positive: bool
    paywall: bool
    embedded_post: bool


def _any_of(phrases: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(p) for p in phrases))


# Each phrase list as one pattern: one scan of the class string instead of one per phrase.
_NEGATIVE_RE = _any_of(NEGATIVE_PHRASES)
_STRONG_RE = _any_of(STRONG_BODY_PHRASES)
_POSITIVE_RE = _any_of(POSITIVE_PHRASES)
_PAYWALL_RE = _any_of(PAYWALL_PHRASES)
_EMBEDDED_RE = _any_of(EMBEDDED_POST_PHRASES)
_NO_VOCABULARY = _Vocabulary(False, False, False, False, False)


@lru_cache(maxsize=16384)
def _vocabulary(raw: str) -> _Vocabulary:
    if not raw.strip():
        return _NO_VOCABULARY
    flat = _flat(raw)
    tokens = _tokens(raw)
    strong = _STRONG_RE.search(flat) is not None
    return _Vocabulary(
        negative=_negative_tokens(raw, tokens) or _NEGATIVE_RE.search(flat) is not None,
        strong_body=strong,
        positive=strong or _POSITIVE_RE.search(flat) is not None,
        paywall=bool(tokens & PAYWALL_TOKENS) or _PAYWALL_RE.search(flat) is not None,
        embedded_post=_EMBEDDED_RE.search(flat) is not None,
    )


def is_negative(tag: Tag) -> bool:
    return _vocabulary(_attr_string(tag)).negative or _role_is_boilerplate(tag)


def _role_is_boilerplate(tag: Tag) -> bool:
    role = tag.attrs.get("role")
    return isinstance(role, str) and role.lower() in BOILERPLATE_ROLES


def _is_embedded_post(tag: Tag) -> bool:
    """An embedded social post quoted by the story (its wrapper is often called a "widget")."""
    return _vocabulary(_attr_string(tag)).embedded_post and tag.find("blockquote") is not None


def _is_strong_body(tag: Tag) -> bool:
    return tag.attrs.get("itemprop") == "articleBody" or (
        _vocabulary(_attr_string(tag)).strong_body
    )


def _class_weight(tag: Tag) -> float:
    weight = ITEMPROP_BODY_WEIGHT if tag.attrs.get("itemprop") == "articleBody" else 0.0
    vocab = _vocabulary(_attr_string(tag))
    if vocab.strong_body:
        weight += STRONG_BODY_WEIGHT
    elif vocab.positive:
        weight += CLASS_WEIGHT
    if vocab.negative or _role_is_boilerplate(tag):
        weight -= CLASS_WEIGHT
    return weight


def has_paywall_marker(soup: BeautifulSoup, tags: Iterable[Tag] | None = None) -> bool:
    """Whether any element carries paywall vocabulary in its class or id."""
    for tag in iter_tags(soup) if tags is None else tags:
        if _vocabulary(_attr_string(tag)).paywall:
            return True
    return False


# --------------------------------------------------------------------------------------------
# Before parsing

# Elements that never hold article text and whose markup is costly to build into a tree: removed
# from the raw HTML with one regular-expression pass before BeautifulSoup sees it. script, style,
# textarea and iframe are raw-text elements (the first closing tag ends them, exactly as a browser
# reads them); the others close explicitly in real pages. All are in ALWAYS_DROP_TAGS anyway, so
# this only saves parse time and never changes what is extracted.
RAW_DROP_ELEMENTS: tuple[str, ...] = (
    "script", "style", "svg", "noscript", "template", "iframe", "textarea", "select", "button",
    "video", "audio", "canvas", "object", "picture",
)  # fmt: skip
# Void elements dropped the same way (images carry no text; top_image comes from metadata).
RAW_DROP_VOID: tuple[str, ...] = ("img", "input", "source", "wbr", "track", "area", "embed", "link")
# What survives of the dropped elements: metadata reads these.
RAW_KEEP_SCRIPT = re.compile(r"type\s*=\s*[\"']?application/(?:ld\+json|json\+ld)", re.IGNORECASE)
RAW_TEMPLATE_SCRIPT = re.compile(r"type\s*=\s*[\"']?text/template\b", re.IGNORECASE)
RAW_KEEP_LINK = re.compile(r"\brel\s*=\s*[\"']?[^\"'>]*\b(?:canonical|author)\b", re.IGNORECASE)
# Tag names in lower and upper case rather than re.IGNORECASE, which slows the scan severalfold;
# a mixed-case tag is simply left for the tree-based cleaning.
_RAW_DROP_NAMES = [*RAW_DROP_ELEMENTS, *(n.upper() for n in RAW_DROP_ELEMENTS)]
_RAW_VOID_NAMES = [*RAW_DROP_VOID, *(n.upper() for n in RAW_DROP_VOID)]
_RAW_DROP = re.compile(
    r"<(" + "|".join(_RAW_DROP_NAMES) + r")\b([^>]*)>.*?</\1\s*>"
    r"|<!--.*?-->"
    r"|<(" + "|".join(_RAW_VOID_NAMES) + r")\b[^>]*>",
    re.DOTALL,
)


def _raw_keep(match: re.Match[str]) -> str:
    element, attrs, void = match.group(1), match.group(2), match.group(3)
    if element and element.lower() == "script" and RAW_KEEP_SCRIPT.search(attrs):
        return match.group(0)
    if element and element.lower() == "script" and RAW_TEMPLATE_SCRIPT.search(attrs):
        # An HTML template the page renders client-side (some blog platforms ship the whole
        # post this way): its markup is the page's content, so it is parsed as such. One with
        # placeholders ({{name}}, <%= name %>) is a widget's template, not content.
        whole = match.group(0)
        inner = whole[whole.index(">") + 1 : whole.rindex("<")]
        return "" if "{{" in inner or "<%" in inner else inner
    if void and void.lower() == "link" and RAW_KEEP_LINK.search(match.group(0)):
        return match.group(0)
    return ""


# Page furniture cut from the raw HTML too, but only when its markup holds none of
# RAW_CONTENT_MARKERS: a <header> with the story's <h1>, <time> or byline, or an old site's
# page-wide <form>, is left for the tree-based rules (and for the metadata reader).
RAW_FURNITURE_ELEMENTS: tuple[str, ...] = ("nav", "header", "footer", "aside", "menu", "form")
# Case-sensitive on purpose: a case-insensitive scan of a whole page is several times slower,
# and a marker missed on an all-caps page only leaves the furniture to the tree-based rules.
RAW_CONTENT_MARKERS = re.compile(
    r"<(?:p|article|main|h1|time|blockquote|P|ARTICLE|MAIN|H1|TIME|BLOCKQUOTE)\b"
    r"|itemprop|author|Author|byline|Byline|articleBody|articlebody"
)
_RAW_FURNITURE_TAG = re.compile(
    r"<(/?)(" + "|".join(RAW_FURNITURE_ELEMENTS) + r")\b[^>]*>", re.IGNORECASE
)
# Whitespace between a block-level tag and the next tag is not text (it never separates words),
# but bs4 would build a string object for each run; most strings on news pages are these.
_LAYOUT_TAGS = (
    "html|head|body|meta|link|title|script|div|p|section|article|main|header|footer|nav|aside"
    "|ul|ol|li|dl|dt|dd|h[1-6]|blockquote|pre|table|tr|td|th|tbody|thead|tfoot|form|figure|br"
    "|hr|center|details|summary|fieldset|hgroup|menu|address|caption"
)
# Lower-case tags only (again for scan speed): upper-case pages merely keep their whitespace.
_WHITESPACE_BEFORE_LAYOUT = re.compile(r">\s+(?=</?(?:" + _LAYOUT_TAGS + r")[\s/>])")
_WHITESPACE_AFTER_LAYOUT = re.compile(r"(</?(?:" + _LAYOUT_TAGS + r")(?:\s[^>]*)?>)\s+(?=<)")


def _drop_furniture(html: str) -> str:
    """Remove RAW_FURNITURE_ELEMENTS (matched with nesting) that hold no content markers."""
    spans: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []  # open furniture tags: (name, start offset)
    for match in _RAW_FURNITURE_TAG.finditer(html):
        closing, name = match.group(1), match.group(2).lower()
        if not closing:
            stack.append((name, match.start()))
            continue
        if not any(open_name == name for open_name, _ in stack):
            continue  # a stray closing tag
        while stack[-1][0] != name:
            stack.pop()  # an unclosed inner element: HTML lets it end with its parent
        _, opened = stack.pop()
        spans.append((opened, match.end()))
    if not spans:
        return html
    # Only spans with no content marker inside go (searched span by span: the spans are a
    # small part of the page, the markers ("author") are all over it).
    spans = [(s, e) for s, e in spans if RAW_CONTENT_MARKERS.search(html, s, e) is None]
    pieces: list[str] = []
    kept_from = 0
    for start, end in sorted(spans):
        if start < kept_from:
            continue  # inside a span already removed
        pieces.append(html[kept_from:start])
        kept_from = end
    pieces.append(html[kept_from:])
    return "".join(pieces)


def strip_raw_html(html: str) -> str:
    """Cut never-content elements and furniture out of raw HTML, keeping what metadata reads.

    Everything removed here would be removed from the tree anyway (see RAW_DROP_ELEMENTS and
    RAW_FURNITURE_ELEMENTS); doing it on the string saves most of BeautifulSoup's build time.
    """
    html = _RAW_DROP.sub(_raw_keep, html)
    html = _drop_furniture(html)
    html = _WHITESPACE_BEFORE_LAYOUT.sub(">", html)
    return _WHITESPACE_AFTER_LAYOUT.sub(r"\1", html)


# --------------------------------------------------------------------------------------------
# Tree statistics


def _chars(text: str) -> int:
    """Characters that are not whitespace: the unit of every length and density below."""
    return len("".join(text.split()))


@dataclass
class TreeStats:
    """Per-tag text and link-text sizes, computed in one walk, keyed by id().

    Keyed by identity because bs4 hashes and compares tags by their serialized markup. Asking
    bs4 for get_text() of every candidate instead re-reads the same subtrees over and over.
    """

    text: dict[int, int] = field(default_factory=dict)
    links: dict[int, int] = field(default_factory=dict)
    order: list[Tag] = field(default_factory=list)  # the tags walked, document order
    # Per tag (by id), the index in ``order`` just past its subtree: order[i:ends[id]] is it.
    ends: dict[int, int] = field(default_factory=dict)
    paywall_marker: bool = False  # some element of the page carries paywall vocabulary
    # Each text block's (length, vote) in score_candidates, shared by the votes of one page.
    votes: dict[int, tuple[int, float]] = field(default_factory=dict)

    def prose(self, tag: Tag) -> int:
        """Characters outside links: what a content wrapper holds and a menu does not."""
        return max(0, self.text.get(id(tag), 0) - self.links.get(id(tag), 0))

    def link_density(self, tag: Tag) -> float:
        text = self.text.get(id(tag), 0)
        return min(1.0, self.links.get(id(tag), 0) / text) if text else 0.0


def walk_tree(root: Tag, drop: Callable[[Tag], bool] | None = None) -> tuple[TreeStats, list[Tag]]:
    """Measure the tree under ``root``; subtrees ``drop`` selects are skipped and returned.

    The sizes describe the tree as it will be once the returned tags are extracted.
    """
    stats = TreeStats()
    text_of, links_of, order, ends = stats.text, stats.links, stats.order, stats.ends
    dropped: list[Tag] = []

    def visit(tag: Tag) -> tuple[int, int]:
        order.append(tag)
        text = links = 0
        for child in tag.contents:
            kind = type(child)
            # Exact type checks, not isinstance: comments, CDATA and doctypes are
            # NavigableString subclasses and are not text.
            if kind is NavigableString:
                text += _chars(child)  # type: ignore[arg-type]
            elif kind is Tag:
                element: Tag = child  # type: ignore[assignment]
                if drop is not None and drop(element):
                    dropped.append(element)
                    continue
                child_text, child_links = visit(element)
                text += child_text
                links += child_text if element.name == "a" else child_links
        text_of[id(tag)] = text
        links_of[id(tag)] = links
        ends[id(tag)] = len(order)
        return text, links

    visit(root)
    return stats, dropped


def prune_stats(stats: TreeStats, drop: Callable[[Tag], bool]) -> tuple[TreeStats, list[Tag]]:
    """What walk_tree(root, drop) gives, from the statistics of the same tree without a walk.

    The subtrees ``drop`` selects (tested in document order, none inside another) are cut out of
    ``order`` and their sizes are taken off their ancestors', so the tree is not read again.
    """
    order, ends = stats.order, stats.ends
    text_of, links_of = dict(stats.text), dict(stats.links)
    pruned = TreeStats(text=text_of, links=links_of, ends={})
    kept: list[Tag] = pruned.order
    dropped: list[Tag] = []
    index, n = 1, len(order)  # the root itself is never tested, as in walk_tree
    if order:
        kept.append(order[0])
    while index < n:
        tag = order[index]
        if not drop(tag):
            kept.append(tag)
            index += 1
            continue
        dropped.append(tag)
        end = ends[id(tag)]
        text = text_of[id(tag)]
        links = text if tag.name == "a" else links_of[id(tag)]  # what it adds to its parent's
        for inner in order[index:end]:
            del text_of[id(inner)], links_of[id(inner)]
        parent = tag.parent
        while parent is not None:
            key = id(parent)
            text_of[key] -= text
            links_of[key] -= links
            if parent.name == "a":
                links = text  # a link counts all its text as link text to its own parent
            parent = parent.parent
        index = end
    return pruned, dropped


def iter_tags(root: Tag) -> Iterator[Tag]:
    """Every tag under ``root``: a plain walk, much cheaper than find_all(True)."""
    for node in root.descendants:
        if type(node) is Tag:
            yield node


# --------------------------------------------------------------------------------------------
# Cleaning the tree


def _is_hidden(tag: Tag) -> bool:
    if "hidden" in tag.attrs:
        return True
    style = tag.attrs.get("style")
    if isinstance(style, str) and ("none" in style or "hidden" in style):
        compact = style.replace(" ", "").lower()
        if "display:none" in compact or "visibility:hidden" in compact:
            return True
    return False


def _always_drop(tag: Tag) -> bool:
    return tag.name in ALWAYS_DROP_TAGS or _is_hidden(tag)


def _extract_all(tags: Iterable[Tag]) -> None:
    for tag in tags:
        tag.extract()


def find_boilerplate(
    soup: BeautifulSoup, options: ExtractionOptions = DEFAULT_OPTIONS
) -> tuple[TreeStats, list[Tag]]:
    """Remove never-content nodes in place; name the boilerplate subtrees without removing them.

    First code, hidden nodes and never-content tags go. Then structural and class/id-named
    boilerplate is found, unless it wraps the text of the page. The statistics returned describe
    the tree without that boilerplate; the block classifier still sees its text.
    """
    paywall = False

    def first_drop(tag: Tag) -> bool:
        # The walk visits every tag once: the place to look for paywall vocabulary too.
        nonlocal paywall
        if not paywall:
            raw = _attr_string(tag)
            paywall = bool(raw) and _vocabulary(raw).paywall
        if not _always_drop(tag):
            return False
        if not paywall:  # markers inside dropped subtrees count too (hidden paywall overlays)
            paywall = has_paywall_marker(soup, iter_tags(tag))
        return True

    stats, dropped = walk_tree(soup, first_drop)
    _extract_all(dropped)

    total = stats.prose(soup) or 1
    # A negative-looking wrapper ("widget Blog", "and-w-sidebar", "tag-news") around the text is
    # a page wrapper, not boilerplate. Protected: wrappers of body markers holding real text, and
    # wrappers of the container that wins the vote before anything is removed.
    anchors = [
        tag
        for tag in stats.order
        if stats.prose(tag) / total > options.protect_marker_ratio and _is_strong_body(tag)
    ]
    scores = score_candidates(soup, options, stats)
    if scores:
        anchors.append(max(scores.values(), key=lambda ts: ts[1])[0])
    guarded: set[int] = set()
    for anchor in anchors:
        guarded.add(id(anchor))
        guarded.update(id(parent) for parent in anchor.parents)

    def drop(tag: Tag) -> bool:
        name = tag.name
        if name in PROTECTED_TAGS or id(tag) in guarded:
            return False
        if name not in BOILERPLATE_TAGS and not is_negative(tag):
            return False
        if tag.attrs.get("itemprop") == "articleBody" or _is_embedded_post(tag):
            return False
        return stats.prose(tag) / total <= options.protect_text_ratio

    cleaned, boilerplate = prune_stats(stats, drop)
    cleaned.paywall_marker = paywall
    cleaned.votes = stats.votes
    return cleaned, boilerplate


def strip_boilerplate(
    soup: BeautifulSoup, options: ExtractionOptions = DEFAULT_OPTIONS
) -> TreeStats:
    """Remove non-content nodes and boilerplate in place; return the statistics of what is left."""
    cleaned, boilerplate = find_boilerplate(soup, options)
    _extract_all(boilerplate)
    return cleaned


# --------------------------------------------------------------------------------------------
# Finding the container


def _is_ancestor(ancestor: Tag, tag: Tag) -> bool:
    return any(parent is ancestor for parent in tag.parents)


def _own_text(tag: Tag) -> str:
    """The text directly in ``tag`` (strings and inline children, not child blocks)."""
    return "".join(
        c.get_text() if isinstance(c, Tag) else str(c)
        for c in tag.contents
        if type(c) is NavigableString or (isinstance(c, Tag) and c.name not in BLOCK_TAGS)
    )


def _initial_score(tag: Tag) -> float:
    return TAG_BASE_SCORES.get(tag.name, 0.0) + _class_weight(tag)


def score_candidates(
    root: Tag, options: ExtractionOptions = DEFAULT_OPTIONS, stats: TreeStats | None = None
) -> Scores:
    """Readability-style container scores (already weighted by link density), keyed by id().

    ``stats`` must describe the tree under ``root`` as it is now (see walk_tree).
    """
    if stats is None:
        stats, _ = walk_tree(root)
    text_of = stats.text
    votes = stats.votes
    raw: dict[int, float] = {}
    nodes: dict[int, Tag] = {}
    for block in stats.order:
        name = block.name
        if name in SCORED_TAGS:
            if text_of.get(id(block), 0) < options.min_block_chars // 2:
                continue  # cannot reach min_block_chars once normalized
            text = "" if id(block) in votes else block.get_text()
        elif name in LOOSE_TEXT_TAGS:
            own = text_of.get(id(block), 0) - sum(
                text_of.get(id(c), 0)
                for c in block.contents
                if type(c) is Tag and c.name in BLOCK_TAGS
            )
            if own < options.min_block_chars // 2:
                continue
            text = "" if id(block) in votes else _own_text(block)
        else:
            continue
        vote = votes.get(id(block))
        if vote is None:
            # The tree is not changed between the votes before and after cleaning, so each
            # block's text is measured once per page.
            length = len(normalize_text(text))
            vote = (length, 1.0 + len(_COMMAS.findall(text)) + min(length / 100.0, 3.0))
            votes[id(block)] = vote
        length, score = vote
        if length < options.min_block_chars:
            continue
        if name in LOOSE_TEXT_TAGS:
            # A text-bearing div votes for itself too: it is its own paragraph container.
            if id(block) not in raw:
                nodes[id(block)] = block
                raw[id(block)] = _initial_score(block)
            raw[id(block)] += score
        for share, ancestor in zip(ANCESTOR_SHARES, block.parents, strict=False):
            if type(ancestor) is not Tag:
                break  # the BeautifulSoup document object itself
            key = id(ancestor)
            if key not in raw:
                nodes[key] = ancestor
                raw[key] = _initial_score(ancestor)
            raw[key] += score * share
    return {k: (nodes[k], v * (1.0 - stats.link_density(nodes[k]))) for k, v in raw.items()}


def _hint_recall(tag: Tag, hint_tokens: set[str]) -> float:
    if not hint_tokens:
        return 0.0
    tokens = set(_WORD.findall(tag.get_text(" ").lower()))
    return len(hint_tokens & tokens) / len(hint_tokens)


def choose_container(
    root: Tag,
    options: ExtractionOptions = DEFAULT_OPTIONS,
    hint: str | None = None,
    stats: TreeStats | None = None,
) -> tuple[Tag, Scores]:
    scores = score_candidates(root, options, stats)
    if not scores:
        body = root.find("body")
        return (body if isinstance(body, Tag) else root), scores
    ranked = sorted(scores.values(), key=lambda ts: ts[1], reverse=True)
    top, top_score = ranked[0]

    # Several strong candidates under one ancestor mean the story is split into sibling
    # sections; the common ancestor is the real container.
    strong = [t for t, s in ranked[1:5] if s >= 0.75 * top_score]
    if len(strong) >= 2:
        for ancestor in top.parents:
            if ancestor.name in ("body", "html", "[document]"):
                break
            inside = sum(1 for t in strong if _is_ancestor(ancestor, t))
            if inside >= 2:
                top = ancestor
                break

    # A lone child wrapper adds nothing; its parent may hold siblings we need.
    while (
        isinstance(top.parent, Tag)
        and top.parent.name not in ("body", "html", "[document]")
        and sum(1 for c in top.parent.contents if type(c) is Tag) == 1
    ):
        top = top.parent

    if hint:
        hint_tokens = set(_WORD.findall(hint.lower()))
        if _hint_recall(top, hint_tokens) < 0.8:
            # The scored winner misses much of the publisher's own article text: take the
            # smallest scored candidate that covers it.
            covering = [t for t, _ in ranked[:30] if _hint_recall(t, hint_tokens) >= 0.8]
            if covering:
                top = min(covering, key=lambda t: len(t.get_text()))
    return top, scores


def _merge_siblings(
    top: Tag, scores: Scores, options: ExtractionOptions, stats: TreeStats
) -> list[Tag]:
    parent = top.parent
    if not isinstance(parent, Tag) or parent.name in ("[document]", "html"):
        return [top]
    top_score = scores.get(id(top), (top, 0.0))[1]
    threshold = max(10.0, top_score * options.sibling_score_ratio)
    top_class = _attr_string(top)
    merged: list[Tag] = []
    for sibling in parent.contents:
        if type(sibling) is not Tag:
            continue
        if sibling is top:
            merged.append(sibling)
            continue
        if id(sibling) not in stats.text:
            continue  # boilerplate: not part of the cleaned tree
        bonus = top_score * 0.2 if top_class and _attr_string(sibling) == top_class else 0.0
        if id(sibling) in scores and scores[id(sibling)][1] + bonus >= threshold:
            merged.append(sibling)
        elif sibling.name == "p":
            text = normalize_text(sibling.get_text())
            density = stats.link_density(sibling)
            if (len(text) > 80 and density < 0.25) or (
                0 < len(text) <= 80 and density == 0 and text[-1:] in '.!?”"'
            ):
                merged.append(sibling)
    return merged


# --------------------------------------------------------------------------------------------
# Emitting paragraphs


class _Emitter:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._parts: list[str] = []
        self._link_chars = 0
        self._time_chars = 0
        self._kinds: list[str] = ["p"]
        self.link_depth = 0
        self.time_depth = 0

    def add(self, text: str) -> None:
        self._parts.append(text)
        if self.link_depth:
            self._link_chars += len(normalize_text(text))
        if self.time_depth:
            self._time_chars += len(normalize_text(text))

    def flush(self) -> None:
        if self._parts:
            text = normalize_text("".join(self._parts))
            if text:
                self.blocks.append(Block(self._kinds[-1], text, self._link_chars, self._time_chars))
        self._parts = []
        self._link_chars = 0
        self._time_chars = 0

    def push(self, kind: str) -> None:
        self._kinds.append(kind)

    def pop(self) -> None:
        self._kinds.pop()


def _kind_of(name: str, current: str) -> str:
    if name in HEADING_TAGS:
        return "heading"
    if name == "h1":
        return "h1"
    if name == "li":
        return "li"
    if name == "blockquote":
        return "quote"
    if name == "pre":
        return "pre"
    if name in ("p", "dd", "dt", "td", "th"):
        return "p"
    return current


def _walk(node: Tag, out: _Emitter, kind: str) -> None:
    for child in node.children:
        if isinstance(child, Comment | CData | ProcessingInstruction | Doctype | Declaration):
            continue
        if isinstance(child, NavigableString):
            out.add(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name == "br":
            out.flush()
        elif name in BLOCK_TAGS:
            out.flush()
            child_kind = _kind_of(name, kind)
            out.push(child_kind)
            _walk(child, out, child_kind)
            out.flush()
            out.pop()
        elif name == "a":
            is_address = ADDRESS_LINK_TEXT.match(child.get_text()) is not None
            out.link_depth += 0 if is_address else 1
            _walk(child, out, kind)
            out.link_depth -= 0 if is_address else 1
        elif name == "time":
            out.time_depth += 1
            _walk(child, out, kind)
            out.time_depth -= 1
        else:
            _walk(child, out, kind)


def emit_blocks(nodes: Iterable[Tag]) -> list[Block]:
    out = _Emitter()
    for node in nodes:
        out.push(_kind_of(node.name, "p"))
        _walk(node, out, "p")
        out.flush()
        out.pop()
    return out.blocks


def _one_pattern(patterns: Iterable[re.Pattern[str]]) -> re.Pattern[str]:
    """The patterns as one alternation: one scan of the text instead of one per pattern."""
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.IGNORECASE)


_BOILERPLATE_LINE = _one_pattern(BOILERPLATE_LINE_PATTERNS)
_TRAILER = _one_pattern(TRAILER_PATTERNS)


@lru_cache(maxsize=8192)
def is_boilerplate_line(text: str) -> bool:
    words = word_count(text)
    if words > TRAILER_MAX_WORDS:
        return False
    if words <= BOILERPLATE_LINE_MAX_WORDS and _BOILERPLATE_LINE.search(text):
        return True
    return _TRAILER.search(text) is not None


class TextBlock(Protocol):
    """What the paragraph filters read: a Block or a ScoredBlock."""

    kind: str
    text: str
    time_chars: int

    @property
    def link_density(self) -> float: ...


def keep_block(block: TextBlock, options: ExtractionOptions = DEFAULT_OPTIONS) -> bool:
    if block.kind == "h1":
        return False
    if not _WORD.search(block.text):
        return False
    # Quotes (embedded posts end in a linked "— Name (@handle) date") get the lenient bar.
    limit = (
        options.max_short_block_link_density
        if len(block.text) < options.short_block_chars and block.kind != "quote"
        else options.max_block_link_density
    )
    if block.link_density > limit:
        return False
    if block.time_chars >= options.timestamp_share * len(block.text):
        return False
    return not is_boilerplate_line(block.text)


def _dedupe(paragraphs: Iterable[str]) -> Iterator[str]:
    previous = None
    for paragraph in paragraphs:
        if paragraph != previous:
            yield paragraph
        previous = paragraph


def _first_tag(root: Tag, names: Iterable[str]) -> Tag | None:
    wanted = frozenset(names)
    return next((t for t in iter_tags(root) if t.name in wanted), None)


def _count_teasers(nodes: Iterable[Tag], stats: TreeStats) -> int:
    """Linked headlines: headings that are mostly a link, or list items/cards that open with one.

    Section fronts are made of these; articles have few, and those few are mostly stripped
    as related-article boilerplate before this runs.
    """
    teasers = 0
    headings = frozenset(TEASER_HEADING_TAGS)
    items = frozenset(TEASER_ITEM_TAGS)
    walked = stats.text
    for node in nodes:
        for tag in iter_tags(node):
            if id(tag) not in walked:
                continue  # inside boilerplate
            if tag.name in headings:
                if stats.links.get(id(tag), 0) and stats.link_density(tag) >= 0.6:
                    teasers += 1
            elif tag.name in items and stats.links.get(id(tag), 0):
                if _first_tag(tag, headings) is not None:
                    continue  # already counted through its heading
                first_link = _first_tag(tag, ("a",))
                if first_link is None:
                    continue
                headline = first_link.get_text(" ", strip=True)
                text = tag.get_text(" ", strip=True)
                if len(headline.split()) >= 3 and text.startswith(headline):
                    teasers += 1
    return teasers


_PAGE_TAGS: frozenset[str] = frozenset({"html", "body"})
# Tags the scored walk must look at even without attributes.
_WALK_SPECIAL_TAGS: frozenset[str] = frozenset({*BLOCK_TAGS, *FURNITURE_TAGS, "a", "time", "br"})


def _is_address_link(link: Tag) -> bool:
    contents = link.contents
    if len(contents) == 1 and type(contents[0]) is NavigableString:
        text: str = contents[0]
    elif not contents:
        return False
    else:
        text = link.get_text()
    return ADDRESS_LINK_TEXT.match(text) is not None


class _ScoredEmitter:
    """One walk over the whole page: every text block, with where it sits in the tree."""

    def __init__(self, container: list[Tag], boilerplate: set[int], track_tokens: bool) -> None:
        self.blocks: list[ScoredBlock] = []
        self.track_tokens = track_tokens  # only a model with hashed features reads them
        self.container = {id(t) for t in container}
        self.boilerplate = boilerplate
        # The container's ancestors: how far up a block must go to meet the container.
        self.container_ancestors = {id(p) for t in container for p in t.parents}
        self.container_depth = (
            sum(1 for _ in container[0].parents) - 1 if container else 0
        )  # the BeautifulSoup object is not counted
        self.meeting_depths: list[int] = [0]
        self.marked = self.container | self.boilerplate | self.container_ancestors
        self.block_keys: list[int] = [0, 0, 0]
        self._starts_in_link = False
        self._parts: list[str] = []
        self._link_chars = 0
        self._time_chars = 0
        self.kinds: list[str] = ["p"]
        self.block_tags: list[str] = ["body", "body"]
        self.link_depth = 0
        self.time_depth = 0
        self.in_container = 0
        self.in_boilerplate = 0
        self.negative = 0
        self.positive = 0
        self.strong = 0
        self.depth = 0
        self.furniture: dict[str, int] = dict.fromkeys(FURNITURE_TAGS, 0)
        self.furniture_above: frozenset[str] = frozenset()  # the names counted above, as a set
        self.tokens: list[frozenset[str]] = []

    def add(self, text: str) -> None:
        if self.link_depth:
            if not self._parts or not "".join(self._parts).strip():
                self._starts_in_link = True
            self._link_chars += _collapsed_length(text)
        self._parts.append(text)
        if self.time_depth:
            self._time_chars += _collapsed_length(text)

    def flush(self) -> None:
        if self._parts:
            text = normalize_text("".join(self._parts))
            if text:
                meeting = self.meeting_depths[-1]
                context = BlockContext(
                    tag=self.block_tags[-1],
                    parent_tag=self.block_tags[-2],
                    in_container=self.in_container > 0,
                    in_boilerplate=self.in_boilerplate > 0,
                    negative=self.negative,
                    positive=self.positive,
                    strong=self.strong,
                    furniture=self.furniture_above,
                    tokens=tuple(self.tokens[-TOKEN_ANCESTORS:]),
                    depth=self.depth,
                    levels_up=self.depth - meeting,
                    levels_down=max(0, self.container_depth - meeting),
                    parent_key=self.block_keys[-2],
                    grandparent_key=self.block_keys[-3],
                    starts_in_link=self._starts_in_link,
                )
                self.blocks.append(
                    ScoredBlock(self.kinds[-1], text, self._link_chars, self._time_chars, context)
                )
        self._parts = []
        self._link_chars = 0
        self._time_chars = 0
        self._starts_in_link = False

    def walk(self, node: Tag, kind: str) -> None:
        for child in node.contents:
            child_type = type(child)
            if child_type is NavigableString:
                self.add(child)  # type: ignore[arg-type]
                continue
            if child_type is not Tag:
                continue  # comments, CDATA, doctypes
            tag: Tag = child  # type: ignore[assignment]
            name = tag.name
            if name == "br":
                self.flush()
                continue
            key = id(tag)
            if not tag.attrs and name not in _WALK_SPECIAL_TAGS and key not in self.marked:
                self.walk(tag, kind)  # a bare inline tag (<b>, <span>): nothing to record
                continue
            container = key in self.container
            boilerplate = key in self.boilerplate
            is_block = name in BLOCK_TAGS or container or boilerplate
            raw = _attr_string(tag)
            vocab = _vocabulary(raw) if raw else _NO_VOCABULARY
            # <html> and <body> are never boilerplate, whatever their classes say ("no-sidebars",
            # "has-sidebar" on <body> would otherwise mark the whole page).
            negative = (vocab.negative or _role_is_boilerplate(tag)) and name not in _PAGE_TAGS
            strong = vocab.strong_body or tag.attrs.get("itemprop") == "articleBody"
            furniture = name in self.furniture
            address = name == "a" and _is_address_link(tag)
            meets = key in self.container_ancestors
            # Enter.
            if meets:
                self.meeting_depths.append(self.depth + 1)
            self.in_container += container
            self.in_boilerplate += boilerplate
            self.negative += negative
            self.positive += vocab.positive
            self.strong += strong
            self.depth += 1
            if furniture:
                self.furniture[name] += 1
                if self.furniture[name] == 1:
                    self.furniture_above = self.furniture_above | {name}
            tracked = bool(raw) and self.track_tokens
            if tracked:
                self.tokens.append(_tokens(raw))
            if name == "a" and not address:
                self.link_depth += 1
            elif name == "time":
                self.time_depth += 1
            if is_block:
                self.flush()
                child_kind = _kind_of(name, kind)
                self.kinds.append(child_kind)
                self.block_tags.append(name)
                self.block_keys.append(key)
                self.walk(tag, child_kind)
                self.flush()
                self.kinds.pop()
                self.block_tags.pop()
                self.block_keys.pop()
            else:
                self.walk(tag, kind)
            # Leave.
            if name == "a" and not address:
                self.link_depth -= 1
            elif name == "time":
                self.time_depth -= 1
            if tracked:
                self.tokens.pop()
            if furniture:
                self.furniture[name] -= 1
                if not self.furniture[name]:
                    self.furniture_above = self.furniture_above - {name}
            self.depth -= 1
            self.strong -= strong
            self.positive -= vocab.positive
            self.negative -= negative
            self.in_boilerplate -= boilerplate
            self.in_container -= container
            if meets:
                self.meeting_depths.pop()


def emit_scored_blocks(
    root: Tag, container: Iterable[Tag], boilerplate: Iterable[Tag], track_tokens: bool = False
) -> list[ScoredBlock]:
    """Every text block under ``root`` in document order, each with its tree context."""
    out = _ScoredEmitter(list(container), {id(t) for t in boilerplate}, track_tokens)
    out.walk(root, "p")
    out.flush()
    return out.blocks


def _title_index(blocks: list[ScoredBlock], title: str | None) -> int | None:
    key = " ".join(_WORD.findall(title.lower())) if title else None
    first_h1 = None
    for i, block in enumerate(blocks):
        if key and " ".join(_WORD.findall(block.text.lower())) == key:
            return i
        if first_h1 is None and block.kind == "h1":
            first_h1 = i
    return first_h1


def extract_body(
    soup: BeautifulSoup,
    options: ExtractionOptions = DEFAULT_OPTIONS,
    hint: str | None = None,
    title: str | None = None,
) -> Body:
    """Find the article's blocks in ``soup`` (modified in place) and return its paragraphs.

    The rules (boilerplate vocabulary, container vote, paragraph filters) give each block a
    verdict; the block classifier (``blocks.py``) takes that verdict as one feature among many
    and decides. ``hint`` is the publisher's JSON-LD ``articleBody``: often truncated, so it only
    steers the choice of container and never replaces the page text here.
    """
    cleaned, boilerplate = find_boilerplate(soup, options)
    top, scores = choose_container(soup, options, hint, cleaned)
    nodes = _merge_siblings(top, scores, options, cleaned)

    model = None if options.rules_only else (options.block_model or shipped_model())
    track_tokens = model is not None and model.hash_dimensions > 0
    blocks = emit_scored_blocks(soup, nodes, boilerplate, track_tokens)
    for block in blocks:
        ctx = block.context
        block.passes_filters = keep_block(block, options)
        block.rule_keep = ctx.in_container and not ctx.in_boilerplate and block.passes_filters
    if model is None:
        kept = [b for b in blocks if b.rule_keep]
    else:
        add_features(
            blocks,
            _title_index(blocks, title),
            [b.is_scorable and is_boilerplate_line(b.text) for b in blocks],
            model.hash_dimensions,
        )
        for block in blocks:
            if block.is_scorable:
                block.probability = model.probability(block.features)
        kept = [b for b in blocks if model.keeps(b)]
        if sum(word_count(b.text) for b in kept) < options.min_article_words:
            # Next to nothing outside named boilerplate: the page wraps its story in a
            # "widget" or "sidebar" of its own. Let the classifier choose among all blocks.
            kept = [b for b in blocks if model.keeps(b, fallback=True)]

    paragraphs = list(_dedupe(b.text for b in kept))
    prose = sum(word_count(b.text) * (1.0 - b.link_density) for b in kept)

    in_container = [b for b in blocks if b.context.in_container and not b.context.in_boilerplate]
    # Link density of what was chosen: the classifier may have found the body outside a
    # link-heavy container.
    chosen = in_container if model is None else kept
    text_len = sum(len(b.text) for b in chosen) or 1
    link_len = sum(b.link_chars for b in chosen)
    return Body(
        paragraphs=paragraphs,
        prose_words=round(prose),
        container_link_density=link_len / text_len,
        teasers=_count_teasers(nodes, cleaned),
        blocks_seen=len([b for b in in_container if b.kind != "heading"]),
        blocks=blocks,
        paywall_marker=cleaned.paywall_marker,
        kept_blocks=len(kept),
        linked_openings=sum(1 for b in kept if b.context.starts_in_link),
    )

"""A learned block classifier: is this text block part of the article body?

Every text block of a page (a paragraph, heading, list item, table cell, loose div text) gets a
feature vector that BeautifulSoup gives cheaply: its text and link density, punctuation and
stop-word ratios, its tag and the tags and class/id tokens around it, its position on the page and
its distance to the title, and what the rule-based extractor in ``body.py`` made of it (inside the
voted container, inside named boilerplate, kept by the paragraph filters). A logistic regression
over those features decides.

The weights are package data (``block_model.json``) written by ``bench/train_blocks.py``, which fits
them on both dev benchmarks and reports their site-level cross-validated score. Inference is a
sparse dot product per block in plain Python: no numpy or sklearn at run time.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

# A small multilingual list of function words (the benchmarks' languages: English, German, French,
# Spanish, Italian, Portuguese, Dutch, Polish). Prose is full of them; menus and labels are not.
_STOP_WORD_TEXT = """
    the a an and or but of to in on at for with by from as is are was were be been has have had
    it its this that these those he she they we you i not no so if than then there their his her
    der die das und oder aber von zu im in am an auf für mit bei aus als ist sind war waren sein
    hat haben es ein eine einen dem den des nicht auch sich wir sie er ich wie dass noch nur
    le la les un une des et ou mais de du au aux en dans sur pour avec par est sont était il elle
    ils nous vous je ne pas que qui ce cette ses son sa leur
    el los las y o pero del al con por para es son fue era se su sus lo como más que una
    il lo gli i e di da nel nella per con su è sono era che non si una
    o os as e um uma do da dos das no na em com por para é são foi não se que
    de het een en of maar van te in op voor met door is zijn was niet dat die er ook
    i w z na do się nie to że jest są był jak od po za
    """
STOP_WORDS: frozenset[str] = frozenset(_STOP_WORD_TEXT.split())

_WORD = re.compile(r"\w+")
_PUNCTUATION = re.compile(r"[.,;:!?。，、；：！？]")
_DIGIT = re.compile(r"\d")
_SENTENCE_END = frozenset('.!?"”»)…:。！？')

# How many of the nearest class/id-bearing ancestors contribute hashed tokens.
TOKEN_ANCESTORS = 3
# Blocks up to this many words contribute their words as hashed features.
SHORT_BLOCK_WORDS = 12


@dataclass
class BlockContext:
    """Where a block sits: flags and counts collected on the way down the tree."""

    tag: str  # the innermost block-level tag around the text
    parent_tag: str
    in_container: bool  # inside what the rule-based vote chose (with merged siblings)
    in_boilerplate: bool  # inside a subtree the rules name as boilerplate
    negative: int  # ancestors with boilerplate class/id vocabulary
    positive: int  # ancestors with body vocabulary
    strong: int  # ancestors with strong body markers (article-body, itemprop=articleBody)
    furniture: frozenset[str]  # structural tags above it: nav, aside, footer, header, li, ...
    tokens: tuple[frozenset[str], ...]  # class/id tokens of the nearest attributed ancestors
    depth: int
    levels_up: int = 0  # from the block up to the nearest ancestor it shares with the container
    levels_down: int = 0  # from that ancestor down to the container
    parent_key: int = 0  # identity of the enclosing block element's parent block
    grandparent_key: int = 0
    starts_in_link: bool = False  # the text opens with a link (teasers: linked headline + dek)


@dataclass
class ScoredBlock:
    """A block of output text with its context and its features."""

    kind: str
    text: str
    link_chars: int
    time_chars: int
    context: BlockContext
    rule_keep: bool = False  # the rule-based extractor's verdict
    passes_filters: bool = False  # the per-paragraph filters alone (link density, time, patterns)
    features: dict[str, float] = field(default_factory=dict)
    probability: float = 0.0

    @property
    def link_density(self) -> float:
        return self.link_chars / len(self.text) if self.text else 0.0

    @property
    def is_scorable(self) -> bool:
        """Whether the classifier scores it: the rules kept it, or it passes the filters."""
        return self.kind != "h1" and (self.rule_keep or self.passes_filters)

    @property
    def is_candidate(self) -> bool:
        """Whether the classifier can keep it at all.

        A block the rules kept can be dropped. A block they left out can be added back only when
        it passes the paragraph filters (a timestamp line, a link list or a "Read more" stays out)
        and is not inside boilerplate named by class/id or ARIA role (an ad slot or a newsletter
        box inside the story stays out). By site-CV F1, letting the model override those too
        loses precision. The headline (h1) is never body text.
        """
        if not self.is_scorable:
            return False
        return self.rule_keep or not (self.context.in_boilerplate and self.context.negative > 0)


FURNITURE_TAGS: tuple[str, ...] = (
    "nav", "aside", "footer", "header", "form", "figure", "menu", "li", "table", "article",
    "main", "blockquote", "a",
)  # fmt: skip
_BLOCK_TAG_FEATURES = frozenset(
    {"p", "div", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "dd",
     "dt", "section", "article", "span", "font", "center", "main", "strong", "b"}
)  # fmt: skip


@lru_cache(maxsize=32768)
def _bucket(name: str, dimensions: int) -> str:
    return f"h{zlib.crc32(name.encode()) % dimensions}"


def _text_features(text: str) -> dict[str, float]:
    length = len(text)
    words = _WORD.findall(text)
    n_words = len(words)
    stop = sum(1 for w in words if w.lower() in STOP_WORDS)
    punctuation = len(_PUNCTUATION.findall(text))
    digits = len(_DIGIT.findall(text))
    return {
        "log_chars": math.log1p(length),
        "log_words": math.log1p(n_words),
        "stop_ratio": stop / n_words if n_words else 0.0,
        "punct_per_word": min(punctuation / n_words, 2.0) if n_words else 0.0,
        "digit_ratio": digits / length if length else 0.0,
        "sentence_end": 1.0 if text[-1:] in _SENTENCE_END else 0.0,
        "short": 1.0 if length < 40 else 0.0,
        "long": 1.0 if length > 200 else 0.0,
        "avg_word_len": min(length / n_words, 20.0) / 10 if n_words else 0.0,
    }


def add_features(
    blocks: list[ScoredBlock],
    title_index: int | None,
    boilerplate_line: list[bool],
    hash_dimensions: int,
) -> None:
    """Fill ``features`` of every block (needs the whole list for position and neighbours)."""
    n = len(blocks)
    total_chars = sum(len(b.text) for b in blocks) or 1
    container = [i for i, b in enumerate(blocks) if b.context.in_container]
    first_in, last_in = (container[0], container[-1]) if container else (n, -1)
    kept = [i for i, b in enumerate(blocks) if b.rule_keep]
    first_kept, last_kept = (kept[0], kept[-1]) if kept else (n, -1)
    # How much of the text sharing a block's parent (grandparent) the rules kept: body
    # paragraphs sit next to other body paragraphs.
    kept_under: dict[int, int] = {}
    text_under: dict[int, int] = {}
    for block in blocks:
        for key in (block.context.parent_key, block.context.grandparent_key):
            text_under[key] = text_under.get(key, 0) + len(block.text)
            if block.rule_keep:
                kept_under[key] = kept_under.get(key, 0) + len(block.text)
    chars_before = 0
    for i, block in enumerate(blocks):
        chars_before += len(block.text)
        if not block.is_scorable:
            continue  # BlockModel.keeps() drops it whatever its features say
        ctx = block.context
        f = _text_features(block.text)
        f["bias"] = 1.0
        f["link_density"] = block.link_density
        f["time_share"] = block.time_chars / len(block.text) if block.text else 0.0
        f["rule_keep"] = 1.0 if block.rule_keep else 0.0
        f["in_container"] = 1.0 if ctx.in_container else 0.0
        f["in_boilerplate"] = 1.0 if ctx.in_boilerplate else 0.0
        f["boilerplate_line"] = 1.0 if boilerplate_line[i] else 0.0
        f["negative"] = min(ctx.negative, 3) / 3
        f["positive"] = min(ctx.positive, 3) / 3
        f["strong"] = 1.0 if ctx.strong else 0.0
        f["depth"] = min(ctx.depth, 40) / 40
        f["levels_up"] = math.log1p(ctx.levels_up) / 3
        f["levels_down"] = math.log1p(ctx.levels_down) / 3
        f["starts_in_link"] = 1.0 if ctx.starts_in_link else 0.0
        for key, label in ((ctx.parent_key, "parent"), (ctx.grandparent_key, "grandparent")):
            under = text_under.get(key, 0)
            f[f"{label}_kept_share"] = kept_under.get(key, 0) / under if under else 0.0
        f[f"kind={block.kind}"] = 1.0
        tag = ctx.tag if ctx.tag in _BLOCK_TAG_FEATURES else "other"
        f[f"tag={tag}"] = 1.0
        for name in ctx.furniture:
            f[f"in={name}"] = 1.0
        # Position on the page and relative to the container, the rule-kept span and the title.
        f["position"] = (chars_before - len(block.text)) / total_chars
        f["before_container"] = 1.0 if i < first_in else 0.0
        f["after_container"] = 1.0 if i > last_in else 0.0
        f["before_kept"] = 1.0 if i < first_kept else 0.0
        f["after_kept"] = 1.0 if i > last_kept else 0.0
        if kept and first_kept <= i <= last_kept:
            f["within_kept_span"] = 1.0
        if title_index is None:
            f["no_title"] = 1.0
        else:
            distance = i - title_index
            f["before_title"] = 1.0 if distance < 0 else 0.0
            f["title_distance"] = math.log1p(abs(distance)) / 5
        # Neighbours: a paragraph between two kept paragraphs is likely body too.
        for offset, label in ((-1, "prev"), (1, "next")):
            j = i + offset
            if 0 <= j < n:
                neighbour = blocks[j]
                f[f"{label}_rule_keep"] = 1.0 if neighbour.rule_keep else 0.0
                f[f"{label}_link_density"] = neighbour.link_density
                f[f"{label}_log_chars"] = math.log1p(len(neighbour.text)) / 5
            else:
                f[f"{label}_missing"] = 1.0
        # Hashed vocabulary: class/id tokens of the nearest attributed ancestors, the tag path.
        if hash_dimensions:
            for token_set in ctx.tokens:
                for token in token_set:
                    f[_bucket("t:" + token, hash_dimensions)] = 1.0
            f[_bucket(f"p:{ctx.parent_tag}>{ctx.tag}", hash_dimensions)] = 1.0
            # The words of short blocks ("Lesen Sie auch", "Photo:", "Sign up") and the first
            # word of every block: boilerplate is phrased alike across sites of one language.
            words = _WORD.findall(block.text.lower())
            if words:
                f[_bucket("f:" + words[0], hash_dimensions)] = 1.0
            if len(words) <= SHORT_BLOCK_WORDS:
                for word in words:
                    f[_bucket("w:" + word, hash_dimensions)] = 1.0
        if "©" in block.text:
            f["copyright_sign"] = 1.0
        if block.text.endswith(":"):
            f["ends_with_colon"] = 1.0
        block.features = f


@dataclass(frozen=True)
class BlockModel:
    """Logistic-regression weights over named features; unknown features weigh nothing.

    The rules' verdict stands unless the model is confident otherwise: a block the rules kept is
    dropped below ``drop_threshold``, a block they dropped is added at ``add_threshold`` or above.
    """

    weights: dict[str, float]
    add_threshold: float = 0.5
    drop_threshold: float = 0.5
    hash_dimensions: int = 0
    info: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def keeps(self, block: ScoredBlock, fallback: bool = False) -> bool:
        """The verdict on a scored block; ``fallback`` lifts the boilerplate veto."""
        if not (block.is_scorable if fallback else block.is_candidate):
            return False
        if block.rule_keep:
            return block.probability >= self.drop_threshold
        return block.probability >= self.add_threshold

    def probability(self, features: dict[str, float]) -> float:
        get = self.weights.get
        z = 0.0
        for name, value in features.items():
            z += get(name, 0.0) * value
        if z < -30:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def to_json(self) -> str:
        payload = {
            "add_threshold": self.add_threshold,
            "drop_threshold": self.drop_threshold,
            "hash_dimensions": self.hash_dimensions,
            "info": self.info,
            "weights": {k: round(v, 6) for k, v in sorted(self.weights.items()) if v},
        }
        return json.dumps(payload, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> BlockModel:
        payload = json.loads(text)
        return cls(
            weights={str(k): float(v) for k, v in payload["weights"].items()},
            add_threshold=float(payload.get("add_threshold", 0.5)),
            drop_threshold=float(payload.get("drop_threshold", 0.5)),
            hash_dimensions=int(payload.get("hash_dimensions", 0)),
            info=dict(payload.get("info", {})),
        )


MODEL_RESOURCE = "block_model.json"


@lru_cache(maxsize=1)
def shipped_model() -> BlockModel | None:
    """The weights shipped with the package, or None when they are absent (rules only)."""
    try:
        text = resources.files("pipeline.extract").joinpath(MODEL_RESOURCE).read_text("utf-8")
    except (FileNotFoundError, OSError):
        return None
    return BlockModel.from_json(text)

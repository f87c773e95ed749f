"""Story deduplication: exact repeats and near-copies grouped into stories, one canonical row each.

Layers, cheapest first:
1. canonical URL: two fetched pages that declare the same canonical URL are one article; the extra
   page becomes a recorded reject (``duplicate_canonical_url``), since ``article_id`` is its hash.
   Rows whose URLs canonicalize alike (utm/AMP spellings, e.g. in a standalone file) are one story.
2. content hash of the normalized body (Unicode-, case- and punctuation-folded, boilerplate lines
   stripped, headline excluded).
3. MinHash over word shingles, LSH banding for candidates, each candidate verified by exact
   Jaccard or containment (containment catches truncated copies), then union-find into stories.

Cross-day matching against earlier runs lives in :mod:`pipeline.dedup_history`; this module takes
the earlier rows it found as :class:`PriorRow` objects and never reads files itself.
See ``docs/dedup.md`` for thresholds, measurements and the choice of MinHash library.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import rensa

from pipeline.models import Article, Reject
from pipeline.settings import DedupSettings
from pipeline.urls import canonicalize

# Lines that outlets wrap around syndicated copy; they must not make copies look different.
BOILERPLATE_LINE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"^(this|the) (story|article|report) (was|is) (supplied|provided|distributed) by\b",
        r"^additional reporting by\b",
        r"^\(?(reporting|writing|editing) by\b",
        r"^(sign up|subscribe)\b",
        r"^(follow us|read more|related:|copyright|©|advertisement\b|share this)",
    )
)
_BOILERPLATE_LINE = re.compile(
    "|".join(f"(?:{pattern.pattern})" for pattern in BOILERPLATE_LINE_PATTERNS), re.IGNORECASE
)
# Part of the stored signature scheme: changing any of these makes old index rows unmatchable by
# band keys (they still match by content hash), so they are constants, not settings.
SIGNATURE_SEED = 20260310
_SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_TOKEN = re.compile(r"\w+")


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


# For _word_tokens: ASCII non-word bytes to spaces, ASCII capitals lowered (their case fold).
_ASCII_FOLD = bytes(
    (ord(chr(code).lower()) if _is_word(chr(code)) else ord(" ")) if code < 128 else code
    for code in range(256)
)
# Non-ASCII punctuation common in news text (curly quotes, dashes): none is a word character or
# changes under casefold, and no casefold produces one, so replacing it before folding is safe.
_PUNCTUATION = "\u2019\u201c\u201d\u2014\u2013\u2018"
assert not any(_is_word(char) or char.casefold() != char for char in _PUNCTUATION)
_PUNCTUATION_UTF8 = tuple(char.encode("utf-8") for char in _PUNCTUATION)
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)

U64Array = npt.NDArray[np.uint64]
U32Array = npt.NDArray[np.uint32]


@dataclass(frozen=True)
class DedupResult:
    articles: list[Article]
    rejects: list[Reject]

    @property
    def stories(self) -> int:
        return len({article.story_id for article in self.articles})

    @property
    def duplicates(self) -> int:
        return sum(1 for article in self.articles if article.is_duplicate)


@dataclass(frozen=True)
class Fingerprints:
    """What the near-duplicate layer knows about each text, row-aligned with the input."""

    content_hashes: list[str]
    shingle_sets: list[U64Array]  # sorted, unique 64-bit shingle hashes
    signatures: U32Array  # (rows, num_perm) MinHash values
    band_keys: U64Array  # (rows, bands); band index folded in, so keys compare across bands

    @property
    def shingle_counts(self) -> list[int]:
        return [len(s) for s in self.shingle_sets]


@dataclass(frozen=True)
class PriorRow:
    """An article of an earlier day, as the cross-run index remembers it."""

    article_id: str
    story_id: str
    canonical_id: str
    published_at: datetime | None
    shingle_count: int
    signature: U32Array | None  # None when written under another signature scheme


@dataclass(frozen=True)
class PriorMatches:
    """Earlier rows that today's articles may join, and the candidate edges to them."""

    rows: dict[str, PriorRow] = field(default_factory=dict)
    # (index into today's articles, prior article_id, exact): exact edges (same content hash or
    # same article_id) need no verification.
    edges: list[tuple[int, str, bool]] = field(default_factory=list)


def signature_scheme(settings: DedupSettings) -> str:
    """How signatures and band keys were made; index rows of another scheme never band-match."""
    return (
        f"rensa-rminhash-v{rensa.RMinHash.ALGORITHM_VERSION}:seed={SIGNATURE_SEED}:"
        f"perm={settings.num_perm}:bands={settings.lsh_bands}:shingle={settings.shingle_size}"
    )


def normalized_tokens(text: str) -> list[str]:
    # NFKC first so that non-breaking spaces, ligatures and composed/decomposed accents fold alike.
    lines = [line.strip() for line in unicodedata.normalize("NFKC", text).splitlines()]
    kept = [line for line in lines if line and not _BOILERPLATE_LINE.match(line)]
    return _word_tokens(" ".join(kept))


def _word_tokens(text: str) -> list[str]:
    """``_TOKEN.findall(text.casefold())``, mostly without the regex engine.

    ASCII non-word characters and common non-ASCII punctuation become spaces and ASCII capitals
    are lowered, byte-wise; the rest is case-folded only if it is not ASCII, then split on
    whitespace. Only the pieces that still hold a non-word character (or "_") go to the regex.
    """
    data = text.encode("utf-8").translate(_ASCII_FOLD)
    if not data.isascii():
        for sequence in _PUNCTUATION_UTF8:
            data = data.replace(sequence, b" ")
    folded = data.decode("utf-8")
    if folded.isascii():
        tokens = folded.split()
        if "_" not in folded:  # only spaces and ASCII letters and digits are left
            return tokens
    else:
        tokens = folded.casefold().split()
        if "".join(tokens).isalnum():
            return tokens
    return [word for piece in tokens for word in _pieces(piece)]


def _pieces(piece: str) -> list[str]:
    return [piece] if piece.isalnum() else _TOKEN.findall(piece)


def content_hash(text: str) -> str:
    return _content_hash(normalized_tokens(text))


def _content_hash(tokens: Sequence[str]) -> str:
    return hashlib.sha256(" ".join(tokens).encode("utf-8")).hexdigest()[:32]


def shingles(tokens: Sequence[str], size: int) -> set[str]:
    if len(tokens) <= size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


# Texts fingerprinted per batch: big enough for numpy to pay off, small enough that the batch's
# token strings and scratch arrays stay in cache-friendly sizes (20k texts in one batch measured
# about 2.5x slower than in batches of 2k). Results do not depend on it.
FINGERPRINT_BATCH = 2_000


def fingerprint(texts: Sequence[str], settings: DedupSettings) -> Fingerprints:
    """Content hashes, shingle sets, MinHash signatures and LSH band keys, row-aligned."""
    if len(texts) <= FINGERPRINT_BATCH:
        return _fingerprint_batch(texts, settings)
    parts = [
        _fingerprint_batch(texts[start : start + FINGERPRINT_BATCH], settings)
        for start in range(0, len(texts), FINGERPRINT_BATCH)
    ]
    return Fingerprints(
        content_hashes=[h for part in parts for h in part.content_hashes],
        shingle_sets=[s for part in parts for s in part.shingle_sets],
        signatures=np.vstack([part.signatures for part in parts]),
        band_keys=np.vstack([part.band_keys for part in parts]),
    )


def _fingerprint_batch(texts: Sequence[str], settings: DedupSettings) -> Fingerprints:
    """Content hashes, shingle sets, MinHash signatures and LSH band keys for many texts at once.

    Tokens are hashed once per distinct word and shingles are hashed with numpy over all texts
    together: building one Python string per shingle costs more than the MinHash itself.
    """
    token_lists = [normalized_tokens(text) for text in texts]
    hashes = [_content_hash(tokens) for tokens in token_lists]
    # A defaultdict numbering words as they first appear keeps the per-token work in C.
    vocabulary: defaultdict[str, int] = defaultdict(itertools.count().__next__)
    ids = np.fromiter(
        map(vocabulary.__getitem__, itertools.chain.from_iterable(token_lists)), dtype=np.int64
    )
    word_hashes = np.fromiter(
        (_stable_hash(word) for word in vocabulary), dtype=np.uint64, count=len(vocabulary)
    )
    flat_tokens = word_hashes[ids]
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    shingle_sets = _shingle_sets(flat_tokens, lengths, settings.shingle_size)
    signatures = minhash_signatures(shingle_sets, settings.num_perm)
    return Fingerprints(
        content_hashes=hashes,
        shingle_sets=shingle_sets,
        signatures=signatures,
        band_keys=band_keys(signatures, settings.lsh_bands),
    )


def minhash_signatures(shingle_sets: Sequence[U64Array], num_perm: int) -> U32Array:
    if not shingle_sets:
        return np.zeros((0, num_perm), dtype=np.uint32)
    offsets = np.zeros(len(shingle_sets) + 1, dtype=np.uint64)
    np.cumsum([len(s) for s in shingle_sets], out=offsets[1:])
    flat = np.concatenate(shingle_sets) if offsets[-1] else np.zeros(0, dtype=np.uint64)
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
        flat, offsets, num_perm, SIGNATURE_SEED
    )
    return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(shingle_sets), num_perm)


def band_keys(signatures: U32Array, bands: int) -> U64Array:
    rows, num_perm = signatures.shape
    per_band = signatures.reshape(rows, bands, num_perm // bands).astype(np.uint64)
    keys = np.broadcast_to(np.arange(bands, dtype=np.uint64) + np.uint64(1), (rows, bands)).copy()
    for column in range(per_band.shape[2]):
        keys = _mix(keys * _SHINGLE_MULTIPLIER + per_band[:, :, column])
    return keys


def estimated_similarity(
    a: U32Array, b: U32Array, count_a: int, count_b: int
) -> tuple[float, float]:
    """(Jaccard, containment) from two signatures and the two shingle-set sizes."""
    jaccard = float(np.mean(a == b))
    if not count_a or not count_b:
        return 0.0, 0.0
    overlap = jaccard * (count_a + count_b) / (1.0 + jaccard)
    return jaccard, min(1.0, overlap / min(count_a, count_b))


def exact_similarity(a: U64Array, b: U64Array) -> tuple[float, float]:
    """(Jaccard, containment) of two sorted shingle-hash sets."""
    if not len(a) or not len(b):
        return 0.0, 0.0
    overlap = len(np.intersect1d(a, b, assume_unique=True))
    return overlap / (len(a) + len(b) - overlap), overlap / min(len(a), len(b))


def is_near_copy(jaccard: float, containment: float, smaller: int, settings: DedupSettings) -> bool:
    if jaccard >= settings.min_jaccard:
        return True
    # A short text is "contained" in many unrelated ones by chance; only trust containment when
    # the smaller text has enough shingles to be a real excerpt.
    return containment >= settings.min_containment and smaller >= settings.min_containment_shingles


def deduplicate(articles: list[Article], settings: DedupSettings) -> DedupResult:
    """Deduplicate one batch on its own, with no memory of earlier runs."""
    unique, rejects = _collapse_canonical_urls(articles)
    fingerprints = fingerprint([a.text for a in unique], settings)
    assign_stories(unique, fingerprints, settings, PriorMatches())
    return DedupResult(articles=unique, rejects=rejects)


def collapse_canonical_urls(articles: list[Article]) -> tuple[list[Article], list[Reject]]:
    return _collapse_canonical_urls(articles)


def assign_stories(
    unique: list[Article], fp: Fingerprints, settings: DedupSettings, prior: PriorMatches
) -> None:
    """Set content_hash, story_id, is_duplicate, duplicate_of and similarity on ``unique``.

    Articles joined to an earlier day's story take that story's id and are all duplicates of its
    canonical row, which was published already and cannot change.
    """
    count = len(unique)
    prior_ids = sorted(prior.rows)
    node_of_prior = {article_id: count + i for i, article_id in enumerate(prior_ids)}
    forest = _UnionFind(count + len(prior_ids))

    for article, digest in zip(unique, fp.content_hashes, strict=True):
        article.content_hash = digest
    representative: dict[str, int] = {}
    by_url: dict[str, int] = {}
    for index, article in enumerate(unique):
        first = representative.setdefault(article.content_hash, index)
        forest.union(index, first)
        url = article.canonical_url or article.url
        if url:
            forest.union(index, by_url.setdefault(canonicalize(url), index))

    representatives = sorted(set(representative.values()))
    for i, j in _band_candidates(fp.band_keys, representatives, fp.shingle_sets):
        if forest.find(i) == forest.find(j):
            continue
        jaccard, containment = exact_similarity(fp.shingle_sets[i], fp.shingle_sets[j])
        smaller = min(len(fp.shingle_sets[i]), len(fp.shingle_sets[j]))
        if is_near_copy(jaccard, containment, smaller, settings):
            forest.union(i, j)

    counts = fp.shingle_counts
    for index, prior_id, exact in prior.edges:
        node = node_of_prior[prior_id]
        if forest.find(index) == forest.find(node):
            continue
        row = prior.rows[prior_id]
        if not exact:
            if row.signature is None:
                continue
            jaccard, containment = estimated_similarity(
                fp.signatures[index], row.signature, counts[index], row.shingle_count
            )
            smaller = min(counts[index], row.shingle_count)
            if not is_near_copy(jaccard, containment, smaller, settings):
                continue
        forest.union(index, node)

    components: dict[int, list[int]] = defaultdict(list)
    for node in range(count + len(prior_ids)):
        components[forest.find(node)].append(node)
    for members in components.values():
        today = [m for m in members if m < count]
        if not today:
            continue
        earlier = [prior.rows[prior_ids[m - count]] for m in members if m >= count]
        if earlier:
            _join_earlier_story(unique, fp, today, earlier, prior.rows)
        else:
            _new_story(unique, fp, today)


def _new_story(unique: list[Article], fp: Fingerprints, members: list[int]) -> None:
    canonical = min(members, key=lambda i: _canonical_rank(unique[i]))
    story_id = story_id_for(unique[canonical].article_id)
    for index in members:
        article = unique[index]
        article.story_id = story_id
        article.is_duplicate = index != canonical
        article.duplicate_of = unique[canonical].article_id if article.is_duplicate else None
        article.similarity = (
            round(exact_similarity(fp.shingle_sets[index], fp.shingle_sets[canonical])[0], 4)
            if article.is_duplicate
            else None
        )


def _join_earlier_story(
    unique: list[Article],
    fp: Fingerprints,
    members: list[int],
    earlier: list[PriorRow],
    rows: dict[str, PriorRow],
) -> None:
    # A new copy may bridge two stories of earlier days; those rows are published and stay as they
    # are, and today's rows join the story whose canonical came first.
    def rank(row: PriorRow) -> tuple[datetime, str]:
        canonical = rows.get(row.canonical_id, row)
        return (canonical.published_at or _FAR_FUTURE, row.canonical_id)

    chosen = min(earlier, key=rank)
    canonical_row = rows.get(chosen.canonical_id)
    for index in members:
        article = unique[index]
        article.story_id = chosen.story_id
        article.is_duplicate = True
        article.duplicate_of = chosen.canonical_id
        if canonical_row is not None and canonical_row.signature is not None:
            article.similarity = round(
                float(np.mean(fp.signatures[index] == canonical_row.signature)), 4
            )
        else:
            article.similarity = None


def story_id_for(canonical_article_id: str) -> str:
    return "st_" + hashlib.sha256(canonical_article_id.encode()).hexdigest()[:16]


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, node: int) -> int:
        parent = self.parent
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def _band_candidates(
    keys: U64Array, rows: list[int], shingle_sets: list[U64Array]
) -> list[tuple[int, int]]:
    """Pairs of rows sharing at least one band key, each pair once, in a deterministic order."""
    usable = [row for row in rows if len(shingle_sets[row])]
    if len(usable) < 2:
        return []
    selected = np.asarray(usable, dtype=np.int64)
    flat_keys = keys[selected].ravel()
    flat_rows = np.repeat(selected, keys.shape[1])
    order = np.lexsort((flat_rows, flat_keys))
    flat_keys, flat_rows = flat_keys[order], flat_rows[order]
    boundaries = np.flatnonzero(np.diff(flat_keys)) + 1
    pairs: set[tuple[int, int]] = set()
    for bucket in np.split(flat_rows, boundaries):
        if len(bucket) < 2:
            continue
        members = bucket.tolist()
        pairs.update(
            (a, b) for position, a in enumerate(members) for b in members[position + 1 :] if a != b
        )
    return sorted(pairs)


def _shingle_sets(
    flat_tokens: U64Array, lengths: npt.NDArray[np.int64], size: int
) -> list[U64Array]:
    ends = np.cumsum(lengths)
    starts = ends - lengths
    combined = flat_tokens.copy()
    padded = np.concatenate([flat_tokens, np.zeros(size, dtype=np.uint64)])
    scratch = np.empty_like(combined)
    for offset in range(1, size):
        combined *= _SHINGLE_MULTIPLIER
        combined += padded[offset : offset + len(flat_tokens)]
        _mix_in_place(combined, scratch)
    # Each text's full shingles, sorted in place, then duplicates dropped for all texts at once.
    counts = np.maximum(lengths - (size - 1), 0)
    full = counts > 0
    # A text's last size - 1 positions start no full shingle (nor do all of a shorter text's).
    tails = ends[:, None] - np.arange(1, size, dtype=np.int64)
    keep = np.ones(len(combined), dtype=bool)
    keep[tails[tails >= starts[:, None]]] = False
    shingled = combined[keep]
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    for start, end in itertools.pairwise(bounds):
        if end - start > 1:
            shingled[start:end].sort()
    first = np.ones(len(shingled), dtype=bool)
    first[1:] = shingled[1:] != shingled[:-1]
    first[np.asarray(bounds[:-1], dtype=np.int64)[full]] = True
    distinct = shingled[first]
    last = np.maximum(np.asarray(bounds[1:], dtype=np.int64) - 1, 0)
    distinct_ends: list[int] = np.cumsum(first)[last].tolist() if len(first) else []
    sets: list[U64Array] = []
    position = 0
    for index, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        if end - start >= size:
            stop = distinct_ends[index]
            sets.append(distinct[position:stop])
            position = stop
        elif end > start:
            # Shorter than one shingle: the whole text is its only shingle.
            short = flat_tokens[start]
            with np.errstate(over="ignore"):  # uint64 arithmetic wraps on purpose
                for token in flat_tokens[start + 1 : end]:
                    short = _mix(short * _SHINGLE_MULTIPLIER + token)
            sets.append(np.asarray([short], dtype=np.uint64))
        else:
            sets.append(np.zeros(0, dtype=np.uint64))
    return sets


def _mix_in_place(values: U64Array, scratch: U64Array) -> None:
    """``values[:] = _mix(values)`` without temporaries."""
    for shift, multiplier in ((30, _MIX_1), (27, _MIX_2)):
        np.right_shift(values, np.uint64(shift), out=scratch)
        values ^= scratch
        values *= multiplier
    np.right_shift(values, np.uint64(31), out=scratch)
    values ^= scratch


def _mix(values: U64Array) -> U64Array:
    # splitmix64's finalizer: the multiply-add above leaves low bits weakly mixed.
    values = values ^ (values >> np.uint64(30))
    values = values * _MIX_1
    values = values ^ (values >> np.uint64(27))
    values = values * _MIX_2
    return values ^ (values >> np.uint64(31))


def _stable_hash(word: str) -> int:
    # Not hash(): it is salted per process, and signatures are stored across runs.
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


def _collapse_canonical_urls(articles: list[Article]) -> tuple[list[Article], list[Reject]]:
    groups: dict[str, list[Article]] = defaultdict(list)
    for article in articles:
        groups[article.article_id].append(article)
    unique: list[Article] = []
    rejects: list[Reject] = []
    for article_id in sorted(groups):
        group = sorted(groups[article_id], key=_page_preference)
        unique.append(group[0])
        rejects += [
            Reject(
                url=extra.url,
                source=extra.source,
                stage="dedup",
                reason="duplicate_canonical_url",
                detail=f"declares canonical {extra.canonical_url}, kept {group[0].url}",
            )
            for extra in group[1:]
        ]
    return unique, rejects


def _page_preference(article: Article) -> tuple[bool, bool, bool, int, str]:
    """Among pages of one canonical URL, keep the canonical page itself, then the fullest."""
    return (
        article.url != article.canonical_url,
        canonicalize(article.url) != article.canonical_url,
        article.is_truncated,
        -article.word_count,
        article.url,
    )


def _canonical_rank(article: Article) -> tuple[datetime, bool, bool, int, str]:
    return (
        article.published_at or _FAR_FUTURE,
        canonicalize(article.url) != article.canonical_url,
        article.is_truncated,
        -article.word_count,
        article.article_id,
    )

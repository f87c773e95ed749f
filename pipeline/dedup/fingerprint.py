"""Text fingerprints for story dedup: normalized tokens, content hashes, MinHash and LSH keys.

A text becomes a content hash of its normalized body (Unicode-, case- and punctuation-folded,
boilerplate lines stripped), a set of hashed word shingles, a MinHash signature and LSH band keys.
Nothing here knows about articles or stories; :mod:`pipeline.dedup.stories` uses these to group.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import rensa

from pipeline.settings import DedupSettings

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

U64Array = npt.NDArray[np.uint64]
U32Array = npt.NDArray[np.uint32]


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


def band_candidates(
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

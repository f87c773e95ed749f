"""Text fingerprints for story dedup: tokens, line hashes, facts, MinHash signatures and LSH keys.

A batch of texts becomes, per text: a content hash of its normalized body (Unicode-, case- and
punctuation-folded, boilerplate lines dropped), a set of hashed word shingles, a MinHash signature,
LSH band keys and a set of *facts* (numbers and capitalised words, each keyed by the word before
it; see :func:`fact_conflicts`). Boilerplate is dropped per line: lines matching the fixed
patterns below always, and lines learned as one source's boilerplate (:func:`learn_boilerplate`)
when the caller passes the sources.

Tokenizing never builds a Python string per token: each text is folded and stripped of non-word
characters as one string, all texts of a batch are joined into one UTF-8 buffer, and tokens are
found and hashed with numpy over that buffer's bytes. Nothing here knows about articles or
stories; :mod:`pipeline.dedup.stories` uses these to group.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import rensa

from pipeline.settings import DedupSettings

# Lines that outlets wrap around syndicated copy, dropped whatever their source: the fallback for
# boilerplate that the data of one source cannot teach (a first article, a one-off credit).
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
# A line can only match a pattern above if the text holds one of these (lower-cased).
_BOILERPLATE_TRIGGERS = (
    "supplied by",
    "provided by",
    "distributed by",
    "reporting by",
    "writing by",
    "editing by",
    "sign up",
    "subscribe",
    "follow us",
    "read more",
    "related:",
    "copyright",
    "©",
    "advertisement",
    "share this",
)
# Part of the stored signature scheme: changing any of these (or the tokenizer, the fact or line
# hashing) makes old index rows unmatchable by band keys, so bump SCHEME_VERSION with them.
SCHEME_VERSION = 2
SIGNATURE_SEED = 20260310
_SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_LINE_SALT = np.uint64(0x5851F42D4C957F2D)
_NEXT_SALT = np.uint64(0x2545F4914F6CDD1D)
_LOW_32 = np.uint64(0xFFFFFFFF)
_SLOT_MASK = np.uint64((1 << 21) - 1)
_FACT_MASK = np.uint64((1 << 53) - 1)
_START_SLOT = np.uint64(0x632BE59BD9B4E019)
_SPACE, _NEWLINE = ord(" "), ord("\n")
# _BYTE_MASKS[k] keeps the low k bytes of a little-endian 8-byte word.
_BYTE_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)

# ASCII non-word bytes to spaces, newlines kept (they end lines), "_" a separator; the bytes of
# non-ASCII characters are left for _word_bytes.
_ASCII_WORDS = bytes(
    code if chr(code).isalnum() or code == _NEWLINE else _SPACE for code in range(128)
) + bytes(range(128, 256))
_LOWER_BYTES = bytes(range(65)) + bytes(range(97, 123)) + bytes(range(91, 256))

U64Array = npt.NDArray[np.uint64]
U32Array = npt.NDArray[np.uint32]
I64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

FACT_CAPITALISED, FACT_NUMBER = 1, 2


@dataclass(frozen=True)
class Tokens:
    """The tokens of a batch of texts, flat, with the line and text each belongs to."""

    hashes: U64Array  # one 64-bit hash per token, case-folded
    kinds: npt.NDArray[np.uint8]  # FACT_CAPITALISED / FACT_NUMBER bits, 0 for other words
    line_of_token: I64Array
    text_of_line: I64Array
    line_hashes: U64Array  # one per line; lines without tokens hash to 0
    texts: int


@dataclass(frozen=True)
class Fingerprints:
    """What the near-duplicate layer knows about each text, row-aligned with the input."""

    content_hashes: list[str]
    shingle_sets: list[U64Array]  # sorted, unique 64-bit shingle hashes
    signatures: U32Array  # (rows, num_perm) MinHash values
    band_keys: U64Array  # (rows, bands); band index folded in, so keys compare across bands
    facts: list[U64Array]  # sorted, unique: 21 bits of slot hash above 32 bits of value hash

    @property
    def shingle_counts(self) -> list[int]:
        return [len(s) for s in self.shingle_sets]


def signature_scheme(settings: DedupSettings) -> str:
    """How signatures, band keys and facts were made; rows of another scheme never band-match."""
    return (
        f"v{SCHEME_VERSION}:rensa-rminhash-v{rensa.RMinHash.ALGORITHM_VERSION}:"
        f"seed={SIGNATURE_SEED}:perm={settings.num_perm}:bands={settings.lsh_bands}"
        f"+{settings.lsh_brief_bands}x2:shingle={settings.shingle_size}"
    )


# ---------------------------------------------------------------------------------------------
# Tokens


def tokenize(texts: Sequence[str]) -> Tokens:
    """All tokens of ``texts``, found and hashed with numpy over one UTF-8 buffer of the batch.

    After NFKC, empty lines and lines matching :data:`BOILERPLATE_LINE_PATTERNS` are dropped. A
    token is then a maximal run of word bytes: ASCII letters and digits, and every non-ASCII
    character except the common punctuation blocks (:func:`_word_bytes`); a digit next to a
    letter also ends a token. Tokens are hashed case-folded (``str.casefold`` of each text that
    is not ASCII, a byte table for the rest); the original case marks capitalised words.
    """
    original_parts = [_kept_lines(text).encode("utf-8") for text in texts]
    # Each text ends with a newline, so that no line or token spans two texts.
    original = _word_bytes(b"".join(part + b"\n" for part in original_parts))
    lowered = np.frombuffer(original.tobytes().translate(_LOWER_BYTES), dtype=np.uint8)
    starts, ends = _token_bounds(original)
    newlines = np.flatnonzero(original == _NEWLINE)
    text_ends = np.cumsum(np.fromiter((len(p) + 1 for p in original_parts), np.int64, len(texts)))
    text_of_line = np.searchsorted(text_ends, newlines, side="right").astype(np.int64)
    line_of_token = np.searchsorted(newlines, starts).astype(np.int64)
    hashes = _hash_tokens(lowered, starts, ends)
    first_byte = original[starts]
    capitalised = (first_byte >= ord("A")) & (first_byte <= ord("Z"))
    # Tokens with non-ASCII characters (a minority even in other languages' news) are folded
    # one by one with str.casefold; the byte table folded ASCII letters only.
    high = np.flatnonzero(original >= 0x80)
    if len(high):
        owners = np.searchsorted(starts, high, side="right") - 1  # sorted, as ``high`` is
        wide = owners[np.concatenate([[True], owners[1:] != owners[:-1]])]
        folded: list[bytes] = []
        for token in wide.tolist():
            word = original[starts[token] : ends[token]].tobytes().decode("utf-8", "replace")
            fold = word.casefold()
            capitalised[token] = fold[:1] != word[:1]
            folded.append(fold.encode("utf-8"))
        buffer = np.frombuffer(b" ".join(folded), dtype=np.uint8)
        lengths = np.fromiter((len(f) for f in folded), dtype=np.int64, count=len(folded))
        folded_starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
        hashes[wide] = _hash_tokens(buffer, folded_starts, folded_starts + lengths)
    kinds = np.where(capitalised, FACT_CAPITALISED, 0).astype(np.uint8)
    first = original[starts]
    kinds[(first >= ord("0")) & (first <= ord("9"))] |= FACT_NUMBER
    return Tokens(
        hashes=hashes,
        kinds=kinds,
        line_of_token=line_of_token,
        text_of_line=text_of_line,
        line_hashes=_line_hashes(hashes, line_of_token, len(newlines)),
        texts=len(texts),
    )


# Second bytes of the two-byte UTF-8 characters U+00A0-U+00BF that are punctuation or symbols
# (no-break space, inverted marks, guillemets, section, middle dot, degree, ...), not the letters
# and digits of that block (ª µ º ² ³ ¹ ¼ ½ ¾).
_LATIN1_PUNCTUATION = np.zeros(256, dtype=bool)
_LATIN1_PUNCTUATION[[0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAB, 0xAC]] = True
_LATIN1_PUNCTUATION[[0xAD, 0xAE, 0xAF, 0xB0, 0xB1, 0xB4, 0xB6, 0xB7, 0xB8, 0xBB, 0xBF]] = True


def _word_bytes(data: bytes) -> npt.NDArray[np.uint8]:
    """The UTF-8 bytes with every non-word character turned into spaces (newlines kept).

    Non-word: ASCII other than letters and digits, U+00A0-U+00BF punctuation, General
    Punctuation (U+2000-U+206F: dashes, curly quotes, ellipsis...) and CJK punctuation
    (U+3000-U+303F). Other non-ASCII characters count as word characters.
    """
    buffer = np.frombuffer(data.translate(_ASCII_WORDS), dtype=np.uint8).copy()
    # Only lead bytes 0xC2, 0xE2 and 0xE3 can start these characters; look at those alone.
    leads = np.flatnonzero(buffer[:-2] >= 0xC2)
    if not len(leads):
        return buffer
    lead, second = buffer[leads], buffer[leads + 1]
    two = leads[(lead == 0xC2) & _LATIN1_PUNCTUATION[second]]
    three = leads[
        ((lead == 0xE2) & ((second == 0x80) | (second == 0x81)))
        | ((lead == 0xE3) & (second == 0x80))
    ]
    for offset in range(2):
        buffer[two + offset] = _SPACE
    for offset in range(3):
        buffer[three + offset] = _SPACE
    return buffer


def _kept_lines(text: str) -> str:
    """The text after NFKC without the lines that match the fixed boilerplate patterns.

    Most texts hold none of the patterns' words at all; those skip the line-by-line match.
    """
    # NFKC first so that non-breaking spaces, ligatures and composed/decomposed accents fold alike.
    normalized = text if text.isascii() else unicodedata.normalize("NFKC", text)
    lowered = normalized.lower()
    if not any(trigger in lowered for trigger in _BOILERPLATE_TRIGGERS):
        return normalized
    lines = (line.strip() for line in normalized.splitlines())
    return "\n".join(line for line in lines if line and not _BOILERPLATE_LINE.match(line))


def _token_bounds(buffer: npt.NDArray[np.uint8]) -> tuple[I64Array, I64Array]:
    """Start and end of each run of word bytes; a digit next to a letter also splits ("410m" is
    "410" "m"), so that a number reads the same whatever unit spelling follows it."""
    word = buffer > _SPACE  # spaces, newlines and nothing else are below it after _word_bytes
    digit = (buffer - np.uint8(ord("0"))) < 10
    starts = word.copy()
    starts[1:] &= ~word[:-1] | (digit[1:] != digit[:-1])
    ends = word.copy()
    ends[:-1] &= ~word[1:] | (digit[1:] != digit[:-1])
    return np.flatnonzero(starts), np.flatnonzero(ends) + 1


def _hash_tokens(data: npt.NDArray[np.uint8], starts: I64Array, ends: I64Array) -> U64Array:
    """A 64-bit hash of each token's bytes, read 8 bytes at a time (most tokens: once).

    Each 8-byte chunk is loaded as one little-endian integer through an unaligned view of the
    buffer, masked to the token's length, and folded in with splitmix64.
    """
    lengths = ends - starts
    if not len(starts):
        return np.zeros(0, dtype=np.uint64)
    padded = np.concatenate([data, np.zeros(8, dtype=np.uint8)])
    words = np.ndarray((len(data) + 1,), dtype="<u8", buffer=padded, strides=(1,))
    # Bytes 0-7 of every token, then bytes 8-15 of the longer ones, and so on.
    chunk_words = words[starts]
    chunk_words &= _BYTE_MASKS[np.minimum(lengths, 8)]
    chunk_words ^= lengths.astype(np.uint64) * _SHINGLE_MULTIPLIER
    hashes = _mix(chunk_words)
    rows = np.flatnonzero(lengths > 8)
    chunk = 1
    while len(rows):
        remaining = lengths[rows] - 8 * chunk
        chunk_words = words[starts[rows] + 8 * chunk] & _BYTE_MASKS[np.minimum(remaining, 8)]
        hashes[rows] = _mix(hashes[rows] ^ chunk_words)
        rows = rows[remaining > 8]
        chunk += 1
    return hashes


def _line_hashes(hashes: U64Array, line_of_token: I64Array, lines: int) -> U64Array:
    result = np.zeros(lines, dtype=np.uint64)
    if not len(hashes):
        return result
    first = np.flatnonzero(np.concatenate([[True], line_of_token[1:] != line_of_token[:-1]]))
    position = np.arange(len(hashes), dtype=np.int64) - np.repeat(
        first, np.diff([*first, len(hashes)])
    )
    with np.errstate(over="ignore"):
        terms = _mix(hashes + position.astype(np.uint64) * _LINE_SALT)
        result[line_of_token[first]] = _mix(np.add.reduceat(terms, first) ^ _LINE_SALT)
    return result


# ---------------------------------------------------------------------------------------------
# Learned boilerplate


def source_line_keys(tokens: Tokens, sources: Sequence[str]) -> U64Array:
    """One key per line: its hash mixed with its text's source, so outlets never share lines."""
    source_hashes = np.fromiter(
        (_stable_hash(source) for source in sources), dtype=np.uint64, count=len(sources)
    )
    with np.errstate(over="ignore"):
        keys = _mix(tokens.line_hashes ^ source_hashes[tokens.text_of_line] * _SHINGLE_MULTIPLIER)
    return np.where(tokens.line_hashes == 0, np.uint64(0), keys)


def _texts_per_key(keys: U64Array, text_of_line: I64Array) -> tuple[U64Array, I64Array, I64Array]:
    """Distinct non-zero line keys, the number of texts holding each, and each line's key index."""
    order = np.lexsort((text_of_line, keys))
    sorted_keys, sorted_texts = keys[order], text_of_line[order]
    new_key = np.ones(len(keys), dtype=bool)
    new_key[1:] = sorted_keys[1:] != sorted_keys[:-1]
    new_pair = new_key.copy()
    new_pair[1:] |= sorted_texts[1:] != sorted_texts[:-1]
    key_number = np.cumsum(new_key) - 1
    distinct = sorted_keys[new_key]
    counts = np.bincount(key_number[new_pair], minlength=len(distinct)).astype(np.int64)
    of_line = np.empty(len(keys), dtype=np.int64)
    of_line[order] = key_number
    return distinct, counts, of_line


@dataclass(frozen=True)
class BoilerplateHistory:
    """What earlier days' index rows say: rows per recurring line key, and rows per source."""

    line_keys: U64Array  # sorted, distinct
    line_rows: I64Array  # index rows listing each key
    source_rows: Mapping[str, int]

    @classmethod
    def empty(cls) -> BoilerplateHistory:
        return cls(np.zeros(0, np.uint64), np.zeros(0, np.int64), {})


def learn_boilerplate(
    keys: U64Array,
    text_of_line: I64Array,
    sources: Sequence[str],
    settings: DedupSettings,
    history: BoilerplateHistory | None = None,
) -> BoolArray:
    """Which lines are their source's boilerplate: a mask over the lines of ``keys``.

    ``keys`` are :func:`source_line_keys` of the day's lines, ``text_of_line`` the text of each
    line (an index into ``sources``). A line is boilerplate of source S when at least
    ``boilerplate_min_articles`` articles of S hold it and they are at least
    ``boilerplate_min_share`` of S's articles, counting today's articles and the earlier days'
    index rows together. The share keeps a story that one outlet republishes a few times
    (revisions) from being learned as the outlet's furniture; the count keeps two articles from
    being enough.
    """
    earlier = history or BoilerplateHistory.empty()
    distinct, counts, of_line = _texts_per_key(keys, text_of_line)
    if len(earlier.line_keys):
        last = len(earlier.line_keys) - 1
        position = np.clip(np.searchsorted(earlier.line_keys, distinct), 0, last)
        found = earlier.line_keys[position] == distinct
        counts = counts + np.where(found, earlier.line_rows[position], 0)
    articles_of: dict[str, int] = {}
    for source in sources:
        articles_of[source] = articles_of.get(source, 0) + 1
    totals = np.fromiter(
        (articles_of[s] + earlier.source_rows.get(s, 0) for s in sources),
        dtype=np.float64,
        count=len(sources),
    )
    seen = counts[of_line]
    return (
        (keys != 0)
        & (seen >= settings.boilerplate_min_articles)
        & (seen >= settings.boilerplate_min_share * totals[text_of_line])
    )


def recurring_line_keys(
    keys: U64Array, text_of_line: I64Array, texts: int, minimum: int = 2
) -> list[U64Array]:
    """Per text, the keys of its lines that ``minimum`` or more texts hold (of its source).

    This is what the index keeps of each article, so that later days learn boilerplate from
    earlier ones without storing every line.
    """
    distinct, counts, of_line = _texts_per_key(keys, text_of_line)
    frequent = (counts >= minimum) & (distinct != 0)
    lines = np.flatnonzero(frequent[of_line])
    owners, values = text_of_line[lines], keys[lines]
    # Each text's distinct keys, sorted (np.unique per text), as views of one array: a day keeps
    # them all, and one small allocation per text would scatter them over the heap.
    order = np.lexsort((values, owners))
    owners, values = owners[order], values[order]
    first = np.ones(len(values), dtype=bool)
    first[1:] = (owners[1:] != owners[:-1]) | (values[1:] != values[:-1])
    owners, values = owners[first], values[first]
    cuts = np.searchsorted(owners, np.arange(texts + 1)).tolist()
    none = np.zeros(0, dtype=np.uint64)  # shared by the texts without one
    return [values[a:b] if b > a else none for a, b in itertools.pairwise(cuts)]


#: Tokens of one source held between the two passes of :func:`fingerprint_source` (about 17 bytes
#: each): a source with more is tokenized again in the second pass instead of being held whole.
TOKEN_BUDGET = 6_000_000

TextBatches = Callable[[], Iterable[Sequence[str]]]


@dataclass(frozen=True)
class SourceFingerprints:
    """One source's texts fingerprinted with its learned boilerplate dropped, row-aligned.

    No shingle set is kept: only their sizes. :func:`shingle_sets_of` makes a text's set again,
    the same, from the text and ``boilerplate``.
    """

    content_hashes: list[str]
    shingle_counts: I64Array
    signatures: U32Array
    band_keys: U64Array
    facts: list[U64Array]
    line_keys: list[U64Array]  # recurring line keys of each text (what the index keeps)
    boilerplate: U64Array  # sorted line keys learned as the source's boilerplate today


def fingerprint_source(
    batches: TextBatches,
    source: str,
    settings: DedupSettings,
    history: BoilerplateHistory | None = None,
    *,
    token_budget: int | None = None,
) -> SourceFingerprints:
    """Fingerprints of one source's texts, read as batches from ``batches()`` (called twice at
    most, giving the same batches each time).

    Boilerplate is learned per source (a line key mixes in its source), so one source's texts are
    all it needs, and a text's values do not depend on the batches. Pass 1 keeps each batch's
    line keys and, up to ``token_budget`` tokens, its tokens; pass 2 fingerprints each batch,
    tokenizing again the batches whose tokens were not kept.
    """
    budget = TOKEN_BUDGET if token_budget is None else token_budget
    held: list[Tokens | None] = []
    key_parts: list[U64Array] = []
    text_parts: list[I64Array] = []
    sizes: list[int] = []
    lines_per_batch: list[int] = []
    texts = tokens_held = 0
    for batch in batches():
        tokens = tokenize(batch)
        key_parts.append(source_line_keys(tokens, [source] * tokens.texts))
        text_parts.append(tokens.text_of_line + texts)
        sizes.append(tokens.texts)
        lines_per_batch.append(len(key_parts[-1]))
        texts += tokens.texts
        tokens_held += len(tokens.hashes)
        held.append(tokens if tokens_held <= budget else None)
    keys = np.concatenate(key_parts) if key_parts else np.zeros(0, np.uint64)
    text_of_line = np.concatenate(text_parts) if text_parts else np.zeros(0, np.int64)
    del key_parts, text_parts
    removed = learn_boilerplate(keys, text_of_line, [source] * texts, settings, history)
    cuts = np.cumsum([0, *lines_per_batch]).tolist()
    again = iter(batches()) if any(tokens is None for tokens in held) else None
    content_hashes: list[str] = []
    counts: list[I64Array] = []
    signatures: list[U32Array] = []
    keys_of_bands: list[U64Array] = []
    facts: list[U64Array] = []
    for number in range(len(held)):
        kept, held[number] = held[number], None  # each batch's tokens freed once used
        reread = next(again, None) if again is not None else None
        if kept is None:
            if reread is None or len(reread) != sizes[number]:
                raise RuntimeError(f"the texts of source {source!r} changed while being read")
            kept = tokenize(reread)
        tokens = kept
        part = _fingerprint_tokens(tokens, settings, removed[cuts[number] : cuts[number + 1]])
        content_hashes += part.content_hashes
        counts.append(np.fromiter(map(len, part.shingle_sets), np.int64, tokens.texts))
        signatures.append(part.signatures)
        keys_of_bands.append(part.band_keys)
        facts += part.facts
    width = settings.lsh_bands + settings.lsh_brief_bands
    return SourceFingerprints(
        content_hashes=content_hashes,
        shingle_counts=np.concatenate(counts) if counts else np.zeros(0, np.int64),
        signatures=np.vstack(signatures)
        if signatures
        else np.zeros((0, settings.num_perm), np.uint32),
        band_keys=np.vstack(keys_of_bands) if keys_of_bands else np.zeros((0, width), np.uint64),
        facts=facts,
        line_keys=recurring_line_keys(keys, text_of_line, texts),
        boilerplate=np.unique(keys[removed]),
    )


def shingle_sets_of(
    texts: Sequence[str],
    sources: Sequence[str],
    boilerplate: Mapping[str, U64Array],
    settings: DedupSettings,
) -> list[U64Array]:
    """The shingle sets :func:`fingerprint_source` hashed for these texts, made again.

    ``boilerplate`` is each source's learned line keys (``SourceFingerprints.boilerplate``): a
    line is dropped when its key is among them, exactly the lines dropped the first time, since
    whether a line is boilerplate depends on its key alone.
    """
    tokens = tokenize(texts)
    keys = source_line_keys(tokens, sources)
    removed = np.zeros(len(keys), dtype=bool)
    line_source = np.asarray(sources, dtype=object)[tokens.text_of_line] if len(keys) else None
    for source in set(sources):
        learned = boilerplate.get(source)
        if learned is not None and len(learned) and line_source is not None:
            mine = np.flatnonzero(line_source == source)
            removed[mine] = np.isin(keys[mine], learned)
    kept = _kept_tokens(tokens, removed)
    return _shingle_sets(kept.hashes, kept.lengths, settings.shingle_size)


# ---------------------------------------------------------------------------------------------
# Fingerprints


# Texts fingerprinted per batch: big enough for numpy to pay off, small enough that the batch's
# scratch arrays stay in cache-friendly sizes. Results do not depend on it.
FINGERPRINT_BATCH = 2_000


def fingerprint(
    texts: Sequence[str],
    settings: DedupSettings,
    *,
    tokens: Tokens | None = None,
    removed_lines: BoolArray | None = None,
) -> Fingerprints:
    """Content hashes, shingle sets, MinHash signatures, band keys and facts, row-aligned.

    ``removed_lines`` (over the lines of ``tokens``, e.g. from :func:`learn_boilerplate`) drops
    those lines before anything is hashed; without it only the fixed patterns apply.
    """
    if tokens is not None:
        return _fingerprint_tokens(tokens, settings, removed_lines)
    if len(texts) <= FINGERPRINT_BATCH:
        return _fingerprint_tokens(tokenize(texts), settings, None)
    parts = [
        _fingerprint_tokens(tokenize(texts[start : start + FINGERPRINT_BATCH]), settings, None)
        for start in range(0, len(texts), FINGERPRINT_BATCH)
    ]
    return _concatenate(parts, settings)


def _concatenate(parts: list[Fingerprints], settings: DedupSettings) -> Fingerprints:
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return _fingerprint_tokens(tokenize([]), settings, None)
    return Fingerprints(
        content_hashes=[h for part in parts for h in part.content_hashes],
        shingle_sets=[s for part in parts for s in part.shingle_sets],
        signatures=np.vstack([part.signatures for part in parts]),
        band_keys=np.vstack([part.band_keys for part in parts]),
        facts=[f for part in parts for f in part.facts],
    )


def content_hash(text: str) -> str:
    return fingerprint([text], DedupSettings()).content_hashes[0]


def _fingerprint_tokens(
    tokens: Tokens, settings: DedupSettings, removed_lines: BoolArray | None
) -> Fingerprints:
    kept = _kept_tokens(tokens, removed_lines)
    # A text that is all boilerplate keeps no shingles; its hash is then that of all its tokens,
    # so that only its exact repeats share it.
    content_hashes = [
        _digest(kept.hashes[start:end])
        if end > start
        else _digest(tokens.hashes[kept.all_bounds[index] : kept.all_bounds[index + 1]])
        for index, (start, end) in enumerate(itertools.pairwise(kept.bounds))
    ]
    shingle_sets = _shingle_sets(kept.hashes, kept.lengths, settings.shingle_size)
    signatures = minhash_signatures(shingle_sets, settings.num_perm)
    return Fingerprints(
        content_hashes=content_hashes,
        shingle_sets=shingle_sets,
        signatures=signatures,
        band_keys=band_keys(signatures, settings.lsh_bands, settings.lsh_brief_bands),
        facts=_facts(kept.hashes, kept.kinds, kept.text_of_token, kept.bounds),
    )


@dataclass(frozen=True)
class _KeptTokens:
    """The tokens left once the removed lines are dropped, with each text's bounds."""

    hashes: U64Array
    kinds: npt.NDArray[np.uint8]
    text_of_token: I64Array
    bounds: list[int]  # text i's kept tokens are [bounds[i], bounds[i + 1])
    all_bounds: list[int]  # the same over all tokens, removed ones included

    @property
    def lengths(self) -> I64Array:
        return np.diff(np.asarray(self.bounds, dtype=np.int64)).astype(np.int64)


def _kept_tokens(tokens: Tokens, removed_lines: BoolArray | None) -> _KeptTokens:
    all_texts = tokens.text_of_line[tokens.line_of_token]
    all_bounds = np.searchsorted(all_texts, np.arange(tokens.texts + 1)).tolist()
    if removed_lines is None or not removed_lines.any():
        return _KeptTokens(tokens.hashes, tokens.kinds, all_texts, all_bounds, all_bounds)
    keep = ~removed_lines[tokens.line_of_token]
    text_of_token = all_texts[keep]
    bounds = np.searchsorted(text_of_token, np.arange(tokens.texts + 1)).tolist()
    return _KeptTokens(tokens.hashes[keep], tokens.kinds[keep], text_of_token, bounds, all_bounds)


def _digest(hashes: U64Array) -> str:
    return hashlib.sha256(hashes.astype("<u8").tobytes()).hexdigest()[:32]


def _facts(
    hashes: U64Array, kinds: npt.NDArray[np.uint8], text_of_token: I64Array, bounds: list[int]
) -> list[U64Array]:
    """Each text's facts: every number or capitalised word, keyed by the word before it.

    The slot of a fact is the nearest earlier token of the same text that is not a fact ("near"
    in "near Almora", "magnitude" in "magnitude 5.4"); numbers also get a slot from the next
    non-fact word (their unit: "12 kilometres"). A fact is (slot, value): the slot hash's low
    21 bits above the value hash's low 32 bits (53 bits; the 11 above them sort by text).
    """
    texts = len(bounds) - 1
    facts_at = np.flatnonzero(kinds)
    plain = np.flatnonzero(kinds == 0)
    if not len(facts_at):
        return [np.zeros(0, dtype=np.uint64) for _ in range(texts)]
    owner = text_of_token[facts_at]
    values = hashes[facts_at] & _LOW_32
    before = np.searchsorted(plain, facts_at) - 1
    after = before + 1
    previous_slot = np.full(len(facts_at), _START_SLOT, dtype=np.uint64)
    known = before >= 0
    known[known] = text_of_token[plain[before[known]]] == owner[known]
    previous_slot[known] = hashes[plain[before[known]]]
    numbers = np.flatnonzero(kinds[facts_at] & FACT_NUMBER)
    following = after[numbers]
    next_slot = np.full(len(numbers), _START_SLOT ^ _NEXT_SALT, dtype=np.uint64)
    known = following < len(plain)
    known[known] = text_of_token[plain[following[known]]] == owner[numbers][known]
    next_slot[known] = hashes[plain[following[known]]] ^ _NEXT_SALT
    slots = np.concatenate([previous_slot, next_slot]) & _SLOT_MASK
    packed = (slots << np.uint64(32)) | np.concatenate([values, values[numbers]])
    owners = np.concatenate([owner, owner[numbers]])
    result: list[U64Array] = []
    # Texts in groups of 2048, so that a text number fits the 11 bits above a fact.
    for first in range(0, texts, 2048):
        mine = (owners >= first) & (owners < first + 2048)
        keyed = np.sort(((owners[mine] - first).astype(np.uint64) << np.uint64(53)) | packed[mine])
        if len(keyed):
            keyed = keyed[np.concatenate([[True], keyed[1:] != keyed[:-1]])]
        cuts = np.searchsorted(keyed >> np.uint64(53), np.arange(min(2049, texts - first + 1)))
        # Views of one array per group: a day keeps every text's facts, and one allocation per
        # text would scatter them over the heap between the batches' scratch arrays.
        masked = keyed & _FACT_MASK
        result += [masked[a:b] for a, b in itertools.pairwise(cuts.tolist())]
    return result


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


def band_keys(signatures: U32Array, bands: int, brief_bands: int = 0) -> U64Array:
    """``bands`` keys over all permutations, then ``brief_bands`` keys of 2 permutations each.

    The 2-row bands propose pairs of lower Jaccard (a brief of a long story, J ~ 0.3-0.5) that
    the wide bands miss; the candidates are verified either way.
    """
    rows, num_perm = signatures.shape
    wide = _keys_of(signatures.reshape(rows, bands, num_perm // bands), first_band=0)
    if not brief_bands:
        return wide
    narrow = signatures[:, : 2 * brief_bands].reshape(rows, brief_bands, 2)
    return np.hstack([wide, _keys_of(narrow, first_band=bands)])


def _keys_of(per_band: U32Array, first_band: int) -> U64Array:
    rows, bands, width = per_band.shape
    numbers = np.arange(first_band, first_band + bands, dtype=np.uint64) + np.uint64(1)
    keys = np.broadcast_to(numbers, (rows, bands)).copy()
    values = per_band.astype(np.uint64)
    with np.errstate(over="ignore"):
        for column in range(width):
            keys = _mix(keys * _SHINGLE_MULTIPLIER + values[:, :, column])
    return keys


# ---------------------------------------------------------------------------------------------
# Verification


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


@dataclass(frozen=True)
class FactAgreement:
    conflicts: int  # slots where each text asserts a value the other text never mentions
    shared_slots: int  # slots both texts fill
    support: float  # share of the smaller text's fact values that the larger text also has
    smaller_values: int  # distinct fact values of the smaller text


def fact_agreement(smaller: U64Array, larger: U64Array) -> FactAgreement:
    """How two texts' facts relate; ``smaller`` is the text with fewer shingles.

    A copy may drop facts (a truncated copy, a brief), so a value missing on one side is no
    conflict. A slot is a conflict only when *both* texts fill it with a value the other text has
    nowhere: "magnitude 5.4 ... near Almora" against "magnitude 6.1 ... near Brenvik".
    """
    slots_a, values_a = smaller >> np.uint64(32), smaller & _LOW_32
    slots_b, values_b = larger >> np.uint64(32), larger & _LOW_32
    distinct_a, distinct_b = np.unique(values_a), np.unique(values_b)
    a_in_b = _members(values_a, distinct_b)
    only_a = np.unique(slots_a[~a_in_b])
    only_b = np.unique(slots_b[~_members(values_b, distinct_a)])
    conflicts = int(np.count_nonzero(_members(only_a, only_b)))
    shared = int(np.count_nonzero(_members(np.unique(slots_a), np.unique(slots_b))))
    supported = int(np.count_nonzero(_members(distinct_a, distinct_b)))
    support = supported / len(distinct_a) if len(distinct_a) else 1.0
    return FactAgreement(conflicts, shared, support, len(distinct_a))


def _members(values: U64Array, sorted_set: U64Array) -> BoolArray:
    """Which of ``values`` are in ``sorted_set`` (sorted, unique); np.isin without its set-up."""
    if not len(sorted_set) or not len(values):
        return np.zeros(len(values), dtype=bool)
    position = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[position] == values


def is_contradicted(agreement: FactAgreement, settings: DedupSettings) -> bool:
    """Two texts that disagree on their facts are different stories, whatever their overlap."""
    return (
        agreement.conflicts >= settings.fact_min_conflicts
        and agreement.conflicts >= settings.fact_max_conflict_share * agreement.shared_slots
    )


def is_near_copy(
    jaccard: float,
    containment: float,
    smaller: int,
    settings: DedupSettings,
    agreement: FactAgreement | None = None,
) -> bool:
    """The verification of a candidate pair: overlap evidence, and facts that do not disagree.

    ``agreement`` is None only where facts are unknown (index rows of an older scheme).
    """
    if agreement is not None and is_contradicted(agreement, settings):
        return False
    if jaccard >= settings.min_jaccard:
        return True
    # A short text is "contained" in many unrelated ones by chance; only trust containment when
    # the smaller text has enough shingles to be a real excerpt.
    if smaller < settings.min_containment_shingles:
        return False
    if containment >= settings.min_containment:
        return True
    # A brief rewords part of what it keeps, so its containment is lower; it must then also
    # carry the facts of the story (and enough of them to say so).
    return (
        agreement is not None
        and containment >= settings.brief_min_containment
        and agreement.smaller_values >= settings.brief_min_facts
        and agreement.support >= settings.brief_min_fact_support
    )


def band_candidates(
    keys: U64Array, rows: list[int], shingle_counts: Sequence[int]
) -> list[tuple[int, int]]:
    """Pairs of rows sharing at least one band key, each pair once, in a deterministic order.

    Rows without shingles (``shingle_counts`` 0) are never candidates.
    """
    usable = [row for row in rows if shingle_counts[row]]
    if len(usable) < 2:
        return []
    selected = np.asarray(usable, dtype=np.int64)
    chosen = keys[selected]
    width = chosen.shape[1]
    # Keys are bucketed one slice of the key space at a time (by their top bits), so the sort's
    # scratch arrays are an eighth of all keys; a bucket never spans two slices.
    shift = np.uint64(64 - _CANDIDATE_SLICE_BITS)
    slice_of = np.empty(chosen.shape, dtype=np.uint8)
    for start in range(0, len(chosen), 8192):
        slice_of[start : start + 8192] = chosen[start : start + 8192] >> shift
    flat_slices, flat_keys_all = slice_of.ravel(), chosen.ravel()
    pairs: set[tuple[int, int]] = set()
    for number in range(1 << _CANDIDATE_SLICE_BITS):
        at = np.flatnonzero(flat_slices == number)
        # ``at`` ascends, so rows ascend within a key once sorted stably by key.
        order = np.argsort(flat_keys_all[at], kind="stable")
        at = at[order]
        del order
        flat_keys = flat_keys_all[at]
        flat_rows = selected[at // width]
        # Only runs of one key two or more long are buckets worth a look.
        starts = np.flatnonzero(np.concatenate([[True], flat_keys[1:] != flat_keys[:-1]]))
        sizes = np.diff(np.concatenate([starts, [len(flat_keys)]]))
        big = sizes > 1
        for start, size in zip(starts[big].tolist(), sizes[big].tolist(), strict=True):
            members = flat_rows[start : start + size].tolist()
            pairs.update(
                (a, b)
                for position, a in enumerate(members)
                for b in members[position + 1 :]
                if a != b
            )
    return sorted(pairs)


#: Top bits of a band key that choose its slice in :func:`band_candidates`.
_CANDIDATE_SLICE_BITS = 3


def _shingle_sets(
    flat_tokens: U64Array, lengths: npt.NDArray[np.int64], size: int
) -> list[U64Array]:
    ends = np.cumsum(lengths)
    starts = ends - lengths
    combined = flat_tokens.copy()
    padded = np.concatenate([flat_tokens, np.zeros(size, dtype=np.uint64)])
    scratch = np.empty_like(combined)
    with np.errstate(over="ignore"):
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
            with np.errstate(over="ignore"):
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
    with np.errstate(over="ignore"):
        values = values ^ (values >> np.uint64(30))
        values = values * _MIX_1
        values = values ^ (values >> np.uint64(27))
        values = values * _MIX_2
        return values ^ (values >> np.uint64(31))


def _stable_hash(word: str) -> int:
    # Not hash(): it is salted per process, and keys are stored across runs.
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")

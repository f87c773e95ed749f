"""One day's articles as dedup holds them: keys and fingerprints in memory, texts read on demand.

Dedup of a day needs each article's text three times: to fingerprint it, to verify a candidate
pair by the exact overlap of the two shingle sets, and to report a duplicate's similarity to its
canonical row. It keeps none of them: a :class:`DayTexts` (the publish stage's staged Parquet
files, or a list of articles in memory) gives texts back in batches, by position, whenever they
are needed, and everything else dedup knows of an article is an :class:`ArticleKey` and its row
of :class:`DayFingerprints`. Memory is then a few KB per article (signature, band keys, facts),
not its text, tokens and shingles.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from pipeline.dedup.fingerprint import (
    BoilerplateHistory,
    Fingerprints,
    I64Array,
    U32Array,
    U64Array,
    exact_similarity,
    fingerprint_source,
    shingle_sets_of,
)
from pipeline.models import Article
from pipeline.settings import DedupSettings

#: The article columns dedup reads for every row; the text is read back only when needed.
KEY_COLUMNS = (
    "article_id",
    "url",
    "canonical_url",
    "source",
    "published_at",
    "is_truncated",
    "word_count",
)
#: Texts tokenized at once: the scratch arrays of a batch are ~15x its text (~40 MB for 500
#: texts of 5 KB), and numpy is as fast per text from a few hundred texts on.
TEXT_BATCH = 500
#: Shingle values (8 bytes each) that verification holds at once; pairs beyond it are verified in
#: further rounds, each reading its texts back.
SHINGLE_BUDGET = 8_000_000


@dataclass(frozen=True, slots=True)
class ArticleKey:
    """What dedup needs of an article besides its text; ``position`` finds the text again."""

    article_id: str
    url: str
    canonical_url: str
    source: str
    published_at: datetime | None
    is_truncated: bool
    word_count: int
    position: int  # the article's place in the day's input (its DayTexts position)


class DayTexts(Protocol):
    """Where the day's texts are read back from, by input position."""

    def texts(self, positions: Sequence[int]) -> Iterator[tuple[list[int], list[str]]]:
        """The texts at ``positions`` (ascending, distinct), as (positions, texts) batches."""
        ...


class ArticleList:
    """A day given as Article objects in memory (the CLI, tests, benchmarks)."""

    def __init__(self, articles: Sequence[Article]) -> None:
        self.articles = articles

    def article_keys(self) -> list[ArticleKey]:
        return [
            ArticleKey(
                a.article_id,
                a.url,
                a.canonical_url,
                a.source,
                a.published_at,
                a.is_truncated,
                a.word_count,
                position,
            )
            for position, a in enumerate(self.articles)
        ]

    def texts(self, positions: Sequence[int]) -> Iterator[tuple[list[int], list[str]]]:
        for start in range(0, len(positions), TEXT_BATCH):
            chunk = list(positions[start : start + TEXT_BATCH])
            yield chunk, [self.articles[p].text for p in chunk]


@dataclass(frozen=True)
class DayFingerprints:
    """Fingerprints of the day's unique articles, row-aligned with them; no shingle sets."""

    content_hashes: list[str]
    shingle_counts: I64Array
    signatures: U32Array
    band_keys: U64Array
    facts: list[U64Array]
    line_keys: list[U64Array]
    boilerplate: dict[str, U64Array]  # each source's learned boilerplate line keys

    @classmethod
    def of(cls, fp: Fingerprints, line_keys: list[U64Array] | None = None) -> DayFingerprints:
        """From in-memory fingerprints (their shingle sets are then dropped)."""
        return cls(
            content_hashes=fp.content_hashes,
            shingle_counts=np.asarray(fp.shingle_counts, dtype=np.int64),
            signatures=fp.signatures,
            band_keys=fp.band_keys,
            facts=fp.facts,
            line_keys=line_keys or [np.zeros(0, np.uint64) for _ in fp.content_hashes],
            boilerplate={},
        )


def fingerprint_day(
    unique: Sequence[ArticleKey],
    texts: DayTexts,
    settings: DedupSettings,
    history: BoilerplateHistory | None = None,
) -> DayFingerprints:
    """Fingerprints of ``unique``, one source at a time (boilerplate is learned per source)."""
    rows_of: defaultdict[str, list[int]] = defaultdict(list)
    for row, key in enumerate(unique):
        rows_of[key.source].append(row)
    count = len(unique)
    width = settings.lsh_bands + settings.lsh_brief_bands
    hashes: list[str] = [""] * count
    shingle_counts = np.zeros(count, dtype=np.int64)
    signatures = np.zeros((count, settings.num_perm), dtype=np.uint32)
    band_keys = np.zeros((count, width), dtype=np.uint64)
    empty = np.zeros(0, dtype=np.uint64)
    facts: list[U64Array] = [empty] * count
    line_keys: list[U64Array] = [empty] * count
    boilerplate: dict[str, U64Array] = {}
    for source in sorted(rows_of):
        # A text's fingerprint depends on its source's texts only, not on their order: read them
        # in input order, one sequential pass over the source's rows.
        rows = sorted(rows_of[source], key=lambda row: unique[row].position)
        positions = [unique[row].position for row in rows]

        def batches(positions: list[int] = positions) -> Iterator[list[str]]:
            for _, batch in texts.texts(positions):
                yield batch

        part = fingerprint_source(batches, source, settings, history)
        for at, row in enumerate(rows):
            hashes[row] = part.content_hashes[at]
            facts[row] = part.facts[at]
            line_keys[row] = part.line_keys[at]
        chosen = np.asarray(rows, dtype=np.int64)
        shingle_counts[chosen] = part.shingle_counts
        signatures[chosen] = part.signatures
        band_keys[chosen] = part.band_keys
        boilerplate[source] = part.boilerplate
    return DayFingerprints(
        hashes, shingle_counts, signatures, band_keys, facts, line_keys, boilerplate
    )


class ShingleSets:
    """Exact similarities of pairs of the day's unique articles, from texts read back.

    Sets are made again from the texts (:func:`~pipeline.dedup.fingerprint.shingle_sets_of`) and
    kept while they fit ``budget`` shingle values, so a text needed by several pairs is usually
    read once; pairs whose sets do not fit together are done in further rounds.
    """

    def __init__(
        self,
        unique: Sequence[ArticleKey],
        fp: DayFingerprints,
        texts: DayTexts,
        settings: DedupSettings,
        budget: int | None = None,
    ) -> None:
        self.unique, self.fp, self.source, self.settings = unique, fp, texts, settings
        self.budget = SHINGLE_BUDGET if budget is None else budget
        self._held: OrderedDict[int, U64Array] = OrderedDict()
        self._held_values = 0
        self.rows_read = 0  # texts read back, for the log and the benchmark

    def similarity(self, pairs: Sequence[tuple[int, int]]) -> list[tuple[float, float]]:
        """(Jaccard, containment) of each pair, as ``exact_similarity`` of the two sets."""
        results: list[tuple[float, float]] = []
        for chunk in self.rounds(pairs):
            results += self._round(chunk)
        return results

    def rounds(self, pairs: Iterable[tuple[int, int]]) -> Iterator[list[tuple[int, int]]]:
        """Consecutive runs of ``pairs`` whose sets fit the budget together."""
        counts = self.fp.shingle_counts
        chunk: list[tuple[int, int]] = []
        rows: set[int] = set()
        values = 0
        for pair in pairs:
            new = {row for row in pair if row not in rows}
            extra = int(sum(counts[row] for row in new))
            if chunk and values + extra > self.budget:
                yield chunk
                chunk, rows, values = [], set(), 0
                new, extra = set(pair), int(sum(counts[row] for row in set(pair)))
            chunk.append(pair)
            rows |= new
            values += extra
        if chunk:
            yield chunk

    def _round(self, pairs: list[tuple[int, int]]) -> list[tuple[float, float]]:
        needed = {row for pair in pairs for row in pair if self._needs_set(pair)}
        self._load(needed)
        hashes, counts = self.fp.content_hashes, self.fp.shingle_counts
        results = []
        for a, b in pairs:
            if not counts[a] or not counts[b]:
                results.append((0.0, 0.0))
            elif hashes[a] == hashes[b]:
                # The same hash of the kept tokens: the same tokens, so the same shingle set.
                results.append((1.0, 1.0))
            else:
                results.append(exact_similarity(self._held[a], self._held[b]))
        return results

    def _needs_set(self, pair: tuple[int, int]) -> bool:
        a, b = pair
        counts = self.fp.shingle_counts
        return (
            bool(counts[a] and counts[b])
            and self.fp.content_hashes[a] != (self.fp.content_hashes[b])
        )

    def _load(self, rows: Iterable[int]) -> None:
        wanted = set(rows)
        missing = sorted(wanted - set(self._held), key=lambda row: self.unique[row].position)
        counts = self.fp.shingle_counts
        incoming = int(sum(counts[row] for row in missing))
        # Make room: drop the oldest sets that this round does not need.
        for row in list(self._held):
            if self._held_values + incoming <= self.budget:
                break
            if row not in wanted:
                self._held_values -= len(self._held.pop(row))
        if not missing:
            return
        row_at = {self.unique[row].position: row for row in missing}
        for positions, batch in self.source.texts(sorted(row_at)):
            rows_read = [row_at[p] for p in positions]
            sets = shingle_sets_of(
                batch,
                [self.unique[row].source for row in rows_read],
                self.fp.boilerplate,
                self.settings,
            )
            for row, shingles in zip(rows_read, sets, strict=True):
                if len(shingles) != counts[row]:
                    raise RuntimeError(
                        f"the text of article {self.unique[row].article_id} changed while "
                        "dedup read it back"
                    )
                self._held[row] = shingles
                self._held_values += len(shingles)
            self.rows_read += len(rows_read)


class HeldShingleSets(ShingleSets):
    """Exact similarities from shingle sets already in memory (the in-memory API)."""

    def __init__(self, shingle_sets: list[U64Array]) -> None:
        self.shingle_sets = shingle_sets
        self.rows_read = 0

    def similarity(self, pairs: Sequence[tuple[int, int]]) -> list[tuple[float, float]]:
        sets = self.shingle_sets
        return [exact_similarity(sets[a], sets[b]) for a, b in pairs]

    def rounds(self, pairs: Iterable[tuple[int, int]]) -> Iterator[list[tuple[int, int]]]:
        if pairs:
            yield list(pairs)

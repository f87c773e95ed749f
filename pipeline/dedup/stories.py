"""Story dedup: exact repeats and near-copies grouped into stories, one canonical row each.

Layers, cheapest first:
1. canonical URL: two fetched pages that declare the same canonical URL are one article; the extra
   page becomes a recorded reject (``duplicate_canonical_url``), since ``article_id`` is its hash.
   Rows whose URLs canonicalize alike (utm/AMP spellings, e.g. in a standalone file) are one story.
2. content hash of the normalized body (see :mod:`pipeline.dedup.fingerprint`).
3. MinHash over word shingles, LSH banding for candidates, each candidate verified by exact
   Jaccard or containment (containment catches truncated copies), then union-find into stories.

The result is a list of :class:`~pipeline.models.StoryAssignment`, one per kept article; the
articles themselves are never changed. Cross-day matching against earlier runs lives in
:mod:`pipeline.dedup.history`; this module takes the earlier rows it found as :class:`PriorRow`
objects and never reads files itself. See ``docs/dedup.md`` for thresholds and measurements.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol, TypeVar

import numpy as np

from pipeline.dedup.day import (
    ArticleList,
    DayFingerprints,
    HeldShingleSets,
    ShingleSets,
    fingerprint_day,
)
from pipeline.dedup.fingerprint import (
    FactAgreement,
    Fingerprints,
    U32Array,
    U64Array,
    band_candidates,
    estimated_similarity,
    fact_agreement,
    is_contradicted,
    is_near_copy,
)
from pipeline.fetch.urls import canonicalize as _canonicalize_url
from pipeline.models import Article, Reject, StoryAssignment
from pipeline.settings import DedupSettings

_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)
# Each URL is canonicalized several times per run (collapse, grouping, ranking); it is pure.
canonicalize = lru_cache(maxsize=1 << 16)(_canonicalize_url)


class ArticleFields(Protocol):
    """What story assignment reads of an article: an Article or a dedup ArticleKey."""

    @property
    def article_id(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def canonical_url(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def published_at(self) -> datetime | None: ...
    @property
    def is_truncated(self) -> bool: ...
    @property
    def word_count(self) -> int: ...


Row = TypeVar("Row", bound=ArticleFields)


@dataclass(frozen=True)
class DedupResult:
    """The kept articles, row-aligned with their story assignments, and the dropped pages."""

    articles: list[Article]
    assignments: list[StoryAssignment]
    rejects: list[Reject]

    @property
    def stories(self) -> int:
        return len({assignment.story_id for assignment in self.assignments})

    @property
    def duplicates(self) -> int:
        return sum(1 for assignment in self.assignments if assignment.is_duplicate)


@dataclass(frozen=True)
class PriorRow:
    """An article of an earlier day, as the cross-run index remembers it."""

    article_id: str
    story_id: str
    canonical_id: str
    published_at: datetime | None
    shingle_count: int
    signature: U32Array | None  # None when written under another signature scheme
    facts: U64Array | None = None  # None when written under another signature scheme


@dataclass(frozen=True)
class PriorMatches:
    """Earlier rows that today's articles may join, and the candidate edges to them."""

    rows: dict[str, PriorRow] = field(default_factory=dict)
    # (index into today's articles, prior article_id, exact): exact edges (same content hash or
    # same article_id) need no verification.
    edges: list[tuple[int, str, bool]] = field(default_factory=list)


def deduplicate(articles: list[Article], settings: DedupSettings) -> DedupResult:
    """Deduplicate one batch on its own, with no memory of earlier runs."""
    unique, rejects = _collapse_canonical_urls(articles)
    day = ArticleList(unique)
    keys = day.article_keys()
    fingerprints = fingerprint_day(keys, day, settings)
    shingles = ShingleSets(keys, fingerprints, day, settings)
    assignments = assign_day_stories(keys, fingerprints, settings, PriorMatches(), shingles)
    return DedupResult(articles=unique, assignments=assignments, rejects=rejects)


def collapse_canonical_urls(articles: Sequence[Row]) -> tuple[list[Row], list[Reject]]:
    return _collapse_canonical_urls(articles)


def assign_stories(
    unique: list[Article], fp: Fingerprints, settings: DedupSettings, prior: PriorMatches
) -> list[StoryAssignment]:
    """:func:`assign_day_stories` for articles and fingerprints held in memory."""
    return assign_day_stories(
        unique, DayFingerprints.of(fp), settings, prior, HeldShingleSets(fp.shingle_sets)
    )


def assign_day_stories(
    unique: Sequence[ArticleFields],
    fp: DayFingerprints,
    settings: DedupSettings,
    prior: PriorMatches,
    shingles: ShingleSets,
) -> list[StoryAssignment]:
    """The story of each of ``unique`` (row-aligned), from its fingerprints and earlier rows.

    Articles joined to an earlier day's story take that story's id and are all duplicates of its
    canonical row, which was published already and cannot change. Exact overlaps come from
    ``shingles``, which reads the texts back in batches: a round of candidate pairs not yet joined
    is verified at a time, then the loop goes on in the same order as one pair at a time would.
    """
    count = len(unique)
    prior_ids = sorted(prior.rows)
    node_of_prior = {article_id: count + i for i, article_id in enumerate(prior_ids)}
    forest = _UnionFind(count + len(prior_ids))
    counts: list[int] = fp.shingle_counts.tolist()

    representative: dict[str, int] = {}
    by_url: dict[str, int] = {}
    for index, article in enumerate(unique):
        # A text with no words hashes like every other wordless text: that is no evidence of a
        # copy, so only the URL layer may group it.
        if counts[index]:
            first = representative.setdefault(fp.content_hashes[index], index)
            forest.union(index, first)
        url = article.canonical_url or article.url
        if url:
            forest.union(index, by_url.setdefault(canonicalize(url), index))

    def facts_of(node: int) -> tuple[U64Array | None, int]:
        if node < count:
            return fp.facts[node], counts[node]
        row = prior.rows[prior_ids[node - count]]
        return row.facts, row.shingle_count

    chain_settings = settings.model_copy(
        update={"fact_max_conflict_share": settings.fact_chain_conflict_share}
    )

    def bridges_a_contradiction(a: int, b: int) -> bool:
        """Whether joining a's story and b's would put two disagreeing texts in one story.

        Each edge was checked on its own; a chain (a report, a truncated copy that dropped the
        facts, another report of the same template) is checked here: each side against the
        fullest text of the other side, the one that states the most.
        """
        for one, other in ((a, b), (b, a)):
            facts_one, size_one = facts_of(one)
            fullest = max(forest.members(other), key=lambda node: (facts_of(node)[1], -node))
            facts_full, size_full = facts_of(fullest)
            if facts_one is None or facts_full is None or fullest == other:
                continue
            pair = (facts_one, facts_full) if size_one <= size_full else (facts_full, facts_one)
            # Two texts never compared as a pair: edits on both sides add noise, hence a share
            # of its own (fact_chain_conflict_share).
            if is_contradicted(fact_agreement(*pair), chain_settings):
                return True
        return False

    representatives = sorted(set(representative.values()))
    candidates = band_candidates(fp.band_keys, representatives, counts)
    verified: dict[tuple[int, int], tuple[float, float]] = {}
    for number, (i, j) in enumerate(candidates):
        if forest.find(i) == forest.find(j):
            continue
        if (i, j) not in verified:
            # The next pairs not joined yet, as many as fit in memory: the ones this loop may
            # still verify (joins only ever remove pairs from that list).
            ahead = (p for p in candidates[number:] if forest.find(p[0]) != forest.find(p[1]))
            batch = next(shingles.rounds(ahead))
            verified.update(zip(batch, shingles.similarity(batch), strict=True))
        jaccard, containment = verified.pop((i, j))
        small, large = sorted((i, j), key=lambda row: (counts[row], row))
        agreement = fact_agreement(fp.facts[small], fp.facts[large])
        if is_near_copy(
            jaccard, containment, counts[small], settings, agreement
        ) and not bridges_a_contradiction(i, j):
            forest.union(i, j)
    del verified

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
            prior_agreement: FactAgreement | None = None
            if row.facts is not None:
                today_smaller = counts[index] <= row.shingle_count
                prior_agreement = fact_agreement(
                    *(
                        (fp.facts[index], row.facts)
                        if today_smaller
                        else (row.facts, fp.facts[index])
                    )
                )
            if not is_near_copy(jaccard, containment, smaller, settings, prior_agreement):
                continue
            if bridges_a_contradiction(index, node):
                continue
        forest.union(index, node)

    components: dict[int, list[int]] = defaultdict(list)
    for node in range(count + len(prior_ids)):
        components[forest.find(node)].append(node)
    assigned: dict[int, StoryAssignment] = {}
    new_stories: list[tuple[int, list[int]]] = []
    for members in components.values():
        today = [m for m in members if m < count]
        if not today:
            continue
        earlier = [prior.rows[prior_ids[m - count]] for m in members if m >= count]
        if earlier:
            assigned.update(_join_earlier_story(unique, fp, today, earlier, prior.rows))
        else:
            canonical = min(today, key=lambda i: _canonical_rank(unique[i]))
            new_stories.append((canonical, today))
    # A duplicate's similarity to its canonical row: all such pairs of the day in one pass.
    pairs = [(index, canonical) for canonical, today in new_stories for index in today]
    pairs = [(index, canonical) for index, canonical in pairs if index != canonical]
    similarity = dict(zip(pairs, (j for j, _ in shingles.similarity(pairs)), strict=True))
    for canonical, today in new_stories:
        assigned.update(_new_story(unique, fp, canonical, today, similarity))
    return [assigned[index] for index in range(count)]


def _new_story(
    unique: Sequence[ArticleFields],
    fp: DayFingerprints,
    canonical: int,
    members: list[int],
    similarity: dict[tuple[int, int], float],
) -> dict[int, StoryAssignment]:
    canonical_id = unique[canonical].article_id
    story_id = story_id_for(canonical_id)
    assigned = {}
    for index in members:
        duplicate = index != canonical
        assigned[index] = StoryAssignment(
            article_id=unique[index].article_id,
            content_hash=fp.content_hashes[index],
            story_id=story_id,
            is_duplicate=duplicate,
            duplicate_of=canonical_id if duplicate else None,
            similarity=round(similarity[(index, canonical)], 4) if duplicate else None,
        )
    return assigned


def _join_earlier_story(
    unique: Sequence[ArticleFields],
    fp: DayFingerprints,
    members: list[int],
    earlier: list[PriorRow],
    rows: dict[str, PriorRow],
) -> dict[int, StoryAssignment]:
    # A new copy may bridge two stories of earlier days; those rows are published and stay as they
    # are, and today's rows join the story whose canonical came first.
    def rank(row: PriorRow) -> tuple[datetime, str]:
        canonical = rows.get(row.canonical_id, row)
        return (canonical.published_at or _FAR_FUTURE, row.canonical_id)

    chosen = min(earlier, key=rank)
    canonical_row = rows.get(chosen.canonical_id)
    assigned = {}
    for index in members:
        similarity = None
        if canonical_row is not None and canonical_row.signature is not None:
            similarity = round(float(np.mean(fp.signatures[index] == canonical_row.signature)), 4)
        assigned[index] = StoryAssignment(
            article_id=unique[index].article_id,
            content_hash=fp.content_hashes[index],
            story_id=chosen.story_id,
            is_duplicate=True,
            duplicate_of=chosen.canonical_id,
            similarity=similarity,
        )
    return assigned


def story_id_for(canonical_article_id: str) -> str:
    return "st_" + hashlib.sha256(canonical_article_id.encode()).hexdigest()[:16]


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))
        self._members: dict[int, list[int]] = {}

    def members(self, node: int) -> list[int]:
        """The nodes of ``node``'s set, in the order they joined it."""
        root = self.find(node)
        return self._members.get(root, [root])

    def find(self, node: int) -> int:
        parent = self.parent
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            kept, joined = min(root_a, root_b), max(root_a, root_b)
            self.parent[joined] = kept
            merged = self._members.pop(kept, [kept])
            merged += self._members.pop(joined, [joined])
            self._members[kept] = merged


def _collapse_canonical_urls(articles: Sequence[Row]) -> tuple[list[Row], list[Reject]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for article in articles:
        groups[article.article_id].append(article)
    unique: list[Row] = []
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


def _page_preference(article: ArticleFields) -> tuple[bool, bool, bool, int, str]:
    """Among pages of one canonical URL, keep the canonical page itself, then the fullest."""
    return (
        article.url != article.canonical_url,
        canonicalize(article.url) != article.canonical_url,
        article.is_truncated,
        -article.word_count,
        article.url,
    )


def _canonical_rank(article: ArticleFields) -> tuple[datetime, bool, bool, int, str]:
    return (
        article.published_at or _FAR_FUTURE,
        canonicalize(article.url) != article.canonical_url,
        article.is_truncated,
        -article.word_count,
        article.article_id,
    )

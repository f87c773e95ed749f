"""Story deduplication: exact repeats and near-copies grouped into stories, one canonical row each.

Layers, cheapest first:
1. canonical URL: two fetched pages that declare the same canonical URL are one article; the extra
   page becomes a recorded reject (``duplicate_canonical_url``), since ``article_id`` is its hash.
2. content hash of the normalized body (case, punctuation and boilerplate lines folded away).
3. MinHash LSH over word shingles for candidates, each verified by exact Jaccard or containment
   (containment catches truncated copies), then union-find into stories.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from datasketch import MinHash, MinHashLSH

from pipeline.models import Article, Reject
from pipeline.settings import DedupSettings
from pipeline.urls import canonicalize

# Lines that outlets wrap around syndicated copy; they must not make copies look different.
BOILERPLATE_LINE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"^(this|the) (story|article|report) (was|is) (supplied|provided|distributed) by\b",
        r"^additional reporting by\b",
        r"^(reporting|writing|editing) by\b",
        r"^(sign up|subscribe)\b",
        r"^(follow us|read more|related:|copyright|©)",
    )
)
_TOKEN = re.compile(r"\w+")
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


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


def normalized_tokens(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines()]
    kept = [
        line
        for line in lines
        if line and not any(pattern.search(line) for pattern in BOILERPLATE_LINE_PATTERNS)
    ]
    return _TOKEN.findall(" ".join(kept).casefold())


def content_hash(text: str) -> str:
    return hashlib.sha256(" ".join(normalized_tokens(text)).encode("utf-8")).hexdigest()[:32]


def shingles(tokens: Sequence[str], size: int) -> set[str]:
    if len(tokens) <= size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def deduplicate(articles: list[Article], settings: DedupSettings) -> DedupResult:
    unique, rejects = _collapse_canonical_urls(articles)
    for article in unique:
        article.content_hash = content_hash(article.text)
    shingle_sets = [shingles(normalized_tokens(a.text), settings.shingle_size) for a in unique]

    parent = list(range(len(unique)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        root_i, root_j = find(i), find(j)
        if root_i != root_j:
            parent[max(root_i, root_j)] = min(root_i, root_j)

    by_hash: dict[str, int] = {}
    for index, article in enumerate(unique):
        if article.content_hash in by_hash:
            union(index, by_hash[article.content_hash])
        else:
            by_hash[article.content_hash] = index

    lsh = MinHashLSH(threshold=settings.lsh_threshold, num_perm=settings.num_perm)
    for index, shingle_set in enumerate(shingle_sets):
        if not shingle_set:
            continue
        signature = MinHash(num_perm=settings.num_perm)
        signature.update_batch([s.encode("utf-8") for s in shingle_set])
        for other in lsh.query(signature):
            other_index = int(other)
            if _verified(shingle_set, shingle_sets[other_index], settings):
                union(index, other_index)
        lsh.insert(str(index), signature)

    clusters: dict[int, list[int]] = defaultdict(list)
    for index in range(len(unique)):
        clusters[find(index)].append(index)
    for members in clusters.values():
        canonical = min(members, key=lambda i: _canonical_rank(unique[i]))
        story_id = "st_" + hashlib.sha256(unique[canonical].article_id.encode()).hexdigest()[:16]
        for index in members:
            article = unique[index]
            article.story_id = story_id
            article.is_duplicate = index != canonical
            article.duplicate_of = unique[canonical].article_id if article.is_duplicate else None
            article.similarity = (
                round(_jaccard(shingle_sets[index], shingle_sets[canonical]), 4)
                if article.is_duplicate
                else None
            )
    return DedupResult(articles=unique, rejects=rejects)


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


def _jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _verified(a: set[str], b: set[str], settings: DedupSettings) -> bool:
    if not a or not b:
        return False
    overlap = len(a & b)
    jaccard = overlap / len(a | b)
    containment = overlap / min(len(a), len(b))
    return jaccard >= settings.min_jaccard or containment >= settings.min_containment

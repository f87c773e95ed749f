"""Dedup holds keys and fingerprints, not texts: it reads texts back in batches, and the stories
do not depend on how much it holds at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from pipeline.dedup.day import ArticleList, ShingleSets, fingerprint_day
from pipeline.dedup.fingerprint import fingerprint_source
from pipeline.dedup.history import dedup_rows
from pipeline.dedup.stories import (
    PriorMatches,
    assign_day_stories,
    collapse_canonical_urls,
    deduplicate,
)
from pipeline.demo.catalog import load_catalog
from pipeline.fetch.urls import url_hash
from pipeline.models import Article, RunWindow
from pipeline.settings import DedupSettings

SETTINGS = DedupSettings()


def day_of_copies() -> list[Article]:
    """Each demo text from two outlets: once whole, once edited and cut short; and alone."""
    start = datetime(2026, 3, 10, tzinfo=UTC)
    articles = []
    for number, demo in enumerate(load_catalog()):
        body = "\n\n".join(demo.paragraphs)
        for source, text in (
            ("one", body),
            ("two", body.replace(" the ", " a ")[: len(body) * 3 // 4] if number % 2 else None),
        ):
            if text is None:
                continue
            url = f"https://{source}.example/{number}"
            articles.append(
                Article(
                    article_id=url_hash(url),
                    url=url,
                    canonical_url=url,
                    source=source,
                    title=demo.title,
                    text=text + "\n\nThe desk line of this outlet is open all night.",
                    fetched_at=start,
                    published_at=start + timedelta(minutes=number),
                    word_count=len(text.split()),
                )
            )
    return articles


class CountingTexts(ArticleList):
    """An in-memory day that counts how often each text is read."""

    def __init__(self, articles: Sequence[Article]) -> None:
        super().__init__(articles)
        self.reads: list[int] = []

    def texts(self, positions: Sequence[int]) -> Iterator[tuple[list[int], list[str]]]:
        self.reads += list(positions)
        yield from super().texts(positions)


def test_stories_do_not_depend_on_what_is_held_at_once() -> None:
    articles = day_of_copies()
    plain = deduplicate(articles, SETTINGS)
    assert plain.duplicates >= 5

    unique, _ = collapse_canonical_urls(articles)
    day = ArticleList(unique)
    keys = day.article_keys()
    fp = fingerprint_day(keys, day, SETTINGS)
    # One shingle value of budget: every pair verified in a round of its own, sets evicted.
    tight = ShingleSets(keys, fp, day, SETTINGS, budget=1)
    assert assign_day_stories(keys, fp, SETTINGS, PriorMatches(), tight) == plain.assignments
    assert tight.rows_read > 0


def test_a_source_over_the_token_budget_is_tokenized_again_to_the_same_fingerprints() -> None:
    texts = [a.text for a in day_of_copies() if a.source == "one"]
    batches = [texts[i : i + 4] for i in range(0, len(texts), 4)]
    calls: list[int] = []

    def read() -> Iterator[list[str]]:
        calls.append(1)
        yield from batches

    held = fingerprint_source(read, "one", SETTINGS)
    assert len(calls) == 1
    again = fingerprint_source(read, "one", SETTINGS, token_budget=0)
    assert len(calls) == 3  # read twice: tokens were not kept
    assert again.content_hashes == held.content_hashes
    assert np.array_equal(again.signatures, held.signatures)
    assert np.array_equal(again.band_keys, held.band_keys)
    assert all(np.array_equal(a, b) for a, b in zip(again.facts, held.facts, strict=True))
    assert np.array_equal(again.boilerplate, held.boilerplate) and len(held.boilerplate)


def test_texts_are_read_once_to_fingerprint_and_back_only_for_candidate_pairs(
    tmp_path: Path,
) -> None:
    articles = day_of_copies()
    day = CountingTexts(articles)
    window = RunWindow.for_day(date(2026, 3, 10))
    done = dedup_rows(day.article_keys(), day, SETTINGS, tmp_path, window)
    fingerprinting = len(articles)
    read_back = day.reads[fingerprinting:]
    assert sorted(day.reads[:fingerprinting]) == list(range(len(articles)))
    # Only copies and what they were compared with are read again, not the day: every story
    # with several rows had a text read back, and no text was read back twice (it fit).
    in_stories: dict[str, list[int]] = {}
    for key, assignment in zip(done.unique, done.assignments, strict=True):
        in_stories.setdefault(assignment.story_id, []).append(key.position)
    shared = [rows for rows in in_stories.values() if len(rows) > 1]
    assert shared and all(set(rows) & set(read_back) for rows in shared)
    assert 0 < len(read_back) == len(set(read_back)) < len(articles)
    assert done.duplicates == deduplicate(articles, SETTINGS).duplicates

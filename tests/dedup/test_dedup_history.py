"""Cross-day dedup through the dedup index, on the demo site's own articles."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, timedelta
from pathlib import Path

from pipeline.dataset import read_day
from pipeline.dedup.history import deduplicate_against_history, history_files
from pipeline.demo.catalog import (
    CROSS_DAY_WIRE_STORY,
    INDEPENDENT_PAIR,
    DemoArticle,
    articles_on,
    load_catalog,
    story_copies,
)
from pipeline.fetch.urls import url_hash
from pipeline.models import Article, RunWindow, StoryAssignment
from pipeline.settings import DedupSettings

DAY_1, DAY_2, DAY_3 = date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12)
SETTINGS = DedupSettings()


def to_article(demo: DemoArticle, *, text: str | None = None, path: str | None = None) -> Article:
    url = "http://demo.test" + (path or demo.path)
    body = text if text is not None else "\n\n".join(demo.paragraphs)
    return Article(
        article_id=url_hash(url),
        url=url,
        canonical_url=url,
        source=demo.outlet,
        title=demo.title,
        text=body,
        fetched_at=demo.published_at.astimezone(UTC),
        published_at=demo.published_at.astimezone(UTC),
        word_count=len(body.split()),
    )


def day_articles(day: date) -> list[Article]:
    return [to_article(a) for a in articles_on(day) if not a.robots_disallowed]


def run(day: date, root: Path, articles: list[Article] | None = None) -> dict[str, StoryAssignment]:
    """The story assignment of each article of the day, by its path on the demo site."""
    rows = articles if articles is not None else day_articles(day)
    result = deduplicate_against_history(rows, SETTINGS, root, RunWindow.for_day(day))
    return {
        a.url.removeprefix("http://demo.test"): assignment
        for a, assignment in zip(result.articles, result.assignments, strict=True)
    }


def wire_paths() -> tuple[str, str]:
    first, second = sorted(story_copies(CROSS_DAY_WIRE_STORY), key=lambda a: a.published_at)
    return first.path, second.path


def test_a_copy_on_day_two_joins_the_day_one_story(tmp_path: Path) -> None:
    first, second = wire_paths()
    day1 = run(DAY_1, tmp_path)
    day2 = run(DAY_2, tmp_path)
    original, copy = day1[first], day2[second]
    assert copy.story_id == original.story_id
    assert not original.is_duplicate
    assert copy.is_duplicate and copy.duplicate_of == original.article_id
    assert copy.similarity is not None and 0.5 <= copy.similarity < 1.0
    # Nothing else on day 2 was mistaken for an earlier story.
    assert [p for p, a in day2.items() if a.is_duplicate] == [second]


def test_exactly_one_canonical_row_per_story_across_days(tmp_path: Path) -> None:
    rows = [*run(DAY_1, tmp_path).values(), *run(DAY_2, tmp_path).values()]
    canonical_per_story: dict[str, int] = {}
    for row in rows:
        canonical_per_story[row.story_id] = canonical_per_story.get(row.story_id, 0) + (
            not row.is_duplicate
        )
    assert set(canonical_per_story.values()) == {1}
    assert len(canonical_per_story) < len(rows)  # some stories do have copies


def test_rerunning_day_two_gives_identical_rows_and_index(tmp_path: Path) -> None:
    run(DAY_1, tmp_path)
    index_dir = tmp_path / "dedup_index" / "dt=2026-03-11"

    def snapshot() -> list[tuple[object, ...]]:
        rows = run(DAY_2, tmp_path).values()
        return sorted(
            (a.article_id, a.story_id, a.is_duplicate, a.duplicate_of, a.similarity) for a in rows
        )

    first = snapshot()
    first_index = read_day(tmp_path, "dedup_index", DAY_2)
    run(DAY_3, tmp_path)  # a later day's index now exists too
    assert snapshot() == first
    assert read_day(tmp_path, "dedup_index", DAY_2).equals(first_index)
    # One data file per day, nothing half-written beside it.
    assert [p.suffix for p in index_dir.iterdir()] == [".parquet"]


def test_a_later_days_index_is_never_read(tmp_path: Path) -> None:
    first, second = wire_paths()
    # A backfill out of order: day 2's copy is indexed first, then day 1 runs.
    run(DAY_2, tmp_path)
    day1 = run(DAY_1, tmp_path)
    assert not day1[first].is_duplicate
    # Reprocessed in date order, day 2 then joins day 1's story.
    assert run(DAY_2, tmp_path)[second].story_id == day1[first].story_id
    # A later day's index, even an unreadable one, is not opened by day 2's run.
    (tmp_path / "dedup_index" / "dt=2026-03-12").mkdir(parents=True)
    (tmp_path / "dedup_index" / "dt=2026-03-12" / "part-0.parquet").write_bytes(b"not read")
    assert run(DAY_2, tmp_path)[second].is_duplicate
    window = RunWindow.for_day(DAY_2)
    assert [Path(f).parent.name for f in history_files(tmp_path, window, 30)] == ["dt=2026-03-10"]
    assert history_files(tmp_path, RunWindow.for_day(DAY_2 + timedelta(days=40)), 30) == []


def test_a_truncated_teaser_on_day_two_joins_by_containment(tmp_path: Path) -> None:
    first, _ = wire_paths()
    (original,) = [a for a in load_catalog() if a.path == first]
    words = "\n\n".join(original.paragraphs).split(" ")
    teaser = " ".join(words[: len(words) // 2]) + "\n\nSubscribe to continue reading."
    copy = to_article(original, text=teaser, path="/teasers/ostra")
    later_day = copy.published_at + timedelta(days=1)  # type: ignore[operator]
    copy = replace(copy, published_at=later_day, fetched_at=later_day)
    day1 = run(DAY_1, tmp_path)
    (joined,) = run(DAY_2, tmp_path, [copy]).values()
    assert joined.story_id == day1[first].story_id and joined.duplicate_of == day1[first].article_id


def test_independent_reports_of_one_event_stay_apart_across_days(tmp_path: Path) -> None:
    harbor, coastline = (next(a for a in load_catalog() if a.path == p) for p in INDEPENDENT_PAIR)
    day1 = run(DAY_1, tmp_path, [to_article(harbor)])
    later = to_article(coastline)
    later_day = later.published_at + timedelta(days=1)  # type: ignore[operator]
    later = replace(later, published_at=later_day, fetched_at=later_day)
    (day2_row,) = run(DAY_2, tmp_path, [later]).values()
    assert day2_row.story_id != day1[harbor.path].story_id
    assert not day2_row.is_duplicate

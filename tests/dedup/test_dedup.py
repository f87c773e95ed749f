from dataclasses import replace
from datetime import UTC, datetime

from pipeline.dedup.fingerprint import content_hash
from pipeline.dedup.stories import DedupResult, deduplicate
from pipeline.fetch.urls import url_hash
from pipeline.models import Article, StoryAssignment
from pipeline.settings import DedupSettings

BODY = (
    "The harbour authority said on Tuesday that the new container terminal would open in May, "
    "two months later than planned, after storms damaged the breakwater in January.\n\n"
    "Engineers have since rebuilt two hundred metres of the wall and expect the remaining work "
    "to finish within six weeks, the authority's director told reporters at the quay.\n\n"
    "Shipping lines that had booked berths for April will be offered slots at the old terminal "
    "at no extra cost, she said, adding that the delay would not change the project's budget."
)
INDEPENDENT = (
    "Dock workers gathered outside the port offices on Tuesday morning to hear why the long "
    "promised terminal is late again. Several said they had planned family holidays around the "
    "opening and now face weeks of uncertainty. A union representative urged managers to publish "
    "a full timetable and to explain what the storm repairs have cost so far."
)


def article(url: str, text: str, hour: int, **extra: object) -> Article:
    return Article(
        article_id=url_hash(url),
        url=url,
        canonical_url=url,
        source=url.split("/")[2],
        title="t",
        text=text,
        fetched_at=datetime(2026, 3, 10, 23, tzinfo=UTC),
        published_at=datetime(2026, 3, 10, hour, tzinfo=UTC),
        word_count=len(text.split()),
        **extra,  # type: ignore[arg-type]
    )


def test_content_hash_ignores_case_punctuation_and_boilerplate() -> None:
    variant = BODY.upper().replace(",", "") + "\n\nThis story was supplied by Harbour Wire."
    assert content_hash(variant) == content_hash(BODY)


def test_copies_group_into_one_story_with_one_canonical() -> None:
    edited = BODY.replace("Tuesday", "Tuesday afternoon").replace("six weeks", "about six weeks")
    # A teaser of the first two paragraphs: Jaccard 0.6 of the whole, containment 1.0.
    truncated = "\n\n".join(BODY.split("\n\n")[:2])
    rows = [
        article("https://b.example/copy", edited, hour=9),
        article("https://a.example/original", BODY, hour=8),
        article("https://c.example/teaser", truncated, hour=10),
        article("https://d.example/exact", BODY, hour=11),
        article("https://e.example/other", INDEPENDENT, hour=7),
    ]
    result = deduplicate(rows, DedupSettings())
    by_url = {
        a.url.split("/")[2]: s for a, s in zip(result.articles, result.assignments, strict=True)
    }
    story = by_url["a.example"].story_id
    assert {by_url[h].story_id for h in ("b.example", "c.example", "d.example")} == {story}
    assert by_url["e.example"].story_id != story and not by_url["e.example"].is_duplicate
    canonical = [
        a
        for a, s in zip(result.articles, result.assignments, strict=True)
        if s.story_id == story and not s.is_duplicate
    ]
    assert [a.url for a in canonical] == ["https://a.example/original"]  # the earliest
    assert by_url["d.example"].duplicate_of == by_url["a.example"].article_id
    assert by_url["d.example"].similarity == 1.0
    assert result.duplicates == 3 and result.stories == 2


def test_same_canonical_url_collapses_to_one_row_with_a_recorded_reject() -> None:
    main = article("https://a.example/story", BODY, hour=8)
    amp = article("https://a.example/amp/story", BODY, hour=8)
    amp = replace(amp, article_id=main.article_id, canonical_url=main.canonical_url)
    result = deduplicate([amp, main], DedupSettings())
    assert [a.url for a in result.articles] == ["https://a.example/story"]
    assert [(r.url, r.reason) for r in result.rejects] == [
        ("https://a.example/amp/story", "duplicate_canonical_url")
    ]


def test_a_truncated_copy_is_kept_by_containment_not_jaccard() -> None:
    words = BODY.split(" ")
    teaser = " ".join(words[: int(len(words) * 0.45)]) + "\n\nSubscribe to continue reading."
    rows = [
        article("https://a.example/full", BODY, hour=8),
        article("https://c.example/t", teaser, hour=9),
    ]
    full, short = by_url_order(deduplicate(rows, DedupSettings()))
    assert short.story_id == full.story_id and short.duplicate_of == full.article_id
    assert short.similarity is not None and short.similarity < 0.5  # Jaccard alone would miss it
    # The same teaser is not trusted as contained when the containment setting is stricter.
    strict = DedupSettings(min_containment_shingles=1000)
    full, short = by_url_order(deduplicate(rows, strict))
    assert short.story_id != full.story_id


def by_url_order(result: DedupResult) -> list[StoryAssignment]:
    """The result's story assignments, in the order of their articles' URLs."""
    pairs = sorted(zip(result.articles, result.assignments, strict=True), key=lambda p: p[0].url)
    return [assignment for _, assignment in pairs]


def test_texts_without_words_never_merge_by_their_empty_hash() -> None:
    rows = [
        article(f"https://{host}.example/empty", text, hour=8)
        for host, text in (("a", "— …"), ("b", "!!! ???"), ("c", "***"))
    ]
    result = deduplicate(rows, DedupSettings())
    assert len({s.story_id for s in result.assignments}) == 3
    assert not any(s.is_duplicate for s in result.assignments)

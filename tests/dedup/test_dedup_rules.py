"""Fact agreement, learned boilerplate, briefs and the tokenizer behind them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.dedup.fingerprint import (
    FACT_CAPITALISED,
    FACT_NUMBER,
    exact_similarity,
    fact_agreement,
    fingerprint,
    tokenize,
)
from pipeline.dedup.history import deduplicate_against_history
from pipeline.dedup.stories import deduplicate
from pipeline.fetch.urls import url_hash
from pipeline.models import Article, RunWindow
from pipeline.settings import DedupSettings

QUAKE = (
    "A magnitude {mag} earthquake struck {dist} kilometres north of {place} at 14:20 local time "
    "on Tuesday, the National Seismic Service said.\n\nThe quake had a depth of {depth} "
    "kilometres. There were no immediate reports of damage or injuries, and residents of "
    "{place} and nearby towns reported feeling moderate shaking for several seconds.\n\nThe "
    "service said aftershocks were possible over the coming days and advised people to check "
    "buildings for cracks before going back inside. This report was generated automatically "
    "and may be updated as more information becomes available."
)
FOOTER = (
    "About the Valley Courier: an independent, reader-funded newspaper serving the towns and "
    "villages of the upper valley since 1952, with a newsroom on Bridge Street.\n\n"
    "Contact us: to report a story, correct an error or ask about advertising, write to the "
    "newsdesk or call the office on weekdays between nine and five; letters may be edited.\n\n"
    "Disclaimer: notices are published as supplied by the organisers, and the Courier cannot "
    "accept responsibility for changes to dates, times or venues of any event listed here."
)
ITEMS = (
    "The library on Bridge Street closes early on Thursday for staff training.",
    "Almora school raised 1,240 pounds for a climbing frame with a sponsored walk.",
    "A lost black labrador called Bramble was found near the Glenrock allotments.",
    "The valley choir wants new tenors and basses before its winter concert.",
    "Roadworks near Farrow continue until the end of the month with temporary lights.",
)
STORY = (
    "The Southern Seas Development Bank on Tuesday approved a 410 million dollar loan to build "
    "the largest desalination plant in Ostra, where a three-year drought has left reservoirs at "
    "less than a fifth of their capacity.\n\n"
    "The plant, on the outskirts of Port Madden, is designed to produce 180,000 cubic metres of "
    "drinking water a day when it opens in 2029, enough for roughly half of the population.\n\n"
    "Finance minister Lucia Ferreira said the government would cover the remaining cost of "
    "about 150 million dollars from its own budget, and that the tender drew seven bids.\n\n"
    "Environmental groups welcomed the financing but urged the bank to impose strict limits on "
    "the discharge of brine onto the reef system off the western coast of the island.\n\n"
    "The bank said an independent monitoring panel would be a condition of the loan, and that "
    "construction should begin later this year once the contracts are signed in Port Madden."
)


def article(url: str, text: str, source: str, hour: int = 8) -> Article:
    return Article(
        article_id=url_hash(url),
        url=url,
        canonical_url=url,
        source=source,
        title=None,
        text=text,
        fetched_at=datetime(2026, 3, 10, 23, tzinfo=UTC),
        published_at=datetime(2026, 3, 10, hour, tzinfo=UTC),
        word_count=len(text.split()),
    )


def stories(rows: list[Article], settings: DedupSettings) -> dict[str, str]:
    result = deduplicate(rows, settings)
    return {a.url: s.story_id for a, s in zip(result.articles, result.assignments, strict=True)}


DAY_1, DAY_2 = date(2026, 3, 10), date(2026, 3, 11)
NO_FACT_RULE = DedupSettings(fact_min_conflicts=10_000)


def test_two_reports_of_one_template_with_other_facts_are_two_stories() -> None:
    first = QUAKE.format(mag="5.4", dist="12", place="Almora", depth="10")
    second = QUAKE.format(mag="6.1", dist="40", place="Brenvik", depth="35")
    rows = [article("https://a.example/1", first, "a"), article("https://b.example/2", second, "b")]
    fp = fingerprint([first, second], DedupSettings())
    assert exact_similarity(*fp.shingle_sets)[0] > 0.5  # the frame alone passes the overlap test
    assert fact_agreement(fp.facts[0], fp.facts[1]).conflicts >= 3
    assert len(set(stories(rows, DedupSettings()).values())) == 2
    # Without the fact rule the frame merges them: the rule is what keeps them apart.
    assert len(set(stories(rows, NO_FACT_RULE).values())) == 1


def test_a_copy_may_drop_facts_but_not_contradict_them() -> None:
    full = QUAKE.format(mag="5.4", dist="12", place="Almora", depth="10")
    truncated = full.split("\n\n")[0] + "\n\n" + full.split("\n\n")[1]
    contradicting = truncated.replace("5.4", "6.3")
    fp = fingerprint([truncated, full, contradicting], DedupSettings())
    dropped = fact_agreement(fp.facts[0], fp.facts[1])
    assert dropped.conflicts == 0 and dropped.support == 1.0
    assert fact_agreement(fp.facts[2], fp.facts[1]).conflicts >= 1
    rows = [
        article("https://a.example/full", full, "a"),
        article("https://b.example/short", truncated, "b", hour=9),
        article("https://c.example/wrong", contradicting, "c", hour=10),
    ]
    story = stories(rows, DedupSettings())
    assert story["https://b.example/short"] == story["https://a.example/full"]
    assert story["https://c.example/wrong"] != story["https://a.example/full"]


def test_a_revised_figure_in_a_long_story_does_not_split_it() -> None:
    revised = "Update: the bank confirmed the figures.\n\n" + STORY.replace("seven bids", "8 bids")
    rows = [
        article("https://a.example/s", STORY, "a"),
        article("https://b.example/r", revised, "b"),
    ]
    story = stories(rows, DedupSettings())
    assert story["https://a.example/s"] == story["https://b.example/r"]


def test_short_items_sharing_an_outlets_footer_are_not_merged_on_it() -> None:
    rows = [
        article(f"https://courier.example/{i}", f"{item}\n\n{FOOTER}", "courier")
        for i, item in enumerate(ITEMS)
    ]
    assert len(set(stories(rows, DedupSettings()).values())) == len(ITEMS)
    # Without learned boilerplate the footer, most of each text, merges them.
    unlearned = DedupSettings(boilerplate_min_articles=1_000)
    assert len(set(stories(rows, unlearned).values())) < len(ITEMS)


def test_boilerplate_is_learned_per_source() -> None:
    # The same lines across different outlets are a syndicated story, not anyone's boilerplate.
    rows = [
        article(f"https://outlet{i}.example/story", STORY, f"outlet{i}", hour=8 + i)
        for i in range(5)
    ]
    assert len(set(stories(rows, DedupSettings()).values())) == 1


def test_a_brief_joins_its_story_by_containment_and_facts() -> None:
    paragraphs = STORY.split("\n\n")
    brief = "\n\n".join([paragraphs[0], paragraphs[1], paragraphs[2], paragraphs[4]])
    for word, other in (
        ("approved", "backed"),
        ("largest", "biggest"),
        ("remaining", "rest of the"),
        ("construction", "work"),
        ("independent", "outside"),
        ("reservoirs", "dams"),
    ):
        brief = brief.replace(word, other)
    fp = fingerprint([brief, STORY], DedupSettings())
    jaccard, containment = exact_similarity(fp.shingle_sets[0], fp.shingle_sets[1])
    assert jaccard < 0.5 and containment < 0.8  # neither the copy nor the truncation test
    rows = [article("https://a.example/s", STORY, "a"), article("https://b.example/b", brief, "b")]
    story = stories(rows, DedupSettings())
    assert story["https://a.example/s"] == story["https://b.example/b"]
    strict = DedupSettings(brief_min_containment=1.0)
    story = stories(rows, strict)
    assert story["https://a.example/s"] != story["https://b.example/b"]


def test_tokens_fold_case_and_split_numbers_from_units() -> None:
    tokens = tokenize(["École ÉCOLE école 410m 410 m “Almora” — 5.4"])
    hashes = tokens.hashes.tolist()
    assert hashes[0] == hashes[1] == hashes[2]
    assert hashes[3:5] == hashes[5:7]  # "410m" reads as "410" "m"
    kinds = tokens.kinds.tolist()
    assert kinds[0] == kinds[1] == FACT_CAPITALISED and kinds[2] == 0
    assert kinds[3] == FACT_NUMBER and kinds[7] == FACT_CAPITALISED
    assert len(hashes) == 10  # the curly quotes and the dash are not words


def test_lines_and_texts_are_kept_apart() -> None:
    tokens = tokenize(["one two\nthree", "four"])
    assert tokens.text_of_line.tolist() == [0, 0, 1]
    assert tokens.line_of_token.tolist() == [0, 0, 1, 2]
    assert np.count_nonzero(tokens.line_hashes) == 3


def test_the_retired_lsh_threshold_key_is_an_error_naming_it() -> None:
    with pytest.raises(ValidationError, match="lsh_threshold"):
        DedupSettings.model_validate({"lsh_threshold": 0.3})


def test_an_outlets_footer_is_learned_from_the_index_of_earlier_days(tmp_path: Path) -> None:
    day_one = [
        article(f"https://courier.example/{i}", f"{item}\n\n{FOOTER}", "courier")
        for i, item in enumerate(ITEMS[:4])
    ]
    late = "The swimming pool in Saltcombe reopens on Monday after repairs to its roof."
    day_two = [article("https://courier.example/late", f"{late}\n\n{FOOTER}", "courier")]

    def run(settings: DedupSettings, root: Path) -> tuple[set[str], str]:
        first = deduplicate_against_history(day_one, settings, root, RunWindow.for_day(DAY_1))
        second = deduplicate_against_history(day_two, settings, root, RunWindow.for_day(DAY_2))
        return {s.story_id for s in first.assignments}, second.assignments[0].story_id

    # Today alone has one courier article: only the index says the footer is boilerplate.
    earlier, late_story = run(DedupSettings(), tmp_path / "learned")
    assert len(earlier) == 4 and late_story not in earlier
    earlier, late_story = run(DedupSettings(boilerplate_min_articles=1_000), tmp_path / "fixed")
    assert late_story in earlier


def test_a_copy_without_facts_does_not_chain_two_reports_into_one_story() -> None:
    first = QUAKE.format(mag="5.4", dist="12", place="Almora", depth="10")
    second = QUAKE.format(mag="6.1", dist="40", place="Brenvik", depth="35")
    # Only the frame's last paragraph: contained in both reports, and it states no fact.
    frame_only = first.split("\n\n")[2]
    assert frame_only == second.split("\n\n")[2]
    rows = [
        article("https://a.example/1", first, "a", hour=8),
        article("https://b.example/2", second, "b", hour=9),
        article("https://c.example/3", frame_only, "c", hour=10),
    ]
    story = stories(rows, DedupSettings())
    assert story["https://a.example/1"] != story["https://b.example/2"]
    # Without the check on the stories an edge joins, the fact-free copy chains them.
    unchecked = DedupSettings(fact_chain_conflict_share=1.0)
    story = stories(rows, unchecked)
    assert story["https://a.example/1"] == story["https://b.example/2"]


@pytest.mark.parametrize(
    "line",
    [
        "This story was supplied by Harbour Wire.",
        "Additional reporting by Ines Okoro.",
        "(Reporting by Mara Lindqvist; Editing by Tomas Berg)",
        "Sign up for the morning briefing",
        "SUBSCRIBE to continue reading",
        "Follow us on the socials",
        "Read more: the latest from the newsroom",
        "Related: an older story",
        "Copyright 2026 Harbor Times",
        "© 2026 Harbor Times",
        "Advertisement",
        "Share this article",
    ],
)
def test_every_fixed_boilerplate_pattern_drops_its_line(line: str) -> None:
    body = "The harbour reopened on Tuesday after the storm."
    assert tokenize([f"{body}\n{line}"]).hashes.tolist() == tokenize([body]).hashes.tolist()

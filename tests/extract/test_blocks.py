"""The block classifier: its shipped weights, its decisions, and how the extractor uses it."""

from __future__ import annotations

import math

from pipeline.extract.blocks import BlockContext, BlockModel, ScoredBlock, shipped_model
from pipeline.extract.body import DEFAULT_OPTIONS, ExtractionOptions
from pipeline.extract.page import extract_article, extract_blocks

URL = "https://news.example.org/garden/2026/03/02/allotments"
STORY = (
    "<p>The allotment society has opened forty new plots on the old brickworks field, and the "
    "waiting list that once ran to four years is now down to a few months.</p>"
    "<p>Volunteers cleared broken glass and rubble over the winter, and the council brought in "
    "forty tonnes of topsoil from a farm on the edge of town.</p>"
)
# Outside the rules' container, in an <aside>, but written and placed like story text.
SIDE_PARAGRAPH = (
    "Each plot measures ten metres by five, with a shared water trough at the end of every row, "
    "and members can open the tool shed with a code that changes each season."
)


def _block(rule_keep: bool, probability: float, *, named_boilerplate: bool = False) -> ScoredBlock:
    context = BlockContext(
        tag="p", parent_tag="div", in_container=rule_keep, in_boilerplate=named_boilerplate,
        negative=1 if named_boilerplate else 0, positive=0, strong=0, furniture=frozenset(),
        tokens=(), depth=3,
    )  # fmt: skip
    block = ScoredBlock("p", "Some words of text.", 0, 0, context)
    block.rule_keep = rule_keep
    block.passes_filters = True
    block.probability = probability
    return block


def test_shipped_weights_load() -> None:
    model = shipped_model()
    assert model is not None
    assert {"bias", "link_density", "in_boilerplate", "within_kept_span"} <= set(model.weights)
    assert 0 < model.drop_threshold < model.add_threshold < 1
    assert model.info["script"] == "bench/train_blocks.py"


def test_model_round_trips_through_json() -> None:
    model = BlockModel({"bias": -1.0, "log_chars": 0.5}, 0.7, 0.2, info={"note": "x"})
    again = BlockModel.from_json(model.to_json())
    assert again == model
    z = -1.0 + 0.5 * 2.0
    assert math.isclose(again.probability({"log_chars": 2.0, "bias": 1.0}), 1 / (1 + math.exp(-z)))


def test_rules_verdict_stands_unless_the_model_is_confident() -> None:
    model = BlockModel({}, add_threshold=0.6, drop_threshold=0.1)
    assert model.keeps(_block(rule_keep=True, probability=0.3))
    assert not model.keeps(_block(rule_keep=True, probability=0.05))
    assert not model.keeps(_block(rule_keep=False, probability=0.5))
    assert model.keeps(_block(rule_keep=False, probability=0.7))


def test_named_boilerplate_is_added_back_only_as_a_fallback() -> None:
    model = BlockModel({}, add_threshold=0.6, drop_threshold=0.1)
    ad = _block(rule_keep=False, probability=0.9, named_boilerplate=True)
    assert not model.keeps(ad)
    assert model.keeps(ad, fallback=True)


def test_classifier_adds_a_paragraph_the_rules_left_out() -> None:
    html = (
        f"<html><body><article>{STORY}</article>"
        f"<aside><p>{SIDE_PARAGRAPH}</p></aside></body></html>"
    )
    rules_text = extract_article(html, URL, options=ExtractionOptions(rules_only=True)).text
    assert SIDE_PARAGRAPH not in rules_text
    keep_everything = BlockModel({"bias": 5.0}, add_threshold=0.6, drop_threshold=0.1)
    text = extract_article(html, URL, options=ExtractionOptions(block_model=keep_everything)).text
    assert SIDE_PARAGRAPH in text
    assert text.startswith("The allotment society")


def test_classifier_can_drop_what_the_rules_kept() -> None:
    figures = "Plots cost 30 pounds a year from 1 April 2026, or 15 pounds for pensioners."
    html = f"<html><body><article>{STORY}<p>{figures}</p></article></body></html>"
    assert figures in extract_article(html, URL, options=ExtractionOptions(rules_only=True)).text
    # A model that drops any block with digits in it: the story paragraphs have none.
    no_digits = BlockModel({"bias": 5.0, "digit_ratio": -1000.0}, 0.6, 0.5)
    text = extract_article(html, URL, options=ExtractionOptions(block_model=no_digits)).text
    assert figures not in text
    assert "Volunteers cleared broken glass" in text


def test_every_block_has_features_for_training() -> None:
    html = f"<html><body><article>{STORY}</article><footer>Contact us</footer></body></html>"
    blocks = extract_blocks(html, URL, options=DEFAULT_OPTIONS)
    story = [b for b in blocks if b.rule_keep]
    assert len(story) == 2
    assert all(b.features["rule_keep"] == 1.0 and b.features["bias"] == 1.0 for b in story)
    assert all(0.0 <= b.features["position"] < 1.0 for b in story)


def test_page_classes_on_body_do_not_mark_blocks_as_boilerplate() -> None:
    # Themes put "no-sidebars" or "has-sidebar" on <body>; a lead paragraph in the story's
    # <header> must stay a candidate for the classifier.
    html = (
        "<html><body class='single no-sidebars'><main><header><h1>Allotments</h1>"
        "<p class='lead'>Forty new plots are open on the old brickworks field.</p></header>"
        f"<div class='entry'>{STORY}</div></main></body></html>"
    )
    blocks = extract_blocks(html, URL)
    lead = next(b for b in blocks if b.text.startswith("Forty new plots"))
    assert lead.context.negative == 0
    assert lead.context.in_boilerplate
    assert lead.is_candidate

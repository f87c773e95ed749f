"""Dedup quality on copies made from the project's own texts, with realistic copy edits.

    .venv/bin/python bench/dedup_eval.py [--bench-truth PATH] [--seed N] [--set KEY=VALUE ...]

Bases are the demo site's articles (plus, with ``--bench-truth``, the dev extraction bench's
ground-truth bodies). Each base gets copies with one edit type each and a few with several edits;
hard negatives are follow-ups that share a quote with a base, and other articles of one outlet that
share its boilerplate. The demo's own copies (wire stories, exact cross-post) and its two
independent reports of one event are included as they are. Everything runs twice: once as one
batch, once as two days (bases on day 1, copies on day 2) through the cross-run index.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from math import comb
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.dedup.history import deduplicate_against_history
from pipeline.dedup.stories import deduplicate
from pipeline.demo.catalog import load_records
from pipeline.fetch.urls import url_hash
from pipeline.models import Article, RunWindow
from pipeline.settings import DedupSettings

DAY_1 = date(2026, 3, 10)
SUBSTITUTES = (
    "said",
    "told",
    "added",
    "noted",
    "reported",
    "officials",
    "authorities",
    "residents",
    "nearly",
    "about",
    "roughly",
    "more",
    "several",
    "many",
    "week",
    "month",
    "city",
    "region",
)
OUTLET_BOILERPLATE = {
    "harbor-times": [
        "Sign up for the Harbor Times morning briefing.",
        "The Harbor Times has covered the Kestrel coast since 1891 and depends on readers like you "
        "to keep local reporting alive on the waterfront, in city hall and in our schools.",
        "© 2026 Harbor Times. All rights reserved.",
    ],
    "coastline-post": [
        "Read more: the latest from the Coastline newsroom.",
        "Coastline Post journalists are independent and are not paid by any of the organisations "
        "they write about; tell us what you think of our coverage of the coast and the islands.",
    ],
}
WIRE_CREDITS = (
    "This story was supplied by the Halvard Press Agency.",
    "(Reporting by Mara Lindqvist; Editing by Tomas Berg)",
    "Additional reporting by Ines Okoro.",
)


@dataclass
class Doc:
    doc_id: str
    url: str
    text: str
    cluster: str  # true story label
    edit: str  # "original", an edit type, or "negative:<kind>"
    day: int  # 1 or 2 in the two-day run
    outlet: str = "bench"
    shares_boilerplate: bool = False  # an outlet article carrying the outlet's boilerplate


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.strip()]


def substitute_words(text: str, rng: random.Random, rate: float) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), max(1, int(len(words) * rate))):
        words[i] = rng.choice(SUBSTITUTES)
    return " ".join(words)


def edit_headline(text: str, rng: random.Random) -> str:
    return text  # the headline is not part of the body; the copy differs only in its title


def edit_lede(text: str, rng: random.Random) -> str:
    paras = paragraphs(text)
    lede = paras[0].split(" ")
    rng.shuffle(lede)  # same facts, different order and wording
    paras[0] = substitute_words(" ".join(lede), rng, 0.3)
    return "\n\n".join(paras)


def edit_dateline(text: str, rng: random.Random) -> str:
    paras = paragraphs(text)
    paras[0] = rng.choice(("KESTREL HARBOR (HPA) — ", "LONDON, March 10 (Reuters) - ")) + paras[0]
    return "\n\n".join([*paras, rng.choice(WIRE_CREDITS)])


def edit_boilerplate(text: str, rng: random.Random) -> str:
    extra = rng.choice(list(OUTLET_BOILERPLATE.values()))
    paras = paragraphs(text)
    paras.insert(min(2, len(paras)), "Advertisement")
    return "\n\n".join([*paras, *extra])


def edit_substitutions(text: str, rng: random.Random) -> str:
    return substitute_words(text, rng, rng.uniform(0.02, 0.05))


def edit_paragraphs(text: str, rng: random.Random) -> str:
    paras = paragraphs(text)
    if len(paras) >= 3 and rng.random() < 0.5:
        del paras[rng.randrange(1, len(paras))]
    elif len(paras) >= 2:
        i, j = rng.sample(range(1, len(paras)) if len(paras) > 2 else [0, 1], 2)
        paras[i], paras[j] = paras[j], paras[i]
    return "\n\n".join(paras)


def edit_truncation(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    kept = " ".join(words[: int(len(words) * rng.uniform(0.4, 0.8))])
    return kept + "…\n\nSubscribe to continue reading."


def edit_correction(text: str, rng: random.Random) -> str:
    return (
        text + "\n\nCorrection: An earlier version of this article misstated the date of the "
        "meeting and the name of the agency that published the figures."
    )


def edit_unicode(text: str, rng: random.Random) -> str:
    swapped = (
        text.replace("’", "'")
        .replace("“", '"')
        .replace("”", '"')
        .replace("—", "--")
        .replace(" ", "  ", 3)
        .replace(". ", ".\u00a0", 5)
    )
    return swapped.replace("\n\n", "\n \n")


def edit_url_variant(text: str, rng: random.Random) -> str:
    return text  # the body is the same page; only the URL spelling differs (see make_copy)


EDITS: dict[str, Callable[[str, random.Random], str]] = {
    "headline": edit_headline,
    "lede": edit_lede,
    "dateline": edit_dateline,
    "boilerplate": edit_boilerplate,
    "substitutions": edit_substitutions,
    "paragraphs": edit_paragraphs,
    "truncation": edit_truncation,
    "correction": edit_correction,
    "unicode": edit_unicode,
    "url_variant": edit_url_variant,
}
COMBINABLE = ("dateline", "boilerplate", "substitutions", "paragraphs", "correction", "unicode")


def bases(bench_truth: Path | None) -> list[Doc]:
    docs: list[Doc] = []
    seen_stories: set[str] = set()
    for record in load_records():
        article = record.article
        label = article.story or f"demo:{article.path}"
        # The demo's own copies are kept as they are; only one of each story is a base for edits.
        edit = "original" if label not in seen_stories else "demo_copy"
        seen_stories.add(label)
        day = 1 if edit == "original" else 2
        body = list(article.paragraphs)
        # Every story of these outlets carries the outlet's boilerplate: different articles of one
        # outlet then share it, a hard negative.
        boilerplate = article.story is None and article.outlet in OUTLET_BOILERPLATE
        if boilerplate:
            body += OUTLET_BOILERPLATE[article.outlet]
        docs.append(
            Doc(
                doc_id=f"demo:{article.path}",
                url="https://demo.example" + article.path,
                text="\n\n".join(body),
                cluster=label,
                edit=edit,
                day=day,
                outlet=article.outlet,
                shares_boilerplate=boilerplate,
            )
        )
    if bench_truth is not None:
        truth = json.loads(bench_truth.read_text(encoding="utf-8"))
        for key, entry in sorted(truth.items()):
            text = str(entry["articleBody"]).strip()
            if len(text.split()) < 80:
                continue
            docs.append(
                Doc(f"bench:{key[:12]}", str(entry["url"]), text, f"bench:{key}", "original", 1)
            )
    return docs


def make_copies(originals: list[Doc], rng: random.Random) -> list[Doc]:
    copies: list[Doc] = []
    for base_number, base in enumerate(originals):
        plans = [[name] for name in EDITS] + [
            rng.sample(COMBINABLE, rng.randint(2, 3)) for _ in range(3)
        ]
        for number, plan in enumerate(plans):
            text = base.text
            for name in plan:
                text = EDITS[name](text, rng)
            if plan == ["url_variant"]:
                url = base.url + "?utm_source=rss&utm_medium=feed"
                if rng.random() < 0.5:
                    url = base.url.replace("://demo.example/", "://demo.example/amp/", 1)
            else:
                url = f"https://copy{number}.example/{base_number}/{number}"
            edit = plan[0] if len(plan) == 1 else "combined"
            copies.append(Doc(f"{base.doc_id}#copy{number}", url, text, base.cluster, edit, 2))
    return copies


def hard_negatives(originals: list[Doc], rng: random.Random) -> list[Doc]:
    negatives: list[Doc] = []
    quoted = [d for d in originals if re.search(r"“[^”]{30,}”", d.text)]
    for number, base in enumerate(quoted):
        other = rng.choice([d for d in originals if d is not base])
        quote = re.search(r"“[^”]{30,}”", base.text)
        assert quote is not None
        # New prose on the same vocabulary (another article's words, each sentence shuffled, so no
        # 5-gram survives) around the base's quote, repeated verbatim.
        follow_up = []
        for paragraph in paragraphs(other.text)[:3]:
            sentence = paragraph.split(" ")
            rng.shuffle(sentence)
            follow_up.append(" ".join(sentence))
        follow_up.insert(1, f"Earlier this week the same official had said {quote.group(0)}")
        negatives.append(
            Doc(
                f"neg:quote:{number}",
                f"https://followup.example/{number}",
                "\n\n".join(follow_up),
                f"neg:quote:{number}",
                "negative:shared_quote",
                2,
            )
        )
    return negatives


def to_article(doc: Doc, index: int) -> Article:
    published = datetime(DAY_1.year, DAY_1.month, DAY_1.day, tzinfo=UTC) + timedelta(
        days=doc.day - 1, seconds=index
    )
    return Article(
        article_id=url_hash(doc.url) if doc.edit != "url_variant" else doc.doc_id,
        url=doc.url,
        canonical_url=doc.url,
        source=doc.outlet,
        title=None,
        text=doc.text,
        fetched_at=published,
        published_at=published,
        word_count=len(doc.text.split()),
    )


def pair_counts(truth: list[str], predicted: list[str]) -> tuple[int, int, int, float]:
    contingency = Counter(zip(truth, predicted, strict=True))
    both = sum(comb(n, 2) for n in contingency.values())
    true_pairs = sum(comb(n, 2) for n in Counter(truth).values())
    predicted_pairs = sum(comb(n, 2) for n in Counter(predicted).values())
    total = comb(len(truth), 2)
    expected = true_pairs * predicted_pairs / total
    maximum = (true_pairs + predicted_pairs) / 2
    ari = (both - expected) / (maximum - expected) if maximum != expected else 1.0
    return both, true_pairs, predicted_pairs, ari


def report(label: str, docs: list[Doc], story_of: dict[str, str]) -> None:
    truth = [d.cluster for d in docs]
    predicted = [story_of[d.doc_id] for d in docs]
    both, true_pairs, predicted_pairs, ari = pair_counts(truth, predicted)
    precision = both / predicted_pairs if predicted_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(
        f"\n== {label}: {len(docs)} docs, {len(set(truth))} true stories, "
        f"{len(set(predicted))} predicted stories"
    )
    print(
        f"pairwise precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}  ARI {ari:.4f}"
        f"  (true pairs {true_pairs}, predicted {predicted_pairs}, correct {both})"
    )
    original_story = {d.cluster: story_of[d.doc_id] for d in docs if d.edit == "original"}
    clusters_in_story: dict[str, set[str]] = defaultdict(set)
    for doc in docs:
        clusters_in_story[story_of[doc.doc_id]].add(doc.cluster)
    per_edit: dict[str, list[bool]] = defaultdict(list)
    for doc in docs:
        apart = clusters_in_story[story_of[doc.doc_id]] == {doc.cluster}
        if doc.shares_boilerplate:
            per_edit["negative:shared_boilerplate"].append(apart)
        if doc.edit.startswith("negative:"):
            per_edit[doc.edit].append(apart)
        elif doc.edit != "original":
            per_edit[doc.edit].append(story_of[doc.doc_id] == original_story[doc.cluster])
    print("copy recall per edit type (negatives: share kept apart)")
    for edit, hits in sorted(per_edit.items()):
        print(f"  {edit:28s} {sum(hits) / len(hits):.3f}  ({sum(hits)}/{len(hits)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--bench-truth", type=Path, help="ground-truth.json of the extraction bench"
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a DedupSettings field, e.g. --set lsh_bands=32",
    )
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.set)
    settings = DedupSettings.model_validate(overrides)
    rng = random.Random(args.seed)
    docs = bases(args.bench_truth)
    originals = [d for d in docs if d.edit == "original"]
    docs += make_copies(originals, rng) + hard_negatives(originals, rng)
    print(f"settings: {settings.model_dump()}  seed {args.seed}")
    print(
        f"bases: {len(originals)} ({sum(1 for d in originals if d.doc_id.startswith('bench:'))} "
        f"from the bench ground truth)"
    )

    articles = [to_article(doc, i) for i, doc in enumerate(docs)]
    result = deduplicate(articles, settings)
    by_id = {a.article_id: s.story_id for a, s in zip(result.articles, result.assignments)}
    story_of = {d.doc_id: by_id[a.article_id] for d, a in zip(docs, articles, strict=True)}
    report("one batch", docs, story_of)

    with tempfile.TemporaryDirectory() as root:
        story_of = {}
        for day in (1, 2):
            todays = [(d, a) for d, a in zip(docs, articles, strict=True) if d.day == day]
            window = RunWindow.for_day(DAY_1 + timedelta(days=day - 1))
            fresh = [to_article(d, i) for i, (d, _) in enumerate(todays)]
            ran = deduplicate_against_history(fresh, settings, root, window)
            by_id = {
                a.article_id: s.story_id for a, s in zip(ran.articles, ran.assignments)
            }
            story_of.update(
                {d.doc_id: by_id[a.article_id] for (d, _), a in zip(todays, fresh, strict=True)}
            )
        report("two days (bases day 1, copies day 2, through the index)", docs, story_of)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

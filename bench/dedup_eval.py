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
    family: str = "project"  # "project" = the set before issue 13; else one of FAMILIES
    held_out: bool = False  # never looked at while choosing thresholds


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
            outlet = url.split("/")[2]  # each copying site is an outlet of its own
            copies.append(
                Doc(f"{base.doc_id}#copy{number}", url, text, base.cluster, edit, 2, outlet)
            )
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


# ---------------------------------------------------------------------------------------------
# Families for the hard cases of issue 13, all texts written for this evaluation. Each family's
# docs carry `family`; `held_out` marks the half that was never looked at while choosing the
# thresholds (frames 4-7, the same-day items, the briefs of the bench bodies).

PLACES = (
    "Almora",
    "Brenvik",
    "Castellane",
    "Dunmore",
    "Eskdale",
    "Farrow",
    "Glenrock",
    "Hallberg",
    "Istria",
    "Jorvale",
    "Kestrel Harbor",
    "Lindholm",
    "Marrow Bay",
    "Northam",
    "Ostervik",
    "Pellworth",
    "Quarry Hill",
    "Redwater",
    "Saltcombe",
    "Tarnow",
)
PEOPLE = (
    "Anna Keller",
    "Ben Okafor",
    "Clara Novak",
    "David Lindqvist",
    "Elena Rossi",
    "Farid Haddad",
    "Grace Mbeki",
    "Henrik Dahl",
    "Iris Moreau",
    "Jonas Weber",
    "Kofi Mensah",
    "Lena Fischer",
    "Marco Bianchi",
    "Nadia Petrova",
    "Oscar Silva",
    "Paula Jensen",
    "Rui Costa",
    "Sara Lund",
)
TEAMS = (
    "Harbor United",
    "Redwater Rovers",
    "Northam Athletic",
    "Saltcombe City",
    "Farrow Town",
    "Glenrock Wanderers",
    "Tarnow Rangers",
    "Eskdale Albion",
    "Dunmore Celtic",
    "Lindholm FC",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("March", "April", "May", "June")


def _num(rng: random.Random, low: int, high: int) -> str:
    return str(rng.randint(low, high))


def _dec(rng: random.Random, low: float, high: float) -> str:
    return f"{rng.uniform(low, high):.1f}"


def _date(rng: random.Random) -> str:
    return f"{rng.randint(1, 28)} {rng.choice(MONTHS)}"


FrameFill = Callable[[random.Random], dict[str, str]]
FRAMES: list[tuple[str, str, FrameFill]] = [
    (
        "earthquake",
        "A magnitude {mag} earthquake struck {dist} kilometres {dir} of {place} at {hour}:{minute} "
        "local time on {day}, the {agency} said.\n\nThe quake had a depth of {depth} kilometres. "
        "There were no immediate reports of damage or injuries, and residents of {place} and "
        "nearby towns reported feeling moderate shaking for several seconds.\n\nThe {agency} said "
        "aftershocks were possible over the coming days and advised people to check buildings for "
        "cracks before going back inside. This report was generated automatically from {agency} "
        "data and may be updated as more information becomes available.",
        lambda r: {
            "mag": _dec(r, 3.0, 7.5),
            "dist": _num(r, 4, 90),
            "place": r.choice(PLACES),
            "dir": r.choice(("north", "south", "east", "west", "northeast", "southwest")),
            "hour": _num(r, 10, 23),
            "minute": _num(r, 10, 59),
            "day": r.choice(WEEKDAYS),
            "agency": r.choice(("National Seismic Service", "Geological Survey Office")),
            "depth": _num(r, 5, 80),
        },
    ),
    (
        "lottery",
        "The winning numbers in {day}'s {game} draw were {n1}, {n2}, {n3}, {n4}, {n5} and {n6}, "
        "with the bonus ball {bonus}.\n\nThe jackpot of {jackpot} million was {won}. {five} "
        "tickets matched five numbers and each wins {prize} pounds, while {four} tickets matched "
        "four numbers.\n\nPlayers have 180 days from the date of the draw to claim a prize. The "
        "next draw takes place on {next_day}, with an estimated jackpot of {next_jackpot} million. "
        "Players are reminded to check their tickets carefully and to sign the back of any "
        "winning ticket before claiming.",
        lambda r: {
            **dict(
                zip(
                    ("n1", "n2", "n3", "n4", "n5", "n6"),
                    map(str, sorted(r.sample(range(1, 60), 6))),
                    strict=True,
                )
            ),
            "day": r.choice(WEEKDAYS),
            "game": r.choice(("Lotto", "Thunderball", "Grand Lotto")),
            "bonus": _num(r, 1, 59),
            "jackpot": _dec(r, 1.0, 20.0),
            "won": r.choice(
                ("not won and rolls over", "shared by two ticket holders", "won by a single ticket")
            ),
            "five": _num(r, 2, 40),
            "prize": _num(r, 900, 3000),
            "four": _num(r, 100, 2500),
            "next_day": r.choice(WEEKDAYS),
            "next_jackpot": _dec(r, 2.0, 25.0),
        },
    ),
    (
        "case_counts",
        "Health officials in {place} reported {cases} new cases of {disease} in the week to "
        "{day}, {trend} from {previous} the week before.\n\n{hospital} people were being treated "
        "in hospital, {icu} of them in intensive care, the regional health board said in its "
        "weekly update.\n\nThe board said {vaccinated} per cent of adults in the region had now "
        "received a booster dose and urged anyone who had not yet done so to book an appointment "
        "at a pharmacy or a walk-in clinic. The next update is due on {next_day}.",
        lambda r: {
            "place": r.choice(PLACES),
            "cases": _num(r, 40, 4000),
            "disease": r.choice(("influenza", "measles", "norovirus", "whooping cough")),
            "day": r.choice(WEEKDAYS),
            "trend": r.choice(("up", "down")),
            "previous": _num(r, 40, 4000),
            "hospital": _num(r, 3, 300),
            "icu": _num(r, 0, 30),
            "vaccinated": _num(r, 40, 92),
            "next_day": r.choice(WEEKDAYS),
        },
    ),
    (
        "market_close",
        "The {index} closed {direction} {points} points, or {percent} per cent, at {level} on "
        "{day}.\n\nShares in {company} led the gainers, rising {gain} per cent after the company "
        "reported quarterly results ahead of expectations, while {loser} fell {loss} per cent.\n\n"
        "The {currency} traded at {rate} against the dollar, and Brent crude was at {oil} dollars "
        "a barrel. Trading volumes were described by dealers as {volume} ahead of the central "
        "bank's interest rate decision next week.",
        lambda r: {
            "index": r.choice(("Harbor 100 index", "Northern Composite", "Coastal Exchange index")),
            "direction": r.choice(("up", "down")),
            "points": _dec(r, 1.0, 90.0),
            "percent": _dec(r, 0.1, 2.5),
            "level": _num(r, 5000, 9000),
            "day": r.choice(WEEKDAYS),
            "company": r.choice(
                (
                    "Brenvik Mining",
                    "Almora Foods",
                    "Ostervik Shipping",
                    "Pellworth Energy",
                    "Tarnow Steel",
                )
            ),
            "gain": _dec(r, 1.0, 12.0),
            "loser": r.choice(
                ("Redwater Bank", "Saltcombe Retail", "Glenrock Telecom", "Dunmore Insurance")
            ),
            "loss": _dec(r, 1.0, 9.0),
            "currency": r.choice(("krona", "euro", "pound")),
            "rate": f"{r.uniform(0.7, 1.4):.4f}",
            "oil": _dec(r, 60.0, 95.0),
            "volume": r.choice(("thin", "light", "average", "heavy")),
        },
    ),
    (
        "match_report",
        "{home} beat {away} {home_goals}-{away_goals} at {ground} on {day}.\n\n{scorer} opened "
        "the scoring after {minute} minutes and {second} added another before half-time. {away} "
        "pulled one back through {consolation} late in the game but could not find an equaliser."
        "\n\nThe win lifts {home} to {position} in the table, {gap} points behind the leaders, "
        "with {games} games of the season left. The attendance was {crowd}.",
        lambda r: {
            **dict(zip(("home", "away"), r.sample(TEAMS, 2), strict=True)),
            "home_goals": _num(r, 2, 5),
            "away_goals": "1",
            "ground": r.choice(("Harbour Park", "the Mill Ground", "Victoria Road", "Castle Lane")),
            "day": r.choice(WEEKDAYS),
            "scorer": r.choice(PEOPLE),
            "minute": _num(r, 3, 40),
            "second": r.choice(PEOPLE),
            "consolation": r.choice(PEOPLE),
            "position": r.choice(("second", "third", "fourth", "fifth", "sixth")),
            "gap": _num(r, 1, 12),
            "games": _num(r, 3, 15),
            "crowd": f"{r.randint(2, 40)},{r.randint(100, 999)}",
        },
    ),
    (
        "weather_warning",
        "The {office} has issued a {colour} warning for {hazard} covering {area} from {start} "
        "until {end} on {day}.\n\nUp to {amount} millimetres could fall in places, with gusts of "
        "{gust} kilometres per hour possible on exposed coasts and hills.\n\nForecasters said "
        "travel disruption was likely and that some rural communities could be cut off for a "
        "time. Drivers were advised to allow extra time for journeys and to avoid flooded roads, "
        "and residents near rivers were told to keep an eye on local flood alerts.",
        lambda r: {
            "office": r.choice(("National Weather Office", "Met Service")),
            "colour": r.choice(("yellow", "amber", "orange")),
            "hazard": r.choice(("heavy rain", "rain and wind", "snow and ice", "thunderstorms")),
            "area": r.choice(PLACES) + " and " + r.choice(PLACES),
            "start": f"{_num(r, 1, 11)} am",
            "end": f"{_num(r, 1, 11)} pm",
            "day": r.choice(WEEKDAYS),
            "amount": _num(r, 20, 150),
            "gust": _num(r, 50, 120),
        },
    ),
    (
        "court_notice",
        "A {age}-year-old {person} from {town} has been charged with {offence} after an incident "
        "on {street} on {day}.\n\n{pronoun} was arrested by officers from {station} police "
        "station and is due to appear before {court} Magistrates' Court on {date}.\n\nPolice "
        "asked anyone who witnessed the incident, or who has dashcam footage from the area "
        "between {start} and {end}, to contact them quoting reference {reference}.",
        lambda r: {
            "age": _num(r, 17, 70),
            "person": (p := r.choice(("man", "woman"))),
            "pronoun": "He" if p == "man" else "She",
            "town": r.choice(PLACES),
            "offence": r.choice(
                (
                    "dangerous driving",
                    "burglary",
                    "assault",
                    "criminal damage",
                    "theft from a vehicle",
                )
            ),
            "street": r.choice(
                ("Mill Street", "Harbour Road", "Station Lane", "the High Street", "Church Walk")
            ),
            "day": r.choice(WEEKDAYS),
            "station": r.choice(PLACES),
            "court": r.choice(PLACES),
            "date": _date(r),
            "start": f"{_num(r, 1, 11)} pm",
            "end": f"{_num(r, 1, 11)} am",
            "reference": f"{r.randint(100, 999)} of {_date(r)}",
        },
    ),
    (
        "death_notice",
        "{name}, of {town}, died peacefully at {place} on {date}, aged {age}.\n\nBeloved {role} "
        "of {partner}, and much loved by family and friends. {name_short} worked for {years} "
        "years at {employer} and was a longstanding member of the {club}.\n\nThe funeral service "
        "will take place at {church} on {funeral_date} at {hour} am, followed by a private "
        "burial. Family flowers only; donations, if desired, to the {charity}.",
        lambda r: {
            "name": (n := r.choice(PEOPLE)),
            "name_short": n.split()[0],
            "town": r.choice(PLACES),
            "place": r.choice(("home", "St Anne's Hospice", "Redwater General Hospital")),
            "date": _date(r),
            "age": _num(r, 60, 99),
            "role": r.choice(("wife", "husband", "mother", "father")),
            "partner": r.choice(PEOPLE).split()[0],
            "years": _num(r, 10, 45),
            "employer": r.choice(("the harbour board", "Almora Foods", "the county council")),
            "club": r.choice(("bowls club", "choral society", "sailing club", "rotary club")),
            "church": r.choice(("St Mary's Church", "the Methodist Chapel", "Holy Trinity")),
            "funeral_date": _date(r),
            "hour": _num(r, 9, 11),
            "charity": r.choice(("hospice", "lifeboat station", "heart foundation")),
        },
    ),
]
HELD_OUT_FRAMES = {"match_report", "weather_warning", "court_notice", "death_notice"}

COURIER_FOOTER = [
    "About the Valley Courier: the Valley Courier is an independent, reader-funded newspaper "
    "serving the towns and villages of the upper valley since 1952. Our newsroom is based on "
    "Bridge Street and our journalists follow the editors' code of practice.",
    "Contact us: to report a story, correct an error or ask about advertising, write to the "
    "newsdesk at the address on our website or call the office on weekdays between nine and five. "
    "Letters to the editor may be edited for length and clarity before publication.",
    "Disclaimer: notices and listings are published as supplied by the organisers, and the "
    "Valley Courier cannot accept responsibility for changes to dates, times or venues. Always "
    "check with the organiser before travelling to an event.",
]
COURIER_ITEMS = [
    "The library on Bridge Street will close early on Thursday for staff training and reopen at "
    "nine on Friday morning.",
    "Almora primary school has raised 1,240 pounds for a new climbing frame after a sponsored "
    "walk along the river path last weekend.",
    "A lost black labrador answering to the name of Bramble was found near the Glenrock "
    "allotments on Sunday and is being looked after by the vets on Mill Lane.",
    "The valley choir is looking for new tenors and basses ahead of its winter concert; "
    "rehearsals are on Tuesday evenings in the church hall.",
    "Roadworks on the A614 near Farrow will continue until the end of the month, with temporary "
    "traffic lights in place between seven in the evening and six in the morning.",
    "Eskdale cricket club held its annual dinner at the Kings Arms, where Lena Fischer was named "
    "player of the year for the second season running.",
    "A planning application for eight new homes on the former dairy site at Pellworth has been "
    "submitted to the district council, which will decide on it in May.",
    "The farmers market returns to the market square in Dunmore on Saturday, with 30 stalls "
    "selling cheese, bread, honey and plants.",
    "Volunteers collected 46 bags of litter from the banks of the Redwater during a clean-up "
    "organised by the angling society on Saturday.",
    "The Northam bus depot has changed the timetable of the number 12 service, which will now "
    "leave the station every 20 minutes instead of every half hour.",
    "Quarry Hill parish council meets on Wednesday at seven in the village hall to discuss the "
    "future of the playing fields; residents are welcome to attend.",
    "The swimming pool in Saltcombe reopens on Monday after a three-week closure to repair the "
    "roof, with early morning lane swimming from half past six.",
]
RESULT_FRAME = (
    "Final score: {home} {home_goals}, {away} {away_goals}. {scorer} scored for {home} in the "
    "{minute}th minute and {keeper} saved a penalty from {taker} in the second half. {home} "
    "move to {points} points.\n\nResults are supplied by the county league and remain subject "
    "to confirmation by the league's disciplinary panel."
)
NOTICE_FRAME = (
    "Road closure: {street} in {town} will be closed between {start} and {end} from {date} "
    "for {reason}. A signed diversion will run via {via}. Access for residents and emergency "
    "vehicles will be maintained.\n\nNotices are published on behalf of the county highways "
    "department, which is responsible for their content."
)


def _result_fill(r: random.Random) -> dict[str, str]:
    home, away = r.sample(TEAMS, 2)
    return {
        "home": home,
        "away": away,
        "home_goals": _num(r, 1, 4),
        "away_goals": _num(r, 0, 3),
        "scorer": r.choice(PEOPLE),
        "minute": _num(r, 11, 89),
        "keeper": r.choice(PEOPLE),
        "taker": r.choice(PEOPLE),
        "points": _num(r, 10, 60),
    }


def _notice_fill(r: random.Random) -> dict[str, str]:
    return {
        "street": r.choice(
            (
                "Mill Street",
                "Harbour Road",
                "Station Lane",
                "Church Walk",
                "Bridge Street",
                "Queens Avenue",
            )
        ),
        "town": r.choice(PLACES),
        "start": f"{_num(r, 6, 10)} am",
        "end": f"{_num(r, 3, 8)} pm",
        "date": _date(r),
        "reason": r.choice(("resurfacing", "gas main repairs", "drainage works", "a street fair")),
        "via": r.choice(("the ring road", "Castle Lane", "Victoria Road", "the bypass")),
    }


def _distinct_fillings(frame: str, fill: FrameFill, count: int, rng: random.Random) -> list[str]:
    texts: list[str] = []
    while len(texts) < count:
        text = frame.format(**fill(rng))
        if text not in texts:
            texts.append(text)
    return texts


def _copy_of(text: str, rng: random.Random, edit: str) -> str:
    return EDITS[edit](text, rng)


def family_docs(originals: list[Doc], rng: random.Random) -> list[Doc]:
    docs: list[Doc] = []
    # Templated reports: 8 frames x 10 fillings, each filling its own story, published by one
    # wire on day 1; three fillings per frame get a syndicated copy on day 2.
    for name, frame, fill in FRAMES:
        held_out = name in HELD_OUT_FRAMES
        for number, text in enumerate(_distinct_fillings(frame, fill, 10, rng)):
            cluster = f"tpl:{name}:{number}"
            # Local outlets each publish the agency's automated reports under their own name, so
            # no outlet sees one frame often enough to learn it as boilerplate: facts must tell.
            outlet = f"local{rng.randrange(8)}"
            url = f"https://{outlet}.example/{name}/{number}"
            docs.append(
                Doc(
                    cluster,
                    url,
                    text,
                    cluster,
                    "original",
                    1,
                    outlet,
                    family="templated",
                    held_out=held_out,
                )
            )
            if number < 3:
                edit = ("dateline", "substitutions", "truncation")[number]
                docs.append(
                    Doc(
                        f"{cluster}#copy",
                        f"https://reposter.example/{name}/{number}",
                        _copy_of(text, rng, edit),
                        cluster,
                        edit,
                        2,
                        "reposter",
                        family="templated",
                        held_out=held_out,
                    )
                )
    # Short items of one outlet, each ending with its long footer, over two days; four are
    # reposted by another outlet without the footer.
    for number, item in enumerate(COURIER_ITEMS):
        cluster = f"footer:{number}"
        day = 1 + number % 2
        docs.append(
            Doc(
                cluster,
                f"https://courier.example/news/{number}",
                "\n\n".join([item, *COURIER_FOOTER]),
                cluster,
                "original",
                day,
                "valley-courier",
                family="footer",
            )
        )
        if number < 4:
            docs.append(
                Doc(
                    f"{cluster}#copy",
                    f"https://countywire.example/{number}",
                    item,
                    cluster,
                    "repost",
                    2,
                    "county-wire",
                    family="footer",
                )
            )
    # Same-day items of one type from one results desk, with its standard closing line.
    for kind, frame, fill in (
        ("result", RESULT_FRAME, _result_fill),
        ("notice", NOTICE_FRAME, _notice_fill),
    ):
        for number, text in enumerate(_distinct_fillings(frame, fill, 12, rng)):
            cluster = f"sameday:{kind}:{number}"
            docs.append(
                Doc(
                    cluster,
                    f"https://results.example/{kind}/{number}",
                    text,
                    cluster,
                    "original",
                    2,
                    "results-desk",
                    family="same_day",
                    held_out=True,
                )
            )
            if number < 2:
                docs.append(
                    Doc(
                        f"{cluster}#copy",
                        f"https://reposter.example/{kind}/{number}",
                        _copy_of(text, rng, "dateline"),
                        cluster,
                        "dateline",
                        2,
                        "reposter",
                        family="same_day",
                        held_out=True,
                    )
                )
    # Revisions of a long story (a live blog's next version): one figure updated and an update
    # paragraph added on top. Same story, though one fact now disagrees.
    revised = 0
    for number, base in enumerate(originals):
        figures = list(re.finditer(r"\b\d+\b", base.text))
        if len(base.text.split()) < 250 or not figures:
            continue
        figure = rng.choice(figures)
        changed = str(int(figure.group(0)) + rng.randint(1, 9))
        body = base.text[: figure.start()] + changed + base.text[figure.end() :]
        update = (
            f"Update, {rng.randint(10, 23)}:{rng.randint(10, 59)}: {rng.choice(PEOPLE)} told "
            f"reporters in {rng.choice(PLACES)} that the figures would be revised again later."
        )
        docs.append(
            Doc(
                f"{base.doc_id}#revision",
                f"https://liveblog.example/{number}",
                "\n\n".join([update, body]),
                base.cluster,
                "revision",
                2,
                "liveblog",
                family="revisions",
                held_out=number % 2 == 1,
            )
        )
        revised += 1
        if revised == 30:
            break
    # Briefs of long stories, as the issue measured them (Jaccard ~0.45, containment ~0.65):
    # the lede and most later sentences, some dropped, the kept ones lightly reworded.
    for number, base in enumerate(originals):
        if len(base.text.split()) < 250:
            continue
        paras = paragraphs(base.text)
        sentences = [s for p in paras[1:] for s in re.split(r"(?<=[.!?]) ", p) if s.strip()]
        keep = rng.uniform(0.6, 0.85)
        picked = [s for s in sentences if rng.random() < keep]
        brief = "\n\n".join([paras[0], " ".join(picked)])
        brief = substitute_words(brief, rng, rng.uniform(0.04, 0.07))
        docs.append(
            Doc(
                f"{base.doc_id}#brief",
                f"https://briefs.example/{number}",
                brief,
                base.cluster,
                "brief",
                2,
                "briefs",
                family="briefs",
                held_out=number % 2 == 1,
            )
        )
    return docs


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
    expected = true_pairs * predicted_pairs / total if total else 0.0
    maximum = (true_pairs + predicted_pairs) / 2
    ari = (both - expected) / (maximum - expected) if maximum != expected else 1.0
    return both, true_pairs, predicted_pairs, ari


def pairwise(docs: list[Doc], story_of: dict[str, str], touching: set[str]) -> tuple[int, int, int]:
    """(correct, true, predicted) pairs with at least one doc in ``touching``."""
    rest = [d for d in docs if d.doc_id not in touching]
    counts = []
    for group in (docs, rest):
        both, true_pairs, predicted_pairs, _ = pair_counts(
            [d.cluster for d in group], [story_of[d.doc_id] for d in group]
        )
        counts.append((both, true_pairs, predicted_pairs))
    (b1, t1, p1), (b2, t2, p2) = counts
    return b1 - b2, t1 - t2, p1 - p2


def report_families(docs: list[Doc], story_of: dict[str, str]) -> None:
    print("per family (pairs touching the family's docs), tuning half | held-out half")
    for family in sorted({d.family for d in docs}):
        cells = []
        for held_out in (False, True):
            members = {d.doc_id for d in docs if d.family == family and d.held_out == held_out}
            if not members:
                cells.append(f"{'-':>44s}")
                continue
            # The family with the project docs (their bases); pairs touching the family.
            group = [d for d in docs if d.family in (family, "project")]
            both, true_pairs, predicted_pairs = pairwise(group, story_of, members)
            precision = both / predicted_pairs if predicted_pairs else 1.0
            recall = both / true_pairs if true_pairs else 1.0
            cells.append(
                f"P {precision:.4f} R {recall:.4f} (pairs {true_pairs:4d}/{predicted_pairs:4d})"
            )
        print(f"  {family:10s} {cells[0]} | {cells[1]}")


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
            per_edit[f"{doc.family}:{doc.edit}"].append(
                story_of[doc.doc_id] == original_story[doc.cluster]
            )
    report_families(docs, story_of)
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
    parser.add_argument(
        "--no-families", action="store_true", help="only the project's set from before issue 13"
    )
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.set)
    settings = DedupSettings.model_validate(overrides)
    rng = random.Random(args.seed)
    docs = bases(args.bench_truth)
    originals = [d for d in docs if d.edit == "original"]
    docs += make_copies(originals, rng) + hard_negatives(originals, rng)
    if not args.no_families:
        docs += family_docs(originals, random.Random(args.seed + 1))
    print(f"settings: {settings.model_dump()}  seed {args.seed}")
    print(
        f"bases: {len(originals)} ({sum(1 for d in originals if d.doc_id.startswith('bench:'))} "
        f"from the bench ground truth)"
    )

    articles = [to_article(doc, i) for i, doc in enumerate(docs)]
    result = deduplicate(articles, settings)
    by_id = {
        a.article_id: s.story_id for a, s in zip(result.articles, result.assignments, strict=True)
    }
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
                a.article_id: s.story_id for a, s in zip(ran.articles, ran.assignments, strict=True)
            }
            story_of.update(
                {d.doc_id: by_id[a.article_id] for (d, _), a in zip(todays, fresh, strict=True)}
            )
        report("two days (bases day 1, copies day 2, through the index)", docs, story_of)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Authors: the people (or named desks) who wrote the article, and the agencies credited apart.

Sources, best first: the article's JSON-LD ``author``; ``<meta name=author>`` when it looks like a
person; the byline markup (``rel=author``, ``itemprop=author``) inside the article, its header
first; a byline-classed element inside the article. Bylines are split at commas, ampersands and
the page language's word for "and" ("A og B", "A y B"). News-agency credits (AP, Reuters, dpa,
...) go to ``agencies``, not ``authors``. Photo credits, comment signatures ("X says"), CMS
accounts ("admin", "Super User") and the site's own name are not authors.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bs4 import Tag

from pipeline.extract.body import normalize_text
from pipeline.extract.dates import MONTH_NAMES
from pipeline.extract.scope import ArticleScope, Place

# News agencies as credited in bylines, lower-cased -> one spelling (to tell duplicates apart).
AGENCIES: dict[str, str] = {
    "ap": "AP", "associated press": "AP", "the associated press": "AP", "reuters": "Reuters",
    "thomson reuters": "Reuters", "afp": "AFP", "agence france-presse": "AFP",
    "agence france presse": "AFP", "dpa": "dpa", "dpa-afx": "dpa-AFX", "apa": "APA",
    "ansa": "ANSA", "efe": "EFE", "europa press": "Europa Press", "kna": "KNA", "epd": "epd",
    "sda": "SDA", "keystone-sda": "Keystone-SDA", "ats": "ATS", "ritzau": "Ritzau",
    "ntb": "NTB", "tt": "TT", "pa": "PA", "pa media": "PA", "press association": "PA",
    "xinhua": "Xinhua", "kyodo": "Kyodo", "yonhap": "Yonhap", "belga": "Belga", "anp": "ANP",
    "lusa": "Lusa", "ctk": "ČTK", "čtk": "ČTK", "pap": "PAP", "tass": "TASS",
    "ria novosti": "RIA Novosti", "interfax": "Interfax", "upi": "UPI", "aap": "AAP",
    "sid": "SID", "dts": "dts", "awp": "AWP", "anadolu": "Anadolu", "ani": "ANI", "pti": "PTI",
    "ians": "IANS", "bloomberg": "Bloomberg", "cnn wire": "CNN Wire", "agencies": "agencies",
    "agenturen": "agencies", "agencias": "agencies", "agences": "agencies",
    "agenzie": "agencies", "wires": "agencies", "wire services": "agencies",
}  # fmt: skip
_AGENCY_SUFFIX = re.compile(r"\s+(?:nachrichtenagentur|news agency|agency|agentur)$", re.I)

# The word for "and" between names, by language; English "and" and "&" are always separators.
AND_WORDS: dict[str, tuple[str, ...]] = {
    "de": ("und",), "fr": ("et",), "es": ("y", "e"), "ca": ("i",), "it": ("e", "ed"),
    "pt": ("e",), "nl": ("en",), "da": ("og",), "no": ("og",), "nb": ("og",), "nn": ("og",),
    "sv": ("och",), "fi": ("ja",), "pl": ("i",), "cs": ("a",), "sk": ("a",), "ru": ("и",),
    "uk": ("і", "та"), "tr": ("ve",), "ro": ("și", "si"), "hu": ("és",), "el": ("και",),
    "kl": ("aamma", "og"), "is": ("og",),
}  # fmt: skip

# Words that make a candidate something other than a personal name.
REJECT_WORDS: frozenset[str] = frozenset(
    {
        "ago", "staff", "news", "press", "wire", "desk", "team", "editor", "editors",
        "editorial", "reporter", "reporters", "correspondent", "contributor", "contributors",
        "admin", "administrator", "webmaster", "updated", "published", "posted", "media",
        "newsroom", "online", "digital", "service", "services", "inc", "ltd", "llc", "gmbh",
        "ag", "se", "e.v", "ev", "kg", "group", "magazine", "magazin", "times", "post", "daily",
        "tribune", "herald", "journal", "gazette", "network", "tv", "radio", "redaktion",
        "verlag", "stiftung", "verband", "blog", "user", "unknown", "anonymous", "guest",
        "gast", "redacción", "rédaction", "redazione", "redactie", "foto", "photo", "image",
        "bild", "fotos", "photos", "getty", "istock", "istockphoto", "shutterstock", "imago",
        "picture", "alliance", "scanpix", "unbenannt", "untitled", "nom", "name", "default",
        "germany", "deutschland", "nachrichten", "agentur", "nachrichtenagentur",
        "share", "teilen", "mehr", "more",
        "datum", "date", "fecha", "monday", "tuesday", "wednesday", "thursday", "friday",
        "saturday", "sunday", "montag", "dienstag", "mittwoch", "donnerstag", "freitag",
        "samstag", "sonntag", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi",
        "dimanche", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo",
    }
)  # fmt: skip
# Words that make a name a desk ("Guardian staff", "Wirtschaftsredaktion" is one word: not here).
DESK_WORDS: frozenset[str] = frozenset(
    {"staff", "desk", "team", "redaktion", "newsroom", "editorial", "reporter", "editors",
     "rédaction", "redacción", "redazione", "redactie", "redaksjonen", "redaktionen"}
)  # fmt: skip
FUNCTION_WORDS: frozenset[str] = frozenset(
    {"by", "von", "in", "at", "on", "the", "and", "und", "all", "of", "de", "par", "por", "av"}
)
# CMS accounts and placeholders that fill <meta name=author>.
PLACEHOLDER_NAMES: frozenset[str] = frozenset(
    {"super user", "no author", "wordpressadmin", "wpadmin", "admin", "administrator", "root"}
)
# Prefixes that introduce a name ("Veröffentlicht von X").
_PREFIX = re.compile(
    r"^(?:(?:written|posted|published|reported|reporting|story|words|text|interview|"
    r"veröffentlicht|geschrieben|verfasst|ein\s+beitrag|ein\s+kommentar|publié|publicado"
    r"|escrito|scritto|pubblicato|geplaatst)\s+(?:by|von|par|por|da|door)\b|by|von|vom|from"
    r"|par|por|di|da|door|av|af|text|texte|textes|autor|autorin|author|autore|auteur|interview"
    r"|quelle|source|fuente|fonte|bron|kilde)\s*:?\s+",
    re.IGNORECASE,
)
# A comment's signature: "X says", "X sagt:".
_COMMENT_SIGNATURE = re.compile(
    r"\s(?:says|said|sagt|schreibt|wrote|dice|dit|escribe|schreef)\s*:?$", re.I
)
_CREDIT_LABEL = re.compile(r"^(?:foto|fotos|photo|photos|bild|image|images|credit|grafik)\b", re.I)
_PARENS = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]")
_PARTICLES = frozenset(
    {"von", "van", "de", "der", "den", "da", "di", "du", "dos", "das", "del", "la", "le", "bin",
     "al", "el", "ten", "ter", "zu", "y", "af", "of"}
)  # fmt: skip
MAX_NAME_WORDS = 5
# More names than this in one source is a reference list, not a byline.
MAX_AUTHORS = 12
MAX_BYLINE_CHARS = 200
BYLINE_CLASS = re.compile(r"byline|author|autor|verfasser|writer|journalist|reporter", re.I)
_BYLINE_CLASS_REJECT = re.compile(r"avatar|image|img|photo|bio|about|description|social", re.I)


@dataclass
class Authors:
    authors: list[str] = field(default_factory=list)
    agencies: list[str] = field(default_factory=list)
    source: str | None = None


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def agency_credit(text: str) -> str | None:
    """The agency ``text`` names ("dpa", "Reuters", "SID Nachrichtenagentur"), as written."""
    written = _AGENCY_SUFFIX.sub("", text.strip(" .:()[]-–—")).strip()
    return written if written.lower() in AGENCIES else None


def _agency_key(credit: str) -> str:
    return AGENCIES.get(credit.lower(), credit).lower()


def _split_pattern(lang: str | None) -> re.Pattern[str]:
    words = ["and", "und"] if lang is None else ["and", *AND_WORDS.get(lang[:2].lower(), ())]
    alternation = "|".join(re.escape(w) for w in words)
    return re.compile(rf"\s*(?:,|;|/|&|·|•|\+|\s[-–—]\s)\s*|\s+(?:{alternation})\s+", re.IGNORECASE)


# A lower-case brand or section word before the lead word, then a name of two capitalised words
# or more ("capital von Jemima Kelly"); "Richard von Weizsäcker" has no such shape.
_KICKER_LEAD = re.compile(
    r"^(?P<kicker>\S+(?:\s+\S+){0,2}?)\s+(?:von|by|par|por|door)\s+(?P<rest>\S+\s+\S.*)$"
)


def _after_kicker(text: str) -> str:
    match = _KICKER_LEAD.match(text)
    if match is None or not match.group("kicker")[0].islower():
        return text
    rest = match.group("rest")
    first, second = rest.split()[:2]
    return rest if first[0].isupper() and second[0].isupper() else text


def _strip_prefixes(text: str) -> str:
    previous = None
    while previous != text:
        previous = text
        text = _PREFIX.sub("", text).strip(" .:-–—|")
    return text


def split_byline(
    raw: str, lang: str | None = None, outlet_names: Iterable[str] = ()
) -> tuple[list[str], list[str]]:
    """One byline string -> (personal names, agency credits)."""
    names: list[str] = []
    agencies: list[str] = []
    text = normalize_text(html.unescape(raw))
    if not text or "://" in text or text.startswith("www.") or _CREDIT_LABEL.match(text):
        return names, agencies
    # Parenthesised asides are handles "(obe)", agencies "(dpa)" or image credits.
    for match in _PARENS.finditer(text):
        inner = match.group(1) or match.group(2) or ""
        for piece in re.split(r"[/,;]", inner):
            credit = agency_credit(piece)
            if credit:
                agencies.append(credit)
    text = _PARENS.sub(" ", text)
    text = normalize_text(text)
    if "|" in text or "@" in text or _COMMENT_SIGNATURE.search(text):
        return names, agencies
    text = _strip_prefixes(text)
    text = _after_kicker(text)  # "capital von Jemima Kelly": a brand word, then the byline
    outlets = {_fold(o) for o in outlet_names if o}
    for part in _split_pattern(lang).split(text):
        name = _strip_prefixes(_cut_date(part).strip(" .:-–—\t*")).strip()
        if not name:
            continue
        credit = agency_credit(name)
        if credit:
            agencies.append(credit)
            continue
        if _is_name(name, outlets):
            names.append(name)
    return names, agencies


def _cut_date(part: str) -> str:
    """ "Poppy Reid Feb 21, 2020" -> "Poppy Reid": a byline often runs on into its date.

    Also drops a trailing date label or lower-case word ("Sara Zinnecker Stand", "X am").
    """
    words = part.split()
    for i, word in enumerate(words):
        if any(ch.isdigit() for ch in word):
            if i == 0:
                return part  # a digit first: not a byline with a date, left to the filters
            words = words[:i]
            break
    while words and words[-1].lower().strip(".,:") in MONTH_NAMES | _DATE_LABELS:
        words.pop()
    if any(w[:1].isupper() for w in words):
        while (
            len(words) > 1
            and words[-1].islower()
            and words[-1] not in _PARTICLES
            and words[-1] not in DESK_WORDS
        ):
            words.pop()
    return " ".join(words)


def is_named_desk(name: str) -> bool:
    """ "Guardian staff reporter", "MND Staff", "Redaktion Gelbe Liste": a desk with a name.

    A bare "Staff" or "Redaktion" names nobody and is not one.
    """
    words = [w.lower().strip(".,") for w in re.split(r"[\s-]+", name) if w.strip(".,")]
    desk = [w for w in words if w in DESK_WORDS]
    named = [w for w in words if w not in DESK_WORDS and w not in _PARTICLES]
    return (
        bool(desk)
        and bool(named)
        and len(words) <= MAX_NAME_WORDS
        and not any(w in REJECT_WORDS or w in AGENCIES for w in named)
        and not any(ch.isdigit() for ch in name)
    )


def _is_name(name: str, outlets: set[str]) -> bool:
    words = name.split()
    lowered = {w.lower().strip(".,") for w in words}
    folded = _fold(name)
    if is_named_desk(name) and folded not in outlets:
        return True
    if all(w.lower() in FUNCTION_WORDS for w in words):
        return False  # "By", "in", "and": a lead word left over, not a name
    return not (
        len(words) > MAX_NAME_WORDS
        or len(name) < 2
        or any(ch.isdigit() for ch in name)
        or lowered & REJECT_WORDS
        or folded in outlets
        or folded in PLACEHOLDER_NAMES
        or not any(ch.isalpha() for ch in name)
        or (name.isupper() and len(words) == 1 and len(name) <= 4)
        or (name.islower() and ("-" in name or "_" in name))  # a URL slug or login
        or (name.islower() and len(name) <= 3)
        or "." in folded.replace(". ", " ").rstrip(".").split()[-1][1:]  # a domain
    )


def looks_like_person(name: str, outlets: Iterable[str] = ()) -> bool:
    """Whether a ``<meta name=author>`` value is a person: capitalised given and family names."""
    if not _is_name(name, {_fold(o) for o in outlets if o}):
        return False
    words = name.split()
    if not 2 <= len(words) <= 4:
        return False
    for word in words:
        if word.lower() in _PARTICLES:
            continue
        first = word.lstrip("'‘’\"")[:1]
        if not first.isalpha() or not first.isupper():
            return False
    # A site or company name in the author slot often repeats the host's words.
    return all(_fold(w) not in o for o in outlets for w in words if len(w) > 3 and "." in o)


def clean_authors(
    raw_values: Iterable[str], outlet_names: Iterable[str] = (), lang: str | None = None
) -> list[str]:
    """Split and filter author strings down to personal names, order kept, no duplicates."""
    return _collect(raw_values, list(outlet_names), lang)[0]


def _collect(
    raw_values: Iterable[str], outlets: list[str], lang: str | None
) -> tuple[list[str], list[str]]:
    names: list[str] = []
    agencies: list[str] = []
    for raw in raw_values:
        found, credits = split_byline(raw, lang, outlets)
        names.extend(found)
        agencies.extend(credits)
    return _dedupe(names), _dedupe_agencies(agencies)


def _dedupe(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        key = _fold(value)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def _dedupe_agencies(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        if _agency_key(value) not in seen:
            seen.add(_agency_key(value))
            out.append(value)
    return out


def json_ld_names(value: Any) -> list[tuple[str, bool]]:
    """(name, is_organisation) for a JSON-LD author value."""
    if isinstance(value, str):
        return [(value, False)]
    if isinstance(value, dict):
        raw_type = value.get("@type")
        types = raw_type if isinstance(raw_type, list) else [raw_type]
        is_org = any(isinstance(t, str) and "organization" in t.lower() for t in types)
        name = value.get("name")
        if isinstance(name, str):
            return [(name, is_org)]
        if isinstance(name, list):
            return [(n, is_org) for n in name if isinstance(n, str)]
        given, family = value.get("givenName"), value.get("familyName")
        if isinstance(given, str) and isinstance(family, str):
            return [(f"{given} {family}", False)]
        return []
    if isinstance(value, list):
        return [n for item in value for n in json_ld_names(item)]
    return []


def _attr_words(tag: Tag, attr: str) -> list[str]:
    value = tag.attrs.get(attr)
    if isinstance(value, str):
        return value.lower().split()
    return [str(v).lower() for v in value] if isinstance(value, list) else []


def byline_markup(tags: Sequence[Tag], scope: ArticleScope) -> list[str]:
    """Texts of rel=author / itemprop=author elements in the best place the article offers."""
    found: list[tuple[Place, str]] = []
    for tag in tags:
        if tag.name in ("link", "meta"):
            continue
        is_rel = "author" in _attr_words(tag, "rel")
        is_prop = "author" in _attr_words(tag, "itemprop")
        if not (is_rel or is_prop):
            continue
        place = scope.place(tag)
        if place is None:
            continue
        target: Tag = tag
        if is_prop:
            props = [t for t in tag.descendants if isinstance(t, Tag) and t.get("itemprop")]
            inner = next((t for t in props if t.get("itemprop") == "name"), None)
            if inner is not None:
                target = inner
            elif props and tag.name != "a":
                continue  # a Person block without a name property: its text is a bio
        text = target.get("content") if target.name == "meta" else target.get_text(" ")
        if isinstance(text, str) and 0 < len(text.strip()) <= MAX_BYLINE_CHARS:
            found.append((place, text))
    if not found:
        return []
    best = min(place for place, _ in found)
    return [text for place, text in found if place == best]


def byline_by_class(tags: Sequence[Tag], scope: ArticleScope) -> list[str]:
    """Short byline-classed elements in the article, best placed first (header, then body)."""
    found: list[tuple[Place, int, str]] = []
    for order, tag in enumerate(tags):
        words = " ".join(str(tag.attrs.get(a) or "") for a in ("class", "id"))
        if not words or not BYLINE_CLASS.search(words) or _BYLINE_CLASS_REJECT.search(words):
            continue
        text = tag.get_text(" ")
        if not text.strip() or len(text) > MAX_BYLINE_CHARS:
            continue
        place = scope.place(tag)
        if place is not None:
            found.append((place, order, text))
    found.sort(key=lambda f: f[:2])
    # The first candidate that yields a name wins; the caller tries them in this order.
    return [text for _, _, text in found[:1]] + [
        text for place, _, text in found[1:MAX_BYLINE_CANDIDATES] if place == found[0][0]
    ]


_LEAD_WORDS = (
    r"by|von|par|por|door|av|af|di|autor(?:in)?(?:\s*/\s*autor(?:in)?)?"
    r"|written\s+by|posted\s+by|veröffentlicht\s+von|geschrieben\s+von"
)
# Words that lead a name only with a colon ("Text: X"; "Redaktion Gelbe Liste" is a desk).
_LABEL_WORDS = r"author|text|redaktion"
# A lead word, then the name ("By X", "Written by: X", "- Redaktion: X").
_BYLINE_LEAD = re.compile(
    rf"^[\s\-–—|·•]*(?:(?:{_LEAD_WORDS})(?:\s*:\s*|\s+)|(?:{_LABEL_WORDS})\s*:\s*)"
    r"(?P<rest>\S.{2,80})",
    re.IGNORECASE,
)
_LEAD_ONLY = re.compile(rf"^(?:{_LEAD_WORDS}|{_LABEL_WORDS})\s*:?$", re.IGNORECASE)
# Past the top of the article only a labelled credit counts ("Text: X", "Autorin: X"): prose
# starts with "By" or "Von" too, but not with "Autorin:".
_LABELLED = re.compile(rf"^[\s\-–—|·•]*(?:{_LEAD_WORDS}|{_LABEL_WORDS})\s*:", re.IGNORECASE)
MAX_BYLINE_CANDIDATES = 3
MAX_TEXT_NODES = 40
MAX_LABELLED_TEXT_NODES = 2000


def byline_text(scope: ArticleScope) -> list[str]:
    """A "By X" / "Von X" line in the article's header or at the top of its container.

    Further down the container, a labelled credit ("Text: X", "Autor: X", at an article's end).
    """
    zones = [z for z in (scope.header, scope.root) if z is not None]
    # Prose also starts with "By"/"Von"; a byline's name is capitalised and its line short.
    for zone in zones:
        for count, node in enumerate(zone.find_all(string=True)):
            if count > MAX_LABELLED_TEXT_NODES:
                break
            raw = str(node)
            if count > MAX_TEXT_NODES and not _LABELLED.match(raw):
                continue  # checked on the raw string: most text nodes end here, unnormalised
            parent = node.parent
            text = normalize_text(raw)
            if not text:
                continue
            if isinstance(parent, Tag) and scope.place(parent) is None:
                continue
            lead = _BYLINE_LEAD.match(text)
            if lead is None and _LEAD_ONLY.match(text):
                lead = _BYLINE_LEAD.match(_after_lead_only(parent))
            if lead is not None and len(text) <= MAX_BYLINE_LINE:
                name = _leading_name(lead.group("rest"))
                if name:
                    return [name]
    return []


def _after_lead_only(parent: Tag | None) -> str:
    """The lead word and what follows it, when the lead word's text node stands alone.

    "By <a>Name</a>": the parent's text. "<strong>Autor:</strong> <a>Name</a>": the lead
    element's text and its following siblings' text.
    """
    if not isinstance(parent, Tag):
        return ""
    whole = normalize_text(parent.get_text(" "))
    if not _LEAD_ONLY.match(whole):
        return whole
    parts = [whole]
    size = 0
    for sibling in parent.next_siblings:
        piece = sibling.get_text(" ") if isinstance(sibling, Tag) else str(sibling)
        parts.append(piece)
        size += len(piece)
        if size > MAX_BYLINE_LINE or (isinstance(sibling, Tag) and sibling.name == "br"):
            break
    return normalize_text(" ".join(parts))


MAX_BYLINE_LINE = 120


def _leading_name(text: str) -> str:
    """The run of capitalised words (and particles, "and" words, commas) a byline starts with."""
    kept: list[str] = []
    for word in text.split():
        bare = word.strip(",;")
        if not bare:
            break
        if bare[0].isupper() or (kept and bare.lower() in _PARTICLES | _JOINERS):
            if bare.lower().strip(".:") in _DATE_LABELS:
                break
            kept.append(word)
            if word.endswith((".", ":")) and len(bare) > 3:
                break
        else:
            break
    while kept and kept[-1].lower().strip(",;") in _PARTICLES | _JOINERS:
        kept.pop()
    return " ".join(kept).strip(",; ")


_JOINERS = frozenset(w for words in AND_WORDS.values() for w in words) | {"and", "&"}
_DATE_LABELS = frozenset(
    {"stand", "updated", "aktualisiert", "published", "veröffentlicht", "posted", "am", "on",
     "last", "publié", "publicado", "pubblicato"}
)  # fmt: skip


def find_authors(
    tags: Sequence[Tag],
    scope: ArticleScope,
    *,
    json_ld_author: Any,
    meta_authors: Sequence[str],
    outlet_names: Sequence[str],
    lang: str | None,
) -> Authors:
    outlets = [o for o in outlet_names if o]
    result = Authors()
    agencies: list[str] = []
    # JSON-LD: people as they are; an organisation only when it is not the site itself.
    ld_raw: list[str] = []
    for name, is_org in json_ld_names(json_ld_author):
        if is_org and (agency_credit(name) is None) and _fold(name) in {_fold(o) for o in outlets}:
            continue
        ld_raw.append(name)
    names, credits = _collect(ld_raw, outlets, lang)
    agencies.extend(credits)
    if 0 < len(names) <= MAX_AUTHORS:
        return Authors(names, _dedupe_agencies(agencies), "json-ld")
    person_meta: list[str] = []
    for raw in meta_authors:
        found, credits = split_byline(raw, lang, outlets)
        agencies.extend(credits)
        person_meta.extend(n for n in found if looks_like_person(n, outlets))
    if person_meta:
        return Authors(_dedupe(person_meta), _dedupe_agencies(agencies), "meta")
    candidates = [byline_markup(tags, scope)]
    candidates += [[text] for text in byline_by_class(tags, scope)]
    candidates.append(byline_text(scope))
    for raws in candidates:
        # A visible byline runs on into its neighbours: "von X | 3. Mai", " | X".
        names, credits = _collect((p for r in raws for p in r.split("|")), outlets, lang)
        if len(names) > MAX_AUTHORS:
            continue  # a reference list or a list of contributors to the site
        agencies.extend(credits)
        if names:
            return Authors(names, _dedupe_agencies(agencies), "html")
    result.agencies = _dedupe_agencies(agencies)
    return result

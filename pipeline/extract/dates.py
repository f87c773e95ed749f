"""Publication and modification dates: parsed without inventing precision, found in the article.

A date keeps what its source said and nothing more. ``2026-03-10`` is a day, not midnight UTC;
``2026-03-10T08:00+02:00`` keeps its offset so that the local publication day survives the
conversion to UTC; a wall-clock time without an offset is kept as a time whose offset is unknown.

Sources, best first (the order is the precedence chain; docs/metadata.md gives the measurements):
1. JSON-LD ``datePublished`` of the article object (``dateCreated``, ``uploadDate`` after);
2. ``<meta>`` publication keys (OpenGraph, Dublin Core, Parse.ly, Sailthru, ...);
3. markup in the article: ``itemprop=datePublished`` on any element, ``<time>`` (with or without
   ``datetime``), ``<abbr class=published title>``, ``<relative-time datetime>``; the article's
   header first, then its container, never comments, teasers or sidebars;
4. htmldate on the page, which reads visible-text dates in many languages (optional, see
   ``metadata.MetadataOptions``);
5. a date in the page URL.
htmldate's day, and a JSON-LD date only a generic WebPage declares, must be a day the page writes
in its visible text (``visible_days``): on undated pages both find stamps no reader sees.
Anything labelled "updated"/"modified" (in its key, class or the words just before it) is a
modification date and never a publication date.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urlsplit

from bs4 import Tag

from pipeline.extract.body import normalize_text
from pipeline.extract.scope import ArticleScope, Place

log = logging.getLogger(__name__)

MIN_YEAR = 1990


@dataclass(frozen=True)
class PageDate:
    """A date as the page gave it.

    ``utc`` is the moment in UTC; for a date without a time it is midnight UTC of ``day`` (the
    schema's ``published_at`` has to hold something) and ``time_known`` is False. ``day`` is the
    calendar day in the page's own offset. ``offset_minutes`` is None when the source gave none.
    """

    utc: datetime
    day: date
    time_known: bool
    offset_minutes: int | None
    source: str = ""

    def iso(self) -> str:
        """The value as written: a bare date, a wall-clock time, or a time with its offset."""
        if not self.time_known:
            return self.day.isoformat()
        if self.offset_minutes is None:
            return self.utc.replace(tzinfo=None).isoformat()
        zone = timezone(timedelta(minutes=self.offset_minutes))
        return self.utc.astimezone(zone).isoformat()

    def with_source(self, source: str) -> PageDate:
        return PageDate(self.utc, self.day, self.time_known, self.offset_minutes, source)


def _from_datetime(moment: datetime) -> PageDate | None:
    if moment.year < MIN_YEAR:
        return None
    offset = moment.utcoffset()
    if moment.tzinfo is None or offset is None:
        return PageDate(moment.replace(tzinfo=UTC), moment.date(), True, None)
    return PageDate(moment.astimezone(UTC), moment.date(), True, int(offset.total_seconds() // 60))


def _from_day(day: date) -> PageDate | None:
    if day.year < MIN_YEAR:
        return None
    return PageDate(datetime(day.year, day.month, day.day, tzinfo=UTC), day, False, None)


# --------------------------------------------------------------------------------------------
# Parsing

_ISO = re.compile(
    r"(?P<y>(?:19|20)\d{2})-?(?P<m>0[1-9]|1[0-2])-?(?P<d>0[1-9]|[12]\d|3[01])"
    r"(?:[T ](?P<H>[01]\d|2[0-3]):?(?P<M>[0-5]\d)(?::?(?P<S>[0-5]\d)(?:[.,]\d+)?)?"
    r"\s?(?P<tz>Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d|[+-](?:[01]\d|2[0-3]))?)?"
)
_HAS_DASHES = re.compile(r"\d{4}-\d{2}-\d{2}")

# Month names and their usual abbreviations in the languages of European and American news.
_MONTHS: dict[str, int] = {}
for _month, _names in enumerate(
    (
        "january jan januar janvier janv enero ene gennaio genn janeiro januari januar stycznia"
        " styczeń ocak января январь ιανουαρίου sty led ledna leden tammikuuta",
        "february feb februar février févr fevr febrero febr febbraio fevereiro fev februari"
        " lutego luty şubat февраля февраль φεβρουαρίου lut únor února helmikuuta",
        "march mar märz maerz mars marzo março marco maart mrt marca marzec mart марта март"
        " μαρτίου bře března březen maaliskuuta",
        "april apr avril avr abril abr aprile aprili kwietnia kwiecień kwi nisan апреля апрель"
        " απριλίου dub dubna duben huhtikuuta",
        "may mai mayo maggio magg maio mei maj maja mayıs мая май μαΐου μαΐου kvě května květen"
        " toukokuuta",
        "june jun juni juin junio giugno giu junho czerwca czerwiec cze haziran июня июнь"
        " ιουνίου čvn června červen kesäkuuta",
        "july jul juli juillet juil julio luglio lug julho lipca lipiec lip temmuz июля июль"
        " ιουλίου čvc července červenec heinäkuuta",
        "august aug august août aout agosto ago augustus augusti sierpnia sierpień sie ağustos"
        " августа август αυγούστου srp srpna srpen elokuuta",
        "september sep sept septembre septiembre settembre sett setembro set september"
        " września wrzesień wrz eylül сентября сентябрь σεπτεμβρίου zář září syyskuuta",
        "october oct oktober octobre octubre ottobre ott outubro out okt oktober października"
        " październik paź ekim октября октябрь οκτωβρίου říj října říjen lokakuuta",
        "november nov november novembre noviembre novembro listopada listopad lis kasım ноября"
        " ноябрь νοεμβρίου listopadu marraskuuta",
        "december dec dezember décembre decembre déc diciembre dic dicembre dezembro dez"
        " december grudnia grudzień gru aralık декабря декабрь δεκεμβρίου pro prosince prosinec"
        " joulukuuta",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS.setdefault(_name, _month)
MONTH_NAMES: frozenset[str] = frozenset(_MONTHS)
_MONTH_ALT = "|".join(sorted((re.escape(n) for n in _MONTHS), key=len, reverse=True))
# An optional time of day after the date ("- 04:30", "à 08h15", "at 4:30 pm").
_TIME = (
    r"(?:\D{0,12}?(?P<H>[01]?\d|2[0-3])[:.h](?P<M>[0-5]\d)(?:[:.](?P<S>[0-5]\d))?"
    r"\s*(?P<ap>[ap]\.?m\.?)?)?"
)
# "2 de abril de 2020", "8. April 2020", "10 mars 2026", "2 kwietnia 2020 r."
_DAY_MONTH_YEAR = re.compile(
    rf"(?<!\d)(?P<d>[0-3]?\d)(?:\.|er|st|nd|rd|th|º)?\s*(?:de\s+|of\s+)?(?P<mon>{_MONTH_ALT})\.?,?"
    rf"\s*(?:de\s+|del\s+)?(?P<y>(?:19|20)\d{{2}})(?!\d){_TIME}",
    re.IGNORECASE,
)
# "April 8, 2020", "Apr. 8 2020 at 4:30 pm"
_MONTH_DAY_YEAR = re.compile(
    rf"(?<!\w)(?P<mon>{_MONTH_ALT})\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<y>(?:19|20)\d{{2}})"
    rf"(?!\d){_TIME}",
    re.IGNORECASE,
)
# "22/11/2020 - 04:30", "22.11.2020", "11/22/2020"
_NUMERIC = re.compile(
    rf"(?<![\d/.])(?P<a>[0-3]?\d)(?P<sep>[./-])(?P<b>[01]?\d)(?P=sep)(?P<y>(?:19|20)\d{{2}})(?![\d/]){_TIME}"
)
_YEAR_FIRST = re.compile(
    rf"(?<![\d/.])(?P<y>(?:19|20)\d{{2}})(?P<sep>[./年])(?P<m>[01]?\d)(?:(?P=sep)|月)(?P<d>[0-3]?\d)日?(?![\d/]){_TIME}"
)
# Locales that write month-first numeric dates.
_MONTH_FIRST_LANGS = frozenset({"en-us", "en_us"})


def _clock(match: re.Match[str]) -> tuple[int, int, int] | None:
    hour = match.group("H")
    if hour is None:
        return None
    h, m = int(hour), int(match.group("M"))
    s = int(match.group("S") or 0)
    ampm = (match.group("ap") or "").lower().replace(".", "")
    if ampm == "pm" and h < 12:
        h += 12
    elif ampm == "am" and h == 12:
        h = 0
    return h, m, s


def _build(year: int, month: int, day: int, clock: tuple[int, int, int] | None) -> PageDate | None:
    try:
        if clock is None:
            return _from_day(date(year, month, day))
        return _from_datetime(datetime(year, month, day, *clock))
    except ValueError:
        return None


def parse_date(value: str, *, lang: str | None = None) -> PageDate | None:
    """Parse a machine date (ISO 8601, RFC 822) or a human one in many languages.

    A date without a time stays a date; a time without an offset keeps an unknown offset.
    """
    text = normalize_text(value)
    if not text:
        return None
    iso = _ISO.search(text)
    if iso is not None and (_HAS_DASHES.search(text) or len(text) <= 25):
        return _from_iso_match(iso)
    if re.match(r"^[A-Za-z]{3},?\s+\d", text):
        try:
            return _from_datetime(parsedate_to_datetime(text))
        except (TypeError, ValueError, IndexError):
            pass
    return parse_visible_date(text, lang=lang)


def _from_iso_match(iso: re.Match[str]) -> PageDate | None:
    year, month, day = int(iso.group("y")), int(iso.group("m")), int(iso.group("d"))
    if iso.group("H") is None:
        return _build(year, month, day, None)
    try:
        moment = datetime(
            year, month, day, int(iso.group("H")), int(iso.group("M")), int(iso.group("S") or 0)
        )
    except ValueError:
        return None
    zone = iso.group("tz")
    if zone:
        if zone == "Z":
            moment = moment.replace(tzinfo=UTC)
        else:
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
            moment = moment.replace(tzinfo=timezone(timedelta(minutes=sign * minutes)))
    return _from_datetime(moment)


def parse_visible_date(text: str, *, lang: str | None = None) -> PageDate | None:
    """The first date written for people in ``text``: month names, d.m.y, y年m月d日."""
    text = normalize_text(text)
    best: tuple[int, PageDate] | None = None
    for pattern in (_DAY_MONTH_YEAR, _MONTH_DAY_YEAR):
        for match in pattern.finditer(text):
            month = _MONTHS.get(match.group("mon").lower().rstrip("."))
            if month is None:
                continue
            found = _build(int(match.group("y")), month, int(match.group("d")), _clock(match))
            if found is not None and (best is None or match.start() < best[0]):
                best = (match.start(), found)
            break
    for match in _NUMERIC.finditer(text):
        first, second = int(match.group("a")), int(match.group("b"))
        month_first = (lang or "").lower() in _MONTH_FIRST_LANGS or match.group("sep") == "/"
        if (month_first and second > 12) or (not month_first and second > 12 and first <= 12):
            first, second = second, first
        if first > 12 and second > 12:
            continue
        day, month = (second, first) if month_first and first <= 12 else (first, second)
        found = _build(int(match.group("y")), month, day, _clock(match))
        if found is not None and (best is None or match.start() < best[0]):
            best = (match.start(), found)
        break
    for match in _YEAR_FIRST.finditer(text):
        found = _build(
            int(match.group("y")), int(match.group("m")), int(match.group("d")), _clock(match)
        )
        if found is not None and (best is None or match.start() < best[0]):
            best = (match.start(), found)
        break
    if best is None:
        iso = _ISO.search(text)
        if iso is not None and _HAS_DASHES.search(text):
            return _from_iso_match(iso)
    return best[1] if best else None


def visible_days(text: str) -> set[date]:
    """Every calendar day written in ``text``, in any format we read.

    A numeric date whose day/month order is ambiguous counts both ways: the set is used to
    corroborate a date found elsewhere, not to choose one. Built around the four-digit years in
    the text, so that a long page costs little.
    """
    days: set[date] = set()

    def add(year: int, month: int | None, day: str) -> None:
        if month is not None:
            with contextlib.suppress(ValueError):  # "31.02.2020" is no day
                days.add(date(year, month, int(day)))

    for found in _YEAR.finditer(text):
        year, at = int(found.group()), found.start()
        before = text[max(0, at - _BEFORE_YEAR) : at]
        if match := _BEFORE_DMY.search(before):
            add(year, _MONTHS.get(match.group("mon").lower()), match.group("d"))
        if match := _BEFORE_MDY.search(before):
            add(year, _MONTHS.get(match.group("mon").lower()), match.group("d"))
        if match := _BEFORE_NUMERIC.search(before):
            first, second = match.group("a"), match.group("b")
            add(year, int(second), first)
            add(year, int(first), second)
        if match := _AFTER_YEAR.match(text, found.end()):
            add(year, int(match.group("m")), match.group("d"))
    for match in _SHORT_YEAR.finditer(text):
        # "26.10.13": a two-digit year is read in this century or the last, whichever is past.
        short = int(match.group("y"))
        add(2000 + short if short < 70 else 1900 + short, int(match.group("b")), match.group("a"))
    return days


_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
_BEFORE_YEAR = 40
_BEFORE_DMY = re.compile(
    r"(?<!\d)(?P<d>[0-3]?\d)(?:\.|er|st|nd|rd|th|º)?\s*(?:de\s+|of\s+)?(?P<mon>[^\W\d_]+)\.?,?"
    r"\s*(?:de\s+|del\s+)?$"
)
_BEFORE_MDY = re.compile(r"(?<!\w)(?P<mon>[^\W\d_]+)\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?\s+$")
_BEFORE_NUMERIC = re.compile(r"(?<![\d/.])(?P<a>[0-3]?\d)(?P<sep>[./-])(?P<b>[01]?\d)(?P=sep)$")
_AFTER_YEAR = re.compile(r"(?P<sep>[./年-])(?P<m>[01]?\d)(?:(?P=sep)|月)(?P<d>[0-3]?\d)(?!\d)")
_SHORT_YEAR = re.compile(r"(?<![\d.])(?P<a>[0-3]?\d)\.(?P<b>[01]?\d)\.(?P<y>\d{2})(?![\d.])")


# --------------------------------------------------------------------------------------------
# Finding the candidates

PUBLISHED_META_KEYS: tuple[str, ...] = (
    "article:published_time", "og:article:published_time", "article:published:time",
    "og:published_time", "article:published", "datepublished", "publication_date",
    "publication-date", "pubdate", "publishdate", "publish-date", "publish_date",
    "published_time", "published-date", "published_date", "article.published",
    "parsely-pub-date", "sailthru.date", "original-publish-date", "article_date_original",
    "dc.date.issued", "dcterms.issued", "dc.date.created", "dcterms.created", "dc.date",
    "dcterms.date", "date", "citation_publication_date", "citation_date",
    "prism.publicationdate", "rnews:datepublished", "cxenseparse:recs:publishtime",
    "bt:pubdate", "og:pubdate", "pub_date", "displaydate", "datecreated", "uploaddate",
    "date.available", "release_date",
)  # fmt: skip
MODIFIED_META_KEYS: tuple[str, ...] = (
    "article:modified_time", "og:article:modified_time", "article:modified", "og:updated_time",
    "datemodified", "lastmod", "last-modified", "dc.date.modified", "dcterms.modified",
    "article.updated", "revised", "modified_time", "last_updated", "updated_time",
    "article:updated_time",
)  # fmt: skip

# Words right before a date that say it is a modification date.
_UPDATED_LABEL = re.compile(
    r"(?:updated?|modified|last\s+edit|aktualisiert|geändert|stand|mis\s+à\s+jour|modifié"
    r"|actualizad[oa]|actualización|aggiornat[oa]|atualizad[oa]|bijgewerkt|gewijzigd"
    r"|oppdatert|opdateret|uppdaterad|päivitetty|zaktualizowano|aktualizacja|güncelleme"
    r"|güncellendi|обновлено|ενημερώθηκε)\s*:?\s*(?:am|le|el|il|on|at|op|den)?\s*$",
    re.IGNORECASE,
)
_PUBLISHED_HINT = re.compile(r"publish|pubdate|posted|created|erstellt|veröffentlicht", re.I)
_MODIFIED_HINT = re.compile(r"modif|updat|aktualis|edited|changed", re.I)
_PRECEDING_CHARS = 40


def _hints(tag: Tag) -> str:
    return " ".join(
        str(tag.attrs.get(a) or "") for a in ("class", "id", "itemprop", "name", "data-type")
    )


def _label_before(tag: Tag) -> str:
    """The text just before ``tag`` inside its parent ("Updated: ")."""
    parts: list[str] = []
    size = 0
    node = tag.previous_sibling
    while node is not None and size < _PRECEDING_CHARS:
        text = node.get_text(" ") if isinstance(node, Tag) else str(node)
        parts.append(text)
        size += len(text)
        node = node.previous_sibling
    before = " ".join(reversed(parts))
    if not before.strip() and isinstance(tag.parent, Tag):
        parent = tag.parent
        if len(parent.get_text()) < 120 and parent.name not in ("body", "article", "main"):
            return _label_before(parent)
    return before[-_PRECEDING_CHARS:]


Kind = Literal["published", "modified", "either"]


def _kind(tag: Tag) -> Kind:
    hints = _hints(tag)
    if tag.has_attr("pubdate") or _PUBLISHED_HINT.search(hints):
        return "published"
    if _MODIFIED_HINT.search(hints) or _UPDATED_LABEL.search(_label_before(tag)):
        return "modified"
    inner = tag.get_text(" ")[:_PRECEDING_CHARS]
    if _UPDATED_LABEL.search(inner.split(":")[0] + ":") and ":" in inner:
        return "modified"
    return "either"


@dataclass(frozen=True)
class MarkupDate:
    place: Place
    kind: Kind
    found: PageDate


def _tag_value(tag: Tag, lang: str | None) -> tuple[PageDate | None, str]:
    """The date an element states, and the name of the source it counts as."""
    if tag.name == "meta":
        return None, ""
    itemprop = str(tag.attrs.get("itemprop") or "").lower()
    for attr in ("datetime", "content", "title", "data-datetime", "data-date", "data-timestamp"):
        raw = tag.attrs.get(attr)
        if isinstance(raw, str) and raw.strip():
            if attr == "data-timestamp" and raw.strip().isdigit():
                seconds = int(raw.strip()[:10])
                found = _from_datetime(datetime.fromtimestamp(seconds, UTC))
            else:
                found = parse_date(raw, lang=lang)
            if found is not None:
                source = "itemprop" if "date" in itemprop else f"{tag.name}-tag"
                return found, source
    if tag.name in ("time", "relative-time") or "date" in itemprop:
        text = tag.get_text(" ")
        if len(text) <= 120:
            found = parse_visible_date(text, lang=lang)
            if found is not None:
                return found, f"{tag.name}-text"
    return None, ""


def markup_dates(tags: Sequence[Tag], scope: ArticleScope, lang: str | None) -> list[MarkupDate]:
    """Dates stated by elements meant to carry one, with their place and kind, page order."""
    found: list[MarkupDate] = []
    for tag in tags:
        name = tag.name
        itemprop = str(tag.attrs.get("itemprop") or "").lower()
        classes = str(tag.attrs.get("class") or "").lower()
        if not (
            name in ("time", "relative-time")
            or (itemprop in ("datepublished", "datecreated", "datemodified") and name != "meta")
            or (name == "abbr" and ("published" in classes or "updated" in classes))
        ):
            continue
        place = scope.place(tag)
        if place is None:
            continue
        value, source = _tag_value(tag, lang)
        if value is None:
            continue
        kind: Kind = _kind(tag)
        if itemprop == "datemodified" or (name == "abbr" and "updated" in classes):
            kind = "modified"
        elif itemprop in ("datepublished", "datecreated") or "published" in classes:
            kind = "published"
        found.append(MarkupDate(place, kind, value.with_source(source)))
    return found


def pick_markup(
    dates: Iterable[MarkupDate], kind: Literal["published", "modified"]
) -> PageDate | None:
    """The best-placed date of ``kind``; an unlabelled date counts as published, never modified."""
    ranked: list[tuple[int, int, int, PageDate]] = []
    for order, item in enumerate(dates):
        if kind == "published" and item.kind == "modified":
            continue
        if kind == "modified" and item.kind != "modified":
            continue
        labelled = 0 if item.kind == kind else 1
        ranked.append((int(item.place), labelled, order, item.found))
    if not ranked:
        return None
    return min(ranked, key=lambda r: r[:3])[3]


# Dates in URLs: /2026/03/10/, /2026-03-10/, /20260310/ (also in image paths).
URL_DATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|[-_.]|$)"),
    re.compile(r"/((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])/"),
)


def url_date(url: str) -> PageDate | None:
    path = urlsplit(url).path
    for pattern in URL_DATE_PATTERNS:
        match = pattern.search(path)
        if match:
            year, month, day = (int(g) for g in match.groups())
            found = _build(year, month, day, None)
            if found is not None:
                return found.with_source("url")
    return None


def not_after(found: PageDate, fetched_at: datetime | None, slack: timedelta) -> bool:
    """False when ``found`` lies in the future of the fetch (a countdown, an event date)."""
    if fetched_at is None:
        return True
    fetched = fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=UTC)
    if not found.time_known:
        return found.day <= (fetched + slack).date()
    return found.utc <= fetched + slack

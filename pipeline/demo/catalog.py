"""Ground truth for the bundled demo news site (what the pages say, independent of markup).

The article texts live in ``content/articles/<outlet>.yaml`` (loaded with ``importlib.resources``);
everything there is original, fictional writing made for this project.

What ``DemoArticle.paragraphs`` contains
    Exactly the text of the ``<p>`` elements inside the article-body container of the page, in
    order (HTML entities decoded). That *includes* outlet lines written as ordinary body
    paragraphs, e.g. "This story was supplied by the Halvard Press Agency." or "Additional
    reporting by ..." -- an extractor cannot tell those from prose, and they are part of what
    makes syndicated copies differ. It *excludes* everything the templates inject around or
    between the paragraphs: inline ad slots, "Read more" boxes, newsletter plugs (``<aside>``),
    image captions/credits, share widgets, related/most-read lists and comments.

``published_at`` keeps the outlet's own UTC offset (Harbor -05:00, Ledger +01:00, Coastline UTC,
Courier +02:00); use :func:`utc_day` for the UTC calendar day the pipeline works with.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

import yaml

MAIN_DAY: date = date(2026, 3, 10)
DEMO_DAYS: tuple[date, ...] = (
    date(2026, 3, 9),
    date(2026, 3, 10),
    date(2026, 3, 11),
    date(2026, 3, 12),
)

#: Source names as in ``config/demo.yaml``, in the order the site lists them.
OUTLETS: tuple[str, ...] = ("harbor-times", "northgate-ledger", "coastline-post", "valley-courier")

#: Path prefix of each outlet on the demo host.
OUTLET_PREFIXES: Mapping[str, str] = {
    "harbor-times": "/harbor/",
    "northgate-ledger": "/ledger/",
    "coastline-post": "/coastline/",
    "valley-courier": "/courier/",
}

# --- the special cases the pipeline's tests care about --------------------------------------

#: Syndicated wire story, 3 copies (Harbor, Ledger, Coastline) on MAIN_DAY.
WIRE_STORY = "wire-alliance-working-group"
#: Second wire story: Harbor on 2026-03-10, Ledger on 2026-03-11 under a new headline.
CROSS_DAY_WIRE_STORY = "wire-ostra-desalination"
#: Ledger cross-post: identical body under two self-canonical URLs (world + europe).
EXACT_CROSSPOST_STORY = "exact-crosspost"
#: Two independently written reports of one event (port strike); NOT copies (story is None).
INDEPENDENT_PAIR: tuple[str, str] = (
    "/harbor/2026/03/10/dockworkers-walk-out-container-terminal.html",
    "/coastline/news/ships-stack-up-offshore-kestrel-strike-10252",
)
#: The Harbor article reached twice: via the RSS link (with utm params) and via its AMP URL.
AMP_CANONICAL_PATH = "/harbor/2026/03/10/ferry-fares-rise-april.html"
AMP_PATH = "/harbor/amp/2026/03/10/ferry-fares-rise-april.html"
#: Query string appended to every Harbor RSS item link.
RSS_TRACKING_QUERY = "utm_source=rss&utm_medium=feed"
#: Harbor article whose local date (2026-03-09, also in its URL) differs from its UTC date.
TIMEZONE_EDGE_PATH = "/harbor/2026/03/09/mariners-edge-fenwick-derby.html"
#: Valley Courier article listed in the URL list but disallowed by robots.txt.
ROBOTS_DISALLOWED_PATH = "/courier/private/5545/hospital-merger-draft-plan"
#: Valley Courier section index (a list of headlines, not an article) listed in the URL list.
SECTION_INDEX_PATH = "/courier/section/region"
#: Robots.txt Disallow rules served by the demo site.
ROBOTS_DISALLOW: tuple[str, ...] = ("/courier/private/", "/search")


@dataclass(frozen=True)
class DemoArticle:
    outlet: str  # source name as in config
    path: str  # canonical path
    title: str  # the page headline
    authors: tuple[str, ...]
    published_at: datetime  # timezone-aware, in the outlet's own offset
    paragraphs: tuple[str, ...]  # article body as on the page (see module docstring)
    story: str | None  # group label for copies of one story; None otherwise
    robots_disallowed: bool = False


@dataclass(frozen=True)
class DemoImage:
    src: str  # file name under /static/img/
    alt: str
    caption: str
    credit: str


@dataclass(frozen=True)
class DemoComment:
    author: str
    posted: str  # as displayed, e.g. "2 hours ago"
    text: str


@dataclass(frozen=True)
class PageRecord:
    """A catalog article plus the presentation details only the site renderer needs."""

    article: DemoArticle
    section: str
    dek: str | None = None
    modified_at: datetime | None = None
    agency: str | None = None  # wire agency credited in the page chrome
    image: DemoImage | None = None
    comments: tuple[DemoComment, ...] = ()
    amp_path: str | None = None
    sitemap: str | None = None  # Coastline only: "news" or "archive"
    event: str | None = None  # independent reports of one event share this label

    @property
    def last_modified(self) -> datetime:
        return self.modified_at or self.article.published_at


def utc_day(article: DemoArticle) -> date:
    """The UTC calendar day of the article's publication time."""
    return article.published_at.astimezone(UTC).date()


def _parse_dt(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{where}: date must be a quoted ISO-8601 string, got {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"{where}: date {value!r} has no UTC offset")
    return parsed


def _paragraphs(body: str) -> tuple[str, ...]:
    blocks = [" ".join(block.split()) for block in body.strip().split("\n\n")]
    return tuple(block for block in blocks if block)


def _record(outlet: str, raw: Mapping[str, Any]) -> PageRecord:
    path = str(raw["path"])
    if not path.startswith(OUTLET_PREFIXES[outlet]):
        raise ValueError(f"{path}: does not start with {OUTLET_PREFIXES[outlet]}")
    image_raw = raw.get("image")
    image = DemoImage(**image_raw) if image_raw else None
    comments = tuple(DemoComment(**c) for c in raw.get("comments") or ())
    article = DemoArticle(
        outlet=outlet,
        path=path,
        title=str(raw["title"]),
        authors=tuple(raw["authors"]),
        published_at=_parse_dt(raw["published"], path),
        paragraphs=_paragraphs(str(raw["body"])),
        story=raw.get("story"),
        robots_disallowed=bool(raw.get("robots_disallowed", False)),
    )
    return PageRecord(
        article=article,
        section=str(raw.get("section", "News")),
        dek=raw.get("dek"),
        modified_at=_parse_dt(raw["modified"], path) if raw.get("modified") else None,
        agency=raw.get("agency"),
        image=image,
        comments=comments,
        amp_path=raw.get("amp"),
        sitemap=raw.get("sitemap"),
        event=raw.get("event"),
    )


@functools.cache
def load_records() -> tuple[PageRecord, ...]:
    """All article pages of the demo site, outlet by outlet, in file order."""
    folder = resources.files("pipeline.demo") / "content" / "articles"
    records: list[PageRecord] = []
    for outlet in OUTLETS:
        data = yaml.safe_load((folder / f"{outlet}.yaml").read_text(encoding="utf-8"))
        if data.get("outlet") != outlet:
            raise ValueError(f"{outlet}.yaml: outlet field is {data.get('outlet')!r}")
        records.extend(_record(outlet, raw) for raw in data["articles"])
    paths = [r.article.path for r in records]
    if len(paths) != len(set(paths)):
        raise ValueError("duplicate article paths in the demo catalog")
    return tuple(records)


def load_catalog() -> list[DemoArticle]:
    """Every article of the demo site (including the robots-disallowed one)."""
    return [record.article for record in load_records()]


def articles_on(day: date, *, include_disallowed: bool = True) -> list[DemoArticle]:
    """Articles whose publication time falls on ``day`` in UTC."""
    return [
        a
        for a in load_catalog()
        if utc_day(a) == day and (include_disallowed or not a.robots_disallowed)
    ]


def story_copies(story: str) -> list[DemoArticle]:
    """All catalog articles carrying the given story label."""
    return [a for a in load_catalog() if a.story == story]

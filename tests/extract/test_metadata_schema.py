"""The date-precision and agency columns survive the trip through the articles table."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa

from pipeline.extract.body import DEFAULT_OPTIONS
from pipeline.extract.stage import _article
from pipeline.fetch.archive import ArchivedEvent
from pipeline.models import Article, FetchEvent, RunWindow
from pipeline.schema import ARTICLES_SCHEMA, SCHEMA_VERSION, articles_to_table, table_to_articles


def article(**changes: object) -> Article:
    base: dict[str, object] = {
        "article_id": "0123456789abcdef",
        "url": "https://harbour.example.org/a",
        "canonical_url": "https://harbour.example.org/a",
        "source": "harbour",
        "title": "Winter timetable agreed",
        "text": "The harbour board has agreed a winter timetable.",
        "fetched_at": datetime(2026, 3, 10, 12, 0, tzinfo=UTC),
    }
    base.update(changes)
    return Article(**base)  # type: ignore[arg-type]


def test_new_columns_are_in_the_schema_with_their_types() -> None:
    assert SCHEMA_VERSION == 2
    assert ARTICLES_SCHEMA.field("published_offset_minutes").type == pa.int16()
    assert ARTICLES_SCHEMA.field("published_time_known").type == pa.bool_()
    assert ARTICLES_SCHEMA.field("agencies").type == pa.list_(pa.string())
    assert not ARTICLES_SCHEMA.field("agencies").nullable


def test_offset_time_known_and_agencies_round_trip() -> None:
    rows = [
        article(
            published_at=datetime(2026, 3, 9, 22, 30, tzinfo=UTC),
            published_offset_minutes=120,
            published_time_known=True,
            agencies=["dpa"],
        ),
        article(
            article_id="fedcba9876543210",
            published_at=datetime(2026, 3, 10, tzinfo=UTC),
            published_time_known=False,
        ),
    ]
    table = articles_to_table(rows)
    back = {a.article_id: a for a in table_to_articles(table)}
    first = back["0123456789abcdef"]
    assert (first.published_offset_minutes, first.published_time_known, first.agencies) == (
        120,
        True,
        ["dpa"],
    )
    second = back["fedcba9876543210"]
    assert (second.published_offset_minutes, second.published_time_known, second.agencies) == (
        None,
        False,
        [],
    )


PAGE = (
    '<html lang="de"><head><title>Fährplan | Hafenblatt</title>'
    '<meta property="article:published_time" content="2026-03-10T00:30:00+02:00"></head>'
    "<body><article><header><h1>Fährplan</h1><p class='byline'>Von Lena Brückner, dpa</p>"
    "</header><p>Der Hafenrat hat einen Winterfahrplan für die Inselfähre beschlossen, mit zwei "
    "zusätzlichen Fahrten am Samstag und einem früheren ersten Boot an Werktagen.</p><p>Die "
    "Schiffer sagen, die neuen Zeiten folgen einer Umfrage unter den Fahrgästen im Herbst, in "
    "der die meisten ein Boot vor sieben Uhr morgens wünschten.</p></article></body></html>"
)


def event(feed_published_at: datetime | None = None) -> ArchivedEvent:
    return ArchivedEvent(
        event=FetchEvent(
            url="https://hafen.example.org/faehre",
            source="hafen",
            run_id="run",
            role="page",
            status="fetched",
            fetched_at=datetime(2026, 3, 10, 12, tzinfo=UTC),
            feed_published_at=feed_published_at,
        ),
        status=200,
        headers=[],
        body=PAGE.encode(),
        warc_date="2026-03-10T12:00:00Z",
        record_id="<urn:uuid:1>",
        archive_file="run.warc.gz",
    )


def test_stage_fills_the_new_columns() -> None:
    window = RunWindow.for_day(date(2026, 3, 9))
    row = _article(event(), 200, PAGE, "utf-8", window, DEFAULT_OPTIONS)
    assert isinstance(row, Article)
    assert row.published_at == datetime(2026, 3, 9, 22, 30, tzinfo=UTC)
    assert (row.published_offset_minutes, row.published_time_known) == (120, True)
    assert (row.authors, row.agencies) == (["Lena Brückner"], ["dpa"])


def test_feed_date_has_no_known_precision() -> None:
    undated = PAGE.replace('content="2026-03-10T00:30:00+02:00"', 'content=""')
    window = RunWindow.for_day(date(2026, 3, 10))
    feed_date = datetime(2026, 3, 10, 6, tzinfo=UTC)
    row = _article(event(feed_date), 200, undated, "utf-8", window, DEFAULT_OPTIONS)
    assert isinstance(row, Article)
    assert row.provenance["published_at"] == "feed"
    assert (row.published_offset_minutes, row.published_time_known) == (None, None)

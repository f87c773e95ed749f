"""The one explicit pyarrow schema of the published articles table.

Bump ``SCHEMA_VERSION`` on any change and record it in docs/schema.md. Adding a nullable column is a
compatible change; changing a column's type is not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, fields
from typing import Any

import pyarrow as pa

from pipeline.models import Article, StoryAssignment

SCHEMA_VERSION = 2  # 2: listed_at, date_conflict

PARTITION_KEY = "dt"

_UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")

ARTICLES_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("canonical_url", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("authors", pa.list_(pa.string()), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("language", pa.string()),
        pa.field("word_count", pa.int32(), nullable=False),
        pa.field("published_at", _UTC_TIMESTAMP),
        pa.field("listed_at", _UTC_TIMESTAMP),
        pa.field("date_conflict", pa.bool_(), nullable=False),
        pa.field("modified_at", _UTC_TIMESTAMP),
        pa.field("fetched_at", _UTC_TIMESTAMP, nullable=False),
        pa.field("description", pa.string()),
        pa.field("section", pa.string()),
        pa.field("tags", pa.list_(pa.string()), nullable=False),
        pa.field("top_image", pa.string()),
        pa.field("is_truncated", pa.bool_(), nullable=False),
        pa.field("http_status", pa.int16()),
        pa.field("charset", pa.string()),
        pa.field("discovered_via", pa.string()),
        pa.field("provenance", pa.string(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("story_id", pa.string(), nullable=False),
        pa.field("is_duplicate", pa.bool_(), nullable=False),
        pa.field("duplicate_of", pa.string()),
        pa.field("similarity", pa.float32()),
        pa.field("schema_version", pa.int16(), nullable=False),
    ],
    metadata={"news_ingest.schema_version": str(SCHEMA_VERSION), "news_ingest.table": "articles"},
)

# Sorting by source then time lets row-group statistics prune the common analyst filters.
SORT_KEYS = [("source", "ascending"), ("published_at", "ascending"), ("article_id", "ascending")]


# The articles table's columns that dedup fills in; the rest come from the Article record.
ASSIGNMENT_COLUMNS = ("content_hash", "story_id", "is_duplicate", "duplicate_of", "similarity")
# Staged articles (between extract and publish) have every column but these.
STAGED_ARTICLES_SCHEMA = pa.schema(
    [field for field in ARTICLES_SCHEMA if field.name not in ASSIGNMENT_COLUMNS],
    metadata={**ARTICLES_SCHEMA.metadata, b"news_ingest.table": b"staged_articles"},
)


def articles_to_table(
    articles: Iterable[Article], assignments: Iterable[StoryAssignment] | None = None
) -> pa.Table:
    """Articles (with their story assignments, row-aligned) as a table of exactly the schema.

    Without assignments it is a staged table (STAGED_ARTICLES_SCHEMA); with them, the published
    one (ARTICLES_SCHEMA). An empty input gives a typed table of 0 rows.
    """
    schema = STAGED_ARTICLES_SCHEMA if assignments is None else ARTICLES_SCHEMA
    pairs = zip(articles, assignments, strict=True) if assignments is not None else None
    rows = []
    for article, assignment in pairs or ((article, None) for article in articles):
        row = asdict(article)
        row["provenance"] = json.dumps(article.provenance, sort_keys=True)
        row["schema_version"] = SCHEMA_VERSION
        if assignment is not None:
            row.update(asdict(assignment))
        rows.append(row)
    columns = {name: [row[name] for row in rows] for name in schema.names}
    table = pa.Table.from_pydict(columns, schema=schema)
    if table.num_rows:
        table = table.sort_by(SORT_KEYS)
    return table


def table_to_articles(table: pa.Table) -> list[Article]:
    """Article records from a staged or published table (dedup's columns are left out)."""
    names = [name for name in table.column_names if name in _ARTICLE_FIELDS]
    articles = []
    for row in table.select(names).to_pylist():
        row["provenance"] = json.loads(row["provenance"])
        articles.append(Article(**row))
    return articles


_ARTICLE_FIELDS = frozenset(field.name for field in fields(Article))


FETCH_LOG_SCHEMA = pa.schema(
    [
        pa.field("url", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("http_status", pa.int16()),
        pa.field("final_url", pa.string()),
        pa.field("content_type", pa.string()),
        pa.field("charset", pa.string()),
        pa.field("bytes", pa.int64(), nullable=False),
        pa.field("elapsed_ms", pa.int32()),
        pa.field("attempts", pa.int16(), nullable=False),
        pa.field("fetched_at", _UTC_TIMESTAMP),
        pa.field("discovered_via", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("archive_file", pa.string()),
        pa.field("warc_record_id", pa.string()),
    ],
    metadata={"news_ingest.schema_version": str(SCHEMA_VERSION), "news_ingest.table": "fetch_log"},
)

REJECTS_SCHEMA = pa.schema(
    [
        pa.field("url", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
    ],
    metadata={"news_ingest.schema_version": str(SCHEMA_VERSION), "news_ingest.table": "rejects"},
)

TABLE_SCHEMAS = {
    "articles": ARTICLES_SCHEMA,
    "fetch_log": FETCH_LOG_SCHEMA,
    "rejects": REJECTS_SCHEMA,
}


def records_to_table(records: Iterable[Any], schema: pa.Schema) -> pa.Table:
    """Dataclass records -> a table of exactly ``schema``, sorted for stable reruns."""
    rows = [asdict(record) for record in records]
    columns = {name: [row[name] for row in rows] for name in schema.names}
    table = pa.Table.from_pydict(columns, schema=schema)
    if table.num_rows:
        keys = [name for name in ("source", "url", "role", "stage") if name in schema.names]
        table = table.sort_by([(name, "ascending") for name in keys])
    return table

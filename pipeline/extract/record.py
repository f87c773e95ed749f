"""One extracted page -> the stored Article record: the one place that decides its fields.

The extract stage and ``newsingest extract`` both build articles here, so the command prints
exactly what the pipeline stores. Light imports only: the CLI's start-up depends on it.
"""

from __future__ import annotations

import re
from datetime import timedelta

from pipeline.extract.page import Extraction
from pipeline.fetch.urls import BadUrl, canonicalize, url_hash
from pipeline.models import Article, FetchEvent

_WORD = re.compile(r"\w+")
#: A page's own date and its listing's date further apart than this are flagged as conflicting.
DATE_CONFLICT = timedelta(hours=36)


def article_from_page(
    event: FetchEvent, extraction: Extraction, status: int | None, charset: str | None
) -> Article:
    """The stored record of one extracted page (``newsingest extract`` prints the same)."""
    final_url = event.final_url or event.url
    fetched_at = event.content_fetched_at or event.fetched_at
    provenance = dict(extraction.provenance)
    published_at = extraction.published_at
    offset_minutes = extraction.published_offset_minutes
    time_known: bool | None = extraction.published_time_known if published_at else None
    if published_at is None and event.feed_published_at is not None:
        published_at = event.feed_published_at
        provenance["published_at"] = "feed"
        offset_minutes, time_known = None, None  # the feed's own precision is not recorded
    title = extraction.title
    if title is None and event.feed_title:
        title = event.feed_title
        provenance["title"] = "feed"
    # The window decided what to fetch; what was fetched is kept, whatever date the page gives.
    # A page date far from its listing's date (an update, a re-promoted story, a zone near
    # midnight, a wrong date) is flagged for analysts to filter on, not thrown away.
    listed_at = event.listed_at
    date_conflict = (
        published_at is not None
        and listed_at is not None
        and abs(published_at - listed_at) > DATE_CONFLICT
    )

    try:
        canonical_url = canonicalize(extraction.canonical_url or final_url)
    except BadUrl:  # a page declaring a broken canonical URL is still its own page
        canonical_url = canonicalize(final_url)
    return Article(
        article_id=url_hash(canonical_url),
        url=event.url,
        canonical_url=canonical_url,
        source=event.source,
        title=title,
        text=extraction.text,
        fetched_at=fetched_at,
        authors=list(extraction.authors),
        language=extraction.language,
        word_count=len(_WORD.findall(extraction.text)),
        published_at=published_at,
        listed_at=listed_at,
        date_conflict=date_conflict,
        modified_at=extraction.modified_at,
        published_offset_minutes=offset_minutes,
        published_time_known=time_known,
        agencies=list(extraction.agencies),
        description=extraction.description,
        section=extraction.section,
        tags=list(extraction.tags),
        top_image=extraction.top_image,
        is_truncated=extraction.is_truncated,
        http_status=status,
        charset=charset,
        discovered_via=event.discovered_via,
        provenance=provenance,
    )

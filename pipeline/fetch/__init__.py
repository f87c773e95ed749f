"""Fetch: discover a source's URLs, fetch them politely, archive every event as WARC."""

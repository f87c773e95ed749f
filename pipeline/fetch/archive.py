"""The raw archive: every fetch of a run, kept as gzip WARC so any day can be rebuilt offline.

Layout (see :mod:`pipeline.storage.layout`): ``dt=YYYY-MM-DD/<source>/<run>.warc.gz``.
Each URL event is a WARC ``metadata`` record whose JSON payload is a :class:`FetchEvent`; when a
response arrived it is stored as a ``response`` record, and the metadata record points to it with
``WARC-Concurrent-To``. Reading the archive therefore yields the complete fetch log as well as the
bodies. This module is the only one that writes or parses the event payload.

The archive root may be a local path or a URI: every file goes through :class:`Root`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.fetch.http import HttpResult
from pipeline.models import FetchEvent, ResponseRef, RunWindow
from pipeline.storage import layout
from pipeline.storage.root import Root, as_root

# The stored body is already decoded, so headers describing the wire encoding would lie.
_WIRE_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})
_EVENT_FIELDS = {field.name for field in fields(FetchEvent)}
_EVENT_TIMES = ("fetched_at", "feed_published_at", "content_fetched_at", "lastmod", "seen_on")


def encode_event(event: FetchEvent) -> bytes:
    """The JSON payload of an event's ``metadata`` record (the URL is the record's target)."""
    document: dict[str, Any] = {}
    for field in fields(FetchEvent):
        value = getattr(event, field.name)
        if field.name == "url":
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, ResponseRef):
            value = {
                "archive_file": value.archive_file,
                "record_id": value.record_id,
                "offset": value.offset,
            }
        elif isinstance(value, tuple):
            value = list(value)
        document[field.name] = value
    return json.dumps(document, sort_keys=True).encode("utf-8")


def decode_event(url: str, payload: bytes) -> FetchEvent:
    """Parse a ``metadata`` payload; archives written before a field existed lack it."""
    document = json.loads(payload)
    if not isinstance(document, dict):
        raise ValueError("the event payload is not a JSON object")
    values = {key: value for key, value in document.items() if key in _EVENT_FIELDS}
    for key in _EVENT_TIMES:
        if values.get(key):
            values[key] = datetime.fromisoformat(str(values[key]))
    body_from = values.get("body_from")
    if body_from:
        values["body_from"] = ResponseRef(
            str(body_from["archive_file"]), str(body_from["record_id"]), body_from.get("offset")
        )
    values["redirects"] = tuple(values.get("redirects") or ())
    values.setdefault("run_id", "")
    values["bytes"] = int(values.get("bytes") or 0)
    values["attempts"] = int(values.get("attempts") or 0)
    return FetchEvent(url=url, **values)


@dataclass(frozen=True)
class ArchivedEvent:
    """An event as read back from a WARC file, with the response it points to (if any)."""

    event: FetchEvent
    status: int | None
    headers: list[tuple[str, str]]
    body: bytes | None
    warc_date: str
    record_id: str | None
    archive_file: str  # the WARC file's name

    @property
    def url(self) -> str:
        return self.event.url


class ArchiveWriter:
    """Writes one run's WARC under a temporary name and puts it in place on close.

    An archived file is never overwritten: a task retry or a rerun with the same run id gets
    ``<run>.1.warc.gz`` and so on, because validators and later 304s may point into the old one.
    """

    def __init__(self, root: Root, window: RunWindow, source: str, run_id: str) -> None:
        self.root = root
        attempt = 0
        self.relative = layout.archive_file(window, source, run_id)
        while root.exists(self.relative):
            attempt += 1
            self.relative = layout.archive_file(window, source, run_id, attempt)
        self.name = self.relative.rsplit("/", 1)[1]
        self._partial = layout.partial_file(self.relative)
        self._output = root.open_output(self._partial)
        self._file: IO[bytes] = self._output.__enter__()
        self._writer = WARCWriter(self._file, gzip=True)
        self._closed = False

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._output.__exit__(None, None, None)
        self.root.publish_file(self._partial, self.relative)

    def record(self, event: FetchEvent, response: HttpResult | None) -> tuple[str, int] | None:
        """Write the event (and its response, if any); return the response's id and offset."""
        response_id: str | None = None
        offset = 0
        moment = response.fetched_at if response else event.fetched_at
        if response is not None and response.status is not None:
            headers = [(k, v) for k, v in response.headers if k.lower() not in _WIRE_HEADERS]
            headers.append(("Content-Length", str(len(response.body))))
            http_headers = StatusAndHeaders(
                f"{response.status} {_reason_phrase(response.status)}", headers, protocol="HTTP/1.1"
            )
            record = self._writer.create_warc_record(
                response.final_url,
                "response",
                payload=BytesIO(response.body),
                http_headers=http_headers,
                warc_headers_dict={"WARC-Date": _warc_date(moment)},
            )
            offset = self._file.tell()  # each record is its own gzip member: seekable later
            self._writer.write_record(record)
            response_id = record.rec_headers.get_header("WARC-Record-ID")
        warc_headers = {"WARC-Date": _warc_date(moment)}
        if response_id:
            warc_headers["WARC-Concurrent-To"] = response_id
        metadata = self._writer.create_warc_record(
            event.url,
            "metadata",
            payload=BytesIO(encode_event(event)),
            warc_content_type="application/json",
            warc_headers_dict=warc_headers,
        )
        self._writer.write_record(metadata)
        return (response_id, offset) if response_id else None


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    fetched_at: datetime


def load_response(root: Root | str | Path, ref: ResponseRef) -> StoredResponse | None:
    """An archived response, or None when it is gone.

    With an offset this reads one gzip member instead of scanning the file, which matters when a
    run answers thousands of 304s from the archive.
    """
    root = as_root(root)
    if not root.is_file(ref.archive_file):
        return None
    with root.open_input(ref.archive_file) as stream:
        if ref.offset is not None:
            stream.seek(ref.offset)
            found = _response_at(ArchiveIterator(stream), ref.record_id, first_only=True)
            if found is not None:
                return found
            stream.seek(0)  # a stale offset: fall back to a scan
        return _response_at(ArchiveIterator(stream), ref.record_id, first_only=False)


def _response_at(
    records: ArchiveIterator, record_id: str, *, first_only: bool
) -> StoredResponse | None:
    for record in records:
        if record.rec_type == "response" and (
            record.rec_headers.get_header("WARC-Record-ID") == record_id
        ):
            assert record.http_headers is not None
            return StoredResponse(
                status=int(record.http_headers.get_statuscode()),
                headers=list(record.http_headers.headers),
                body=record.content_stream().read(),
                fetched_at=datetime.fromisoformat(
                    record.rec_headers.get_header("WARC-Date").replace("Z", "+00:00")
                ),
            )
        if first_only:
            return None
    return None


class ValidatorStore:
    """ETag/Last-Modified per URL, kept between runs so unchanged pages are not downloaded again.

    Stored as JSON per source under ``<archive_root>/_validators/``, each entry pointing at the
    archived response the validators belong to, so a 304 can be answered from the archive.
    """

    def __init__(self, root: Root | str | Path, source: str) -> None:
        self.root = root = as_root(root)
        self.relative = layout.validators_file(source)
        self._entries: dict[str, dict[str, Any]] = {}
        if root.is_file(self.relative):
            try:
                self._entries = json.loads(root.read_bytes(self.relative))
            except (OSError, ValueError):
                self._entries = {}  # a damaged cache only costs a full download

    def conditional_headers(self, url: str) -> dict[str, str]:
        entry = self._entries.get(url)
        if not entry:
            return {}
        headers = {}
        if entry.get("etag"):
            headers["If-None-Match"] = entry["etag"]
        if entry.get("last_modified"):
            headers["If-Modified-Since"] = entry["last_modified"]
        return headers

    def ref(self, url: str) -> ResponseRef | None:
        entry = self._entries.get(url)
        if not entry:
            return None
        return ResponseRef(entry["archive_file"], entry["record_id"], entry.get("offset"))

    def remember(
        self, url: str, etag: str | None, last_modified: str | None, ref: ResponseRef
    ) -> None:
        if not (etag or last_modified):
            return
        self._entries[url] = {
            "etag": etag or "",
            "last_modified": last_modified or "",
            "archive_file": ref.archive_file,
            "record_id": ref.record_id,
            "offset": ref.offset,
        }

    def save(self) -> None:
        self.root.write_text(self.relative, json.dumps(self._entries, sort_keys=True))


def run_files(root: Root | str | Path, window: RunWindow, source: str) -> list[str]:
    """The day's complete WARC files for a source (relative to the root), oldest run first."""
    root = as_root(root)
    directory = layout.archive_dir(window, source)
    names = [
        name
        for name in root.list(directory)
        if name.endswith(layout.WARC_SUFFIX) and not name.startswith(".")
    ]
    files = [f"{directory}/{name}" for name in names]
    return sorted(files, key=lambda relative: (_first_record_date(root, relative), relative))


def read_events(root: Root | str | Path, relative: str) -> list[ArchivedEvent]:
    """All events of one run's WARC file, in the order they were recorded."""
    return list(_read_file(as_root(root), relative))


def latest_per_url(events: list[ArchivedEvent], role: str) -> list[ArchivedEvent]:
    """One event per URL: the newest successful fetch, else the newest event."""
    best: dict[str, ArchivedEvent] = {}
    for archived in events:
        if archived.event.role != role:
            continue
        known = best.get(archived.url)
        if known is None or _is_fetched(archived) or not _is_fetched(known):
            best[archived.url] = archived
    return list(best.values())


def _is_fetched(archived: ArchivedEvent) -> bool:
    return archived.event.status == "fetched"


def _read_file(root: Root, relative: str) -> Iterator[ArchivedEvent]:
    name = relative.rsplit("/", 1)[-1]
    responses: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {}
    with root.open_input(relative) as stream:
        for record in ArchiveIterator(stream):
            record_id = record.rec_headers.get_header("WARC-Record-ID")
            if record.rec_type == "response":
                assert record.http_headers is not None
                status = int(record.http_headers.get_statuscode())
                responses[record_id] = (
                    status,
                    list(record.http_headers.headers),
                    record.content_stream().read(),
                )
            elif record.rec_type == "metadata":
                url = record.rec_headers.get_header("WARC-Target-URI")
                event = decode_event(url, record.content_stream().read())
                concurrent = record.rec_headers.get_header("WARC-Concurrent-To")
                response = responses.get(concurrent) if concurrent else None
                yield ArchivedEvent(
                    event=event,
                    status=response[0] if response else None,
                    headers=response[1] if response else [],
                    body=response[2] if response else None,
                    warc_date=record.rec_headers.get_header("WARC-Date"),
                    record_id=concurrent,
                    archive_file=name,
                )


def _first_record_date(root: Root, relative: str) -> str:
    with root.open_input(relative) as stream:
        for record in ArchiveIterator(stream):
            return str(record.rec_headers.get_header("WARC-Date"))
    return ""


def _warc_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _reason_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"

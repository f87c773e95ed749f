"""The raw archive: every fetch of a run, kept as gzip WARC so any day can be rebuilt offline.

Layout: ``<archive_root>/dt=YYYY-MM-DD/<source>/<run_id>.warc.gz``. Each URL event is a WARC
``metadata`` record (JSON: what happened and why); when a response arrived it is stored as a
``response`` record, and the metadata record points to it with ``WARC-Concurrent-To``. Reading the
archive therefore yields the complete fetch log as well as the bodies.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.fetch.http import HttpResult
from pipeline.models import RunWindow

# The stored body is already decoded, so headers describing the wire encoding would lie.
_WIRE_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")


def archive_dir(archive_root: str | Path, window: RunWindow, source: str) -> Path:
    return Path(archive_root) / window.partition / source


def safe_run_id(run_id: str) -> str:
    """Airflow run ids contain ':' and '+'; keep them readable but safe as file names."""
    return _UNSAFE.sub("_", run_id)


@dataclass(frozen=True)
class ArchivedEvent:
    url: str
    meta: dict[str, Any]
    status: int | None
    headers: list[tuple[str, str]]
    body: bytes | None
    warc_date: str
    record_id: str | None
    archive_file: str


class ArchiveWriter:
    """Writes one run's WARC under a temporary name and renames it into place on close.

    An archived file is never overwritten: a task retry or a rerun with the same run id gets
    ``<run>.1.warc.gz`` and so on, because validators and later 304s may point into the old one.
    """

    def __init__(self, directory: Path, run_id: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        stem = safe_run_id(run_id)
        self.path = directory / f"{stem}.warc.gz"
        attempt = 0
        while self.path.exists():
            attempt += 1
            self.path = directory / f"{stem}.{attempt}.warc.gz"
        self._partial = directory / f".{self.path.name}.partial"
        self._file = self._partial.open("wb")
        self._writer = WARCWriter(self._file, gzip=True)

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._file.closed:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        # link() fails instead of replacing, should a concurrent writer have taken the name.
        os.link(self._partial, self.path)
        self._partial.unlink()

    def record(
        self, url: str, meta: dict[str, Any], response: HttpResult | None
    ) -> tuple[str, int] | None:
        """Write the event (and its response, if any); return the response's id and offset."""
        response_id: str | None = None
        offset = 0
        moment = response.fetched_at if response else _meta_time(meta)
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
        payload = json.dumps(meta, sort_keys=True, default=str).encode("utf-8")
        metadata = self._writer.create_warc_record(
            url,
            "metadata",
            payload=BytesIO(payload),
            warc_content_type="application/json",
            warc_headers_dict=warc_headers,
        )
        self._writer.write_record(metadata)
        return (response_id, offset) if response_id else None


@dataclass(frozen=True)
class ResponseRef:
    """Where an archived response lives: a WARC file relative to the archive root, and its id."""

    archive_file: str
    record_id: str
    offset: int | None = None  # byte offset of the record's gzip member, when known


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    fetched_at: datetime


def load_response(archive_root: str | Path, ref: ResponseRef) -> StoredResponse | None:
    """An archived response, or None when it is gone.

    With an offset this reads one gzip member instead of scanning the file, which matters when a
    run answers thousands of 304s from the archive.
    """
    path = Path(archive_root) / ref.archive_file
    if not path.is_file():
        return None
    with path.open("rb") as stream:
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

    def __init__(self, archive_root: str | Path, source: str) -> None:
        self.path = Path(archive_root) / "_validators" / f"{source}.json"
        self._entries: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            try:
                self._entries = json.loads(self.path.read_text(encoding="utf-8"))
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staged = self.path.with_name(f".{self.path.name}.tmp")
        staged.write_text(json.dumps(self._entries, sort_keys=True), encoding="utf-8")
        os.replace(staged, self.path)


def run_files(archive_root: str | Path, window: RunWindow, source: str) -> list[Path]:
    """The day's complete WARC files for a source, oldest run first (by first record date)."""
    directory = archive_dir(archive_root, window, source)
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.warc.gz"), key=_first_record_date)


def read_events(path: Path) -> list[ArchivedEvent]:
    """All events of one run's WARC file, in the order they were recorded."""
    return list(_read_file(path))


def latest_per_url(events: list[ArchivedEvent], role: str) -> list[ArchivedEvent]:
    """One event per URL: the newest successful fetch, else the newest event."""
    best: dict[str, ArchivedEvent] = {}
    for event in events:
        if event.meta.get("role") != role:
            continue
        known = best.get(event.url)
        if known is None or _is_fetched(event) or not _is_fetched(known):
            best[event.url] = event
    return list(best.values())


def _is_fetched(event: ArchivedEvent) -> bool:
    return event.meta.get("status") == "fetched"


def _read_file(path: Path) -> Iterator[ArchivedEvent]:
    responses: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {}
    with path.open("rb") as stream:
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
                meta = json.loads(record.content_stream().read())
                concurrent = record.rec_headers.get_header("WARC-Concurrent-To")
                response = responses.get(concurrent) if concurrent else None
                yield ArchivedEvent(
                    url=record.rec_headers.get_header("WARC-Target-URI"),
                    meta=meta,
                    status=response[0] if response else None,
                    headers=response[1] if response else [],
                    body=response[2] if response else None,
                    warc_date=record.rec_headers.get_header("WARC-Date"),
                    record_id=concurrent,
                    archive_file=path.name,
                )


def _first_record_date(path: Path) -> str:
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream):
            return str(record.rec_headers.get_header("WARC-Date"))
    return ""


def _warc_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _meta_time(meta: dict[str, Any]) -> datetime:
    value = meta.get("fetched_at")
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _reason_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"

"""The raw archive: every fetch of a run, kept as gzip WARC so any day can be rebuilt offline.

Layout (see :mod:`pipeline.storage.layout`): ``dt=YYYY-MM-DD/<source>/<run>.warc.gz``.
Each URL event is a WARC ``metadata`` record whose JSON payload is a :class:`FetchEvent`; when a
response arrived it is stored as a ``response`` record, and the metadata record points to it with
``WARC-Concurrent-To``. Reading the archive therefore yields the complete fetch log as well as the
bodies. This module is the only one that writes or parses the event payload.

The archive root may be a local path or a URI: every file goes through :class:`Root`.

Every read is verified: each gzip member must be whole (its CRC checked) and the file must end
exactly after its last member, so a truncated or corrupt file raises :class:`ArchiveDamaged`
naming the file and the byte offset, instead of silently yielding fewer records (warcio's own
iterator just stops, or prints the zlib error and carries on).
"""

from __future__ import annotations

import fcntl
import json
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParserException
from warcio.warcwriter import WARCWriter

from pipeline.fetch.http import HttpResult
from pipeline.models import FetchEvent, ResponseRef, RunWindow
from pipeline.storage import layout
from pipeline.storage.root import Root, as_root

# The stored body is already decoded, so headers describing the wire encoding would lie.
_WIRE_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})
_EVENT_FIELDS = {field.name for field in fields(FetchEvent)}
_EVENT_TIMES = ("fetched_at", "feed_published_at", "content_fetched_at", "lastmod", "seen_on")
_INFLATE_CHUNK = 1024 * 1024  # bound on the bytes inflated at once while checking a member
log = logging.getLogger(__name__)


class ArchiveDamaged(Exception):
    """A WARC file that cannot be read whole: truncated, corrupt, empty or not a WARC.

    ``file`` is the file as :meth:`Root.display` spells it; ``offset`` the byte where the damaged
    record (gzip member) starts. The records before the offset are intact.
    """

    def __init__(self, file: str, offset: int, what: str) -> None:
        super().__init__(
            f"damaged archive {file} at byte {offset}: {what}; the source cannot be rebuilt "
            "from this file (fetch the day again, or move the file away to use an older run)"
        )
        self.file = file
        self.offset = offset
        self.what = what


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


def _remove_dead_partials(root: Root, directory: str) -> None:
    """Delete the ``.partial`` files of killed fetches (local disks: nobody holds their lock).

    On an object store an unfinished upload never becomes an object, so there is nothing to do.
    """
    if not root.is_local:
        return
    for name in root.list(directory):
        if not (name.startswith(".") and name.endswith(".partial")):
            continue
        path = root.local_path(f"{directory}/{name}")
        try:
            with path.open("rb") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                path.unlink()  # we got the lock: its writer is gone
        except (BlockingIOError, FileNotFoundError):
            continue  # a live fetch is writing it (or it just went)
        log.warning("removed %s, left by a killed fetch", root.display(f"{directory}/{name}"))


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
        _remove_dead_partials(root, layout.archive_dir(window, source))
        if root.is_local and root.exists(self._partial):
            # Still there, so its writer holds the lock: a fetch of the same run id is running
            # (a task's retry beside its stuck first attempt). Opening it would truncate that
            # writer's file under it; this fetch fails instead, and a later try finds it gone.
            raise FileExistsError(
                f"{root.display(self._partial)} is being written by another fetch of run "
                f"{run_id!r} of source {source!r}"
            )
        self._output = root.open_output(self._partial)
        self._file: IO[bytes] = self._output.__enter__()
        if root.is_local:
            # Held until the file is closed: a partial file nobody holds is a killed writer's.
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._writer = WARCWriter(self._file, gzip=True)
        self._closed = False

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def close(self) -> None:
        """The fetch completed: put the file in place (a failed flush publishes nothing)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._output.__exit__(None, None, None)
        except BaseException:
            self.root.delete_file(self._partial)
            raise
        self.root.publish_file(self._partial, self.relative)

    def abort(self) -> None:
        """The fetch failed: drop the partial file, so no incomplete WARC ever looks complete.

        Nothing points into it (validators are saved only after :meth:`close`), and a rerun
        fetches the day again.
        """
        if self._closed:
            return
        self._closed = True
        try:
            self._output.__exit__(None, None, None)
        except Exception:  # the fetch's own error is the one to report
            log.warning("could not close %s", self.root.display(self._partial), exc_info=True)
        finally:
            self.root.delete_file(self._partial)

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
    offset: int | None = None  # where its record starts: a stale reference can be corrected


def load_response(root: Root | str | Path, ref: ResponseRef) -> StoredResponse | None:
    """An archived response, or None when it is gone (no such file, or no such record in it).

    With an offset this reads one gzip member instead of scanning the file, which matters when a
    run answers thousands of 304s from the archive. An offset that does not start the record (a
    stale or mangled reference) falls back to a scan. Raises :class:`ArchiveDamaged` when the
    scan meets damage before it finds the record.
    """
    root = as_root(root)
    if not root.is_file(ref.archive_file):
        return None
    with root.open_input(ref.archive_file) as stream:
        if ref.offset is not None and ref.offset >= 0:
            stream.seek(ref.offset)
            try:
                for offset, record, payload in _records(
                    root, ref.archive_file, stream, start=ref.offset, whole_file=False
                ):
                    if _is_response(record, ref.record_id):
                        return _stored_response(record, payload, offset)
            except ArchiveDamaged as damage:
                log.warning(
                    "no readable record %s at offset %d of %s (%s); scanning the file",
                    ref.record_id,
                    ref.offset,
                    damage.file,
                    damage.what,
                )
            stream.seek(0)
        for offset, record, payload in _records(root, ref.archive_file, stream):
            if _is_response(record, ref.record_id):
                return _stored_response(record, payload, offset)
    return None


def _is_response(record: ArcWarcRecord, record_id: str) -> bool:
    return bool(
        record.rec_type == "response"
        and record.rec_headers.get_header("WARC-Record-ID") == record_id
    )


def _stored_response(record: ArcWarcRecord, payload: bytes, offset: int) -> StoredResponse:
    assert record.http_headers is not None
    return StoredResponse(
        status=int(record.http_headers.get_statuscode()),
        headers=list(record.http_headers.headers),
        body=payload,
        fetched_at=datetime.fromisoformat(
            record.rec_headers.get_header("WARC-Date").replace("Z", "+00:00")
        ),
        offset=offset,
    )


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
            self._entries = self._load()

    def _load(self) -> dict[str, dict[str, Any]]:
        """The usable entries; anything malformed is dropped with a warning (and rebuilt).

        A bad entry only costs a full download of its URL, so it never stops the fetch.
        """
        where = self.root.display(self.relative)
        try:
            document = json.loads(self.root.read_bytes(self.relative))
        except (OSError, ValueError) as exc:
            log.warning("ignoring validators file %s (%s); it is rebuilt by this run", where, exc)
            return {}
        if not isinstance(document, dict):
            log.warning(
                "ignoring validators file %s: a JSON %s, not an object; it is rebuilt by this run",
                where,
                type(document).__name__,
            )
            return {}
        entries = {url: entry for url, entry in document.items() if _valid_validator(entry)}
        dropped = len(document) - len(entries)
        if dropped:
            log.warning(
                "ignoring %d malformed entries of validators file %s (first: %r); "
                "those URLs are downloaded in full",
                dropped,
                where,
                next(url for url in document if url not in entries),
            )
        return entries

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
        if not (etag or last_modified) or not (_sendable(etag) and _sendable(last_modified)):
            return
        self._entries[url] = {
            "etag": etag or "",
            "last_modified": last_modified or "",
            "archive_file": ref.archive_file,
            "record_id": ref.record_id,
            "offset": ref.offset,
        }

    def repoint(self, url: str, offset: int) -> None:
        """Correct the offset of an entry whose record was found elsewhere by a scan."""
        entry = self._entries.get(url)
        if entry is not None:
            entry["offset"] = offset

    def save(self) -> None:
        self.root.write_text(self.relative, json.dumps(self._entries, sort_keys=True))


def _valid_validator(entry: object) -> bool:
    """An entry that can be sent as If-* headers and answered from the archive on a 304."""
    if not isinstance(entry, dict):
        return False
    archive_file, record_id, offset = (
        entry.get(k) for k in ("archive_file", "record_id", "offset")
    )
    return (
        isinstance(archive_file, str)
        and archive_file.endswith(layout.WARC_SUFFIX)
        and ".." not in archive_file.split("/")
        and not archive_file.startswith("/")
        and isinstance(record_id, str)
        and bool(record_id)
        and (offset is None or (isinstance(offset, int) and offset >= 0))
        and _sendable(entry.get("etag"))
        and _sendable(entry.get("last_modified"))
        and bool(entry.get("etag") or entry.get("last_modified"))
    )


def _sendable(value: object) -> bool:
    """A validator that can go back as a header: printable ASCII (httpx encodes as ASCII).

    A server's Latin-1 ETag kept as is would make every later request of its URL fail.
    """
    return value is None or (isinstance(value, str) and value.isascii() and value.isprintable())


def run_files(root: Root | str | Path, window: RunWindow, source: str) -> list[str]:
    """The day's complete WARC files for a source (relative to the root), oldest run first.

    Raises :class:`ArchiveDamaged` for a file whose first record is unreadable (an empty file
    too): it cannot be placed among the runs, and it must not make its source vanish.
    """
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
    """All events of one run's WARC file, in the order they were recorded.

    Raises :class:`ArchiveDamaged` unless the whole file reads cleanly to its end.
    """
    return list(iter_events(root, relative))


def iter_events(root: Root | str | Path, relative: str) -> Iterator[ArchivedEvent]:
    """The events of one run's WARC file as they are read: one response body in memory at a time.

    Damage raises :class:`ArchiveDamaged` when the reader gets to it, so a caller that acts on
    events as they come must be ready to discard what it did with the earlier ones.
    """
    return _read_file(as_root(root), relative)


@dataclass(frozen=True)
class ArchiveCheck:
    """What :func:`verify_file` found in one WARC file."""

    file: str  # as Root.display spells it
    size: int
    records: int
    events: int
    responses: int
    damage: ArchiveDamaged | None

    @property
    def ok(self) -> bool:
        return self.damage is None


def verify_file(root: Root | str | Path, relative: str) -> ArchiveCheck:
    """Read a WARC file to its end, as replay would, and count what it holds."""
    root = as_root(root)
    records = events = responses = 0
    damage: ArchiveDamaged | None = None
    with root.open_input(relative) as stream:
        try:
            for offset, record, payload in _records(root, relative, stream):
                records += 1
                if record.rec_type == "response":
                    responses += 1
                elif record.rec_type == "metadata":
                    _event_of(root, relative, offset, record, payload)
                    events += 1
        except ArchiveDamaged as exc:
            damage = exc
    return ArchiveCheck(
        root.display(relative), root.size(relative), records, events, responses, damage
    )


def archive_days(root: Root | str | Path) -> list[str]:
    """The ``dt=YYYY-MM-DD`` days that have an archive directory, oldest first."""
    return [name for name in as_root(root).list("") if name.startswith("dt=")]


def day_files(root: Root | str | Path, partition: str) -> tuple[list[str], list[str]]:
    """A day's WARC files (every source) and its leftover ``.partial`` files, both relative."""
    root = as_root(root)
    complete: list[str] = []
    partial: list[str] = []
    for source in root.list(partition):
        directory = f"{partition}/{source}"
        if not root.is_dir(directory):
            continue
        for name in root.list(directory):
            if name.endswith(layout.WARC_SUFFIX) and not name.startswith("."):
                complete.append(f"{directory}/{name}")
            elif name.endswith(".partial"):
                partial.append(f"{directory}/{name}")
    return complete, partial


def latest_per_url(events: list[ArchivedEvent], role: str) -> list[ArchivedEvent]:
    """One event per URL: the newest successful fetch, else the newest event."""
    best: dict[str, ArchivedEvent] = {}
    for archived in events:
        if archived.event.role != role:
            continue
        if supersedes(archived, best.get(archived.url)):
            best[archived.url] = archived
    return list(best.values())


def supersedes(archived: ArchivedEvent, known: ArchivedEvent | None) -> bool:
    """Whether a later event of a URL replaces the one kept so far (see ``latest_per_url``)."""
    return known is None or _is_fetched(archived) or not _is_fetched(known)


def _is_fetched(archived: ArchivedEvent) -> bool:
    return archived.event.status == "fetched"


def _read_file(root: Root, relative: str) -> Iterator[ArchivedEvent]:
    name = relative.rsplit("/", 1)[-1]
    responses: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {}
    with root.open_input(relative) as stream:
        for offset, record, payload in _records(root, relative, stream):
            record_id = record.rec_headers.get_header("WARC-Record-ID")
            if record.rec_type == "response":
                assert record.http_headers is not None
                status = int(record.http_headers.get_statuscode())
                responses[record_id] = (status, list(record.http_headers.headers), payload)
            elif record.rec_type == "metadata":
                event = _event_of(root, relative, offset, record, payload)
                concurrent = record.rec_headers.get_header("WARC-Concurrent-To")
                # Each response has one event, written right after it: its body is let go here,
                # so reading a source holds one body at a time, not the whole day's.
                response = responses.pop(concurrent, None) if concurrent else None
                yield ArchivedEvent(
                    event=event,
                    status=response[0] if response else None,
                    headers=response[1] if response else [],
                    body=response[2] if response else None,
                    warc_date=record.rec_headers.get_header("WARC-Date"),
                    record_id=concurrent,
                    archive_file=name,
                )


def _event_of(
    root: Root, relative: str, offset: int, record: ArcWarcRecord, payload: bytes
) -> FetchEvent:
    url = record.rec_headers.get_header("WARC-Target-URI")
    try:
        return decode_event(url, payload)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ArchiveDamaged(
            root.display(relative),
            offset,
            f"the event record of {url} does not parse ({type(exc).__name__}: {exc})",
        ) from exc


def _first_record_date(root: Root, relative: str) -> str:
    with root.open_input(relative) as stream:
        for _, record, _ in _records(root, relative, stream, whole_file=False):
            return str(record.rec_headers.get_header("WARC-Date"))
    raise AssertionError("unreachable: _records raises for a file without records")


def _records(
    root: Root, relative: str, stream: IO[bytes], *, start: int = 0, whole_file: bool = True
) -> Iterator[tuple[int, ArcWarcRecord, bytes]]:
    """The records of a gzip WARC from ``start``: (offset of its gzip member, record, payload).

    A record is handed out only once its gzip member has been read to its end and checked; after
    the last record the file must end exactly at a member boundary. With ``whole_file=False``
    only the first record is read (and checked), not the rest of the file.
    """
    checked = _CheckedGzip(stream, root.display(relative), start)
    records = ArchiveIterator(checked)
    try:
        for record in records:
            payload = record.content_stream().read()
            records.read_to_end()  # the rest of the member, its CRC and the next offset
            offset, length = records.get_record_offset(), records.get_record_length()
            checked.raise_damage_before(offset + length)
            yield offset, record, payload
            if not whole_file:
                return
        checked.finish()
    except (ArchiveLoadFailed, StatusAndHeadersParserException, ValueError) as exc:
        checked.raise_damage_before(None)
        raise ArchiveDamaged(
            checked.file, checked.member_start, f"not a WARC record ({type(exc).__name__}: {exc})"
        ) from exc


class _CheckedGzip:
    """A read-only stream that inflates what it passes on, member by member, to check it.

    warcio decompresses the same bytes for parsing; this second inflater exists only to notice
    what warcio hides: a member cut short, a CRC mismatch, bytes that are no gzip member. warcio
    reads ahead, so damage found in a later member is kept until the reader gets there.
    """

    def __init__(self, raw: IO[bytes], file: str, start: int) -> None:
        self._raw = raw
        self.file = file
        self._position = start  # the absolute offset of the next byte to read
        self.member_start = start
        self._inflater: Any = None
        self._members = 0
        self._damage: ArchiveDamaged | None = None

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if data:
            self._check(data)
        elif self._damage is None:
            self._at_end()
        self._position += len(data)
        return data

    def raise_damage_before(self, end: int | None) -> None:
        """Raise damage found in the bytes before ``end`` (anywhere, for None)."""
        if self._damage is not None and (end is None or self._damage.offset < end):
            raise self._damage

    def finish(self) -> None:
        """After the last record: the rest of the file must be empty or whole members."""
        while self.read(_INFLATE_CHUNK):
            pass
        self.raise_damage_before(None)
        self._at_end()

    def _check(self, data: bytes) -> None:
        if self._damage is not None:
            return
        pending, at = data, self._position
        while pending:
            if self._inflater is None:
                self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self.member_start = at
            try:
                self._inflater.decompress(pending, _INFLATE_CHUNK)
            except zlib.error as exc:
                self._damage = ArchiveDamaged(
                    self.file,
                    self.member_start,
                    f"the gzip member starting here is corrupt ({exc})",
                )
                return
            if self._inflater.eof:
                rest = self._inflater.unused_data
                self._inflater = None
                self._members += 1
            else:
                rest = self._inflater.unconsumed_tail
            at += len(pending) - len(rest)
            pending = rest

    def _at_end(self) -> None:
        if self._inflater is not None:
            raise ArchiveDamaged(
                self.file,
                self.member_start,
                f"the file ends at byte {self._position}, inside the gzip member starting here "
                "(truncated)",
            )
        if self._members == 0:
            raise ArchiveDamaged(self.file, self.member_start, "no WARC record at all (empty file)")


def _warc_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _reason_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"

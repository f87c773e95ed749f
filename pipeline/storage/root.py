"""The one filesystem layer: every read and write of every root goes through a :class:`Root`.

A root is a local path or a URI. ``pyarrow.fs`` serves local disks and the object stores it knows
natively (``s3://``, ``gs://``, ``hdfs://``, ``file://``); any other scheme that fsspec knows
(``memory://``, ``az://``, ...) is served by fsspec through pyarrow's ``FSSpecHandler``, so the
rest of the pipeline sees one API either way. Why pyarrow.fs first: the dataset is Parquet written
by pyarrow, DuckDB scans ``pyarrow.dataset`` objects directly, and pyarrow's S3 client needs no
extra dependency; fsspec (which Airflow's ``ObjectStoragePath`` uses) fills the gaps.

Paths handed to a ``Root`` are relative, ``/``-separated, and built only by
:mod:`pipeline.storage.layout`.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

# Schemes pyarrow resolves itself; everything else goes to fsspec.
_PYARROW_SCHEMES = frozenset({"file", "mock", "s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss"})


class StorageError(OSError):
    """A root cannot be opened, or a file in it cannot be read; the message names the path."""


def resolve_filesystem(root: str | Path) -> tuple[pafs.FileSystem, str]:
    """The filesystem and base path behind ``root`` (a local path or a URI)."""
    text = str(root)
    scheme, sep, _ = text.partition("://")
    if not sep:
        return pafs.LocalFileSystem(), os.path.abspath(text)
    if scheme in _PYARROW_SCHEMES:
        try:
            fs, base = pafs.FileSystem.from_uri(text)
        except (pa.ArrowInvalid, OSError) as exc:
            raise StorageError(f"cannot open storage root {text!r}: {exc}") from exc
        return fs, base
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - fsspec comes with Airflow
        raise StorageError(f"storage root {text!r} needs fsspec") from exc
    try:
        spec_fs = fsspec.filesystem(scheme)
    except (ImportError, ValueError) as exc:
        raise StorageError(f"storage root {text!r}: unknown scheme {scheme!r} ({exc})") from exc
    base = spec_fs._strip_protocol(text)
    return pafs.PyFileSystem(pafs.FSSpecHandler(spec_fs)), str(base)


def as_root(root: str | Path | Root) -> Root:
    """``root`` itself when it is a :class:`Root`, else the root at that path or URI."""
    return root if isinstance(root, Root) else Root(root)


class Root:
    """A storage root: a base location on one filesystem, addressed by relative paths."""

    def __init__(self, root: str | Path) -> None:
        self.uri = str(root)
        self.fs, base = resolve_filesystem(root)
        self.base = base.rstrip("/") or "/"

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def __repr__(self) -> str:
        return f"Root({self.uri!r})"

    def path(self, relative: str = "") -> str:
        """The full path on ``self.fs`` (for messages, pyarrow and DuckDB)."""
        return f"{self.base}/{relative}" if relative else self.base

    def display(self, relative: str = "") -> str:
        """Where ``relative`` is, as a user would type it: a local path or a URI."""
        if self.is_local and "://" not in self.uri:
            return self.path(relative)
        return f"{self.uri.rstrip('/')}/{relative}" if relative else self.uri

    # -- questions ---------------------------------------------------------------------------

    def exists(self, relative: str) -> bool:
        return self._info(relative).type != pafs.FileType.NotFound

    def is_file(self, relative: str) -> bool:
        return self._info(relative).type == pafs.FileType.File

    def is_dir(self, relative: str) -> bool:
        return self._info(relative).type == pafs.FileType.Directory

    def size(self, relative: str) -> int:
        return int(self._info(relative).size or 0)

    def age_seconds(self, relative: str, now: float) -> float | None:
        """Seconds since ``relative`` was last modified, as of ``now`` (a Unix time); None if
        the filesystem does not say."""
        mtime = self._info(relative).mtime
        return None if mtime is None else now - mtime.timestamp()

    def list(self, relative: str) -> list[str]:
        """The names directly inside a directory, sorted; [] when it does not exist."""
        selector = pafs.FileSelector(self.path(relative), allow_not_found=True)
        return sorted(info.base_name for info in self.fs.get_file_info(selector))

    # -- bytes -------------------------------------------------------------------------------

    def open_input(self, relative: str) -> IO[bytes]:
        """A seekable binary stream (a plain file on a local disk)."""
        if self.is_local:
            return open(self.path(relative), "rb")
        return cast(IO[bytes], self.fs.open_input_file(self.path(relative)))

    @contextlib.contextmanager
    def open_output(self, relative: str, *, durable: bool = True) -> Iterator[IO[bytes]]:
        """A binary stream that creates (or truncates) ``relative``; fsynced on a local disk."""
        target = self.path(relative)
        self.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
        if self.is_local:
            with open(target, "wb") as stream:
                yield stream
                if durable:
                    stream.flush()
                    os.fsync(stream.fileno())
            return
        with self.fs.open_output_stream(target) as native:
            yield cast(IO[bytes], native)

    def read_bytes(self, relative: str) -> bytes:
        with self.fs.open_input_stream(self.path(relative)) as stream:
            return bytes(stream.read())

    def write_bytes(self, relative: str, data: bytes) -> None:
        """Write a small file atomically: a staged dot-file, then one rename (one PUT elsewhere)."""
        target = self.path(relative)
        folder, name = target.rsplit("/", 1)
        self.fs.create_dir(folder, recursive=True)
        staged = f"{folder}/.{name}.{uuid.uuid4().hex[:8]}.tmp"
        with self.fs.open_output_stream(staged) as stream:
            stream.write(data)
        self.fs.move(staged, target)

    def read_text(self, relative: str) -> str:
        return self.read_bytes(relative).decode("utf-8")

    def write_text(self, relative: str, text: str) -> None:
        self.write_bytes(relative, text.encode("utf-8"))

    def read_json(self, relative: str) -> Any:
        try:
            return json.loads(self.read_bytes(relative))
        except ValueError as exc:
            raise StorageError(f"{self.display(relative)} is not valid JSON ({exc})") from exc

    def write_json(self, relative: str, document: object) -> None:
        self.write_text(
            relative, json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"
        )

    # -- Parquet -----------------------------------------------------------------------------

    def read_table(self, relative: str, schema: pa.Schema | None = None) -> pa.Table:
        return pq.read_table(self.path(relative), filesystem=self.fs, schema=schema)

    def write_table(self, relative: str, table: pa.Table) -> None:
        """A plain (non-published) Parquet file, e.g. a stage's staged output."""
        target = self.path(relative)
        self.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
        pq.write_table(table, target, filesystem=self.fs)

    # -- moving and removing -----------------------------------------------------------------

    def move(self, source: str, target: str) -> None:
        """Rename on a local disk (atomic); a copy then a delete on an object store."""
        self.fs.create_dir(self.path(target).rsplit("/", 1)[0], recursive=True)
        self.fs.move(self.path(source), self.path(target))

    def publish_file(self, staged: str, target: str) -> None:
        """Put a finished file under its final name, never replacing one that is already there.

        Locally ``link()`` fails instead of replacing, should a concurrent writer have taken the
        name; object stores have no such primitive, and names there carry a unique run id.
        """
        if self.is_local:
            os.link(self.path(staged), self.path(target))
            os.unlink(self.path(staged))
            return
        if self.exists(target):
            raise FileExistsError(self.display(target))
        self.move(staged, target)

    def delete_file(self, relative: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.path(relative))

    def delete_dir(self, relative: str) -> None:
        with contextlib.suppress(FileNotFoundError, OSError):
            self.fs.delete_dir(self.path(relative))

    def create_dir(self, relative: str) -> None:
        self.fs.create_dir(self.path(relative), recursive=True)

    def check_writable(self) -> None:
        """Write and remove a small probe file: credentials and permissions fail here, early."""
        probe = f"._probe-{uuid.uuid4().hex}"
        self.write_bytes(probe, b"")
        self.delete_file(probe)

    def local_path(self, relative: str = "") -> Path:
        """The ``pathlib`` path of a local root; an error for any other filesystem.

        Only for what needs the OS itself (advisory file locks).
        """
        if not self.is_local:
            raise StorageError(f"{self.display(relative)} is not on a local disk")
        return Path(self.path(relative))

    def _info(self, relative: str) -> pafs.FileInfo:
        return self.fs.get_file_info(self.path(relative))

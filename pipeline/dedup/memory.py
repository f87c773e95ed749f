"""Give freed memory back to the operating system between the phases of a day.

A day's dedup allocates and frees many scratch arrays of a few MB (a batch's tokens, shingles,
band keys). glibc's malloc serves arrays of that size from its heap once a larger one has been
freed (its mmap threshold rises up to 32 MB), and a heap with live objects scattered through it is
not shrunk on free: the process keeps hundreds of MB it no longer uses, and the next phase (the
Parquet writer) adds its own on top. ``malloc_trim`` hands those free pages back; Arrow's pool
(mimalloc or jemalloc) is asked to do the same. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable
from typing import cast

import pyarrow as pa


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return cast(Callable[[int], int], trim)


def release_freed_memory() -> None:
    """Return the free pages of the C heap and of Arrow's pool to the OS (no-op where unknown)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    pa.default_memory_pool().release_unused()

"""Helpers for the reliability suite: the real CLI in a child process, and gzip bombs."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "config" / "demo.yaml"

# The child imports the `pipeline` of the checkout this file is in: it runs in REPO, and
# `python -c` puts the working directory first on sys.path.
_MAIN = "import sys; from pipeline.cli import main; sys.exit(main(sys.argv[1:]))"
# Runs the CLI as its own child and prints that child's peak RSS (KiB) as the last stderr line.
_MEASURED = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call([sys.executable, '-c', sys.argv[1], *sys.argv[2:]])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(f'peak_rss_kib={peak}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def newsingest(
    *args: str | Path, env: dict[str, str] | None = None, measure_rss: bool = False
) -> subprocess.CompletedProcess[str]:
    """``newsingest ARGS`` in a fresh interpreter; stdout and stderr captured as text."""
    prefix = (
        [sys.executable, "-c", _MEASURED, _MAIN] if measure_rss else [sys.executable, "-c", _MAIN]
    )
    return subprocess.run(
        [*prefix, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=REPO,
    )


def peak_rss_mib(result: subprocess.CompletedProcess[str]) -> float:
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("peak_rss_kib="), result.stderr[-2000:]
    return int(line.split("=", 1)[1]) / 1024


@cache
def gzip_bomb(mebibytes: int, byte: bytes = b" ") -> bytes:
    """One gzip member that inflates to ``mebibytes`` MiB of ``byte``, built in milliseconds.

    After a full flush deflate forgets its window, so every further MiB compresses to the same
    bytes: compress one MiB, repeat its output, then write the gzip trailer by hand.
    """
    chunk = byte * (1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    final = deflate.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(chunk, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (mebibytes << 20) & 0xFFFFFFFF)
    return header + block * mebibytes + final + trailer


def gzip_members(data: bytes) -> list[int]:
    """The offsets where the gzip members of a WARC file start (read independently of warcio)."""
    starts: list[int] = []
    position = 0
    while position < len(data):
        starts.append(position)
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        inflater.decompress(data[position:])
        assert inflater.eof, f"member at {position} is incomplete"
        position = len(data) - len(inflater.unused_data)
    return starts


def newsingest_process(*args: str | Path) -> subprocess.Popen[str]:
    """``newsingest ARGS`` started in the background (for signals and kills).

    The child starts with SIGINT at its default and unblocked, as from a terminal: a signal
    disposition or mask left in the test process by an earlier test is not inherited.
    """
    return subprocess.Popen(
        [sys.executable, "-c", _MAIN, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def write_config(path: Path, sources: list[dict[str, object]], **settings: object) -> Path:
    """A config for loopback sources: private addresses allowed, no politeness delay."""
    import yaml

    document = {
        "settings": {
            "output_root": str(path.parent / "out"),
            "archive_root": str(path.parent / "archive"),
            "allow_private_addresses": True,
            "politeness": {"min_delay_seconds": 0},
            "http": {"max_retries": 0, "backoff_base_seconds": 0},
            **settings,
        },
        "sources": sources,
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path

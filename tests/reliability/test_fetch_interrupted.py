"""A fetch that does not complete never leaves a WARC that looks complete.

The child is the real CLI fetching from a loopback server; one page hangs until the test has
interrupted (Ctrl-C) or killed (kill -9) the child, so the moment is chosen without sleeps.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from reliability_support import newsingest, newsingest_process, write_config

from pipeline.fetch.archive import run_files
from pipeline.models import RunWindow

DAY = date(2026, 3, 10)
WINDOW = RunWindow.for_day(DAY)
PAGE = (
    b"<html><head><title>Harbour wall repaired</title></head><body><article>"
    + b"<p>The harbour wall was repaired over the winter by a crew of twelve.</p>" * 8
    + b"</article></body></html>"
)


def wait_for_hit(server, path: str) -> None:  # type: ignore[no-untyped-def]
    give_up = time.monotonic() + 60  # a condition to wait for, not a speed assertion
    while path not in server.hits:
        assert time.monotonic() < give_up, f"the child never requested {path}"
        time.sleep(0.02)


@pytest.mark.parametrize("stop", ["interrupt", "kill"])
def test_an_unfinished_fetch_publishes_no_warc(loopback_server, tmp_path: Path, stop: str):
    release = threading.Event()

    def hang(handler: BaseHTTPRequestHandler) -> None:
        release.wait(30)  # bounded, so the server thread always ends

    loopback_server.routes["/ok"] = (200, {"Content-Type": "text/html"}, PAGE)
    loopback_server.routes["/hang"] = hang
    config = write_config(
        tmp_path / "config.yaml",
        [{"name": "crashy", "urls": [loopback_server.url("/ok"), loopback_server.url("/hang")]}],
    )
    child = newsingest_process("run", "--config", config, "--date", DAY.isoformat())
    try:
        wait_for_hit(loopback_server, "/hang")
        child.send_signal(signal.SIGINT if stop == "interrupt" else signal.SIGKILL)
        child.communicate(timeout=60)
    finally:
        release.set()
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode != 0

    archive = tmp_path / "archive"
    folder = archive / WINDOW.partition / "crashy"
    assert list(folder.glob("*.warc.gz")) == []  # nothing that replay would take for a run
    assert run_files(archive, WINDOW, "crashy") == []
    assert not (archive / "_validators" / "crashy.json").exists()
    if stop == "interrupt":
        assert list(folder.iterdir()) == []  # the partial file is removed on the way out
    else:
        (partial,) = folder.iterdir()  # kill -9 runs no code: the dot-file waits for cleanup
        assert partial.name.startswith(".") and partial.name.endswith(".partial")

    replay = newsingest("run", "--config", config, "--date", DAY.isoformat(), "--from-archive")
    assert replay.returncode == 1
    assert "no archived run of source 'crashy'" in replay.stderr

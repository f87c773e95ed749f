"""Processes the cluster starts: each in its own process group, logged to a file, always stopped.

An Airflow component forks (the Celery worker's pool, the API server's uvicorn workers, the
task supervisor's task process), so stopping only the parent would leave its children running:
each process is started as a session leader and stopped by signalling its process group, by id.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO


class ClusterError(RuntimeError):
    """A component did not start, died, or a run did not finish in time; the message says which
    and ends with the tail of its log."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it; the caller binds it right after)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class ManagedProcess:
    """One started command: its name, its log file, and the means to stop its whole group."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        log_path: Path,
    ) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = log_path.open("ab")
        self._log.write(f"$ {' '.join(argv)}\n".encode())
        self._log.flush()
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() reaches its children too
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise ClusterError(
                f"{self.name} exited with {self.popen.returncode}; log {self.log_path}:\n"
                f"{log_tail(self.log_path)}"
            )

    def terminate(self) -> None:
        """SIGTERM to the whole group: a warm shutdown of the process and its children."""
        _signal_group(self.pid, signal.SIGTERM)  # the group's id is the leader's pid

    def finish(self, deadline: float) -> None:
        """Wait for the process until ``deadline`` (a monotonic time), then SIGKILL whatever is
        left of its group (children that outlived it, or a parent deaf to SIGTERM)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        _signal_group(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored
            self.popen.wait(timeout=10)
        self._log.close()

    def stop(self, grace_seconds: float = 20.0) -> None:
        self.terminate()
        self.finish(time.monotonic() + grace_seconds)


def stop_all(processes: list[ManagedProcess], grace_seconds: float = 20.0) -> None:
    """Stop several processes at once: one grace period for all, not one each."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        process.finish(deadline)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    watch: list[ManagedProcess] | None = None,
    interval: float = 0.5,
) -> None:
    """Poll ``ready`` until it holds; fail after ``timeout`` s, or as soon as a watched process
    dies (its log tail in the message), so a broken component never costs the whole timeout."""
    deadline = time.monotonic() + timeout
    while True:
        for process in watch or []:
            process.check_alive()
        if ready():
            return
        if time.monotonic() > deadline:
            tails = "".join(
                f"\n--- {p.name} ({p.log_path}):\n{log_tail(p.log_path, 15)}" for p in watch or []
            )
            raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}{tails}")
        time.sleep(interval)


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True

"""Progress of long work: per-stage counts with a rate and an ETA, for a person or a log.

On a terminal one status line is redrawn in place (at most every ``TERMINAL_INTERVAL`` seconds);
anywhere else (a pipe, a file, an Airflow task log) a plain line is emitted every
``LOG_INTERVAL`` seconds, so a log of a long day shows how far it got without a line per page.
Stages report through a :class:`Tally` (``add_total`` as work is found, ``advance`` as it is
done), from any thread: the fetch loop and the extraction pool's callbacks both do.

This measures the run, it is not part of a stage's output, so it reads the monotonic clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol, TextIO

log = logging.getLogger(__name__)

TERMINAL_INTERVAL = 0.2  # seconds between redraws of the status line
LOG_INTERVAL = 10.0  # seconds between plain progress lines

Clock = Callable[[], float]


class Tally(Protocol):
    """What a stage needs to report progress: work found, work done."""

    def add_total(self, count: int) -> None: ...

    def advance(self, count: int = 1) -> None: ...


class StageProgress:
    """One stage's counter: ``done`` of ``total`` (the total may grow as work is discovered).

    ``extras`` are further counts shown beside it (the extract stage counts sources, and shows
    the pages and articles they held); ``rate_of`` names the extra the rate is given in.
    """

    def __init__(
        self,
        display: ProgressDisplay,
        name: str,
        unit: str,
        clock: Clock,
        *,
        rate_of: str | None = None,
        extras: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.unit = unit
        self.total = 0
        self.done = 0
        self.extras = dict.fromkeys(extras, 0)
        self._rate_of = rate_of
        self._display = display
        self._clock = clock
        self._started = clock()

    def add_total(self, count: int) -> None:
        with self._display.lock:
            self.total += count
        self._display.refresh()

    def advance(self, count: int = 1, **extras: int) -> None:
        with self._display.lock:
            self.done += count
            for name, value in extras.items():
                self.extras[name] = self.extras.get(name, 0) + value
        self._display.refresh()

    def _elapsed(self) -> float:
        return self._clock() - self._started

    def rate(self) -> float:
        """``rate_of`` (else units) done per second since the stage started."""
        elapsed = self._elapsed()
        amount = self.extras.get(self._rate_of, 0) if self._rate_of else self.done
        return amount / elapsed if elapsed > 0 else 0.0

    def eta_seconds(self) -> float | None:
        """Seconds left at the pace so far; None before the first unit is done."""
        elapsed = self._elapsed()
        if self.done <= 0 or elapsed <= 0:
            return None
        return max(self.total - self.done, 0) * elapsed / self.done

    def describe(self) -> str:
        """E.g. ``fetch 1,200/5,000 pages, 240.0/s, ETA 0:16``."""
        eta = self.eta_seconds()
        parts = [f"{self.name} {self.done:,}/{self.total:,} {self.unit}"]
        parts += [f"{value:,} {name}" for name, value in self.extras.items()]
        parts.append(f"{self.rate():.1f} {self._rate_of or self.unit}/s")
        parts.append("ETA --" if eta is None else f"ETA {format_duration(eta)}")
        return ", ".join(parts)


class ProgressDisplay:
    """Shows every stage's progress: a redrawn line on a terminal, periodic lines otherwise.

    ``emit`` receives the plain lines (default: an INFO log line); ``stream`` gets the terminal
    line. Use :meth:`for_stream` to choose by whether the stream is a terminal.
    """

    def __init__(
        self,
        *,
        stream: TextIO | None = None,
        emit: Callable[[str], None] | None = None,
        interval: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.lock = threading.RLock()
        self._stream = stream  # set: redraw on this terminal; None: emit plain lines
        self._emit = emit or log.info
        self._interval = (
            interval
            if interval is not None
            else (TERMINAL_INTERVAL if stream is not None else LOG_INTERVAL)
        )
        self._clock = clock
        self._stages: list[StageProgress] = []
        self._last_shown = clock()
        self._line_width = 0

    @classmethod
    def for_stream(cls, stream: TextIO) -> ProgressDisplay:
        """A status line if ``stream`` is a terminal, else plain periodic log lines."""
        isatty = getattr(stream, "isatty", None)
        return cls(stream=stream if isatty is not None and isatty() else None)

    @property
    def on_terminal(self) -> bool:
        return self._stream is not None

    def stage(
        self, name: str, unit: str, *, rate_of: str | None = None, extras: tuple[str, ...] = ()
    ) -> StageProgress:
        with self.lock:
            stage = StageProgress(self, name, unit, self._clock, rate_of=rate_of, extras=extras)
            self._stages.append(stage)
        return stage

    def line(self) -> str:
        with self.lock:
            return " | ".join(stage.describe() for stage in self._stages)

    def refresh(self, *, force: bool = False) -> None:
        with self.lock:
            now = self._clock()
            if not force and now - self._last_shown < self._interval:
                return
            self._last_shown = now
            self._show(self.line())

    def close(self) -> None:
        """The final figures, once, and the terminal line ended."""
        with self.lock:
            self._show(self.line())
            if self._stream is not None and self._line_width:
                self._stream.write("\n")
                self._stream.flush()
                self._line_width = 0

    def _show(self, text: str) -> None:
        if not text:
            return
        if self._stream is None:
            self._emit(f"progress: {text}")
            return
        padding = " " * max(self._line_width - len(text), 0)  # wipe a longer previous line
        self._stream.write(f"\r{text}{padding}")
        self._stream.flush()
        self._line_width = len(text)


def format_duration(seconds: float) -> str:
    """``H:MM:SS``, or ``M:SS`` under an hour."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

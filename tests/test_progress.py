"""Progress display: rate and ETA on a fake clock, a redrawn terminal line, or log lines."""

from __future__ import annotations

import io

from pipeline.progress import LOG_INTERVAL, ProgressDisplay, format_duration


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rate_and_eta_follow_the_work_done() -> None:
    clock = FakeClock()
    lines: list[str] = []
    display = ProgressDisplay(emit=lines.append, clock=clock)
    fetch = display.stage("fetch", "pages")
    fetch.add_total(1000)
    assert fetch.eta_seconds() is None  # nothing done yet: no pace to go by
    clock.now += 10
    fetch.advance(250)
    assert fetch.rate() == 25.0
    assert fetch.eta_seconds() == 30.0
    assert fetch.describe() == "fetch 250/1,000 pages, 25.0 pages/s, ETA 0:30"


def test_the_extract_stage_counts_sources_and_rates_pages() -> None:
    clock = FakeClock()
    display = ProgressDisplay(emit=lambda line: None, clock=clock)
    extract = display.stage("extract", "sources", rate_of="pages", extras=("pages", "articles"))
    extract.add_total(4)
    clock.now += 2
    extract.advance(pages=300, articles=240)
    assert extract.describe() == (
        "extract 1/4 sources, 300 pages, 240 articles, 150.0 pages/s, ETA 0:06"
    )


def test_without_a_terminal_lines_come_at_most_every_interval() -> None:
    clock = FakeClock()
    lines: list[str] = []
    display = ProgressDisplay.for_stream(io.StringIO())
    assert not display.on_terminal
    display = ProgressDisplay(emit=lines.append, clock=clock)
    fetch = display.stage("fetch", "pages")
    fetch.add_total(100)
    for _ in range(50):  # 50 pages within one interval: no line yet
        clock.now += LOG_INTERVAL / 100
        fetch.advance()
    assert lines == []
    clock.now += LOG_INTERVAL
    fetch.advance()
    assert len(lines) == 1 and lines[0].startswith("progress: fetch 51/100 pages")
    display.close()
    assert len(lines) == 2 and "fetch 51/100" in lines[1]  # the final figures, once


def test_on_a_terminal_one_line_is_redrawn_in_place() -> None:
    clock = FakeClock()
    terminal = Terminal()
    assert ProgressDisplay.for_stream(terminal).on_terminal
    display = ProgressDisplay(stream=terminal, clock=clock)
    fetch = display.stage("fetch", "pages")
    extract = display.stage("extract", "sources")
    fetch.add_total(10)
    extract.add_total(2)
    for _ in range(10):
        clock.now += 1
        fetch.advance()
    extract.advance()
    display.close()
    output = terminal.getvalue()
    assert "\n" not in output[:-1] and output.endswith("\n")  # redrawn with \r, ended once
    last = output.rstrip("\n").split("\r")[-1].rstrip()
    assert last.startswith("fetch 10/10 pages, ") and " | extract 1/2 sources, " in last


def test_durations() -> None:
    assert format_duration(59.6) == "1:00"
    assert format_duration(3725) == "1:02:05"

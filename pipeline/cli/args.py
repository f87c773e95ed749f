"""Argument types shared by the subcommands (stdlib only: imported while building parsers)."""

from __future__ import annotations

import argparse
from datetime import date


def day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-03-10") from None

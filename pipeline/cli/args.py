"""Argument types shared by the subcommands (stdlib only: imported while building parsers)."""

from __future__ import annotations

import argparse
from datetime import date


def day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-03-10") from None


def add_set_option(parser: argparse.ArgumentParser, example: str) -> None:
    """``--set KEY=VALUE``, repeatable: a setting override, as the run and archive commands take."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a setting, e.g. --set {example}",
    )


def setting_overrides(items: list[str]) -> dict[str, str]:
    """The ``--set`` items as overrides for ``load_config``; a malformed one is a ConfigError."""
    from pipeline.errors import ConfigError

    overrides: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        overrides[key.strip()] = value
    return overrides

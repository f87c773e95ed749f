"""Errors that cross module boundaries, importable without importing anything heavy.

The CLI catches these around every subcommand, so they live apart from the modules that raise
them (``pipeline.settings`` needs pydantic and YAML; the CLI's ``--help`` must not).
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the file and the key."""

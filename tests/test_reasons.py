"""The reason registry is the one list of codes: docs/schema.md lists exactly it, same status."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.reasons import FETCH_LOG_REASONS, REJECT_REASONS, fetch_log_reason, is_skip

SCHEMA_DOC = Path(__file__).resolve().parents[1] / "docs" / "schema.md"
_ROW = re.compile(r"^\| `(?P<code>[a-z_N]+)` \| (?P<status>skipped|failed|rejected) \|", re.M)


def documented(section: str) -> dict[str, str]:
    text = SCHEMA_DOC.read_text(encoding="utf-8")
    body = text.split(f"## `{section}`", 1)[1].split("\n## ", 1)[0]
    return {m["code"]: m["status"] for m in _ROW.finditer(body)}


def test_the_fetch_log_reasons_in_the_docs_are_the_registry() -> None:
    assert documented("fetch_log") == {c: r.status for c, r in FETCH_LOG_REASONS.items()}


def test_the_reject_reasons_in_the_docs_are_the_registry() -> None:
    assert documented("rejects") == {c: r.status for c, r in REJECT_REASONS.items()}


def test_http_status_codes_and_skips() -> None:
    assert fetch_log_reason("http_404").code == "http_NNN"
    assert is_skip("robots") and is_skip("over_cap") and not is_skip("sitemap_cap")
    assert not is_skip("http_503")

"""Bytes -> text for fetched pages, in the standard order: BOM, HTTP header, <meta>, detection."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
# The HTML standard says a <meta charset> must sit in the first 1024 bytes; allow some slack.
_META_SCAN_BYTES = 4096


def decode_html(body: bytes, content_type: str | None) -> tuple[str, str]:
    """Return the text and the name of the charset used to decode it."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace"), name
    for declared in (_from_header(content_type), _from_meta(body)):
        if declared is not None:
            try:
                return body.decode(declared), declared
            except (LookupError, UnicodeDecodeError):
                continue  # a wrong declaration is common; fall through to detection
    best = from_bytes(body).best()
    if best is not None and best.encoding:
        return str(best), best.encoding
    return body.decode("utf-8", errors="replace"), "utf-8"


def _from_header(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return _normalized(match.group(1)) if match else None


def _from_meta(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:_META_SCAN_BYTES])
    return _normalized(match.group(1).decode("ascii", "replace")) if match else None


def _normalized(name: str) -> str | None:
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return None
    if canonical == "ascii":
        return "utf-8"  # "ascii" pages are often UTF-8 in fact, and UTF-8 decodes true ASCII too
    # Browsers treat latin-1 labels as windows-1252; so must we, or curly quotes turn to C1 junk.
    return "cp1252" if canonical in {"latin-1", "iso8859-1"} else canonical

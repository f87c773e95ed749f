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
_HTML_LANG = re.compile(rb"<html[^>]*\slang\s*=\s*[\"']?([A-Za-z-]+)", re.IGNORECASE)

# The encoding browsers fall back to for unlabelled pages, by language (after the WHATWG
# encoding standard's locale table); anything unlisted falls back to windows-1252.
LEGACY_DEFAULTS: dict[str, str] = {
    "ar": "cp1256",
    "be": "cp1251",
    "bg": "cp1251",
    "cs": "cp1250",
    "el": "cp1253",
    "et": "cp1257",
    "fa": "cp1256",
    "he": "cp1255",
    "hr": "cp1250",
    "hu": "cp1250",
    "ja": "shift_jis",
    "kk": "cp1251",
    "ko": "euc_kr",
    "lt": "cp1257",
    "lv": "cp1257",
    "mk": "cp1251",
    "pl": "cp1250",
    "ro": "cp1250",
    "ru": "cp1251",
    "sk": "cp1250",
    "sl": "cp1250",
    "sr": "cp1251",
    "th": "cp874",
    "tr": "cp1254",
    "uk": "cp1251",
    "vi": "cp1258",
    "zh-cn": "gb18030",
    "zh-tw": "big5",
    "zh": "gb18030",
}
# How much more "chaos" (charset-normalizer's mess score) the language's default may show
# than the detector's favourite and still be chosen.
DETECTION_TOLERANCE = 0.05

# The HTML standard says a <meta charset> must sit in the first 1024 bytes; allow some slack.
_META_SCAN_BYTES = 4096
# Codecs Python knows that are not character encodings of web pages: a page declaring one (by
# mistake or on purpose) must not pick a transform that raises or rewrites the text.
_NOT_PAGE_ENCODINGS = frozenset(
    {
        "punycode",
        "idna",
        "raw-unicode-escape",
        "unicode-escape",
        "utf-7",
        "raw_unicode_escape",
        "unicode_escape",
        "utf_7",
    }
)
#: More than this share of replacement or control characters and the page did not decode.
MAX_UNDECODABLE_SHARE = 0.10
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")


class UndecodableError(ValueError):
    """The bytes are not text in any encoding we could find (binary junk served as HTML)."""


def decode_html(body: bytes, content_type: str | None) -> tuple[str, str]:
    """Return the text and the name of the charset used to decode it.

    Raises UndecodableError when even detection leaves mostly replacement or control characters:
    publishing that as an article would only be U+FFFD soup.
    """
    text, charset = _decode(body, content_type)
    if text:
        junk = len(_CONTROL.findall(text[:20_000]))
        if junk > MAX_UNDECODABLE_SHARE * min(len(text), 20_000):
            raise UndecodableError(
                f"{junk} of the first {min(len(text), 20_000)} characters are replacement or "
                f"control characters after decoding as {charset}"
            )
    return text, charset


def _decode(body: bytes, content_type: str | None) -> tuple[str, str]:
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace"), name
    for declared in (_from_header(content_type), _from_meta(body)):
        if declared is not None:
            try:
                return body.decode(declared), declared
            except (LookupError, UnicodeError, ValueError):
                continue  # a wrong declaration is common; fall through to detection
    return _detect(body)


def _detect(body: bytes) -> tuple[str, str]:
    """Statistical detection, nudged toward the legacy encoding the page's language implies.

    Short texts are ambiguous (cp1252, cp1257 and cp1250 often score alike), so when the
    encoding browsers would fall back to for the page's ``lang`` is about as plausible as the
    detector's favourite, it wins.
    """
    matches = list(from_bytes(body))
    if not matches:
        return body.decode("utf-8", errors="replace"), "utf-8"
    best = matches[0]
    preferred = _legacy_default(body)
    for match in matches:
        if preferred in match.could_be_from_charset or match.encoding == preferred:
            if match.chaos - best.chaos <= DETECTION_TOLERANCE:
                return body.decode(preferred, errors="replace"), preferred
            break
    return str(best), best.encoding


def _legacy_default(body: bytes) -> str:
    match = _HTML_LANG.search(body[:_META_SCAN_BYTES])
    language = match.group(1).decode("ascii", "replace").lower() if match else ""
    primary = language.split("-")[0]
    return LEGACY_DEFAULTS.get(language, LEGACY_DEFAULTS.get(primary, "cp1252"))


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
        codec = codecs.lookup(name)
    except LookupError:
        return None
    canonical = codec.name
    if canonical in _NOT_PAGE_ENCODINGS or not getattr(codec, "_is_text_encoding", True):
        return None
    if canonical == "ascii":
        return "utf-8"  # "ascii" pages are often UTF-8 in fact, and UTF-8 decodes true ASCII too
    # Browsers treat latin-1 labels as windows-1252; so must we, or curly quotes turn to C1 junk.
    return "cp1252" if canonical in {"latin-1", "iso8859-1"} else canonical

"""URL canonicalization: one spelling per page, so that discovery dedupes before fetching."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only track the click, never select content.
TRACKING_PARAMS = frozenset({"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid"})
TRACKING_PREFIXES = ("utm_",)

# AMP spellings that map back to the canonical page by a path rewrite.
_AMP_PATH_SEGMENT = re.compile(r"/amp(?=/)")
_AMP_TRAILING_SEGMENT = re.compile(r"/amp/?$")
_AMP_EXTENSION = re.compile(r"\.amp(\.html?)$")
AMP_QUERY_FLAGS = frozenset({"amp", "outputtype"})

_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Longer URLs are refused before any request: real article URLs are far shorter, and servers
#: and clients refuse such lines anyway (most cap the request line at 8 KiB).
MAX_URL_LENGTH = 8192


class BadUrl(ValueError):
    """A URL that cannot be fetched: unparseable, a bad port or IPv6 host, or far too long."""


def canonicalize(url: str) -> str:
    """Return the canonical spelling of ``url``.

    Lower-cases scheme and host, drops default ports, the fragment and tracking parameters, sorts
    the query and rewrites detectable AMP paths (``/amp/...``, ``.../amp``, ``x.amp.html``,
    ``?amp=1``) to the page they mirror.
    """
    if len(url) > MAX_URL_LENGTH:
        raise BadUrl(f"the URL is {len(url):,} characters long (at most {MAX_URL_LENGTH:,})")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:  # "Port out of range", "Invalid IPv6 URL"
        raise BadUrl(f"{exc}: {url[:200]!r}") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"

    path = parts.path or "/"
    path = _AMP_PATH_SEGMENT.sub("", path, count=1)
    path = _AMP_EXTENSION.sub(r"\1", _AMP_TRAILING_SEGMENT.sub("", path)) or "/"

    query_pairs = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMS
        and not key.lower().startswith(TRACKING_PREFIXES)
        and key.lower() not in AMP_QUERY_FLAGS
    ]
    query = urlencode(sorted(query_pairs))
    return urlunsplit((scheme, netloc, path, query, ""))


def url_hash(url: str) -> str:
    """A stable 16-hex-digit id for a canonical URL (the article_id)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()

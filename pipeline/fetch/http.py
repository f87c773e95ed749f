"""A polite, bounded HTTP client: per-host politeness, robots.txt, retries, size and time limits.

Every call returns an ``HttpResult``; network trouble becomes a result with a reason code, never an
exception, so a caller can always account for the URL. Reason codes are those of
``pipeline.reasons``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
import time
import zlib
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from urllib.parse import SplitResult, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from pipeline.settings import Settings

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Failures that would only repeat: a too-big body stays too big, a trickling server stays slow.
NOT_RETRIED = frozenset({"too_large", "deadline", "bad_url", "bad_encoding"})
# Not retried, but still the host's fault: a host that keeps hitting the deadline is parked, or
# 5,000 trickling pages would take 5,000 deadlines (83 hours at the defaults).
COUNTS_AGAINST_HOST = frozenset({"deadline"})
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class HttpResult:
    url: str
    final_url: str
    status: int | None
    headers: list[tuple[str, str]]
    body: bytes
    fetched_at: datetime
    error: str | None = None  # a pipeline.reasons code when the fetch gave no usable response
    detail: str | None = None
    redirects: tuple[str, ...] = ()
    attempts: int = 0
    elapsed_ms: int = 0

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


@dataclass
class _HostState:
    semaphore: asyncio.Semaphore
    delay: float
    next_allowed: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # the host's turns, in order
    # Held while robots.txt is read, so the host's other requests wait for its rules; apart
    # from ``lock``, which the robots.txt request itself takes for its turn.
    robots_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    robots: RobotFileParser | None = None
    robots_error: str | None = None
    robots_loaded: bool = False
    consecutive_failures: int = 0
    parked_reason: str | None = None


@dataclass(frozen=True)
class RobotsAttempt:
    """One request for a host's robots.txt, for the fetch log: how it went and what followed."""

    url: str
    attempt: int
    status: int | None
    fetched_at: datetime
    error: str | None = None  # why it could not be used; None when the rules were read
    then: str = "used"  # "used" | "retry" (asked again later in the run) | "deferred"


class FetchFailed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class _Attempts:
    count: int = 0


class PoliteClient:
    """Use as ``async with PoliteClient(settings) as client: await client.get(url)``."""

    # A host that fails this many fetches in a row is parked for the rest of the run.
    PARK_AFTER_FAILURES = 5

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        self._settings = settings
        http = settings.http
        timeout = httpx.Timeout(
            connect=http.connect_timeout_seconds,
            read=http.read_timeout_seconds,
            write=http.read_timeout_seconds,
            pool=None,
        )
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": http.user_agent, "Accept-Encoding": "gzip, deflate"},
            transport=transport,
            limits=httpx.Limits(max_connections=http.max_concurrency * 2),
        )
        self._hosts: dict[str, _HostState] = {}
        self._global = asyncio.Semaphore(http.max_concurrency)
        self.robots_log: list[RobotsAttempt] = []  # every robots.txt request, for the fetch log
        self._allowed_networks = [
            ipaddress.ip_network(network, strict=False) for network in settings.allowed_networks
        ]

    async def __aenter__(self) -> PoliteClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.aclose()

    def host_delay(self, url: str) -> float | None:
        """The politeness delay in force for the URL's host (after robots.txt), if known yet."""
        parts = urlsplit(url)
        state = self._hosts.get(f"{parts.scheme}://{parts.netloc.lower()}")
        return state.delay if state else None

    async def get(
        self,
        url: str,
        *,
        check_robots: bool = True,
        conditional: Mapping[str, str] | None = None,
        origins: set[str] | None = None,
    ) -> HttpResult:
        """GET with redirects, politeness and retries; ``conditional`` adds If-* headers.

        ``origins`` collects every origin the request went to (redirects included): a client
        shared by several sources tells each source which hosts' robots.txt it depended on.
        """
        started = datetime.now(UTC)
        clock = time.monotonic()
        attempts = _Attempts()
        try:
            result = await self._get_following_redirects(
                url, check_robots, dict(conditional or {}), attempts, origins
            )
        except FetchFailed as failure:
            result = HttpResult(
                url=url,
                final_url=url,
                status=None,
                headers=[],
                body=b"",
                fetched_at=started,
                error=failure.reason,
                detail=failure.detail,
            )
        elapsed = int((time.monotonic() - clock) * 1000)
        return _replace(result, attempts=attempts.count, elapsed_ms=elapsed)

    async def _get_following_redirects(
        self,
        url: str,
        check_robots: bool,
        conditional: dict[str, str],
        attempts: _Attempts,
        origins: set[str] | None,
    ) -> HttpResult:
        seen = [url]
        current = url
        for _ in range(self._settings.http.max_redirects + 1):
            result = await self._get_one(
                current, check_robots, tuple(seen[:-1]), url, conditional, attempts, origins
            )
            if result.status not in REDIRECT_STATUSES:
                return result
            location = result.header("location")
            if not location:
                return result
            try:
                target = urljoin(current, location)
            except ValueError as exc:  # e.g. a malformed IPv6 host in the Location header
                raise FetchFailed("bad_url", f"redirect to {_clip(location)}: {exc}") from exc
            if target in seen:
                raise FetchFailed("redirect_loop", f"redirect loop back to {target}")
            seen.append(target)
            current = target
            conditional = {}  # validators belong to the URL they were issued for
        raise FetchFailed(
            "too_many_redirects", f"more than {self._settings.http.max_redirects} redirects"
        )

    async def _get_one(
        self,
        url: str,
        check_robots: bool,
        redirects: tuple[str, ...],
        requested: str,
        conditional: dict[str, str],
        attempts: _Attempts,
        origins: set[str] | None,
    ) -> HttpResult:
        parts, port = _checked_url(url)
        assert parts.hostname is not None
        await self._check_address(parts.hostname.lower(), port)
        if origins is not None:
            origins.add(origin_of(parts))
        state = await self._host_state(parts.scheme, parts.netloc)
        if state.parked_reason:
            raise FetchFailed("host_parked", state.parked_reason)
        if check_robots and self._settings.politeness.obey_robots:
            if state.robots_error:
                raise FetchFailed("robots_unavailable", state.robots_error)
            if state.robots and not state.robots.can_fetch(self._settings.http.user_agent, url):
                raise FetchFailed("robots", "disallowed by robots.txt")

        http = self._settings.http
        retry = 0
        while True:
            failure: FetchFailed | None = None
            status: int | None = None
            headers: list[tuple[str, str]] = []
            body = b""
            async with self._turn(state):
                # Checked again here: every page of a source is queued at once, so pages
                # already waiting for a connection must see a host parked meanwhile.
                if state.parked_reason:
                    raise FetchFailed("host_parked", state.parked_reason)
                attempts.count += 1
                try:
                    # The deadline covers the transfer only, not the politeness queue before it.
                    status, headers, body = await asyncio.wait_for(
                        self._download(url, conditional), timeout=http.fetch_deadline_seconds
                    )
                except TimeoutError:
                    failure = FetchFailed(
                        "deadline", f"transfer took longer than {http.fetch_deadline_seconds}s"
                    )
                except FetchFailed as exc:
                    failure = exc
                except httpx.ConnectTimeout as exc:
                    failure = FetchFailed("connect_timeout", _describe(exc))
                except httpx.ConnectError as exc:
                    failure = FetchFailed("connect_error", _describe(exc))
                except httpx.ReadTimeout as exc:
                    failure = FetchFailed("read_timeout", _describe(exc))
                except httpx.TransportError as exc:  # reset, broken chunking, protocol errors
                    failure = FetchFailed("connection_reset", _describe(exc))
                except (httpx.InvalidURL, ValueError, TypeError) as exc:
                    # The request could not even be built (httpx is stricter than urlsplit, and
                    # a header value from the validators may not encode): this URL's problem.
                    failure = FetchFailed(
                        "bad_url", f"cannot request {_clip(url)}: {_describe(exc)}"
                    )
                fetched_at = datetime.now(UTC)
            retryable = (
                failure is not None and failure.reason not in NOT_RETRIED
            ) or status in RETRYABLE_STATUSES
            if retryable and retry < http.max_retries:
                retry += 1
                await asyncio.sleep(self._backoff(retry, headers))
                continue
            against_host = retryable or (
                failure is not None and failure.reason in COUNTS_AGAINST_HOST
            )
            self._note_outcome(state, failed=against_host)
            if failure is not None:
                raise failure
            assert status is not None
            return HttpResult(
                url=requested,
                final_url=url,
                status=status,
                headers=headers,
                body=body,
                fetched_at=fetched_at,
                redirects=redirects,
            )

    def _note_outcome(self, state: _HostState, *, failed: bool) -> None:
        if not failed:
            state.consecutive_failures = 0
            return
        state.consecutive_failures += 1
        if state.consecutive_failures >= self.PARK_AFTER_FAILURES:
            state.parked_reason = (
                f"host parked after {state.consecutive_failures} failed fetches in a row"
            )

    async def _download(
        self, url: str, conditional: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        async with self._client.stream("GET", url, headers=conditional) as response:
            body = await read_capped(response, self._settings.http.max_body_bytes)
            return response.status_code, list(response.headers.multi_items()), body

    def _backoff(self, retry: int, headers: list[tuple[str, str]]) -> float:
        http = self._settings.http
        retry_after = parse_retry_after({k.lower(): v for k, v in headers})
        if retry_after is not None:
            return min(retry_after, http.max_retry_after_seconds)
        base: float = http.backoff_base_seconds * (2 ** (retry - 1))
        return base + random.uniform(0, base / 2)

    @asynccontextmanager
    async def _turn(self, state: _HostState) -> AsyncIterator[None]:
        """One request's slot: a connection of the host, its delay waited, a slot of the client.

        The delay is waited before a client-wide slot is taken, so a host waiting out its delay
        never holds up the other hosts of the run (with many sources fetched at once, the slots
        would otherwise go to sleepers). The host's next turn is set only once the slot is held,
        right before the request goes out, so the spacing between two requests to one host is
        never shorter than the delay, however long the wait for a slot was.
        """
        async with state.semaphore:
            async with state.lock:
                now = time.monotonic()
                if state.next_allowed > now:
                    await asyncio.sleep(state.next_allowed - now)
                await self._global.acquire()
                state.next_allowed = time.monotonic() + state.delay
            try:
                yield
            finally:
                self._global.release()

    async def _host_state(self, scheme: str, netloc: str) -> _HostState:
        key = f"{scheme}://{netloc.lower()}"  # = origin_of; the politeness unit
        state = self._hosts.get(key)
        if state is None:
            politeness = self._settings.politeness
            state = _HostState(
                semaphore=asyncio.Semaphore(politeness.max_connections_per_host),
                delay=politeness.min_delay_seconds,
            )
            self._hosts[key] = state
        if self._settings.politeness.obey_robots:
            async with state.robots_lock:
                if not state.robots_loaded:
                    state.robots_loaded = True
                    await self._load_robots(key, state)
        return state

    async def _load_robots(self, origin: str, state: _HostState) -> None:
        """Read the host's robots.txt; a 5xx or no answer is asked again, a bounded number of
        times, before the host is deferred. Every request is recorded in ``robots_log``.

        Each request counts as a request to the host: it takes a connection slot, and the
        host's delay (Crawl-delay included) runs from it, so the first page waits its turn.
        """
        robots_url = f"{origin}/robots.txt"
        politeness = self._settings.politeness
        for attempt in range(1, politeness.robots_retries + 2):
            status, body, error = await self._request_robots(robots_url, state)
            if error is None:
                break
            last = attempt > politeness.robots_retries
            self.robots_log.append(
                RobotsAttempt(
                    robots_url,
                    attempt,
                    status,
                    datetime.now(UTC),
                    error,
                    "deferred" if last else "retry",
                )
            )
            if last:
                state.robots_error = f"{error}; host deferred after {attempt} attempts"
                return
            # Other hosts' pages go on meanwhile; only this host's pages wait for the answer.
            await asyncio.sleep(politeness.robots_retry_delay_seconds)
        assert status is not None
        self.robots_log.append(RobotsAttempt(robots_url, attempt, status, datetime.now(UTC)))
        self._parse_robots(robots_url, status, body, state)
        state.next_allowed = time.monotonic() + state.delay  # the delay starts from robots.txt

    async def _request_robots(
        self, robots_url: str, state: _HostState
    ) -> tuple[int | None, bytes, str | None]:
        """One robots.txt request: (status, body, why it is unusable or None)."""
        http = self._settings.http
        async with self._turn(state):
            try:
                status, body = await asyncio.wait_for(
                    self._download_robots(robots_url), timeout=http.fetch_deadline_seconds
                )
            except FetchFailed as exc:
                return None, b"", f"robots.txt unreadable: {exc.detail}"
            except (httpx.HTTPError, httpx.InvalidURL, ValueError, TimeoutError) as exc:
                return None, b"", f"robots.txt unreachable: {type(exc).__name__}"
            finally:
                state.next_allowed = time.monotonic() + state.delay
        if status >= 500:
            return status, b"", f"robots.txt answered {status}"
        return status, body, None

    def _parse_robots(self, robots_url: str, status: int, body: bytes, state: _HostState) -> None:
        http = self._settings.http
        parser = RobotFileParser(robots_url)
        if status >= 400:
            parser.parse([])  # 4xx means no rules: everything is allowed
        else:
            parser.parse(body.decode("utf-8", errors="replace").splitlines())
        state.robots = parser
        crawl_delay = parser.crawl_delay(http.user_agent)
        if crawl_delay is not None:
            capped = min(float(crawl_delay), self._settings.politeness.max_crawl_delay_seconds)
            state.delay = max(state.delay, capped)  # our own delay is a floor

    async def _download_robots(self, robots_url: str) -> tuple[int, bytes]:
        async with self._client.stream("GET", robots_url) as response:
            # Like Google, rules past the cap are ignored rather than the whole file.
            body = await read_capped(
                response, self._settings.http.max_robots_bytes, keep_prefix=True
            )
            return response.status_code, body

    async def _check_address(self, host: str, port: int) -> None:
        if self._settings.allow_private_addresses:
            return
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port)
        except socket.gaierror as exc:
            raise FetchFailed("dns_error", f"cannot resolve {host}: {exc}") from exc
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if address.is_global or any(address in net for net in self._allowed_networks):
                continue
            raise FetchFailed(
                "private_address",
                f"{host} resolves to non-public {address}; set allow_private_addresses "
                "or list it in allowed_networks to fetch it",
            )


async def read_capped(response: httpx.Response, limit: int, *, keep_prefix: bool = False) -> bytes:
    """The body of a streamed response, at most ``limit`` bytes after decompression.

    The one reader of untrusted bodies (pages, feeds, sitemaps, robots.txt). It inflates the raw
    bytes itself, never more than ``_CHUNK`` at a time: httpx would inflate each network read
    whole (64 KiB of a gzip bomb is 64 MiB), so its cap could only be checked too late. Over the
    cap it raises ``too_large``, or with ``keep_prefix`` returns the first ``limit`` bytes.
    """
    declared = response.headers.get("content-length")
    if not keep_prefix and declared and declared.isdigit() and int(declared) > limit:
        raise FetchFailed("too_large", f"Content-Length {declared} exceeds {limit} bytes")
    decoder = _BodyDecoder(response.headers.get_list("content-encoding", split_commas=True))
    chunks: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw(_CHUNK):
        for piece in decoder.feed(raw):
            size += len(piece)
            if size > limit:
                if keep_prefix:
                    chunks.append(piece[: len(piece) - (size - limit)])
                    return b"".join(chunks)
                raise FetchFailed("too_large", f"body exceeds {limit} bytes after decoding")
            chunks.append(piece)
    decoder.finish()
    return b"".join(chunks)


class _BodyDecoder:
    """Content-Encoding layers (gzip, deflate; identity), each inflating at most ``_CHUNK``."""

    def __init__(self, encodings: list[str]) -> None:
        self._layers: list[_Inflater] = []
        for encoding in (value.strip().lower() for value in encodings):
            if encoding in ("", "identity"):
                continue
            if encoding not in ("gzip", "x-gzip", "deflate"):
                # We only ever send Accept-Encoding: gzip, deflate; anything else is unbounded.
                raise FetchFailed("bad_encoding", f"Content-Encoding {encoding!r} not accepted")
            self._layers.append(_Inflater(encoding))

    def feed(self, data: bytes) -> Iterator[bytes]:
        pieces: Iterator[bytes] = iter((data,))
        for layer in reversed(self._layers):  # the last encoding applied is undone first
            pieces = layer.pieces(pieces)
        yield from pieces

    def finish(self) -> None:
        for layer in self._layers:
            if not layer.complete:
                raise FetchFailed("bad_encoding", "the compressed body ends early")


class _Inflater:
    def __init__(self, encoding: str) -> None:
        self._deflate = encoding == "deflate"
        # "deflate" is zlib-wrapped by the RFC and raw deflate by many servers: try the RFC.
        self._inflater = zlib.decompressobj(
            zlib.MAX_WBITS if self._deflate else 16 + zlib.MAX_WBITS
        )
        self._started = False

    @property
    def complete(self) -> bool:
        return bool(self._inflater.eof) or not self._started

    def pieces(self, inputs: Iterator[bytes]) -> Iterator[bytes]:
        for data in inputs:
            while data and not self._inflater.eof:  # after the end: trailing bytes are ignored
                try:
                    out = self._inflater.decompress(data, _CHUNK)
                except zlib.error as exc:
                    if self._deflate and not self._started:
                        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                        self._started = True
                        continue
                    raise FetchFailed("bad_encoding", f"the body does not decode: {exc}") from exc
                self._started = True
                data = self._inflater.unconsumed_tail
                if out:
                    yield out


def _checked_url(url: str) -> tuple[SplitResult, int]:
    """The parts and port of a fetchable URL, or ``bad_scheme`` / ``bad_url``.

    Checked before any connection so a URL that urlsplit or httpx would reject (a port over
    65535, a malformed IPv6 host, a URL of 100 KB) is one failed row, not an exception.
    """
    try:
        parts = urlsplit(url)
        scheme_ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        port = parts.port
    except ValueError as exc:
        raise FetchFailed("bad_url", f"{_clip(url)} is not a valid URL: {exc}") from exc
    if not scheme_ok:
        raise FetchFailed("bad_scheme", f"only http(s) URLs are fetched, not {_clip(url)!r}")
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise FetchFailed("bad_url", f"{_clip(url)} is not a valid URL: {exc}") from exc
    return parts, port or (443 if parts.scheme == "https" else 80)


def origin_of(parts: SplitResult) -> str:
    """``scheme://host:port`` as the client keys its hosts (and robots.txt lives under)."""
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _clip(url: str, limit: int = 200) -> str:
    """A URL short enough for a log line or a fetch-log detail."""
    return url if len(url) <= limit else f"{url[:limit]}... ({len(url)} characters)"


def header_value(headers: list[tuple[str, str]], name: str) -> str | None:
    """The first value of a header, matched case-insensitively."""
    lowered = name.lower()
    for key, value in headers:
        if key.lower() == lowered:
            return value
    return None


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    reference = datetime.now(UTC)
    try:
        if headers.get("date"):
            reference = parsedate_to_datetime(headers["date"])
    except (TypeError, ValueError):
        pass
    return max(0.0, (moment - reference).total_seconds())


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _replace(result: HttpResult, **changes: int) -> HttpResult:
    return replace(result, **changes)  # type: ignore[arg-type]

"""Scale benchmark: a whole day of N realistic pages from H loopback hosts, live and replayed.

    python bench/scale.py                     # 10,000 pages, then 50,000, on 50 hosts
    python bench/scale.py --pages 2000 10000  # other sizes
    make bench-scale                          # the same, with the defaults

Our own loopback web: H HTTP servers on 127.0.0.1 (one asyncio loop in this process), each a
host with robots.txt, a sitemap and an RSS feed. Pages weigh 100-200 KB, most of it inline
scripts, styles and SVG, on five templates (one per host, as sites have); the text is generated
from a small grammar, original per story, and 20% of the pages are syndicated copies of another
host's story (a local opening line, sometimes the last paragraph cut).

Each size runs, each in a child process of its own:
1. a live day (``run_day``, politeness delay 0): fetch and extract overlap, then publish;
2. a replay of that day from the archive (``from_archive``): extract, then publish;
3. trafilatura alone (``trafilatura.extract``, one process) on a sample of the same archived
   pages, the baseline of the replay's pages/s.

Per stage it prints wall time, CPU time (the child and every process under it, its extraction
workers included, read from /proc), pages/s and articles/s; per run the peak memory of the
process tree (PSS and RSS summed from /proc samples) and the peak RSS of its largest single
process (``RUSAGE_CHILDREN``). Then the targets of issue 16, printed, never
asserted. Timings depend on the machine and on what else runs on it: compare the ratios of one
run. ``--profile`` adds a cProfile of a replay with one worker, grouped by pipeline area.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import json
import os
import pstats
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

DAY = date(2026, 3, 10)
TARGET_REPLAY_RATIO = 2.5
TARGET_LIVE_PAGES_PER_SECOND = 100.0
TARGET_RSS_100K = 1024**3
COPY_SHARE = 0.2
TEMPLATES = 5
REPO = Path(__file__).resolve().parents[1]

# --- the generated web --------------------------------------------------------------------------

NOUNS = [
    "council",
    "harbour",
    "ferry",
    "bridge",
    "school",
    "library",
    "orchard",
    "market",
    "river",
    "station",
    "hospital",
    "union",
    "festival",
    "vineyard",
    "railway",
    "budget",
    "museum",
    "dairy",
    "quarry",
    "airport",
    "clinic",
    "tunnel",
    "court",
    "theatre",
    "factory",
    "garden",
    "reservoir",
    "shelter",
    "stadium",
    "archive",
    "bakery",
    "brewery",
    "cooperative",
    "observatory",
    "lighthouse",
    "marina",
    "pipeline",
    "warehouse",
    "academy",
    "tribunal",
    "chamber",
    "ministry",
    "parish",
    "depot",
]
ADJECTIVES = [
    "regional",
    "northern",
    "coastal",
    "local",
    "new",
    "former",
    "rural",
    "central",
    "busy",
    "historic",
    "small",
    "large",
    "upper",
    "eastern",
    "western",
    "quiet",
    "crowded",
    "public",
    "private",
    "annual",
    "temporary",
    "seasonal",
    "independent",
]
VERBS = [
    "approved",
    "delayed",
    "announced",
    "reopened",
    "rejected",
    "funded",
    "expanded",
    "closed",
    "reviewed",
    "postponed",
    "welcomed",
    "questioned",
    "extended",
    "repaired",
    "inspected",
    "criticised",
    "completed",
    "opened",
    "renamed",
    "moved",
]
PLACES = [
    "Dravel",
    "Hollin",
    "Marten",
    "Falls",
    "Orlen",
    "Kestrel",
    "Bay",
    "Vantry",
    "Loxley",
    "Brisk",
    "Amberley",
    "Tollmere",
    "Caddow",
    "Fenwick",
    "Harrowgate",
    "Illis",
    "Junebury",
    "Kelso",
    "Larrow",
    "Mistlea",
    "Norrin",
    "Oxhold",
    "Pellam",
    "Quarry",
    "Rossiter",
    "Selwick",
    "Tarn",
    "Ulvery",
    "Wexcombe",
    "Yarrowby",
    "Zennor",
]
PEOPLE = [
    "Ada Brennan",
    "Tomas Okafor",
    "Lena Virtanen",
    "Marco Duarte",
    "Priya Raman",
    "Jonas Lindqvist",
    "Hana Sato",
    "Owen Price",
    "Ines Moreau",
    "Ravi Menon",
    "Clara Hofer",
    "Felix Adeyemi",
    "Maya Cohen",
    "Sven Aalto",
    "Nora Quinlan",
    "Paulo Reis",
    "Greta Novak",
    "Idris Bello",
    "Elif Kaya",
    "Rosa Jimenez",
]
ROLES = [
    "the mayor",
    "a spokesperson",
    "the chair of the board",
    "a local resident",
    "the director",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
SENTENCES = (
    "The {adj} {noun} in {place} {verb} its plans for the {noun2} on {day}, {person} said.",
    "Officials {verb} the {adj} {noun} after a meeting that lasted well into the evening.",
    "{person}, {role}, told reporters that the {noun} would not be ready before the spring.",
    "Residents of {place} have waited {num} years for the {noun2} to be {verb}.",
    "According to figures published on {day}, the {noun} cost {num} million more than planned.",
    "The decision was {verb} by {num} votes to {num2}, with several members absent.",
    "Work on the {adj} {noun2} near {place} is expected to take {num} months.",
    "{person} said the {noun} had been {verb} because of rising costs and a shortage of staff.",
    "Critics argue that the {adj} {noun} in {place} was never properly {verb}.",
    "A second {noun} in {place2} will be {verb} later this year, {role} confirmed.",
    "Traffic around the {noun2} was diverted for {num} hours while engineers inspected it.",
    "The {noun} first opened in {year} and has been {verb} twice since then.",
)


def story_text(seed: str) -> tuple[str, list[str], str]:
    """A story's title, paragraphs and author, the same for the same seed."""
    rng = random.Random(seed)

    def sentence() -> str:
        return rng.choice(SENTENCES).format(
            adj=rng.choice(ADJECTIVES),
            noun=rng.choice(NOUNS),
            noun2=rng.choice(NOUNS),
            verb=rng.choice(VERBS),
            place=rng.choice(PLACES),
            place2=rng.choice(PLACES),
            day=rng.choice(WEEKDAYS),
            person=rng.choice(PEOPLE),
            role=rng.choice(ROLES),
            num=rng.randint(2, 90),
            num2=rng.randint(2, 90),
            year=rng.randint(1890, 2015),
        )

    paragraphs = [
        " ".join(sentence() for _ in range(rng.randint(3, 5))) for _ in range(rng.randint(6, 14))
    ]
    title = (
        f"{rng.choice(PLACES)} {rng.choice(NOUNS)} {rng.choice(VERBS)} after "
        f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} row"
    ).capitalize()
    return title, paragraphs, rng.choice(PEOPLE)


def _minified_script(rng: random.Random, size: int) -> str:
    parts = ["!function(e,t){'use strict';"]
    length = len(parts[0])
    while length < size:
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 6)))
        piece = (
            f"var {name}=function(n,r){{return n&&r?n[{rng.randint(0, 99)}]+r.{name}"
            f"({rng.randint(0, 9999)}):void 0}},{name}_{rng.randint(0, 99)}="
            f"'{rng.getrandbits(64):x}';"
        )
        parts.append(piece)
        length += len(piece)
    parts.append("}(window,document);")
    return "".join(parts)


def _stylesheet(rng: random.Random, size: int) -> str:
    parts = []
    length = 0
    while length < size:
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz-") for _ in range(rng.randint(4, 12)))
        piece = (
            f".c-{name}{{margin:{rng.randint(0, 32)}px {rng.randint(0, 32)}px;"
            f"color:#{rng.getrandbits(24):06x};font-size:{rng.randint(10, 40)}px}}"
        )
        parts.append(piece)
        length += len(piece)
    return "".join(parts)


def _svg(rng: random.Random, size: int) -> str:
    points = []
    length = 0
    while length < size:
        point = f"L{rng.uniform(0, 512):.2f} {rng.uniform(0, 512):.2f}"
        points.append(point)
        length += len(point)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512" aria-hidden="true">'
        f'<path fill="#{rng.getrandbits(24):06x}" d="M0 0{"".join(points)}z"/></svg>'
    )


class Web:
    """The pages of N stories over H hosts: which are copies, and each page's HTML."""

    def __init__(self, pages: int, hosts: int) -> None:
        self.pages = pages
        self.hosts = hosts
        rng = random.Random(16)
        self.scripts = [_minified_script(rng, rng.randint(8_000, 30_000)) for _ in range(16)]
        self.styles = [_stylesheet(rng, rng.randint(5_000, 20_000)) for _ in range(8)]
        self.svgs = [_svg(rng, rng.randint(2_000, 15_000)) for _ in range(12)]
        self.ports: list[int] = []

    def per_host(self, host: int) -> int:
        return self.pages // self.hosts + (1 if host < self.pages % self.hosts else 0)

    def base(self, host: int) -> str:
        return f"http://127.0.0.1:{self.ports[host]}"

    @staticmethod
    def _draw(host: int, number: int) -> random.Random:
        digest = hashlib.blake2b(f"{host}/{number}".encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big"))

    def copy_of(self, host: int, number: int) -> tuple[int, int] | None:
        """The original (host, number) a page syndicates, or None for an original story."""
        rng = self._draw(host, number)
        if self.hosts < 2 or rng.random() >= COPY_SHARE:
            return None
        other = (host + rng.randint(1, self.hosts - 1)) % self.hosts
        candidate = rng.randrange(self.per_host(other))
        for step in range(self.per_host(other)):  # the next original of that host
            probe = (candidate + step) % self.per_host(other)
            if self.copy_of_is_original(other, probe):
                return other, probe
        return None

    def copy_of_is_original(self, host: int, number: int) -> bool:
        return self.hosts < 2 or self._draw(host, number).random() >= COPY_SHARE

    def published(self, host: int, number: int) -> datetime:
        minutes = (number * 7 + host * 13) % (24 * 60)
        return datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) + timedelta(minutes=minutes)

    def page_path(self, number: int) -> str:
        return f"/news/{DAY.isoformat()}/story-{number}.html"

    def robots(self) -> bytes:
        return b"User-agent: *\nAllow: /\n"

    def sitemap(self, host: int) -> bytes:
        entries = "".join(
            f"<url><loc>{self.base(host)}{self.page_path(n)}</loc>"
            f"<lastmod>{self.published(host, n).isoformat()}</lastmod></url>"
            for n in range(self.per_host(host))
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
        ).encode()

    def feed(self, host: int) -> bytes:
        items = "".join(
            f"<item><title>story {n}</title><link>{self.base(host)}{self.page_path(n)}</link>"
            f"<pubDate>{self.published(host, n).strftime('%a, %d %b %Y %H:%M:%S +0000')}"
            "</pubDate></item>"
            for n in range(min(20, self.per_host(host)))
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Host {host}</title>'
            f"<link>{self.base(host)}/</link>{items}</channel></rss>"
        ).encode()

    def page(self, host: int, number: int) -> bytes:
        original = self.copy_of(host, number)
        seed_host, seed_number = original or (host, number)
        title, paragraphs, author = story_text(f"{seed_host}/{seed_number}")
        rng = self._draw(host, number)
        if original is not None:  # a syndicated copy: a local opening, sometimes cut short
            paragraphs = [f"This story first appeared on a partner site of Host {host}."] + (
                paragraphs[:-1] if rng.random() < 0.5 else paragraphs
            )
        weight = rng.randint(100_000, 200_000)
        return render(self, host, number, title, paragraphs, author, weight, rng).encode()


def render(
    web: Web,
    host: int,
    number: int,
    title: str,
    paragraphs: list[str],
    author: str,
    weight: int,
    rng: random.Random,
) -> str:
    """One page on its host's template, padded with scripts, styles and SVG up to ``weight``."""
    template = host % TEMPLATES
    url = f"{web.base(host)}{web.page_path(number)}"
    when = web.published(host, number).isoformat()
    site = f"Host {host} {('Gazette', 'Courier', 'Ledger', 'Post', 'Times')[template]}"
    nav = "".join(
        f'<li><a href="/section/{name}">{name.title()}</a></li>'
        for name in ("world", "region", "business", "sport", "culture", "weather")
    )
    related = "".join(
        f'<li><a href="{web.page_path((number + k) % web.per_host(host))}">'
        f"More from {site}: story {(number + k) % web.per_host(host)}</a></li>"
        for k in range(1, 9)
    )
    body = "".join(f"<p>{text}</p>" for text in paragraphs)
    jsonld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": title,
            "datePublished": when,
            "author": {"@type": "Person", "name": author},
        }
    )
    head = (
        f'<meta charset="utf-8"><title>{title} | {site}</title>'
        f'<link rel="canonical" href="{url}">'
        f'<meta property="og:title" content="{title}">'
        f'<meta property="article:published_time" content="{when}">'
        f'<script type="application/ld+json">{jsonld}</script>'
    )
    if template == 0:
        main = (
            f'<article><h1>{title}</h1><p class="byline">By {author}</p>'
            f'<time datetime="{when}">{when[:10]}</time>{body}</article>'
        )
    elif template == 1:
        main = (
            f'<div class="story-wrap"><div class="hdr"><h1 class="headline">{title}</h1>'
            f'<span class="author">{author}</span><span class="date">{when}</span></div>'
            f'<div class="story-body">{body}</div></div>'
        )
    elif template == 2:
        main = (
            f"<main><header><h1>{title}</h1><address>{author}</address></header>"
            f'<section class="content">{body}</section><aside><ul>{related}</ul></aside></main>'
        )
    elif template == 3:
        main = (
            f'<div id="root"><div class="grid"><div class="col-8"><h1 itemprop="headline">{title}'
            f'</h1><div itemprop="articleBody">{body}</div></div><div class="col-4">'
            f"<ul>{related}</ul></div></div></div>"
        )
    else:
        main = (
            f'<article class="post"><h1 class="entry-title">{title}</h1>'
            f'<div class="entry-meta">Posted by {author} on {when[:10]}</div>'
            f'<div class="entry-content">{body}</div></article>'
        )
    page = [
        f'<!doctype html><html lang="en"><head>{head}',
        f"<style>{web.styles[template]}</style></head><body>",
        f"<header><a href='/'>{site}</a><nav><ul>{nav}</ul></nav></header>",
        main,
        f"<section class='related'><h2>Related</h2><ul>{related}</ul></section>",
        f"<footer><p>&copy; 2026 {site}. All rights reserved.</p><ul>{nav}</ul></footer>",
    ]
    size = sum(len(part) for part in page)
    picks = 0
    while size < weight:  # the page weight: mostly code and graphics, as on news sites
        kind = picks % 3
        if kind == 0:
            block = f"<script>{rng.choice(web.scripts)}</script>"
        elif kind == 1:
            block = f"<div class='icon'>{rng.choice(web.svgs)}</div>"
        else:
            block = f"<style>{rng.choice(web.styles)}</style>"
        page.insert(-1 if picks % 2 else 2, block)
        size += len(block)
        picks += 1
    page.append("</body></html>")
    return "".join(page)


class LoopbackWeb:
    """The web's hosts served by one asyncio loop in a thread: ``with LoopbackWeb(web): ...``."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.base_events.Server] = []

    def __enter__(self) -> LoopbackWeb:
        self._thread.start()
        for host in range(self.web.hosts):
            server = asyncio.run_coroutine_threadsafe(self._start(host), self._loop).result()
            self._servers.append(server)
            self.web.ports.append(server.sockets[0].getsockname()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            self._loop.call_soon_threadsafe(server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _start(self, host: int) -> asyncio.base_events.Server:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    path = head.split(b" ", 2)[1].decode()
                    status, kind, body = self._answer(host, path)
                    self.requests += 1
                    writer.write(
                        f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n".encode()
                        + body
                    )
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, IndexError):
                pass
            finally:
                writer.close()

        return await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)

    def _answer(self, host: int, path: str) -> tuple[str, str, bytes]:
        web = self.web
        if path == "/robots.txt":
            return "200 OK", "text/plain", web.robots()
        if path == "/sitemap.xml":
            return "200 OK", "application/xml", web.sitemap(host)
        if path == "/rss.xml":
            return "200 OK", "application/rss+xml", web.feed(host)
        prefix = f"/news/{DAY.isoformat()}/story-"
        if path.startswith(prefix) and path.endswith(".html"):
            number = int(path[len(prefix) : -len(".html")])
            if number < web.per_host(host):
                return "200 OK", "text/html; charset=utf-8", web.page(host, number)
        return "404 Not Found", "text/plain", b"not found"


def write_config(web: Web, folder: Path, workers: int | None) -> Path:
    import yaml

    settings: dict[str, Any] = {
        "output_root": str(folder / "out"),
        "archive_root": str(folder / "archive"),
        "allow_private_addresses": True,
        "politeness": {"min_delay_seconds": 0.0},
        "discovery": {"max_urls_per_source": max(5000, web.pages // web.hosts + 100)},
    }
    if workers is not None:
        settings["workers"] = workers
    sources = [
        {
            "name": f"host-{host:03d}",
            "feeds": [f"{web.base(host)}/rss.xml"],
            "sitemaps": [f"{web.base(host)}/sitemap.xml"],
        }
        for host in range(web.hosts)
    ]
    path = folder / "scale.yaml"
    path.write_text(yaml.safe_dump({"settings": settings, "sources": sources}))
    return path


# --- measuring a child process -----------------------------------------------------------------


class TreeSampler:
    """Samples CPU and RSS of this process and everything under it, from /proc, in a thread.

    CPU of a process is its last sampled utime + stime, kept after it exits (a worker's last
    fraction of a sampling interval is missed). Memory is summed over the live processes twice:
    RSS (pages shared by forked workers count once per process: an upper bound) and PSS (each
    shared page split between its sharers: what the tree really holds).
    """

    INTERVAL = 0.2

    def __init__(self) -> None:
        self.root = os.getpid()
        self.cpu: dict[int, float] = {}
        self.peak_rss = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def cpu_seconds(self) -> float:
        self.sample()
        return sum(self.cpu.values())

    def _run(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            self.sample()

    def sample(self) -> None:
        parents: dict[int, int] = {}
        stats: dict[int, list[str]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    text = handle.read()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            parents[int(entry)] = int(fields[1])
            stats[int(entry)] = fields
        tree = {self.root}
        grew = True
        while grew:
            grew = False
            for pid, parent in parents.items():
                if parent in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        rss = pss = 0
        for pid in tree:
            fields = stats.get(pid)
            if fields is None:
                continue
            self.cpu[pid] = (int(fields[11]) + int(fields[12])) / self._tick
            rss += int(fields[21]) * self._page
            pss += _pss(pid)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)


def _pss(pid: int) -> int:
    """A process's proportional set size in bytes (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def child_run(args: argparse.Namespace) -> None:
    """In the child: one day, live or replayed, with the stage boundaries timed."""
    import logging

    import pipeline.runner as runner
    from pipeline.models import RunWindow
    from pipeline.progress import ProgressDisplay
    from pipeline.settings import load_config

    logging.basicConfig(level=logging.WARNING)
    config = load_config(args.config)
    window = RunWindow.for_day(DAY)
    marks: list[tuple[str, float, float]] = []
    with TreeSampler() as sampler:

        def mark(name: str) -> None:
            marks.append((name, time.monotonic(), sampler.cpu_seconds()))

        real_publish = runner.publish

        def timed_publish(*a: Any, **k: Any) -> Any:
            mark("publish")
            return real_publish(*a, **k)

        runner.publish = timed_publish  # type: ignore[assignment]
        mark("start")
        if args.profile:
            result = profiled_replay(config, window, Path(args.profile), mark)
        else:
            result = runner.run_day(
                config,
                window,
                f"scale-{args.mode}",
                from_archive=args.mode == "replay",
                progress=ProgressDisplay(emit=lambda line: print(line, file=sys.stderr)),
            )
        mark("end")
        peak, peak_pss = sampler.peak_rss, sampler.peak_pss
    totals = result.totals()
    Path(args.result).write_text(
        json.dumps(
            {
                "marks": marks,
                "tree_peak_rss": peak,
                "tree_peak_pss": peak_pss,
                "fetched": totals["fetched"],
                "written": totals["written"],
                "duplicates": totals["duplicates"],
                "rejected": sum(totals["rejected"].values()),
                "unaccounted": totals["unaccounted"],
            }
        )
    )


def profiled_replay(config: Any, window: Any, stats: Path, mark: Any) -> Any:
    """A replay with every stage in this thread, one source after another, under cProfile."""
    import pipeline.runner as runner

    profiler = cProfile.Profile()
    profiler.enable()
    extracted = []
    for source in config.enabled_sources:
        fetched = runner.fetch_source(config, window, "profile", source.name, from_archive=True)
        extracted.append(
            runner.extract_source(config, window, "profile", source.name, fetched.archive_file)
        )
    result = runner.publish(config, window, "profile", extracted)
    profiler.disable()
    profiler.dump_stats(str(stats))
    return result


def child_trafilatura(args: argparse.Namespace) -> None:
    """In the child: trafilatura.extract alone on a sample of the archived pages."""
    import trafilatura

    from pipeline.fetch.archive import latest_per_url, read_events, run_files
    from pipeline.models import RunWindow
    from pipeline.settings import load_config

    config = load_config(args.config)
    archive = config.settings.archive_root
    window = RunWindow.for_day(DAY)
    per_source = max(1, args.sample // len(config.sources))
    bodies: list[bytes] = []
    for source in config.sources:
        files = run_files(archive, window, source.name)
        pages = [
            archived.body
            for archived in latest_per_url(read_events(archive, files[-1]), "page")
            if archived.event.status == "fetched" and archived.body
        ]
        bodies += pages[:per_source]
    for body in bodies[:20]:  # warm-up: imports and first-call caches, untimed
        trafilatura.extract(body)
    wall, cpu = time.monotonic(), time.process_time()
    extracted = sum(1 for body in bodies if trafilatura.extract(body))
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    Path(args.result).write_text(
        json.dumps({"pages": len(bodies), "extracted": extracted, "wall": wall, "cpu": cpu})
    )


def run_child(mode: str, config: Path, folder: Path, extra: list[str]) -> dict[str, Any]:
    result = folder / f"{mode}.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [sys.executable, __file__, "--child", mode, "--config", str(config)]
    command += ["--result", str(result), *extra]
    completed = subprocess.run(command, stderr=subprocess.PIPE, text=True, check=False)
    if completed.returncode:
        sys.stderr.write(completed.stderr[-5000:])
        raise SystemExit(f"the {mode} child failed ({completed.returncode})")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    found: dict[str, Any] = json.loads(result.read_text())
    found["max_process_rss"] = usage.ru_maxrss * 1024  # the largest process reaped so far
    found["rusage_cpu"] = (usage.ru_utime + usage.ru_stime) - (before.ru_utime + before.ru_stime)
    return found


# --- the report ---------------------------------------------------------------------------------


def mib(size: float) -> str:
    return f"{size / 1024**2:,.0f} MiB"


def stage_rows(run: dict[str, Any], first_stage: str) -> Iterator[tuple[str, float, float]]:
    (_, start, cpu0), (_, publish, cpu1), (_, end, cpu2) = run["marks"]
    yield first_stage, publish - start, cpu1 - cpu0
    yield "publish", end - publish, cpu2 - cpu1
    yield "total", end - start, cpu2 - cpu0


def print_size(pages: int, hosts: int, found: dict[str, dict[str, Any]], workers: int) -> None:
    print(f"\n== {pages:,} pages on {hosts} hosts (workers={workers}) ==")
    print(f"{'run':8} {'stage':15} {'wall s':>8} {'CPU s':>8} {'pages/s':>9} {'articles/s':>11}")
    for mode, first in (("live", "fetch+extract"), ("replay", "extract")):
        run = found[mode]
        for stage, wall, cpu in stage_rows(run, first):
            print(
                f"{mode:8} {stage:15} {wall:8.1f} {cpu:8.1f} {run['fetched'] / wall:9.1f} "
                f"{run['written'] / wall:11.1f}"
            )
        print(
            f"{mode:8} peak memory of the process tree (sampled sums): PSS "
            f"{mib(run['tree_peak_pss'])}, RSS {mib(run['tree_peak_rss'])}; largest process RSS "
            f"{mib(run['max_process_rss'])}; fetched {run['fetched']:,}, written "
            f"{run['written']:,} ({run['duplicates']:,} duplicates), rejected {run['rejected']:,}, "
            f"unaccounted {run['unaccounted']}"
        )
    alone = found["trafilatura"]
    print(
        f"trafilatura alone, one process, {alone['pages']:,} of the pages: "
        f"{alone['pages'] / alone['wall']:.1f} pages/s (CPU {alone['cpu']:.1f} s, "
        f"{alone['extracted']:,} with text)"
    )


def print_targets(sizes: dict[int, dict[str, dict[str, Any]]]) -> None:
    print("\n== targets (issue 16; printed, never asserted) ==")
    smallest = 10_000 if 10_000 in sizes else min(sizes)  # the target is set for a 10k day
    found = sizes[smallest]
    _, replay_wall, _ = list(stage_rows(found["replay"], "extract"))[-1]
    replay_rate = found["replay"]["fetched"] / replay_wall
    alone = found["trafilatura"]
    alone_rate = alone["pages"] / alone["wall"]
    print(
        f"replay of {smallest:,}: {replay_rate:.1f} pages/s = {replay_rate / alone_rate:.2f}x "
        f"trafilatura alone (target >= {TARGET_REPLAY_RATIO}x)"
    )
    # On a shared machine wall time depends on the neighbours; CPU time much less so.
    _, _, replay_cpu = list(stage_rows(found["replay"], "extract"))[-1]
    ours_per_cpu = found["replay"]["fetched"] / replay_cpu
    alone_per_cpu = alone["pages"] / alone["cpu"]
    cores = len(os.sched_getaffinity(0))
    print(
        f"  per CPU second: replay {ours_per_cpu:.1f} pages, trafilatura {alone_per_cpu:.1f} "
        f"pages ({ours_per_cpu / alone_per_cpu:.2f}x); with {cores} idle cores the replay "
        f"would be at most {cores * ours_per_cpu / alone_per_cpu:.2f}x"
    )
    for pages, found in sorted(sizes.items()):
        _, live_wall, _ = list(stage_rows(found["live"], "fetch+extract"))[-1]
        live_rate = found["live"]["fetched"] / live_wall
        print(
            f"live {pages:,}: {live_rate:.1f} pages/s end to end "
            f"(target >= {TARGET_LIVE_PAGES_PER_SECOND:.0f})"
        )
    if len(sizes) >= 2:
        low, high = sorted(sizes)[0], sorted(sizes)[-1]
        for mode in ("live", "replay"):
            rss = {size: sizes[size][mode]["tree_peak_pss"] for size in (low, high)}
            slope = (rss[high] - rss[low]) / (high - low)
            at_100k = rss[low] + slope * (100_000 - low)
            totals = {size: list(stage_rows(sizes[size][mode], "x"))[-1] for size in (low, high)}
            walls = {size: total[1] for size, total in totals.items()}
            cpus = {size: total[2] for size, total in totals.items()}
            print(
                f"{mode}: {low:,} -> {high:,} pages ({high / low:.1f}x): wall "
                f"{walls[high] / walls[low]:.2f}x, CPU {cpus[high] / cpus[low]:.2f}x, "
                f"peak PSS {rss[high] / rss[low]:.2f}x; "
                f"extrapolated linearly to 100,000: {mib(at_100k)} "
                f"(target <= {mib(TARGET_RSS_100K)})"
            )
    print(
        "Figures are from one run on this machine, shared with other jobs; compare the ratios. "
        f"CPUs available to this process: {len(os.sched_getaffinity(0))}."
    )


def print_profile(path: Path) -> None:
    """Own time per pipeline area (module folder), and the top functions."""
    stats = pstats.Stats(str(path))
    areas: defaultdict[str, float] = defaultdict(float)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = 0.0
    for (filename, _, _), (_, _, own, _, _) in raw.items():
        total += own
        if "/pipeline/" in filename:
            area = "pipeline/" + filename.split("/pipeline/", 1)[1]
        elif "site-packages/" in filename:
            area = filename.split("site-packages/", 1)[1].split("/", 1)[0]
        else:
            area = "python" if filename.startswith(("/", "<")) else filename
        areas[area] += own
    print(f"\n== profile: replay with workers=1, own time by module ({total:.1f} s) ==")
    for area, seconds in sorted(areas.items(), key=lambda item: -item[1])[:18]:
        print(f"{seconds:8.1f} s {100 * seconds / total:5.1f}%  {area}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--workers", type=int, help="settings.workers (default: the CPU count)")
    parser.add_argument(
        "--trafilatura-sample", type=int, default=2000, help="pages for trafilatura alone"
    )
    parser.add_argument("--profile", action="store_true", help="also profile a 1-worker replay")
    parser.add_argument("--keep", type=Path, help="keep the runs' files in this folder")
    parser.add_argument(
        "--child", choices=("live", "replay", "trafilatura"), help=argparse.SUPPRESS
    )
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=int, default=2000, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", dest="profile_out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.mode = args.child
        args.profile = args.profile_out
        if args.child == "trafilatura":
            child_trafilatura(args)
        else:
            child_run(args)
        return 0

    from pipeline.settings import available_cpus

    workers = args.workers or available_cpus()
    sizes: dict[int, dict[str, dict[str, Any]]] = {}
    base = args.keep or Path(tempfile.mkdtemp(prefix="newsingest-scale-"))
    for pages in args.pages:
        web = Web(pages, args.hosts)
        folder = base / f"pages-{pages}"
        folder.mkdir(parents=True, exist_ok=True)
        with LoopbackWeb(web) as served:
            config = write_config(web, folder, args.workers)
            found = {"live": run_child("live", config, folder, [])}
            print(f"({pages:,} pages: live done, {served.requests:,} requests)", file=sys.stderr)
        found["replay"] = run_child("replay", config, folder, [])
        found["trafilatura"] = run_child(
            "trafilatura", config, folder, ["--sample", str(args.trafilatura_sample)]
        )
        sizes[pages] = found
        print_size(pages, args.hosts, found, workers)
        if args.profile and pages == min(args.pages):
            profiled = folder / "profiled.yaml"
            profiled.write_text(config.read_text() + "\n")
            one_worker = folder / "one-worker"
            one_worker.mkdir(exist_ok=True)
            import yaml

            document = yaml.safe_load(config.read_text())
            document["settings"]["workers"] = 1
            document["settings"]["output_root"] = str(one_worker / "out")
            profiled.write_text(yaml.safe_dump(document))
            stats = folder / "replay.prof"
            run_child("replay", profiled, folder, ["--profile-out", str(stats)])
            print_profile(stats)
    print_targets(sizes)
    if not args.keep:
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())

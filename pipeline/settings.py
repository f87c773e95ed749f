"""Typed settings and sources, loaded from YAML: defaults <- YAML <- env vars <- CLI overrides.

Every error names the file and the dotted key, e.g. ``config/demo.yaml: sources[1].feedz: unknown
key``. Unknown keys are errors so that a typo never silently falls back to a default.

Relative paths in a config file are resolved against that file's directory, so a config means the
same thing whatever directory Airflow or a shell runs it from.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import ConfigError

if TYPE_CHECKING:
    from pipeline.extract.body import ExtractionOptions

ENV_PREFIX = "NEWSINGEST__"
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolitenessSettings(_Strict):
    min_delay_seconds: float = Field(1.0, ge=0)
    max_connections_per_host: int = Field(1, ge=1, le=16)
    obey_robots: bool = True
    max_crawl_delay_seconds: float = Field(30.0, ge=0)
    # robots.txt answering 5xx (or unreachable) is asked again this many times, this long apart,
    # while the run's other hosts go on, before the host is deferred to a later run.
    robots_retries: int = Field(2, ge=0)
    robots_retry_delay_seconds: float = Field(30.0, ge=0)


class HttpSettings(_Strict):
    user_agent: str = "news-ingest/0.1 (+https://github.com/news-ingest/news-ingest)"
    connect_timeout_seconds: float = Field(10.0, gt=0)
    read_timeout_seconds: float = Field(20.0, gt=0)
    fetch_deadline_seconds: float = Field(60.0, gt=0)
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    # robots.txt is read up to this size (after decompression) and the rest ignored, as Google
    # does at 500 KiB: a gzip-bombed robots.txt must not cost more memory than that.
    max_robots_bytes: int = Field(500 * 1024, gt=0)
    max_redirects: int = Field(5, ge=0)
    max_retries: int = Field(3, ge=0)
    backoff_base_seconds: float = Field(1.0, ge=0)
    max_retry_after_seconds: float = Field(120.0, ge=0)
    max_concurrency: int = Field(8, ge=1)


class DiscoverySettings(_Strict):
    # A URL fetched on one of this many days before the run's day is not fetched again unless
    # its listing says it changed since (a later lastmod or feed date); 0 fetches everything.
    seen_days: int = Field(30, ge=0)
    max_sitemap_depth: int = Field(3, ge=1)
    max_urls_per_source: int = Field(5000, ge=1)
    max_sitemaps: int = Field(100, ge=1)


class DedupSettings(_Strict):
    history_days: int = Field(30, ge=0)
    shingle_size: int = Field(5, ge=1)
    num_perm: int = Field(128, ge=16)
    # num_perm / lsh_bands rows per band. 32 bands of 4 rows: a pair with Jaccard 0.5 becomes a
    # candidate 87% of the time, 0.67 (a typical edited copy) 99.9%, 0.05 (same event, other
    # words) under 0.1%; see docs/dedup.md for the measured recall.
    lsh_bands: int = Field(32, ge=1)
    # Extra bands of 2 rows over the first 2 * lsh_brief_bands permutations, so that LSH also
    # proposes briefs of long stories (Jaccard 0.3-0.5); chosen by measured brief recall.
    lsh_brief_bands: int = Field(16, ge=0)
    min_jaccard: float = Field(0.5, gt=0, le=1)
    # Truncated copies have a low Jaccard but a high containment.
    min_containment: float = Field(0.8, gt=0, le=1)
    # Containment is only trusted when the smaller text has this many shingles: a few words are
    # contained in many unrelated texts by chance.
    min_containment_shingles: int = Field(20, ge=1)
    # A brief (a reworded short copy) needs less containment, but then it must carry the story's
    # facts: at least brief_min_facts distinct fact values, brief_min_fact_support of them also
    # in the longer text.
    brief_min_containment: float = Field(0.5, gt=0, le=1)
    brief_min_facts: int = Field(4, ge=1)
    brief_min_fact_support: float = Field(0.9, gt=0, le=1)
    # Fact agreement: a pair is two stories when at least fact_min_conflicts slots conflict (each
    # text fills the slot with a value the other never mentions) and the conflicts are at least
    # fact_max_conflict_share of the slots both fill. See docs/dedup.md.
    fact_min_conflicts: int = Field(1, ge=1)
    fact_max_conflict_share: float = Field(0.1, ge=0, le=1)
    # The same test when a near-copy edge would join two stories: each side against the other
    # story's fullest text, a pair never compared directly (a chain through a truncated copy).
    fact_chain_conflict_share: float = Field(0.2, ge=0, le=1)
    # Learned boilerplate: a line held by at least this many articles of one source, making at
    # least this share of the source's articles (today and the index days together).
    boilerplate_min_articles: int = Field(4, ge=2)
    boilerplate_min_share: float = Field(0.1, gt=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _removed_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "lsh_threshold" in data:
            raise ValueError(
                "lsh_threshold: no longer used, remove it; candidates are set by lsh_bands and "
                "lsh_brief_bands"
            )
        return data

    @model_validator(mode="after")
    def _bands_divide_permutations(self) -> DedupSettings:
        if self.num_perm % self.lsh_bands:
            raise ValueError(
                f"num_perm ({self.num_perm}) must be a multiple of lsh_bands ({self.lsh_bands})"
            )
        if 2 * self.lsh_brief_bands > self.num_perm:
            raise ValueError(
                f"lsh_brief_bands ({self.lsh_brief_bands}) needs 2 permutations each, more than "
                f"num_perm ({self.num_perm})"
            )
        return self


class ReportSettings(_Strict):
    # A source's failure rate is compared with its median over the reports of this many days.
    history_days: int = Field(14, ge=0)


def _extraction_option_names() -> dict[str, type]:
    # Imported here, not at the top: the extractor pulls in BeautifulSoup and lxml, which a
    # config that never extracts (the report CLI, say) should not pay for.
    from dataclasses import fields

    from pipeline.extract.body import ExtractionOptions

    return {
        field.name: type(getattr(ExtractionOptions(), field.name))
        for field in fields(ExtractionOptions)
    }


class Settings(_Strict):
    output_root: str = "var/out"
    archive_root: str = "var/archive"
    allow_private_addresses: bool = False
    # Private networks to fetch from even while allow_private_addresses is off (an internal
    # mirror, say), as CIDRs like "10.1.2.0/24".
    allowed_networks: tuple[str, ...] = ()
    politeness: PolitenessSettings = PolitenessSettings()
    http: HttpSettings = HttpSettings()
    discovery: DiscoverySettings = DiscoverySettings()
    dedup: DedupSettings = DedupSettings()
    report: ReportSettings = ReportSettings()
    # Sources per task of the Airflow DAG (sources sharing a host always share a task).
    shard_size: int = Field(25, ge=1)
    # Extraction processes, in `newsingest run` and in each DAG task: extraction is CPU-bound,
    # so the default is one per CPU this process may run on. 1 extracts in the calling process
    # (in a thread beside the fetch), with no worker process started.
    workers: int = Field(default_factory=lambda: available_cpus(), ge=1, le=256)
    # Overrides of the extractor's thresholds (pipeline.extract.body.ExtractionOptions), by
    # field name; unknown names are errors.
    extraction: dict[str, float | int | bool] = Field(default_factory=dict)

    @field_validator("extraction")
    @classmethod
    def _extraction_options(
        cls, values: dict[str, float | int | bool]
    ) -> dict[str, float | int | bool]:
        known = _extraction_option_names()
        checked: dict[str, float | int | bool] = {}
        for name, value in values.items():
            if name not in known:
                raise ValueError(
                    f"unknown extraction option {name!r}; known: {', '.join(sorted(known))}"
                )
            kind = known[name]
            if kind not in (int, float, bool):
                raise ValueError(f"extraction option {name!r} cannot be set from config")
            checked[name] = kind(value)
        return checked

    def extraction_options(self) -> ExtractionOptions:
        """The extractor's options: its defaults with ``extraction`` applied."""
        from dataclasses import replace

        from pipeline.extract.body import DEFAULT_OPTIONS

        overrides: dict[str, Any] = dict(self.extraction)
        return replace(DEFAULT_OPTIONS, **overrides)

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _validate_networks(values)


def available_cpus() -> int:
    """The CPUs this process may use (its affinity mask, so a container's or taskset's limit)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def _validate_networks(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP network like 10.1.2.0/24") from None
    return values


class Source(_Strict):
    name: str
    enabled: bool = True
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    # Fetch the `urls` list on every run, even URLs fetched on an earlier day (a front page,
    # a live page); listed feed and sitemap URLs still go through the frontier.
    refetch_urls: bool = False

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        if not _SOURCE_NAME.match(value):
            raise ValueError("must be lower-case letters, digits, '-' or '_' (it names files)")
        return value

    @field_validator("feeds", "sitemaps", "urls")
    @classmethod
    def _http_urls(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not re.match(r"^https?://[^/\s]+", value):
                raise ValueError(f"{value!r} is not an http(s) URL")
            try:
                urlsplit(value).port  # noqa: B018 - parsing the port is the check
            except ValueError as exc:
                raise ValueError(f"{value!r}: {exc}") from None
        return values

    @model_validator(mode="after")
    def _has_something_to_discover(self) -> Source:
        if not (self.feeds or self.sitemaps or self.urls):
            raise ValueError("a source needs at least one of feeds, sitemaps, urls")
        return self


class PipelineConfig(_Strict):
    settings: Settings = Settings()
    sources: tuple[Source, ...]

    @model_validator(mode="after")
    def _unique_source_names(self) -> PipelineConfig:
        seen: set[str] = set()
        for source in self.sources:
            if source.name in seen:
                raise ValueError(f"duplicate source name {source.name!r}")
            seen.add(source.name)
        # A run publishes every enabled source's day; with none it would replace each day's
        # partitions with empty ones.
        if not any(source.enabled for source in self.sources):
            raise ValueError("no enabled source: list at least one under `sources`")
        return self

    @property
    def enabled_sources(self) -> list[Source]:
        return [source for source in self.sources if source.enabled]

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(f"no source named {name!r}; known: {[s.name for s in self.sources]}")


CONFIG_ENV = "NEWSINGEST_CONFIG"


def configured_path(environ: Mapping[str, str] | None = None) -> Path:
    """The config the DAGs use: ``$NEWSINGEST_CONFIG``, else the repo's config/sources.yaml."""
    environ = os.environ if environ is None else environ
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return Path(__file__).resolve().parent.parent / "config" / "sources.yaml"


def load_config(
    path: str | Path,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> PipelineConfig:
    """Load and validate a config file.

    ``overrides`` are dotted keys (``"output_root"``, ``"politeness.min_delay_seconds"``) from the
    CLI; env vars ``NEWSINGEST__OUTPUT_ROOT`` or ``NEWSINGEST__POLITENESS__MIN_DELAY_SECONDS`` sit
    between the file and the CLI.
    """
    environ = os.environ if environ is None else environ
    path = Path(path)
    try:
        raw_text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from exc
    try:
        document = yaml.safe_load(raw_text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping with 'sources' (and optional 'settings')")
    document = _interpolate(document, environ, path)

    settings_doc = dict(document.get("settings") or {})
    for dotted, value in _env_overrides(environ).items():
        _set_dotted(settings_doc, dotted, value)
    for dotted, value in (overrides or {}).items():
        _set_dotted(settings_doc, dotted, value)
    document["settings"] = settings_doc

    try:
        config = PipelineConfig.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from None

    base = path.resolve().parent
    resolved = config.settings.model_copy(
        update={
            "output_root": _resolve_root(config.settings.output_root, base),
            "archive_root": _resolve_root(config.settings.archive_root, base),
        }
    )
    return config.model_copy(update={"settings": resolved})


def _interpolate(value: Any, environ: Mapping[str, str], path: Path) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group("name"), match.group("default")
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{path}: ${{{name}}} is not set and has no default")

        return _INTERPOLATION.sub(substitute, value)
    if isinstance(value, list):
        return [_interpolate(item, environ, path) for item in value]
    if isinstance(value, dict):
        return {key: _interpolate(item, environ, path) for key, item in value.items()}
    return value


def _env_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    return {
        name[len(ENV_PREFIX) :].lower().replace("__", "."): value
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX)
    }


def _set_dotted(document: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = document
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override settings.{dotted}: settings.{part} is not a mapping")
        node = child
    node[leaf] = value


def _resolve_root(root: str, base: Path) -> str:
    if "://" in root:
        return root
    candidate = Path(root).expanduser()
    return str(candidate if candidate.is_absolute() else (base / candidate).resolve())


def _describe(path: Path, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        key = ""
        for part in error["loc"]:
            key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        lines.append(f"{path}: {key or '<top level>'}: {message}")
    return "\n".join(lines)

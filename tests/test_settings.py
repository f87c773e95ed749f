from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import load_config

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return path


def test_shipped_configs_load() -> None:
    for name in ("sources.yaml", "demo.yaml"):
        config = load_config(REPO / "config" / name, environ={})
        assert config.enabled_sources, name


def test_unknown_key_is_an_error_naming_file_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path, "sources:\n  - name: a\n    feeds: [http://x/f]\n    feedz: [http://y]\n"
    )
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(path) in str(error.value)
    assert "sources[0].feedz: unknown key" in str(error.value)


def test_bad_value_names_the_dotted_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "settings:\n  politeness: {min_delay_seconds: -1}\nsources:\n  - name: a\n"
        "    urls: [http://x/a]\n",
    )
    with pytest.raises(ConfigError, match=r"settings\.politeness\.min_delay_seconds"):
        load_config(path, environ={})


def test_source_needs_something_to_discover_and_unique_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least one of feeds, sitemaps, urls"):
        load_config(write(tmp_path, "sources:\n  - name: a\n"), environ={})
    dup = "sources:\n  - {name: a, urls: ['http://x/1']}\n  - {name: a, urls: ['http://x/2']}\n"
    with pytest.raises(ConfigError, match="duplicate source name"):
        load_config(write(tmp_path, dup), environ={})


def test_precedence_defaults_yaml_env_cli(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "settings:\n  output_root: out\n  politeness: {min_delay_seconds: 3}\n"
        "sources:\n  - name: a\n    feeds: ['${SITE:-http://default:1}/rss']\n",
    )
    config = load_config(path, environ={})
    assert config.settings.politeness.min_delay_seconds == 3
    assert config.settings.output_root == str(tmp_path / "out")  # relative to the file
    assert config.settings.http.max_retries == 3  # default kept
    assert config.sources[0].feeds == ("http://default:1/rss",)

    env = {"NEWSINGEST__POLITENESS__MIN_DELAY_SECONDS": "5", "SITE": "http://site:2"}
    config = load_config(path, environ=env)
    assert config.settings.politeness.min_delay_seconds == 5
    assert config.sources[0].feeds == ("http://site:2/rss",)

    config = load_config(path, {"politeness.min_delay_seconds": "7", "output_root": "/o"}, env)
    assert config.settings.politeness.min_delay_seconds == 7
    assert config.settings.output_root == "/o"


def test_env_override_with_unknown_setting_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "sources:\n  - name: a\n    urls: [http://x/a]\n")
    with pytest.raises(ConfigError, match=r"settings\.politness: unknown key"):
        load_config(path, environ={"NEWSINGEST__POLITNESS__MIN_DELAY_SECONDS": "1"})


def test_extraction_options_are_settable_and_unknown_ones_are_named(tmp_path: Path) -> None:
    source = "sources:\n  - name: a\n    urls: [http://x/a]\n"
    config = load_config(
        write(tmp_path, f"settings:\n  extraction: {{min_article_words: 12}}\n{source}"),
        environ={},
    )
    assert config.settings.extraction_options().min_article_words == 12
    with pytest.raises(ConfigError, match=r"settings\.extraction.*min_article_wordz"):
        load_config(
            write(tmp_path, f"settings:\n  extraction: {{min_article_wordz: 12}}\n{source}"),
            environ={},
        )


def test_the_report_baseline_is_a_setting(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "settings:\n  report: {history_days: 3}\nsources:\n  - name: a\n    urls: [http://x/a]\n",
    )
    assert load_config(path, environ={}).settings.report.history_days == 3


def test_workers_default_to_the_usable_cpus_and_are_validated(tmp_path: Path) -> None:
    import os

    path = write(tmp_path, "sources:\n  - name: a\n    urls: [http://x/a]\n")
    assert load_config(path, environ={}).settings.workers == len(os.sched_getaffinity(0))
    assert load_config(path, {"workers": "3"}, environ={}).settings.workers == 3
    assert load_config(path, environ={"NEWSINGEST__WORKERS": "1"}).settings.workers == 1
    with pytest.raises(ConfigError, match=r"settings\.workers"):
        load_config(path, {"workers": 0}, environ={})

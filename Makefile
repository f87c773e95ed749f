# news-ingest: `make run` and `make test` work on a fresh machine with only Python 3.11+.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $$($(PYTHON) -m site --user-base)/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
BENCH ?= ../shared/extraction-bench/dev
TRAFILATURA_BENCH ?= ../shared/extraction-bench/trafilatura-dev
META_BENCH ?= ../shared/metadata-bench

.PHONY: setup run run-cluster run-cluster-backfill test lint bench bench-startup bench-extract bench-dedup bench-meta clean

setup: $(BIN)/.synced

# A PEP 668 "externally managed" Python (Debian's, say) refuses plain --user installs; uv goes
# to the user's own site either way, never into the system's packages.
$(UV):
	$(PYTHON) -m pip install --user --quiet uv \
	  || $(PYTHON) -m pip install --user --quiet --break-system-packages uv

# Re-sync only when the lock or the project metadata changed; `uv sync --locked` fails loudly
# if pyproject.toml and uv.lock disagree instead of silently re-resolving. Bytecode is compiled
# at install, so the first `newsingest` on a fresh .venv does not pay for it.
$(BIN)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --quiet --compile-bytecode
	@touch $@

run: setup
	$(BIN)/newsingest demo-run

# The same DAG on a local CeleryExecutor cluster: Airflow's database on the local Postgres, Redis,
# scheduler + DAG processor + API server, two Celery workers with no shared disk, every root on a
# loopback S3 server (pipeline/cluster, docs/deploy.md). Stops everything it started.
run-cluster: setup
	$(BIN)/newsingest demo-cluster

# Three days as one `backfill create`, run by the cluster's scheduler in date order.
run-cluster-backfill: setup
	$(BIN)/newsingest demo-cluster --days 3

test: setup lint
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check pipeline dags tests bench
	$(BIN)/mypy

# Speed and memory figures; each script prints its own side-by-side comparison.
bench: setup
	$(BIN)/python bench/fetch.py
	$(BIN)/python bench/write.py
	$(BIN)/python bench/dedup_speed.py
	$(BIN)/python bench/startup.py

# Wall time of `newsingest --help` and `newsingest extract` on one page.
bench-startup: setup
	$(BIN)/python bench/startup.py

# Extraction quality (plain and site-cross-validated) on both dev sets, trafilatura on the same
# pages, and the speed ratios in-process and whole-process, all in one run (docs/extraction.md).
bench-extract: setup
	$(BIN)/python bench/extraction.py $(BENCH) $(TRAFILATURA_BENCH) --whole-process

# Dedup precision/recall on edited copies of the project's texts (+ the dev bench texts if present).
bench-dedup: setup
	$(BIN)/python bench/dedup_eval.py $(if $(wildcard $(BENCH)/ground-truth.json),--bench-truth $(BENCH)/ground-truth.json)

# Date/author/title quality on the metadata dev sets, side by side with htmldate and trafilatura
# (make bench-meta BENCH=../shared/metadata-bench).
bench-meta: setup
	$(BIN)/python bench/metadata.py $(if $(filter command line,$(origin BENCH)),$(BENCH),$(META_BENCH))

# Peak RSS of publish (dedup included) on synthetic 10k and 50k days, 1 and 30 history days: main
# and this tree side by side in one run, outputs compared (docs/dedup.md, "Memory").
.PHONY: bench-publish
bench-publish: setup
	$(BIN)/python bench/publish_memory.py

# A whole day at scale on a loopback web (10k then 50k pages on 50 hosts, or PAGES="2000 10000"):
# live and replayed, stage by stage, CPU and peak RSS, beside trafilatura alone (issue 16).
.PHONY: bench-scale
bench-scale: setup
	$(BIN)/python bench/scale.py $(if $(PAGES),--pages $(PAGES)) $(BENCH_SCALE_ARGS)

clean:
	rm -rf .airflow var .pytest_cache .ruff_cache .mypy_cache

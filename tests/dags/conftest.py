"""Airflow test setup: a throw-away AIRFLOW_HOME, set before anything imports airflow."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="newsingest-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"


@pytest.fixture(scope="session")
def demo_pipeline_env():  # type: ignore[no-untyped-def]
    """Env for DAG runs on the demo config, with output and archive under a given folder."""

    def env(out: Path) -> dict[str, str]:
        return {
            "NEWSINGEST_CONFIG": str(REPO / "config" / "demo.yaml"),
            "NEWSINGEST__OUTPUT_ROOT": str(out / "out"),
            "NEWSINGEST__ARCHIVE_ROOT": str(out / "archive"),
        }

    return env


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[None]:
    from airflow.utils.db import initdb

    initdb()
    yield
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))

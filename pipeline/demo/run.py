"""``make run``: serve the demo site, run the real ``news_ingest`` DAG with ``airflow dags test``.

Airflow runs as a subprocess on an embedded SQLite home in ``<repo>/.airflow`` (git-ignored), so
this module itself never imports Airflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "config" / "demo.yaml"


def airflow_env(airflow_home: Path, config: Path, demo_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "NEWSINGEST_CONFIG": str(config),
            "NEWSINGEST_DEMO_URL": demo_url,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    return env


def run_demo(day: date | None) -> int:
    from pipeline.cli.summary import duckdb_hint, format_summary
    from pipeline.demo.catalog import MAIN_DAY
    from pipeline.demo.server import DemoSite
    from pipeline.models import RunWindow
    from pipeline.publish.report import SUMMARY_JSON
    from pipeline.settings import load_config
    from pipeline.storage import layout
    from pipeline.storage.root import Root

    day = day or MAIN_DAY
    airflow_home = REPO / ".airflow"
    airflow_home.mkdir(exist_ok=True)
    log_path = airflow_home / f"demo-run-{day.isoformat()}.log"
    airflow = str(Path(sys.executable).parent / "airflow")
    started = time.monotonic()
    with DemoSite() as site, log_path.open("w") as log:
        env = airflow_env(airflow_home, DEMO_CONFIG, site.base_url)
        print(f"demo site at {site.base_url}; Airflow home {airflow_home}; log {log_path}")
        steps = [
            [airflow, "db", "migrate"],
            [
                airflow,
                "dags",
                "test",
                "news_ingest",
                day.isoformat(),
                "--conf",
                json.dumps({"date": day.isoformat()}),
            ],
        ]
        for command in steps:
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            completed = subprocess.run(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, check=False
            )
            if completed.returncode != 0:
                log.close()
                tail = log_path.read_text().splitlines()[-40:]
                print("\n".join(tail), file=sys.stderr)
                print(f"`{' '.join(command[1:3])}` failed; full log: {log_path}", file=sys.stderr)
                return completed.returncode
        config = load_config(
            DEMO_CONFIG, environ={**os.environ, "NEWSINGEST_DEMO_URL": site.base_url}
        )
    summary = Root(config.settings.output_root).read_json(
        layout.report_file(RunWindow.for_day(day), SUMMARY_JSON)
    )
    if summary.get("run_id", "").startswith("cli__"):
        print("warning: the summary was written by `newsingest run`, not by this DAG run")
    print(format_summary(summary))
    print(duckdb_hint(config.settings.output_root))
    print(f"done in {time.monotonic() - started:.1f}s (airflow dags test, SQLite home)")
    return 0

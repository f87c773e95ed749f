"""The Airflow components of a CeleryExecutor cluster, and the REST calls a client makes to it.

One control plane (``airflow api-server``, ``airflow dag-processor``, ``airflow scheduler``) and
N workers (``airflow celery worker``), each a separate process configured only through
``AIRFLOW__*`` variables. Each worker gets its own empty directory as cwd, ``TMPDIR``, ``HOME``
and ``AIRFLOW_HOME`` (its task logs), and nothing else on local disk: every pipeline root is an
``s3://`` URI, so a task on one worker reads what a task on the other wrote only through S3.

Airflow 3 workers do not talk to the database: the task supervisor on the worker reports to the
API server's execution API (``[core] execution_api_server_url``) with a JWT the scheduler signed,
so the scheduler and the API server share ``[api_auth] jwt_secret``.

Which worker ran a task is read from the workers' own log folders: the supervisor writes each
attempt's log on the worker that ran it, so the folder holding
``run_id=<run>/task_id=<task>/.../attempt=<n>.log`` names the worker. (``hostname`` in the REST
API is the machine's name, the same for two workers on one machine.)
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pipeline.cluster.policy import FETCH_QUEUE_VARIABLE, LOCAL_SETTINGS
from pipeline.cluster.processes import (
    ClusterError,
    ManagedProcess,
    free_port,
    log_tail,
    port_open,
    stop_all,
    wait_until,
)
from pipeline.cluster.services import BrokerQueue, MetadataDatabase

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).parent / "airflow"
TERMINAL_RUN_STATES = frozenset({"success", "failed"})


@dataclass(frozen=True)
class TaskPlacement:
    """Where one task instance ran."""

    task_id: str
    map_index: int
    state: str | None
    try_number: int
    hostname: str | None  # the machine, as the worker reported it to the execution API
    worker: str | None  # the Celery worker whose log folder holds this attempt's log
    start_date: str | None

    @property
    def label(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


class AirflowCluster:
    """The components of one cluster, started in order and stopped in reverse."""

    def __init__(
        self,
        base_dir: Path,
        *,
        database: MetadataDatabase,
        queue: BrokerQueue,
        pipeline_env: dict[str, str],
        worker_names: tuple[str, ...] = ("worker-a", "worker-b"),
    ) -> None:
        """The first worker serves the fetch queue, the others the default queue
        (:mod:`pipeline.cluster.policy`)."""
        self.base_dir = base_dir
        self.database = database
        self.queue = queue
        self.pipeline_env = pipeline_env
        self.worker_names = worker_names
        self.worker_queues = {
            name: queue.fetch_name if index == 0 else queue.name
            for index, name in enumerate(worker_names)
        }
        self.api_port = free_port()
        self.processes: list[ManagedProcess] = []
        self.worker_dirs: dict[str, Path] = {}
        # Shared by every component; generated per cluster, never written to a file here.
        self._jwt_secret = secrets.token_urlsafe(32)
        self._api_secret = secrets.token_urlsafe(32)
        self._fernet_key = urlsafe_b64encode(secrets.token_bytes(32)).decode()

    # -- configuration ------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def environ(self, airflow_home: Path) -> dict[str, str]:
        """The environment of one component: the parent's, less its Airflow settings, plus ours."""
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AIRFLOW", "NEWSINGEST", "AWS_"))
        }
        return {
            **inherited,
            **self.pipeline_env,
            "PATH": f"{AIRFLOW.parent}{os.pathsep}{inherited.get('PATH', '')}",
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__FERNET_KEY": self._fernet_key,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            # Loopback only: every request is an admin's, so the demo needs no login.
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__BASE_URL": f"{self.api_url}/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__SECRET_KEY": self._api_secret,
            "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database.sqlalchemy_url,
            "AIRFLOW__CELERY__BROKER_URL": self.queue.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": self.database.celery_result_backend,
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue.name,
            FETCH_QUEUE_VARIABLE: self.queue.fetch_name,
            # Only the runs we ask for: an unpaused daily DAG would otherwise get its latest
            # interval scheduled too (catchup=False still runs the most recent one).
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 240.0) -> AirflowCluster:
        """Migrate the database, start the control plane and the workers, wait until all are up."""
        deadline = time.monotonic() + timeout
        control_home = self.base_dir / "control"
        (control_home / "config").mkdir(parents=True, exist_ok=True)
        # Airflow puts AIRFLOW_HOME/config on sys.path and loads the task policy from here.
        (control_home / "config" / "airflow_local_settings.py").write_text(LOCAL_SETTINGS)
        control_env = self.environ(control_home)
        try:
            migrate = subprocess.run(
                [str(AIRFLOW), "db", "migrate"],
                env=control_env,
                cwd=control_home,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=max(30.0, deadline - time.monotonic()),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ClusterError(f"airflow db migrate did not finish in {exc.timeout:.0f}s") from exc
        (control_home / "db-migrate.log").write_text(migrate.stdout)
        if migrate.returncode != 0:
            tail = "\n".join(migrate.stdout.splitlines()[-30:])
            raise ClusterError(f"airflow db migrate failed:\n{tail}")

        for component, argv in (
            ("api-server", ["api-server", "--workers", "1"]),
            ("dag-processor", ["dag-processor"]),
            ("scheduler", ["scheduler"]),
        ):
            self._start(component, argv, control_env, control_home, control_home / "logs")
        for name in self.worker_names:
            self._start_worker(name)

        remaining = max(10.0, deadline - time.monotonic())
        wait_until(
            lambda: port_open(self.api_port),
            what="the API server",
            timeout=remaining,
            watch=self.processes,
        )
        wait_until(
            self._healthy,
            what="a healthy scheduler and DAG processor",
            timeout=max(10.0, deadline - time.monotonic()),
            watch=self.processes,
        )
        wait_until(
            lambda: all(self._worker_ready(name) for name in self.worker_names),
            what="both Celery workers",
            timeout=max(10.0, deadline - time.monotonic()),
            watch=self.processes,
        )
        return self

    def _start(
        self, name: str, argv: list[str], env: dict[str, str], cwd: Path, log_dir: Path
    ) -> ManagedProcess:
        process = ManagedProcess(
            name, [str(AIRFLOW), *argv], env=env, cwd=cwd, log_path=log_dir / f"{name}.log"
        )
        self.processes.append(process)
        return process

    def _start_worker(self, name: str) -> None:
        """A worker with its own empty directory, as if it were on a host of its own."""
        home = self.base_dir / name
        if home.exists():
            shutil.rmtree(home)
        for folder in ("airflow", "tmp"):
            (home / folder).mkdir(parents=True)
        env = self.environ(home / "airflow")
        env.update(
            {
                "TMPDIR": str(home / "tmp"),
                "HOME": str(home),
                "MPLCONFIGDIR": str(home / "tmp"),
                # Two workers on one machine each serve their logs on a port of their own.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            }
        )
        self.worker_dirs[name] = home
        argv = [
            "celery",
            "worker",
            "--celery-hostname",
            f"{name}@%h",
            "--concurrency",
            "1",  # one task at a time, so the next queued task goes to the idle worker
            "--queues",
            self.worker_queues[name],
        ]
        self._start(f"celery-{name}", argv, env, home, self.base_dir / "logs")

    def stop(self) -> None:
        """Stop every component at once (a worker's warm shutdown lets a running task end)."""
        stop_all(list(reversed(self.processes)))
        self.processes.clear()

    def _worker_ready(self, name: str) -> bool:
        log = self.base_dir / "logs" / f"celery-{name}.log"
        return f"{name}@" in log_tail(log, 200) and " ready." in log_tail(log, 200)

    def _healthy(self) -> bool:
        try:
            health = self.client().get("/api/v2/monitor/health").json()
        except (httpx.HTTPError, ValueError):
            return False
        return all(
            (health.get(part) or {}).get("status") == "healthy"
            for part in ("metadatabase", "scheduler", "dag_processor")
        )

    def component_logs(self) -> dict[str, Path]:
        return {process.name: process.log_path for process in self.processes}

    # -- the REST API -------------------------------------------------------------------------

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=30.0)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        with self.client() as client:
            response = client.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ClusterError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> None:
        """Until the DAG processor has parsed ``dag_id`` and the API serves it."""

        def parsed() -> bool:
            with self.client() as client:
                return client.get(f"/api/v2/dags/{dag_id}").status_code == 200

        wait_until(parsed, what=f"DAG {dag_id} to be parsed", timeout=timeout, watch=self.processes)

    def prepare_dag(self, dag_id: str, pools: dict[str, int]) -> None:
        for name, slots in pools.items():
            self._call("POST", "/api/v2/pools", json={"name": name, "slots": slots})
        self._call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        """One manual run; its day comes from ``conf``, as a manual run's interval is the
        trigger time's."""
        run = self._call(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf}
        )
        return str(run["dag_run_id"])

    def backfill(self, dag_id: str, first_day: str, last_day: str) -> None:
        """``airflow backfill create``, through the API: the scheduler runs the days in order."""
        self._call(
            "POST",
            "/api/v2/backfills",
            json={
                "dag_id": dag_id,
                "from_date": f"{first_day}T00:00:00Z",
                "to_date": f"{last_day}T00:00:00Z",
                "max_active_runs": 1,
                "dag_run_conf": {},
            },
        )

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        body = self._call(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100, "order_by": "run_after"}
        )
        return list(body["dag_runs"])

    def wait_for_runs(self, dag_id: str, count: int, timeout: float) -> list[dict[str, Any]]:
        """Until ``count`` runs of ``dag_id`` exist and all have finished; they are returned."""
        finished: list[dict[str, Any]] = []

        def done() -> bool:
            nonlocal finished
            finished = self.runs(dag_id)
            return len(finished) >= count and all(
                run["state"] in TERMINAL_RUN_STATES for run in finished
            )

        wait_until(
            done,
            what=f"{count} run(s) of {dag_id}",
            timeout=timeout,
            watch=self.processes,
            interval=2.0,
        )
        return finished

    def placements(self, dag_id: str, run_id: str) -> list[TaskPlacement]:
        body = self._call(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
            params={"limit": 1000},
        )
        ran_on = self._attempts_by_worker(run_id)
        placements = [
            TaskPlacement(
                task_id=ti["task_id"],
                map_index=int(ti["map_index"]),
                state=ti["state"],
                try_number=int(ti["try_number"]),
                hostname=ti.get("hostname"),
                worker=ran_on.get((ti["task_id"], int(ti["map_index"]), int(ti["try_number"]))),
                start_date=ti.get("start_date"),
            )
            for ti in body["task_instances"]
        ]
        return sorted(placements, key=lambda p: (p.start_date or "~", p.label))

    def _attempts_by_worker(self, run_id: str) -> dict[tuple[str, int, int], str]:
        """(task, map index, attempt) -> the worker whose own log folder holds that attempt."""
        found: dict[tuple[str, int, int], str] = {}
        for name, home in self.worker_dirs.items():
            for log in (home / "airflow" / "logs").rglob("attempt=*.log"):
                parts = dict(part.split("=", 1) for part in log.parts if "=" in part)
                if parts.get("run_id") != run_id:
                    continue
                key = (
                    parts["task_id"],
                    int(parts.get("map_index", -1)),
                    int(parts["attempt"].removesuffix(".log")),
                )
                found[key] = name
        return found

    def local_files(self, suffixes: tuple[str, ...]) -> list[Path]:
        """Files with these suffixes anywhere in the workers' own directories."""
        return sorted(
            path
            for home in self.worker_dirs.values()
            for path in home.rglob("*")
            if path.is_file() and path.name.endswith(suffixes)
        )

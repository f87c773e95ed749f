"""The services behind the cluster: an S3 API (moto's server), Airflow's database, the broker.

The S3 server is started here, on a free loopback port, and stopped with the cluster. Postgres
and Redis are the machine's own (127.0.0.1:5432 with trust auth, 127.0.0.1:6379): the cluster
creates a database of its own on Postgres (dropped afterwards unless kept) and gives Celery a
queue name of its own on a Redis database number of its own, whose keys it deletes afterwards.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.cluster.processes import ManagedProcess, free_port, port_open, wait_until

# Trust auth on the local server; the user must exist there (`postgres` does on Debian's).
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432"
DEFAULT_REDIS = "redis://127.0.0.1:6379"
S3_REGION = "us-east-1"
KOMBU_DEADLINES = b"_kombu.binding_deadlines"
# moto accepts any keys; real deployments take theirs from the environment or an instance role.
S3_TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


@dataclass
class S3Server:
    """moto's S3 server on 127.0.0.1 (its own process), with one bucket for the run."""

    log_dir: Path
    bucket: str = field(default_factory=lambda: f"news-{uuid.uuid4().hex[:10]}")
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environ(self) -> dict[str, str]:
        """The standard AWS variables that point pyarrow, DuckDB and boto at this server."""
        return {
            **S3_TEST_CREDENTIALS,
            "AWS_DEFAULT_REGION": S3_REGION,
            "AWS_REGION": S3_REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def start(self, timeout: float = 60.0) -> S3Server:
        moto = Path(sys.executable).parent / "moto_server"
        self.process = ManagedProcess(
            "s3 (moto)",
            [str(moto), "-H", "127.0.0.1", "-p", str(self.port)],
            env={"PATH": str(moto.parent), "HOME": str(self.log_dir)},
            cwd=self.log_dir,
            log_path=self.log_dir / "s3.log",
        )
        wait_until(
            lambda: port_open(self.port),
            what="the S3 server",
            timeout=timeout,
            watch=[self.process],
        )
        import pyarrow.fs as pafs

        admin = pafs.S3FileSystem(
            endpoint_override=self.endpoint,
            region=S3_REGION,
            access_key=S3_TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            secret_key=S3_TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            allow_bucket_creation=True,
        )
        admin.create_dir(self.bucket)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@dataclass
class MetadataDatabase:
    """Airflow's metadata database: created empty on the local Postgres, dropped afterwards."""

    name: str
    server: str = DEFAULT_POSTGRES

    @property
    def sqlalchemy_url(self) -> str:
        return f"{self.server.replace('postgresql://', 'postgresql+psycopg2://', 1)}/{self.name}"

    @property
    def celery_result_backend(self) -> str:
        return f"db+{self.sqlalchemy_url}"

    def _execute(self, statement: str) -> None:
        import psycopg2

        connection = psycopg2.connect(f"{self.server}/postgres", connect_timeout=10)
        try:
            connection.autocommit = True  # CREATE/DROP DATABASE refuse to run in a transaction
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def create(self) -> MetadataDatabase:
        """A fresh database: one left by an earlier, killed run of the same name is dropped."""
        self.drop()
        self._execute(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        # WITH (FORCE) ends sessions a killed component left open (Postgres 13+).
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@dataclass
class BrokerQueue:
    """A Celery queue of the run's own on a Redis database, so runs sharing a Redis never meet."""

    db: int
    server: str = DEFAULT_REDIS
    name: str = field(default_factory=lambda: f"newsingest-{uuid.uuid4().hex[:8]}")

    @property
    def broker_url(self) -> str:
        return f"{self.server}/{self.db}"

    @property
    def fetch_name(self) -> str:
        """The queue of the tasks that talk to news sites (pipeline.cluster.policy)."""
        return f"{self.name}-fetch"

    def delete(self) -> None:
        """Remove the keys of this run's queues (the queue lists and kombu's binding sets)."""
        import redis

        client = redis.Redis.from_url(self.broker_url, socket_timeout=10)
        try:
            keys = list(client.scan_iter(match=f"*{self.name}*", count=500))
            if keys:
                client.delete(*keys)
            # kombu's record of when the broadcast bindings (pidbox, events) expire: shared by
            # every queue of the database, so it goes only when nothing else is left there.
            if {bytes(key) for key in client.scan_iter(count=500)} == {KOMBU_DEADLINES}:
                client.delete(KOMBU_DEADLINES)
        finally:
            client.close()

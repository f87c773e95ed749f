"""The cluster's task routing: fetch tasks to the fetch queue, everything else to the default one.

Airflow calls :func:`task_policy` for every task when the DAG processor parses a DAG file (it is
imported by the ``airflow_local_settings.py`` the cluster writes into its control plane's
``AIRFLOW_HOME/config``), so the DAGs themselves name no queue. Why route at all:

- in production, only the workers allowed to reach the news sites (egress, IP reputation) need
  to serve ``fetch``; extract and publish need CPU and the object store only;
- on this machine, the run of the demo day is a chain of four tasks, and which of two idle
  Celery workers takes the next one is a coin flip: routing makes every run cross workers
  (fetch on one, extract of the archive it wrote on the other), so "no shared disk" is tested
  on every run, not on most.

No Airflow import: the policy only sets an attribute of the task it is given.
"""

from __future__ import annotations

import os
from typing import Any

FETCH_QUEUE_VARIABLE = "NEWSINGEST_FETCH_QUEUE"
FETCH_TASKS = frozenset({"fetch"})  # the tasks that talk to news sites (dags/news_ingest.py)

LOCAL_SETTINGS = """\
# Written by pipeline.cluster (docs/deploy.md): route the fetch tasks to the fetch queue.
from pipeline.cluster.policy import task_policy

__all__ = ["task_policy"]
"""


def task_policy(task: Any) -> None:
    """Send the tasks that fetch to ``$NEWSINGEST_FETCH_QUEUE`` when it is set."""
    queue = os.environ.get(FETCH_QUEUE_VARIABLE)
    if queue and task.task_id in FETCH_TASKS:
        task.queue = queue

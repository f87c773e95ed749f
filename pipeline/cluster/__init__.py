"""A real Airflow cluster on this machine: CeleryExecutor, Postgres, Redis, an S3 API on loopback.

``make run-cluster`` and ``tests/cluster/`` share this code. Every Airflow component runs as its
own process through the ``airflow`` CLI, so this package never imports Airflow (the rule for
``pipeline/``); it talks to the cluster through the API server's REST API, like any client.

- :mod:`pipeline.cluster.processes` starts and stops processes (one process group each) and
  picks free ports;
- :mod:`pipeline.cluster.services` the backing services: the S3 server (moto), a database of
  its own on the local Postgres, a queue of its own on the local Redis;
- :mod:`pipeline.cluster.deployment` the Airflow components, their configuration, and the
  REST calls that trigger runs and say which worker ran each task;
- :mod:`pipeline.cluster.policy` the task policy that sends fetch tasks to the fetch queue;
- :mod:`pipeline.cluster.demo` ``newsingest demo-cluster``: the demo day (or a backfill) on it.
"""

"""news-ingest: a batch news pipeline library (knows nothing of Airflow)."""

"""Two workers on one PostgreSQL study, against a throwaway server (``postgres_url`` in conftest)."""

from __future__ import annotations

import pytest
from test_coarse_reliability import check_two_workers, open_at_once


def test_two_workers_on_postgres_evaluate_each_trial_once(tmp_path, postgres_url):
    check_two_workers(tmp_path, postgres_url)


def test_processes_creating_one_postgres_schema_at_once_all_succeed(tmp_path, postgres_url):
    psycopg = pytest.importorskip("psycopg")
    base, _ = postgres_url.rsplit("/", 1)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for round_ in range(2):
            conn.execute(f"CREATE DATABASE race{round_}")
    for round_ in range(2):
        open_at_once(f"{base}/race{round_}", tmp_path / f"go{round_}")

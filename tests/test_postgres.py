"""Two workers on one PostgreSQL study, against a throwaway server started by the test."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

from test_coarse_reliability import check_two_workers, open_at_once


def _server_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    bindir = _server_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server binary (initdb) on this machine; .ci/run installs one")
    pytest.importorskip("psycopg")
    as_user = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
    data = tempfile.mkdtemp(prefix="jointnas-pg-")
    if as_user:
        shutil.chown(data, "postgres")
    port = _free_port()
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True)  # noqa: E731
    run(f"{bindir}/initdb", "-D", data, "-U", "jointnas", "--auth=trust")
    run(f"{bindir}/pg_ctl", "-D", data, "-w", "-l", f"{data}/log", "-o",
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start")
    try:
        run(f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "jointnas", "runs")
        yield f"postgresql://jointnas@127.0.0.1:{port}/runs"
    finally:
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


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

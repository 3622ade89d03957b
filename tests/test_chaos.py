"""Chaos: a coarse run whose coordinator and workers are killed and restarted at random.

A driver runs ``search coarse --workers 0`` (the coordinator evaluates too) and
``search worker`` processes on one storage (a table evaluator sleeping per pair), and
every few seconds sends SIGKILL or SIGINT to one of them, then starts it again (the
coordinator without ``--resume``, as a user would, so the heartbeat must re-queue the
pairs of the dead). At the end every pool pair the run chose is stored exactly once,
none is lost, and samples.csv equals the study. Both schedules are driven: FBNetV3's
rounds (batch mode) and the
asynchronous default (a refit after every 4 finished pairs, the queue topped up from the
latest stored plan). The default suite runs one short round per storage in batch mode
and one on SQLite asynchronously; ``make chaos`` runs ``CHAOS_RUNS`` (default 20) rounds
per storage and schedule with 4 workers.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from test_coarse import toy_space
from test_coarse_reliability import default_sigint, make_run

from jointnas.data import read_table
from jointnas.search.study import RunStore, TrialState

BATCH, ITERATIONS = 8, 3
PAIRS = BATCH * ITERATIONS
SCHEDULES = {  # the same 24 pairs in FBNetV3's rounds, or asynchronously with a refit every 4
    "batch": {"batch": BATCH, "iterations": ITERATIONS},
    "async": {"batch": None, "iterations": None, "budget_trials": PAIRS, "start": BATCH, "refit_every": 4},
}
ENV = {**os.environ, "JOINTNAS_HEARTBEAT_S": "0.5"}  # a silent pair is re-queued after 1.5 s


@dataclass
class Chaos:
    """One chaos round: the processes, what was done to them, and what they left."""

    folder: Path
    url: str
    name: str
    workers: int
    seed: int
    kills: int
    log: list[str] = field(default_factory=list)

    def start(self, role: str) -> subprocess.Popen:
        if role == "coordinator":
            cmd = ["coarse", "--config", str(self.folder / "search.yaml"), "--quiet", "--workers", "0"]
        else:
            cmd = ["worker", "--storage", self.url, "--study", self.name]
        err = open(self.folder / f"{role}.err", "a")
        return subprocess.Popen(
            [sys.executable, "-m", "jointnas.search.cli", *cmd],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=self.folder,
            preexec_fn=default_sigint,
        )

    def study_ready(self) -> bool:
        try:
            return RunStore(self.url, self.name, create=False).meta("space") is not None
        except Exception:  # not created yet, or being created
            return False

    def run(self, timeout: float = 600.0) -> int:
        """Drive the round; returns the coordinator's final exit code."""
        rng = random.Random(self.seed)
        deadline = time.monotonic() + timeout
        procs = {"coordinator": self.start("coordinator")}
        while not self.study_ready():
            assert procs["coordinator"].poll() is None, self.stderr("coordinator")
            assert time.monotonic() < deadline, "the study was never created"
            time.sleep(0.2)
        for i in range(self.workers):
            procs[f"worker{i}"] = self.start(f"worker{i}")
        kills = 0
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(1.0, 3.0))
            code = procs["coordinator"].poll()
            if code == 0:
                break
            if code is not None:  # a SIGINT ended it (130): start it again
                self.log.append(f"coordinator exited {code}: restarted")
                procs["coordinator"] = self.start("coordinator")
            for role, proc in procs.items():  # workers exit when a stopped coordinator said finished
                if role != "coordinator" and proc.poll() is not None:
                    procs[role] = self.start(role)
            if kills < self.kills:
                role = rng.choice(sorted(procs))
                sig = rng.choice([signal.SIGKILL, signal.SIGINT])
                if procs[role].poll() is None:
                    procs[role].send_signal(sig)
                    procs[role].wait(timeout=120)
                    self.log.append(f"{sig.name} {role} -> exit {procs[role].returncode}")
                    procs[role] = self.start(role)
                    kills += 1
        else:
            raise AssertionError(f"round {self.seed} did not finish in {timeout:.0f} s: {self.log}")
        for proc in procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        return procs["coordinator"].returncode

    def stderr(self, role: str) -> str:
        path = self.folder / f"{role}.err"
        return path.read_text()[-2000:] if path.exists() else ""


def check_exactly_once(chaos: Chaos) -> None:
    """Every pair the run chose is stored once, none is lost, samples.csv equals the study."""
    space = toy_space()
    store = RunStore(chaos.url, chaos.name, create=False)
    key = lambda t: (t.user_attrs["iteration"], t.user_attrs["pool_index"])  # noqa: E731
    chosen = {key(t) for t in store.trials()}
    assert len(chosen) == PAIRS, chaos.log
    complete = [key(t) for t in store.trials((TrialState.COMPLETE,))]
    assert sorted(complete) == sorted(set(complete)), f"a pair completed twice: {chaos.log}"
    results = store.results(space)
    pairs = list(zip(results["iteration"], results["pool_index"]))
    assert sorted(pairs) == sorted(chosen), f"lost or repeated pairs: {chaos.log}"
    assert not results.duplicated(subset=list(space.names)).any()
    assert (results["status"] == "ok").all(), chaos.log
    samples = read_table(chaos.folder / "runs" / chaos.name / "samples.csv")
    assert len(samples) == len(results)
    stored = dict(zip(pairs, results["val_acc"]))
    written = dict(zip(zip(samples["iteration"], samples["pool_index"]), samples["val_acc"]))
    assert written == pytest.approx(stored)


def chaos_round(
    folder: Path, storage: str, seed: int, workers: int, kills: int, sleep: float = 0.5, mode: str = "batch"
) -> Chaos:
    name = f"chaos{seed}"
    url = {
        "sqlite": f"sqlite:///{folder / 'runs' / name / 'study.db'}",
        "journal": f"journal:{folder / 'journal.log'}",
    }.get(storage, storage)
    make_run(
        folder,
        name=name,
        storage=url,
        seed=seed,
        **SCHEDULES[mode],
        evaluator={"type": "table", "table": "toy.csv", "sleep": sleep},
    )
    chaos = Chaos(folder, url, name, workers=workers, seed=seed, kills=kills)
    code = chaos.run()
    assert code == 0, f"{chaos.log}\n{chaos.stderr('coordinator')}"
    check_exactly_once(chaos)
    return chaos


def storage_url(kind: str, request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("postgres_url") if kind == "postgresql" else kind


@pytest.mark.parametrize(
    "kind, mode", [("sqlite", "batch"), ("journal", "batch"), ("postgresql", "batch"), ("sqlite", "async")]
)
def test_chaos_short_round_stores_every_pair_exactly_once(tmp_path, kind, mode, request):
    chaos = chaos_round(tmp_path, storage_url(kind, request), seed=1, workers=2, kills=3, mode=mode)
    assert len(chaos.log) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["batch", "async"])
@pytest.mark.parametrize("kind", ["sqlite", "journal", "postgresql"])
def test_chaos_many_rounds_store_every_pair_exactly_once(tmp_path, kind, mode, request):
    url = storage_url(kind, request)
    rounds = int(os.environ.get("CHAOS_RUNS", "20"))
    log: list[str] = []
    for seed in range(rounds):
        folder = tmp_path / f"round{seed}"
        folder.mkdir()
        chaos = chaos_round(folder, url, seed=100 + seed, workers=4, kills=6, sleep=1.5, mode=mode)
        signals = sum(line.startswith("SIG") for line in chaos.log)
        log += chaos.log
        print(
            f"{kind} {mode} round {seed + 1}/{rounds}: ok after {signals} signals: {'; '.join(chaos.log)}",
            flush=True,
        )
    interrupted = [line for line in log if line.startswith("SIGINT") and line.endswith("exit 130")]
    killed = [line for line in log if line.startswith("SIGKILL") and line.endswith("exit -9")]
    print(
        f"{kind} {mode}: {rounds} rounds, {len(killed)} SIGKILLs and {len(interrupted)} SIGINTs that "
        "ended a process mid-run (exit -9 / 130)",
        flush=True,
    )
    assert killed and interrupted, "the signals must land"

"""Reliability of coarse runs: SIGKILL and resume, several workers on one storage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from test_coarse import TINY_PREDICTOR, toy_space, toy_table

from jointnas.data import read_table
from jointnas.search.study import RunStore, TrialState


def make_run(folder: Path, **extra) -> Path:
    space = toy_space()
    space.to_yaml(folder / "toy.yaml")
    toy_table(space).to_csv(folder / "toy.csv", index=False)
    config = {
        "space": "toy.yaml",
        "name": "toy",
        "runs_dir": "runs",
        "batch": 6,
        "iterations": 2,
        "evaluator": {"type": "table", "table": "toy.csv", "sleep": 0.3},
        "predictor": TINY_PREDICTOR,
        "pretrain_targets": ["params"],
        **extra,
    }
    path = folder / "search.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def default_sigint() -> None:
    """Children take SIGINT even when the test runner was started with it ignored (a
    background job without job control passes SIGINT on as ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def coarse(config: Path, *flags: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "jointnas.search.cli", "coarse", "--config", str(config), "--quiet", *flags],
        preexec_fn=default_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def evaluated(store: RunStore) -> list:
    return [t for t in store.trials() if "status" in t.user_attrs]


def test_sigkill_then_resume_loses_nothing_and_repeats_nothing(tmp_path):
    config = make_run(tmp_path)
    url = f"sqlite:///{tmp_path / 'runs' / 'toy' / 'study.db'}"
    proc = coarse(config)
    deadline = time.monotonic() + 120
    before = []
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if (tmp_path / "runs" / "toy" / "study.db").exists():
            try:
                before = evaluated(RunStore(url, "toy", create=False))
            except Exception:  # the coordinator may still be creating the study
                continue
            if len(before) >= 3:
                break
    os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate()
    assert 3 <= len(before) < 12, f"the kill must land mid-run; coordinator stderr: {err[-2000:]}"
    store = RunStore(url, "toy", create=False)
    finished_before = {t.number: t.value for t in evaluated(store)}
    out = coarse(config, "--resume")
    stdout, stderr = out.communicate(timeout=240)
    assert out.returncode == 0, stderr
    store = RunStore(url, "toy", create=False)
    after = evaluated(store)
    samples = read_table(tmp_path / "runs" / "toy" / "samples.csv")
    space = toy_space()
    assert len(samples) == 12 == len(after)  # none lost, none evaluated twice
    assert not samples.duplicated(subset=list(space.names)).any()
    values = {t.number: t.value for t in after}
    for number, value in finished_before.items():
        assert values[number] == value  # finished trials kept as they were


def check_two_workers(folder: Path, url: str) -> None:
    """Run a 2-worker coarse search on ``url``: every pair evaluated once, by both workers."""
    config = make_run(folder, workers=2, storage=url)
    proc = coarse(config)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    done = evaluated(RunStore(url, "toy", create=False))
    samples = read_table(folder / "runs" / "toy" / "samples.csv")
    assert len(done) == len(samples) == 12
    assert not samples.duplicated(subset=list(toy_space().names)).any()
    assert len({t.user_attrs["worker"] for t in done}) == 2


def test_two_local_workers_evaluate_each_trial_once(tmp_path):
    check_two_workers(tmp_path, f"sqlite:///{tmp_path / 'runs' / 'toy' / 'study.db'}")


class VirtualClock:
    """``time`` as the run sees it: the wall clock plus the simulated training so far."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def __getattr__(self, name: str):
        return getattr(time, name)


class SimulatedTraining(VirtualClock):
    """``time`` as the table evaluator sees it: its sleeps move the run's clock on without
    waiting, so a time budget cuts a run at the same pair however loaded the machine is."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def time(self) -> float:
        return self.clock.time()

    def sleep(self, seconds: float) -> None:
        self.clock.offset += seconds


def test_time_budget_stops_mid_iteration_and_resume_finishes(tmp_path, monkeypatch):
    """--budget in hours is checked before every trial, not only between iterations."""
    import jointnas.search.coarse as coarse_module
    import jointnas.search.evaluators as evaluators
    import jointnas.search.study as study
    from jointnas.search.coarse import CoarseSearch
    from jointnas.search.settings import load_settings

    clock = VirtualClock()
    monkeypatch.setattr(coarse_module, "time", clock)
    monkeypatch.setattr(study, "time", clock)
    monkeypatch.setattr(evaluators, "time", SimulatedTraining(clock))
    config = make_run(tmp_path, evaluator={"type": "table", "table": "toy.csv", "sleep": 1000})
    # 2 iterations x 6 pairs of 1000 virtual seconds: pairs start at 0, 1000, 2000, 3000 s
    result = CoarseSearch(load_settings(config, budget_hours=1.0), progress=False).run()
    first = read_table(tmp_path / "runs" / "toy" / "samples.csv")
    assert len(first) == 4, "the budget must cut the first iteration short"
    store = RunStore(f"sqlite:///{tmp_path / 'runs' / 'toy' / 'study.db'}", "toy", create=False)
    assert store.pending() == 2  # the rest stays queued
    assert result.queued == 2
    CoarseSearch(load_settings(config), progress=False).run()
    second = read_table(tmp_path / "runs" / "toy" / "samples.csv")
    assert len(second) == 12
    assert not second.duplicated(subset=list(toy_space().names)).any()


def test_a_batch_cut_short_while_being_queued_is_topped_up(tmp_path):
    """A kill between two enqueue calls leaves part of a batch queued; the resume completes it."""
    from jointnas.search.coarse import CoarseSearch
    from jointnas.search.settings import load_settings

    config = make_run(tmp_path)  # batches of 6
    CoarseSearch(load_settings(config, iterations=1), progress=False).run()
    store = RunStore(f"sqlite:///{tmp_path / 'runs' / 'toy' / 'study.db'}", "toy", create=False)
    space = toy_space()
    done = read_table(tmp_path / "runs" / "toy" / "samples.csv")
    table = toy_table(space)
    fresh = table.merge(done[list(space.names)], how="left", indicator=True)
    fresh = fresh[fresh["_merge"] == "left_only"].head(3)
    store.set_meta("batch_2", 6)  # what the coordinator records before it enqueues
    store.enqueue(space.configs(fresh), [{"iteration": 2, "max_epochs": None, "pool_index": -1}] * 3)
    CoarseSearch(load_settings(config, iterations=2), progress=False).run()
    samples = read_table(tmp_path / "runs" / "toy" / "samples.csv")
    assert len(samples) == 12 and (samples["iteration"] == 2).sum() == 6
    assert not samples.duplicated(subset=list(space.names)).any()


def test_out_of_time_reads_storage_rarely_and_sees_an_extended_budget(tmp_path, monkeypatch):
    """Polling workers read the deadline from storage at most every `refresh` seconds."""
    writer = RunStore(f"sqlite:///{tmp_path / 'study.db'}", "toy")
    reader = RunStore(f"sqlite:///{tmp_path / 'study.db'}", "toy", create=False)
    reads = []
    original = RunStore.meta
    monkeypatch.setattr(
        RunStore, "meta", lambda self, key, default=None: (reads.append(key), original(self, key, default))[1]
    )
    writer.set_meta("deadline", time.time() + 3600)
    assert not any(reader.out_of_time() for _ in range(50))
    assert len(reads) == 1
    writer.set_meta("deadline", time.time() - 1)  # cut short by another process
    assert not reader.out_of_time()  # still cached
    assert reader.out_of_time(refresh=0.0)
    writer.set_meta("deadline", time.time() + 3600)  # a resume extends the budget
    assert not reader.out_of_time()  # a passed deadline is always re-read
    assert writer.out_of_time() is False  # set_meta drops the writer's cache


OPEN_WHEN_TOLD = """
import sys, time
from pathlib import Path
from jointnas.search.study import open_storage
print("ready", flush=True)
while not Path(sys.argv[2]).exists():
    time.sleep(0.001)
open_storage(sys.argv[1])
"""


def open_at_once(url: str, go: Path, processes: int = 4) -> None:
    """Open one new storage from ``processes`` processes released at the same instant."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_WHEN_TOLD, url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-1000:]


def test_processes_opening_a_new_database_at_once_all_succeed(tmp_path):
    """A coordinator, its workers and a monitor may create one SQLite schema at the same instant."""
    for round_ in range(2):
        open_at_once(f"sqlite:///{tmp_path / f'study{round_}.db'}", tmp_path / f"go{round_}")


def test_worker_counts_only_the_pairs_it_evaluated(tmp_path):
    """A pop that finds another worker's (or a foreign) trial is not an evaluation."""
    import optuna

    from jointnas.data import Float, SearchSpace
    from jointnas.search.evaluators import EvalResult
    from jointnas.search.study import RunStore

    space = SearchSpace(arch=[Float("x", 0.0, 1.0)], name="count")
    store = RunStore(f"sqlite:///{tmp_path / 'study.db'}", "count")
    store.study.enqueue_trial({"x": 0.5})  # not enqueued by jointnas: popped, not evaluated
    calls = []

    def evaluate(config, max_epochs, on_epoch):
        calls.append(config)
        return EvalResult(curve=[config["x"]], val_acc=config["x"])

    assert store.work(space, evaluate, stop=lambda: True, poll=0.01) == 0 and not calls
    store.enqueue([{"x": 0.25}], [{}])
    assert store.work(space, evaluate, stop=lambda: True, poll=0.01) == 1 and len(calls) == 1
    assert optuna.trial.TrialState.PRUNED in {t.state for t in store.study.trials}


@pytest.mark.parametrize("workers", [0, 2])
def test_ctrl_c_then_rerun_loses_nothing_and_prints_no_traceback(tmp_path, workers):
    """SIGINT to the terminal's process group (a Ctrl-C) mid-run, then the same command."""
    config = make_run(tmp_path, workers=workers)
    url = f"sqlite:///{tmp_path / 'runs' / 'toy' / 'study.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jointnas.search.cli", "coarse", "--config", str(config), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=default_sigint,
    )
    deadline = time.monotonic() + 120
    before = []
    while time.monotonic() < deadline and len(before) < 3:
        time.sleep(0.2)
        try:
            before = evaluated(RunStore(url, "toy", create=False))
        except Exception:  # the study may not exist yet
            continue
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err[-2000:]
    assert 3 <= len(before) < 12, "the interrupt must land mid-run"
    again = coarse(config)
    _, stderr = again.communicate(timeout=240)
    assert again.returncode == 0, stderr
    after = evaluated(RunStore(url, "toy", create=False))
    samples = read_table(tmp_path / "runs" / "toy" / "samples.csv")
    assert len(samples) == 12 == len(after)  # none lost, none evaluated twice
    assert not samples.duplicated(subset=list(toy_space().names)).any()


def test_an_interrupted_and_resumed_run_picks_the_same_pairs(tmp_path):
    """The pairs chosen depend on the seed and the finished results, not on trial numbers."""
    from jointnas.search.coarse import CoarseSearch
    from jointnas.search.settings import load_settings

    def chosen(folder: Path) -> list[tuple[int, int]]:
        store = RunStore(f"sqlite:///{folder / 'runs' / 'toy' / 'study.db'}", "toy", create=False)
        return sorted((t.user_attrs["iteration"], t.user_attrs["pool_index"]) for t in evaluated(store))

    plain, cut = tmp_path / "plain", tmp_path / "cut"
    plain.mkdir()
    cut.mkdir()
    settings = {"iterations": 3, "batch": 4}
    CoarseSearch(load_settings(make_run(plain, **settings)), progress=False).run()
    search = CoarseSearch(load_settings(make_run(cut, **settings)), progress=False)
    original, calls = search.evaluator.evaluate, []

    def interrupt_once(config, **kwargs):
        calls.append(config)
        if len(calls) == 2:  # the second pair of iteration 1 is stopped mid-evaluation
            raise KeyboardInterrupt
        return original(config, **kwargs)

    search.evaluator.evaluate = interrupt_once
    with pytest.raises(KeyboardInterrupt):
        search.run()
    CoarseSearch(load_settings(cut / "search.yaml"), progress=False).run()
    assert chosen(cut) == chosen(plain) and len(chosen(plain)) == 12


def test_four_local_workers_on_sqlite_never_claim_a_pair_twice(tmp_path):
    """Without serialized claims this failed 1 round in 4: a pair popped by two workers,
    the second dying with "Cannot tell a COMPLETE trial"."""
    url = f"sqlite:///{tmp_path / 'runs' / 'toy' / 'study.db'}"
    config = make_run(
        tmp_path, workers=4, batch=8, evaluator={"type": "table", "table": "toy.csv", "sleep": 0.1}
    )
    proc = coarse(config)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "Traceback" not in stderr, stderr[-2000:]
    done = evaluated(RunStore(url, "toy", create=False))
    samples = read_table(tmp_path / "runs" / "toy" / "samples.csv")
    assert len(done) == len(samples) == 16
    assert not samples.duplicated(subset=list(toy_space().names)).any()


def kill_mid_pair(proc: subprocess.Popen, url: str, after: int = 2) -> None:
    """SIGKILL the coordinator once ``after`` pairs are stored, while one is running."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            store = RunStore(url, "toy", create=False)
            if len(evaluated(store)) >= after and store.running():
                break
        except Exception:  # the study is still being created
            continue
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()


def test_journal_rerun_after_kill_requeues_the_silent_pair_by_heartbeat(tmp_path, monkeypatch):
    """The journal has no heartbeat in Optuna: the workers' beats let a plain rerun finish."""
    monkeypatch.setenv("JOINTNAS_HEARTBEAT_S", "0.5")  # grace 1.5 s
    url = f"journal:{tmp_path / 'journal.log'}"
    config = make_run(tmp_path, storage=url)
    kill_mid_pair(coarse(config), url)
    left = RunStore(url, "toy", create=False).running()
    rerun = coarse(config)
    _, stderr = rerun.communicate(timeout=240)
    assert rerun.returncode == 0 and "Traceback" not in stderr, stderr[-2000:]
    store = RunStore(url, "toy", create=False)
    requeued = [t for t in store.trials() if "retry_of" in t.user_attrs and not t.user_attrs.get("duplicate")]
    assert len(requeued) == left
    samples = read_table(tmp_path / "runs" / "toy" / "samples.csv")
    assert len(samples) == 12 and not samples.duplicated(subset=list(toy_space().names)).any()


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_beats_keep_a_slow_pair_and_silence_requeues_it_once(tmp_path, monkeypatch, kind):
    """A live worker's pair is never taken from it; a silent one is re-queued by exactly
    one of the processes that notice. On SQLite the silent trial has no Optuna heartbeat
    at all (its process died between claiming it and its first beat), which Optuna's
    own watch never re-queues."""
    from jointnas.data import Float, SearchSpace
    from jointnas.search import study as study_module
    from jointnas.search.evaluators import EvalResult

    monkeypatch.setattr(study_module, "HEARTBEAT_S", 0.1)
    monkeypatch.setattr(study_module, "GRACE_S", 0.3)
    space = SearchSpace(arch=[Float("x", 0.0, 1.0)], recipe=[Float("lr", 0.1, 1.0)], name="beat")
    url = f"journal:{tmp_path / 'journal.log'}" if kind == "journal" else f"sqlite:///{tmp_path / 'study.db'}"
    store, watcher = RunStore(url, "beat"), RunStore(url, "beat", create=False)
    store.enqueue([{"x": 0.5, "lr": 0.2}], [{"iteration": 1, "pool_index": 0}])

    def slow(config, max_epochs, on_epoch):
        for _ in range(10):  # 1 s, over three grace periods, watched all along
            time.sleep(0.1)
            assert watcher.fail_stale() == 0
        return EvalResult(val_acc=0.5, curve=[0.5], status="ok")

    assert store.work(space, slow, stop=lambda: True) == 1
    assert [t.user_attrs["val_acc"] for t in evaluated(watcher)] == [0.5]

    store.enqueue([{"x": 0.1, "lr": 0.3}], [{"iteration": 1, "pool_index": 1}])
    trial = store.study.ask()  # claimed by a worker that then goes silent
    assert trial.params == {} and store.running() == 1
    others = [RunStore(url, "beat", create=False) for _ in range(3)]
    for other in others:
        assert other.fail_stale() == 0  # first look: the beat (none) is noted
    time.sleep(0.4)
    assert sum(other.fail_stale() for other in others) == 1
    assert store.running() == 0 and store.pending() == 1


def test_an_interrupt_while_a_pair_is_being_claimed_requeues_the_whole_pair(tmp_path, monkeypatch):
    """Ctrl-C between two suggested params leaves half a pair in Optuna; the re-queue and
    every look-up use the whole enqueued pair."""
    from jointnas.data import Float, SearchSpace
    from jointnas.search import study as study_module
    from jointnas.search.evaluators import EvalResult

    space = SearchSpace(arch=[Float("x", 0.0, 1.0)], recipe=[Float("lr", 0.1, 1.0)], name="half")
    store = RunStore(f"sqlite:///{tmp_path / 'study.db'}", "half")
    store.enqueue([{"x": 0.5, "lr": 0.2}], [{"iteration": 1, "pool_index": 0}])
    real, calls = study_module._suggest, []

    def interrupted_suggest(trial, name, dist):
        calls.append(name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(trial, name, dist)

    monkeypatch.setattr(study_module, "_suggest", interrupted_suggest)

    def evaluate(config, max_epochs, on_epoch):
        return EvalResult(curve=[config["x"]], val_acc=config["x"])

    with pytest.raises(KeyboardInterrupt):
        store.work(space, evaluate, stop=lambda: True, poll=0.01)
    (failed,) = store.trials()
    assert failed.user_attrs["interrupted"] and set(failed.params) == {"x"}  # half a pair
    assert study_module.trial_params(failed) == {"x": 0.5, "lr": 0.2}
    monkeypatch.setattr(study_module, "_suggest", real)
    assert store.requeue_unfinished() == 1 and store.requeue_unfinished() == 0
    seen = []
    store.work(space, lambda c, m, cb: seen.append(c) or evaluate(c, m, cb), stop=lambda: True, poll=0.01)
    assert seen == [{"x": 0.5, "lr": 0.2}]


def _one_pair_store(tmp_path, name):
    from jointnas.data import Float, SearchSpace

    space = SearchSpace(arch=[Float("x", 0.0, 1.0)], recipe=[Float("lr", 0.1, 1.0)], name=name)
    store = RunStore(f"sqlite:///{tmp_path / 'study.db'}", name)
    store.enqueue([{"x": 0.5, "lr": 0.2}], [{"iteration": 1, "pool_index": 3}])
    return space, store


def _measure(config, max_epochs, on_epoch):
    from jointnas.search.evaluators import EvalResult

    return EvalResult(curve=[config["x"]], val_acc=config["x"])


def test_a_kill_between_failing_a_pair_and_queueing_it_again_loses_nothing(tmp_path):
    """Failing a silent trial and queueing its copy are two writes; a kill -9 between
    them leaves a failed trial without a result and no copy. Any watcher queues it."""
    space, store = _one_pair_store(tmp_path, "gap")
    trial = store.study.ask()
    store.study.tell(trial.number, state=TrialState.FAIL)  # ...and the process is killed here
    watcher = RunStore(store.storage, "gap", create=False)
    assert watcher.fail_stale() == 1 and watcher.fail_stale() == 0
    assert store.work(space, _measure, stop=lambda: True, poll=0.01) == 1
    assert store.results(space)["x"].tolist() == [0.5]
    assert watcher.requeue_unfinished() == 0


def test_two_copies_of_a_pair_queued_at_once_are_evaluated_once(tmp_path):
    """Two watchers that looked at the same moment both queue the unfinished pair: the
    later copy is skipped when popped, by whichever worker pops it."""
    from jointnas.search.study import pair_counts

    space, store = _one_pair_store(tmp_path, "twice")
    store.study.tell(store.study.ask().number, state=TrialState.FAIL)
    failed = store.trials((TrialState.FAIL,))
    store.requeue(failed)
    store.requeue(failed)  # the other watcher, which read before the first copy existed
    assert pair_counts(store, 1) == (1, 1)
    seen = []
    count = store.work(
        space, lambda c, m, cb: seen.append(c) or _measure(c, m, cb), stop=lambda: True, poll=0.01
    )
    assert count == 1 and len(seen) == 1 and len(store.results(space)) == 1
    assert [t.user_attrs.get("duplicate") for t in store.trials((TrialState.PRUNED,))] == [True]
    assert store.requeue_unfinished() == 0 and pair_counts(store, 1) == (1, 0)


def test_a_ctrl_c_while_a_result_is_being_written_requeues_the_pair(tmp_path):
    """The evaluation finished, the interrupt lands while its metrics are stored: half a
    result is no result, and the pair is evaluated again."""
    space, store = _one_pair_store(tmp_path, "half-written")

    class Interrupted:
        status, val_acc = "ok", 0.5

        def to_dict(self):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.work(space, lambda c, m, cb: Interrupted(), stop=lambda: True, poll=0.01)
    assert store.results(space).empty and store.requeue_unfinished() == 1
    assert store.work(space, _measure, stop=lambda: True, poll=0.01) == 1
    assert store.results(space)["x"].tolist() == [0.5]


def test_when_every_local_worker_dies_the_coordinator_says_so_instead_of_waiting(tmp_path):
    config = make_run(tmp_path, workers=2)
    db = tmp_path / "runs" / "toy" / "study.db"
    proc = coarse(config)
    deadline = time.monotonic() + 60
    while not db.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    (tmp_path / "toy.csv").unlink()  # the coordinator has read it; the workers, still starting, cannot
    _, err = proc.communicate(timeout=120)
    last = err.strip().splitlines()[-1]
    assert proc.returncode == 2 and last.startswith("error: all 2 local worker(s) exited"), err[-2000:]
    store = RunStore(f"sqlite:///{db}", "toy", create=False)
    assert store.pending() == 6  # the batch stays queued for the next run


def test_a_remote_workers_ctrl_c_is_requeued_by_the_running_coordinator(tmp_path):
    """`search worker` stopped with Ctrl-C mid-pair: the coordinator re-queues that pair at
    once and the other worker evaluates it; nothing is lost and nothing repeated."""
    url = f"sqlite:///{tmp_path / 'runs' / 'toy' / 'study.db'}"
    # pairs slow enough that the coordinator, which evaluates too, leaves some to the
    # workers even when their start (importing torch) is slow on a loaded machine
    config = make_run(
        tmp_path, workers=0, storage=url, evaluator={"type": "table", "table": "toy.csv", "sleep": 3.0}
    )
    coordinator = coarse(config)
    workers = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            RunStore(url, "toy", create=False)
            break
        except Exception:
            continue
    for _ in range(2):
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "jointnas.search.cli", "worker", "--storage", url, "--study", "toy"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=default_sigint,
            )
        )
    by_pid = {str(w.pid): w for w in workers}
    victim = None
    while victim is None and time.monotonic() < deadline + 60:
        time.sleep(0.05)
        store = RunStore(url, "toy", create=False)
        if len(evaluated(store)) < 2:
            continue
        busy = [
            t.user_attrs.get("worker", "").rsplit(":", 1)[-1]
            for t in store.trials()
            if t.state.name == "RUNNING"
        ]
        victim = next((by_pid[p] for p in busy if p in by_pid), None)
    assert victim is not None, "no worker caught mid-pair"
    victim.send_signal(signal.SIGINT)  # a Ctrl-C in that worker's terminal
    _, err0 = victim.communicate(timeout=60)
    assert victim.returncode == 130 and "Traceback" not in err0, err0[-2000:]
    _, stderr = coordinator.communicate(timeout=300)
    assert coordinator.returncode == 0, stderr[-2000:]
    for w in workers:
        w.communicate(timeout=120)
    samples = read_table(tmp_path / "runs" / "toy" / "samples.csv")
    assert len(samples) == 12 and not samples.duplicated(subset=list(toy_space().names)).any()


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_worker_whose_pair_was_requeued_meanwhile_drops_its_result_and_goes_on(tmp_path, kind):
    """A live worker that the heartbeat took for dead (an overloaded machine) must not die
    when it finishes: its result is dropped with a warning and the pair evaluated again."""
    from jointnas.data import Float, SearchSpace
    from jointnas.search.evaluators import EvalResult

    space = SearchSpace(arch=[Float("x", 0.0, 1.0)], recipe=[Float("lr", 0.1, 1.0)], name="lost")
    url = f"sqlite:///{tmp_path / 'study.db'}" if kind == "sqlite" else f"journal:{tmp_path / 'journal.log'}"
    store, other = RunStore(url, "lost"), None
    store.enqueue(
        [{"x": 0.5, "lr": 0.2}, {"x": 0.7, "lr": 0.4}], [{"iteration": 1, "pool_index": i} for i in range(2)]
    )
    seen = []

    def evaluate(config, max_epochs, on_epoch):
        nonlocal other
        if not seen:  # the first pair is taken from this worker while it trains
            other = RunStore(url, "lost", create=False)
            (mine,) = other.trials((TrialState.RUNNING,))
            assert other._fail_claimed(mine) and not other._fail_claimed(mine)
        seen.append(config["x"])
        return EvalResult(val_acc=config["x"], curve=[config["x"]], status="ok")

    with pytest.warns(UserWarning, match="failed by another process.*evaluated again"):
        store.work(space, evaluate, stop=lambda: True)
    results = store.results(space)
    assert sorted(results["x"]) == [0.5, 0.7] and sorted(seen) == [0.5, 0.5, 0.7]


def test_progress_counts_each_pair_once_however_often_it_was_requeued(tmp_path):
    from jointnas.search.study import pair_counts

    store = RunStore(f"sqlite:///{tmp_path / 'study.db'}", "count")
    store.enqueue(
        [{"x": 0.1}, {"x": 0.2}], [{"iteration": 1, "pool_index": 4}, {"iteration": 1, "pool_index": 9}]
    )
    store.study.ask()  # claimed by a worker that dies
    assert pair_counts(store, 1) == (2, 2)
    assert store.requeue_running() == 1
    assert pair_counts(store, 1) == (2, 2) and len(store.trials()) == 3


@pytest.mark.parametrize("complete", [True, False])
@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_pair_failed_as_silent_keeps_a_complete_result_and_is_redone_otherwise(
    tmp_path, kind, complete, monkeypatch
):
    """The worker lived and lost its trial to a heartbeat watcher before telling it. A
    result it had stored in full (``status`` is written last) counts, once; half a
    result does not, and the pair is evaluated again, once."""
    from jointnas.data import Float, SearchSpace
    from jointnas.search import study as study_module
    from jointnas.search.evaluators import EvalResult

    monkeypatch.setattr(study_module, "HEARTBEAT_S", 0.2)
    monkeypatch.setattr(study_module, "GRACE_S", 1.0)
    space = SearchSpace(arch=[Float("x", 0.0, 1.0)], recipe=[Float("lr", 0.1, 1.0)], name="late")
    url = f"sqlite:///{tmp_path / 'study.db'}" if kind == "sqlite" else f"journal:{tmp_path / 'journal.log'}"
    store = RunStore(url, "late")
    store.enqueue([{"x": 0.5, "lr": 0.2}], [{"iteration": 1, "pool_index": 0}])
    trial = store.study.ask()
    written = EvalResult(val_acc=0.9, curve=[0.9], status="ok").to_dict()
    if not complete:
        del written["status"]
    for key, value in written.items():
        trial.set_user_attr(key, value)
    if kind == "sqlite":  # Optuna's own heartbeat fails it
        store.storage.record_heartbeat(trial._trial_id)
    watcher = RunStore(url, "late", create=False)
    watcher.fail_stale()  # the journal notes the beat first
    time.sleep(3.5)  # over the grace (2 s for SQLite, whose clock counts whole seconds)
    assert watcher.fail_stale() == (0 if complete else 1)
    assert store.running() == 0
    assert store.work(
        space, lambda c, m, cb: EvalResult(val_acc=0.6, curve=[0.6], status="ok"), stop=lambda: True
    ) == (0 if complete else 1)
    assert watcher.results(space)["val_acc"].tolist() == [0.9 if complete else 0.6]
    assert watcher.fail_stale() == 0 and watcher.pending() == 0


@pytest.mark.parametrize("quiet", [False, True])
def test_worker_shows_a_bar_of_its_pairs_on_a_terminal_unless_quiet(tmp_path, monkeypatch, quiet):
    import io

    from jointnas.search.cli import main as search_main
    from jointnas.search.coarse import CoarseSearch
    from jointnas.search.settings import load_settings

    config = make_run(tmp_path, batch=2, iterations=1)
    settings = load_settings(config)
    CoarseSearch(settings, progress=False).run()  # a finished run: the worker finds no pair

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert (
        search_main(
            [
                "worker",
                "--storage",
                settings.storage_url,
                "--study",
                "toy",
                "--poll",
                "0.05",
                *(["--quiet"] if quiet else []),
            ]
        )
        == 0
    )
    assert ("worker on toy" in err.getvalue()) is not quiet


def test_a_ctrl_c_while_the_command_loads_exits_130_without_a_traceback(tmp_path):
    """Torch and scipy take seconds to import: a Ctrl-C then is an ordinary interrupt.

    The signal is sent once the command's own modules are loading (``-X importtime``
    reports each import on stderr), not after a fixed delay: on a cold machine the
    interpreter itself may not be up yet after any delay short enough to hit the imports.
    """
    proc = subprocess.Popen(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "jointnas.search.cli",
            "worker",
            "--storage",
            f"sqlite:///{tmp_path / 'study.db'}",
            "--study",
            "none",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    loading = []
    for line in proc.stderr:
        loading.append(line)
        if "jointnas.data" in line:  # imported by the command's loader, under its guard
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    err = "".join(loading) + rest
    assert any("jointnas.data" in line for line in loading), err[-2000:]
    assert proc.returncode == 130 and "Traceback" not in err, err[-2000:]


def test_a_ctrl_c_inside_optunas_own_write_is_an_interrupt_and_the_pair_counts_once(tmp_path, monkeypatch):
    """Optuna's trial loop turns a KeyboardInterrupt in its final write into an
    UnboundLocalError (its ``finally`` reads a variable the write never set); a worker
    then printed that traceback on Ctrl-C. It is an interrupt, and after the silent trial
    is failed the pair's stored result counts once."""
    from optuna.study import _optimize

    from jointnas.search import study as study_module

    monkeypatch.setattr(study_module, "HEARTBEAT_S", 0.05)
    monkeypatch.setattr(study_module, "GRACE_S", 0.15)
    space, store = _one_pair_store(tmp_path, "tell")

    def interrupted_tell(*args, **kwargs):
        raise KeyboardInterrupt

    real = _optimize._tell_with_warning
    monkeypatch.setattr(_optimize, "_tell_with_warning", interrupted_tell)
    with pytest.raises(KeyboardInterrupt):
        store.work(space, _measure, stop=lambda: True, poll=0.01)
    monkeypatch.setattr(_optimize, "_tell_with_warning", real)
    (running,) = store.trials()
    assert running.state == TrialState.RUNNING and running.user_attrs["status"] == "ok"
    watcher = RunStore(f"sqlite:///{tmp_path / 'study.db'}", "tell", create=False)
    watcher.fail_stale()
    time.sleep(0.2)  # the beat stood still for a grace period: the trial is failed
    assert watcher.fail_stale() == 0  # its result was stored in full: nothing to redo
    seen = []
    store.work(space, lambda c, m, cb: seen.append(c) or _measure(c, m, cb), stop=lambda: True, poll=0.01)
    assert not seen and store.results(space)["val_acc"].tolist() == [0.5]


def test_local_workers_start_with_ctrl_c_ignored_and_the_coordinator_keeps_it():
    """A Ctrl-C while local workers load their modules printed a traceback from each;
    they now start with SIGINT ignored, and a Ctrl-C to the coordinator meanwhile is
    held and raised when the workers are started, not lost."""
    from jointnas.search.workers import _children_ignore_sigint

    probe = [sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT) == signal.SIG_IGN)"]
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as a command has it
    try:
        with pytest.raises(KeyboardInterrupt):
            with _children_ignore_sigint():
                child = subprocess.run(probe, capture_output=True, text=True)
                # to the main thread, as a terminal's Ctrl-C reaches a command with one thread
                signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
                time.sleep(0.05)  # no KeyboardInterrupt here: held until the block ends
                held = True
        assert held and child.stdout.strip() == "True"
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert subprocess.run(probe, capture_output=True, text=True).stdout.strip() == "False"
    finally:
        signal.signal(signal.SIGINT, before)

"""The Optuna adapter: every Optuna call of jointnas's search lives in this module.

A run is one Optuna study. Candidate pairs are enqueued as trials (``enqueue_trial``)
with their variables as params and bookkeeping in user attributes; workers pop waiting
trials through ``Study.optimize`` (so Optuna's heartbeat runs), report per-epoch
accuracy with ``trial.report`` and store every result in the study. Run metadata (the
space, the settings, the early-stop epoch) are study user attributes, so any machine
that can reach the storage can join or resume the run.

Storage URLs: ``sqlite:///path.db`` and ``postgresql://...`` (RDB storage with
Optuna's heartbeats: trials of a dead worker are failed, then re-queued by jointnas),
``journal:path.log`` (Optuna's journal file storage, for shared filesystems; Optuna
has no heartbeat for it, so workers beat in a trial user attribute, see
:class:`RunStore`), and ``memory`` (in-process, for benchmarks).

Heartbeats come every ``JOINTNAS_HEARTBEAT_S`` seconds (environment, default 10); a
trial silent for three of them is re-queued.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from ..data.space import Config, SearchSpace
from ..data.variables import Categorical, Integer, Variable
from ..errors import SearchError
from .evaluators import EvalResult

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def _heartbeat_seconds() -> float:
    """``JOINTNAS_HEARTBEAT_S`` from the environment (default 10), checked."""
    raw = os.environ.get("JOINTNAS_HEARTBEAT_S", "10")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise SearchError(f"JOINTNAS_HEARTBEAT_S={raw!r} (allowed: seconds > 0)")
    return value


HEARTBEAT_S = _heartbeat_seconds()
GRACE_S = 3 * HEARTBEAT_S
MARK = "jointnas"  # user attribute present on every trial jointnas enqueued
FINISHED = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)
PENDING = (TrialState.WAITING, TrialState.RUNNING)

optuna.logging.set_verbosity(optuna.logging.ERROR)


def distribution(var: Variable):
    """The Optuna distribution of a space variable."""
    if isinstance(var, Categorical):
        return CategoricalDistribution(list(var.choices))
    if isinstance(var, Integer):
        return IntDistribution(var.low, var.high, step=var.step)
    return FloatDistribution(var.low, var.high, log=var.log)


def open_storage(url: str):
    """Open an Optuna storage from a URL (see the module doc).

    Raises:
        SearchError: the storage cannot be reached or the URL kind is unknown.
    """
    try:
        if url == "memory":
            return optuna.storages.InMemoryStorage()
        if url.startswith("journal:"):
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            return JournalStorage(JournalFileBackend(url[len("journal:") :]))
        if "://" not in url:
            raise SearchError(
                f"unknown storage URL {url!r} (allowed: sqlite:///FILE, "
                "postgresql://..., journal:FILE, memory)"
            )
        return _open_rdb(url)
    except SearchError:
        raise
    except Exception as exc:  # drivers raise many kinds; the user needs one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SearchError(f"cannot open storage: {first[:200]}", _redact(url)) from None


def _open_rdb(url: str, attempts: int = 6):
    """An RDBStorage, retrying while another process creates the same schema.

    Processes that open a new database at once (a coordinator and its workers, or a
    monitor) race to create the tables; the loser sees "table ... already exists" or a
    duplicate schema version. The schema exists by then, so opening again succeeds.
    """
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    attempt = 0
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # heartbeat_interval is marked experimental
                storage = optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine,
                    heartbeat_interval=max(1, round(HEARTBEAT_S)),
                    grace_period=max(2, round(GRACE_S)),
                )  # stale trials fail; fail_stale re-queues
            if url.startswith("sqlite"):
                _serialize_sqlite(storage.engine)
            return storage
        except Exception as exc:
            attempt += 1
            first = (str(exc).strip().splitlines() or [""])[0]  # later lines quote the SQL
            racing = any(sign in first for sign in ("already exists", "alembic_version", "duplicate key"))
            if not racing or attempt == attempts:
                raise
            time.sleep(0.1 * attempt)


def _serialize_sqlite(engine: Any) -> None:
    """Make every SQLite transaction take the write lock when it begins (``BEGIN IMMEDIATE``).

    Optuna pops a waiting trial by reading it and then marking it running, relying on
    row locks (``SELECT ... FOR UPDATE``) that SQLite does not have. Under pysqlite's
    default deferred transactions two workers can both read the trial as waiting, both
    evaluate it, and the second's result is refused ("Cannot tell a COMPLETE trial").
    With the lock taken at ``BEGIN``, the read and the write of one claim cannot
    interleave with another's: a compare-and-set. Every transaction, reads included,
    is then serialized; the others wait (``timeout`` 60 s) instead of failing. SQLite
    is for the processes of one machine; many machines share PostgreSQL.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite issues no BEGIN of its own
        # write-ahead log: a commit appends to the log instead of syncing the database
        # file (a killed process loses nothing committed; a power cut at most the last
        # commits, whose pairs are then evaluated again)
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened while creating the schema lack the listeners


def _redact(url: str) -> str:
    """The URL without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


class RunStore:
    """One run's study: results store, work queue and metadata.

    On every shared storage (the journal file has no heartbeat of its own; see
    :attr:`beats` for RDB storages), a worker writes the time into its trial's ``beat``
    attribute every ``HEARTBEAT_S`` while it evaluates. Any
    process that sees a running trial's beat unchanged for ``GRACE_S`` on its own clock
    (machines' clocks need not agree) fails it. Failing is a compare-and-set (every
    storage refuses a second finish of one trial), so one process wins.

    Exactly once: what to redo is read from the trials' states, never from a marker
    that a kill could keep from being written. A pair (iteration, pool position) whose
    latest trial ended without a result, with nothing of it waiting or running, is
    queued again (:meth:`requeue_unfinished`, run by every watcher); of two copies
    queued at one moment, the later is skipped when popped. So a Ctrl-C or a kill -9
    at any instant, of any process, neither loses a pair nor evaluates it twice.

    Args:
        storage: an opened storage (:func:`open_storage`) or a URL.
        name: study name.
        create: create the study when absent (a worker passes ``False``).

    Raises:
        SearchError: the study does not exist and ``create`` is false.
    """

    def __init__(self, storage: Any, name: str, create: bool = True) -> None:
        self.storage = open_storage(storage) if isinstance(storage, str) else storage
        self.name = name
        self._deadline: tuple[float, float | None] = (-math.inf, None)
        self._beats: dict[int, tuple[Any, float]] = {}  # trial -> (beat seen, since when)
        self._snapshot: list | None = None  # trials read once for a block of reads
        self._stale_at = -math.inf  # when fail_stale last looked
        if create:
            self.study = optuna.create_study(
                storage=self.storage, study_name=name, direction="maximize", load_if_exists=True
            )
        else:
            names = optuna.get_all_study_names(self.storage)
            if name not in names:
                raise SearchError(
                    f"no study named {name!r} in the storage (studies: {', '.join(names) or 'none'})"
                )
            self.study = optuna.load_study(study_name=name, storage=self.storage)

    # -- metadata ------------------------------------------------------------------------
    def meta(self, key: str, default: Any = None) -> Any:
        """A run metadata value."""
        return self.study.user_attrs.get(key, default)

    def set_meta(self, key: str, value: Any) -> None:
        """Store a run metadata value (plain JSON data)."""
        self.study.set_user_attr(key, value)
        if key == "deadline":
            self._deadline = (-math.inf, None)

    # -- queue -----------------------------------------------------------------------------
    def enqueue(self, configs: Sequence[Config], attrs: Sequence[dict[str, Any]]) -> None:
        """Queue pairs for evaluation, each with its bookkeeping attributes."""
        for config, extra in zip(configs, attrs):
            self.study.enqueue_trial(dict(config), user_attrs={MARK: True, **extra})

    def trials(self, states: Sequence[TrialState] | None = None) -> list:
        """jointnas trials (frozen), optionally filtered by state (inside :meth:`snapshot`:
        as read when it began)."""
        if self._snapshot is None:
            found = self.study.get_trials(deepcopy=False, states=tuple(states) if states else None)
        else:
            found = [t for t in self._snapshot if not states or t.state in states]
        return [t for t in found if t.user_attrs.get(MARK)]

    @contextmanager
    def snapshot(self) -> Iterator["RunStore"]:
        """Reads of the trials inside the block share one read of the storage.

        A coordinator that derives counts, results and the queue from the trials reads
        them once per look instead of once per question; on SQLite every read holds the
        lock that the workers need to store their results. Only for blocks that write
        no trials: their writes would not be seen inside.
        """
        self._snapshot = self.study.get_trials(deepcopy=False)
        try:
            yield self
        finally:
            self._snapshot = None

    def pending(self, where: Callable[[Any], bool] = lambda t: True) -> int:
        """Trials waiting or running that match ``where``."""
        return sum(1 for t in self.trials(PENDING) if where(t))

    @property
    def has_heartbeat(self) -> bool:
        """Whether Optuna's own heartbeat re-queues the trials of dead workers (RDB storages)."""
        return isinstance(self.storage, optuna.storages.RDBStorage)

    @property
    def beats(self) -> bool:
        """Whether workers beat in a user attribute: on every storage processes share.

        The journal has no heartbeat of its own. On RDB storages Optuna's heartbeat only
        watches trials it has recorded a beat for, so a process killed between claiming
        a trial and its first heartbeat would leave the trial running for ever; the
        attribute beat, judged from the moment a watcher first sees the trial, covers it.
        """
        return not isinstance(self.storage, optuna.storages.InMemoryStorage)

    def running(self) -> int:
        """Trials marked running (by a live worker, or by a process that is gone)."""
        return len(self.trials((TrialState.RUNNING,)))

    def requeue_running(self) -> int:
        """Re-queue the pairs left running by a process that is gone (local resume).

        Each running trial is failed, then queued again (:meth:`requeue_unfinished`).
        Returns how many pairs were queued again.
        """
        for t in self.trials((TrialState.RUNNING,)):
            self._fail_claimed(t)
        return self.requeue_unfinished()

    def _fail_claimed(self, trial: Any) -> bool:
        """Fail a running trial, unless it finished or another process failed it first.

        Telling a finished trial is refused by every storage (the journal and the RDB
        storages check the state as they write), so of many processes that saw the
        trial running, exactly one fails it. A result its worker stored in full before
        (``status`` is written last) stands; otherwise the pair is queued again.
        """
        try:
            self.study.tell(trial.number, state=TrialState.FAIL)
        except (ValueError, UpdateFinishedTrialError):
            return False  # already finished: by its worker, or by another process
        return True

    def requeue_unfinished(self) -> int:
        """Queue again every pair whose evaluation ended without a result; returns how many.

        A pair (iteration, pool position) is unfinished when nothing of it waits or runs
        and its latest trial failed without a result: a Ctrl-C stopped it, or a process
        was killed between failing a silent trial and queueing its copy (two writes, so
        state must tell what to redo, not a marker). Its latest trial is queued once
        more (``retry_of`` names it). Two processes may both do so at one moment; the
        later copy is then skipped when popped (:meth:`work`), so a pair is still
        evaluated once.
        """
        every = self.trials()
        superseded = _superseded(every)
        latest: dict[tuple, Any] = {}
        busy = set()
        for t in every:
            key = pair_key(t)
            if key is None or t.user_attrs.get("duplicate"):
                continue
            if t.state in PENDING:
                busy.add(key)
            if t.number not in superseded:
                latest[key] = t
        todo = [t for key, t in latest.items() if key not in busy and "status" not in t.user_attrs]
        self.requeue(todo)
        return len(todo)

    def _taken(self, number: int, key: tuple) -> bool:
        """Whether pair ``key``, popped as trial ``number``, is done or held by another trial.

        Another trial of the pair holds it when it has a result that is not being
        redone, or is waiting or running with a lower number (of two copies queued at
        once, the first is the one evaluated).
        """
        every = self.trials()
        superseded = _superseded(every)
        for t in every:
            if t.number == number or pair_key(t) != key or t.user_attrs.get("duplicate"):
                continue
            if "status" in t.user_attrs and t.state in FINISHED and t.number not in superseded:
                return True
            if t.state in PENDING and t.number < number:
                return True
        return False

    def requeue(self, trials: Sequence[Any]) -> None:
        """Queue finished trials again (e.g. ``--retry-failed``), recording what they retry."""
        for t in trials:
            attrs = {k: v for k, v in t.user_attrs.items() if k in KEEP_ATTRS}
            self.study.enqueue_trial(trial_params(t), user_attrs={**attrs, "retry_of": t.number})

    def import_results(
        self,
        space: SearchSpace,
        configs: Sequence[Config],
        results: Sequence[EvalResult],
        attrs: dict[str, Any],
    ) -> None:
        """Add results measured elsewhere (``--warm-start``) as finished trials."""
        dists = {v.name: distribution(v) for v in space.variables}
        for config, result in zip(configs, results):
            ok = result.status == "ok" and math.isfinite(result.val_acc)
            user = {MARK: True, **attrs, **{k: _jsonable(v) for k, v in result.to_dict().items()}}
            self.study.add_trial(
                optuna.trial.create_trial(
                    params=dict(config),
                    distributions=dists,
                    value=result.val_acc if ok else None,
                    state=TrialState.COMPLETE if ok else TrialState.FAIL,
                    user_attrs=user,
                )
            )

    def out_of_time(self, refresh: float = 30.0) -> bool:
        """Whether the run's time budget (the ``deadline`` meta, Unix seconds) is spent.

        The deadline is read from storage at most every ``refresh`` seconds (workers poll
        this between trials), and always again before answering true, so a budget that
        a resumed coordinator extended is seen.
        """
        now = time.time()
        read_at, deadline = self._deadline
        if now - read_at >= refresh or (deadline is not None and now >= deadline):
            value = self.meta("deadline")
            deadline = None if value is None else float(value)
            self._deadline = (now, deadline)
        return deadline is not None and now >= deadline

    def fail_stale(self, every: float = 0.0) -> int:
        """Re-queue the pairs of workers that stopped beating, or stopped without a result.

        ``every``: look at most this often (seconds; a coordinator polling in a loop
        passes about a second, and looks again without it before it concludes anything
        from an empty queue).

        RDB storages: Optuna's heartbeat fails the trials it watches. On every shared
        storage, the attribute beats (see the class doc) fail the rest, each failing a
        compare-and-set so that of many processes one wins. Then every pair left
        without a result is queued again (:meth:`requeue_unfinished`). In-memory
        storages have no other process and re-queue nothing. Returns how many pairs
        were queued again.
        """
        if self._snapshot is not None:
            raise RuntimeError("fail_stale writes trials: not inside a snapshot")
        if time.monotonic() - self._stale_at < every:
            return 0
        self._stale_at = time.monotonic()
        if self.has_heartbeat:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # marked experimental since Optuna 2.9
                optuna.storages.fail_stale_trials(self.study)
        if not self.beats:
            return 0
        now, running = time.monotonic(), self.trials((TrialState.RUNNING,))
        self._beats = {t.number: self._beats.get(t.number, (None, now)) for t in running}
        for t in running:
            beat = t.user_attrs.get("beat")
            seen, since = self._beats[t.number]
            if beat != seen or since == now:
                self._beats[t.number] = (beat, now)
            elif now - since >= GRACE_S:
                self._fail_claimed(t)
        return self.requeue_unfinished()

    def _beat(self, trial: optuna.Trial) -> Callable[[], None]:
        """Start beating in ``trial``'s ``beat`` attribute; returns the function that stops it."""
        if not self.beats:
            return lambda: None
        done = threading.Event()
        trial.set_user_attr("beat", time.time())

        def loop() -> None:
            while not done.wait(HEARTBEAT_S):
                try:
                    trial.set_user_attr("beat", time.time())
                except Exception:  # finished meanwhile, or the file is gone: stop beating
                    return

        thread = threading.Thread(target=loop, name=f"beat-{trial.number}", daemon=True)
        thread.start()

        def stop() -> None:
            done.set()
            thread.join()

        return stop

    # -- work ------------------------------------------------------------------------------
    def work(
        self,
        space: SearchSpace,
        evaluate: Callable[..., EvalResult],
        stop: Callable[[], bool],
        poll: float = 0.5,
    ) -> int:
        """Evaluate queued trials until ``stop()`` is true and nothing is waiting.

        A run's time budget (the ``deadline`` meta, Unix seconds) also ends the loop
        before the next trial starts; trials still queued then stay queued for a resume.

        Args:
            space: the run's space (gives each param its distribution).
            evaluate: ``evaluate(config, max_epochs, on_epoch) -> EvalResult``.
            stop: called when the queue is empty; true ends the loop.
            poll: seconds between looks at an empty queue.

        Returns:
            The number of trials this call evaluated.
        """
        dists = {v.name: distribution(v) for v in space.variables}
        done = 0  # pairs this call evaluated (not pops that found another worker's trial)
        claimed: list[int] = []  # the trial number of the current pop

        def objective(trial: optuna.Trial) -> float:
            nonlocal done
            claimed[:] = [trial.number]
            if not trial.user_attrs.get(MARK):
                trial.set_user_attr("empty", True)  # popped nothing: another worker won the race
                raise optuna.TrialPruned()
            key = pair_key(trial)
            if key is not None and self._taken(trial.number, key):
                trial.set_user_attr("duplicate", True)  # a second copy of a re-queued pair
                raise optuna.TrialPruned()
            stop_beat = self._beat(trial)
            try:
                config = {name: _suggest(trial, name, d) for name, d in dists.items()}
                trial.set_user_attr("worker", WORKER_ID)
                max_epochs = trial.user_attrs.get("max_epochs")
                result = evaluate(config, max_epochs, _throttled(trial.report))
            except KeyboardInterrupt:  # Optuna fails the trial; mark it for re-queueing
                trial.set_user_attr("interrupted", True)
                raise
            finally:
                stop_beat()
            record = result.to_dict()
            status = record.pop("status")
            for name, value in record.items():
                trial.set_user_attr(name, _jsonable(value))
            trial.set_user_attr("status", status)  # last: a trial with a status has all its metrics
            done += 1
            if result.status != "ok" or not math.isfinite(result.val_acc):
                raise EvaluationFailed(result.message or result.status)
            return float(result.val_acc)

        while True:
            if self.out_of_time():
                return done
            if not self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                self.fail_stale()
                if self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                    continue
                if stop():
                    return done
                time.sleep(poll)
                continue
            claimed.clear()
            try:
                self.study.optimize(objective, n_trials=1, catch=(EvaluationFailed,), gc_after_trial=False)
            except Exception as exc:
                if _during_interrupt(exc):
                    # a Ctrl-C inside Optuna's own storage writes can surface as another
                    # error raised while unwinding it (an UnboundLocalError in its finally)
                    raise KeyboardInterrupt from exc
                if not isinstance(exc, (UpdateFinishedTrialError, ValueError, AssertionError)):
                    raise
                # Optuna refuses to write a trial another process finished; depending on the
                # moment it raises one of these (an AssertionError from its own bookkeeping)
                trial = self._finished_elsewhere(claimed[0]) if claimed else None
                if trial is None:
                    raise
                fate = (
                    "its result was stored in full and counts"
                    if "status" in trial.user_attrs
                    else "its result is dropped and the pair is evaluated again"
                )
                warnings.warn(
                    f"pair {claimed[0]} was failed by another process while this worker "
                    f"evaluated it (no heartbeat reached the storage for {GRACE_S:g} s: "
                    f"an overloaded or suspended machine); {fate}",
                    stacklevel=2,
                )

    def _finished_elsewhere(self, number: int) -> Any:
        """Trial ``number``, which this process claimed, if another process finished it."""
        trial = self.study.get_trials(deepcopy=False)[number]
        return trial if trial.number == number and trial.state.is_finished() else None

    # -- results -----------------------------------------------------------------------------
    def wall_seconds(self) -> float:
        """Seconds from the first trial's start to the last one's end (0 before any)."""
        trials = [t for t in self.trials(FINISHED) if t.datetime_start and t.datetime_complete]
        if not trials:
            return 0.0
        first = min(t.datetime_start for t in trials)
        return (max(t.datetime_complete for t in trials) - first).total_seconds()

    def results(self, space: SearchSpace) -> pd.DataFrame:
        """One row per evaluated pair: variables, metrics, curve and bookkeeping.

        A trial with a result is left out when an evaluated retry redoes it
        (``retry_of``, e.g. ``--retry-failed``), or when studies of earlier versions
        queued a copy of it (``requeued_from``, Optuna's ``retry_history``). Trials
        without a result (interrupted, failed as silent, empty, duplicate copies) have
        no row.
        """
        every = self.trials()
        trials = [t for t in every if t.state in FINISHED and "status" in t.user_attrs]
        hidden = _superseded(every, retries=trials)  # a retry hides its target once evaluated
        rows = []
        for t in trials:
            if t.number in hidden:
                continue
            row = {name: t.params.get(name) for name in space.names}
            row.update({k: v for k, v in t.user_attrs.items() if k not in (MARK, "extra")})
            row["trial"] = t.number
            rows.append(row)
        return pd.DataFrame(rows)


REPORT_EVERY_S = 1.0  # live per-epoch accuracy is written at most this often per trial


def _during_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while a KeyboardInterrupt unwound (its context chain)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__context__ or cause.__cause__
    return False


def _throttled(report: Callable[[float, int], None]) -> Callable[[int, float], None]:
    """``on_epoch(epoch, acc)`` that reports to Optuna at most every :data:`REPORT_EVERY_S`.

    The full curve is stored with the result; the reports are for watching a run live,
    and a pair whose epochs take milliseconds (a table lookup) would otherwise write one
    transaction per epoch.
    """
    last = [-math.inf]

    def on_epoch(epoch: int, acc: float) -> None:
        now = time.monotonic()
        if now - last[0] >= REPORT_EVERY_S:
            last[0] = now
            report(acc, epoch)

    return on_epoch


KEEP_ATTRS = (MARK, "iteration", "max_epochs", "pool_index")


def pair_counts(store: "RunStore", iteration: int | None = None) -> tuple[int, int]:
    """Pairs of the run (of one ``iteration``, or all: imported ones included) and those
    still waiting or running; a re-queued pair's copies count once."""
    trials = [
        t
        for t in store.trials()
        if t.user_attrs.get("iteration") is not None and iteration in (None, t.user_attrs["iteration"])
    ]
    key = lambda t: (t.user_attrs["iteration"], t.user_attrs.get("pool_index", -1 - t.number))  # noqa: E731
    return len({key(t) for t in trials}), len({key(t) for t in trials if t.state in PENDING})


def pair_key(trial: Any) -> tuple | None:
    """A trial's pair in its run, ``(iteration, pool_index)``; ``None`` outside a pool."""
    attrs = trial.user_attrs
    if not attrs.get(MARK) or "iteration" not in attrs or "pool_index" not in attrs:
        return None
    return attrs["iteration"], attrs["pool_index"]


def _superseded(trials: Sequence[Any], retries: Sequence[Any] | None = None) -> set[int]:
    """Numbers of the trials another trial redoes: ``retry_of`` (named by ``retries``,
    default every trial), and in studies of earlier versions ``requeued_from`` or
    Optuna's ``retry_history`` after a stale heartbeat (whose ``failed_trial`` names
    only the first of a chain)."""
    out = {
        t.user_attrs["retry_of"]
        for t in (trials if retries is None else retries)
        if "retry_of" in t.user_attrs
    }
    for t in trials:
        if "requeued_from" in t.user_attrs:
            out.add(t.user_attrs["requeued_from"])
        out.update(t.system_attrs.get("retry_history", ()))
    return out


class EvaluationFailed(Exception):
    """An evaluation that ended ``diverged`` or ``failed`` (stored as a failed trial)."""


def trial_params(trial: Any) -> dict[str, Any]:
    """A trial's pair: its enqueued (fixed) params, completed by those it suggested.

    A trial interrupted while suggesting holds only some params; the enqueued ones are
    whole, so a re-queue or a look-up never sees half a pair.
    """
    return {**trial.system_attrs.get("fixed_params", {}), **trial.params}


def _suggest(trial: optuna.Trial, name: str, dist) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step)
    return trial.suggest_float(name, dist.low, dist.high, log=dist.log)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return value


SAMPLERS = {"tpe": "TPESampler", "random": "RandomSampler"}


class SamplerSession:
    """Ask/tell with an Optuna sampler over a space, for reference strategies.

    Optuna proposes and jointnas evaluates. :meth:`ask` draws trials on an in-memory
    study (kept running while the batch is drawn, so a constant-liar sampler spreads a
    batch) and then closes them as failed: they are proposals, not results.
    :meth:`tell` adds each measured config as a completed trial (failed when its score is
    not finite). So the completed trials are exactly the results told, in order, and a
    session rebuilt from the same results proposes the same configs for the same seed.

    Args:
        space: the space (each variable gets its Optuna distribution).
        sampler: ``tpe`` or ``random``.
        seed: seed of the sampler (each :meth:`ask` may pass its own).
        params: keyword arguments of the Optuna sampler class.

    Raises:
        ConfigError: unknown sampler name or sampler argument.
    """

    def __init__(
        self,
        space: SearchSpace,
        sampler: str = "tpe",
        seed: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        from ..errors import ConfigError

        if sampler not in SAMPLERS:
            raise ConfigError(f"unknown sampler {sampler!r} (allowed: {', '.join(SAMPLERS)})")
        self.space, self.sampler, self.params = space, sampler, dict(params or {})
        self.dists = {v.name: distribution(v) for v in space.variables}
        try:
            self.study = optuna.create_study(
                storage=optuna.storages.InMemoryStorage(), direction="maximize", sampler=self._sampler(seed)
            )
        except TypeError as exc:
            raise ConfigError(f"bad argument for Optuna's {SAMPLERS[sampler]}: {exc}") from None

    def _sampler(self, seed: int | None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental-feature warnings (multivariate, ...)
            return getattr(optuna.samplers, SAMPLERS[self.sampler])(seed=seed, **self.params)

    def ask(self, n: int, seed: int | None = None) -> list[Config]:
        """Propose ``n`` configs (``seed``: reseed the sampler for this call first)."""
        if seed is not None:
            self.study.sampler = self._sampler(seed)
        trials = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # independent-sampling fallback notices
            for _ in range(n):
                trials.append(self.study.ask(self.dists))
        configs = [self.space.validate({name: t.params[name] for name in self.dists}) for t in trials]
        for t in trials:
            self.study.tell(t, state=TrialState.FAIL)
        return configs

    def tell(self, configs: Sequence[Config], scores: Sequence[float]) -> None:
        """Add measured configs as finished trials (higher scores are better)."""
        for config, score in zip(configs, scores):
            ok = score is not None and math.isfinite(float(score))
            self.study.add_trial(
                optuna.trial.create_trial(
                    params={name: _optuna_value(config[name]) for name in self.dists},
                    distributions=self.dists,
                    value=float(score) if ok else None,
                    state=TrialState.COMPLETE if ok else TrialState.FAIL,
                )
            )


def _optuna_value(value: Any) -> Any:
    """A plain Python scalar (Optuna refuses numpy scalars in categorical params)."""
    return value.item() if hasattr(value, "item") else value

"""Coarse search: constrained iterative optimization with an accuracy predictor (FBNetV3).

1. Draw a Sobol pool of (arch, recipe) pairs and drop those that break the constraints.
2. Iteration 1 trains a space-filling batch for the full recipe and picks the early-stop
   epoch by rank correlation (:mod:`~jointnas.search.early_stop`).
3. Each later iteration refits the predictor on every finished pair (target: accuracy
   at the early-stop epoch), scores the rest of the pool and trains the top batch only
   up to the early-stop epoch.

Every pair is an Optuna trial in the run's storage (:mod:`~jointnas.search.study`), so
a killed run resumes where it stopped and workers on other machines can join.

Example:
    >>> settings = load_settings("configs/demo.yaml", iterations=2)   # doctest: +SKIP
    >>> result = CoarseSearch(settings).run()                        # doctest: +SKIP
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..data.space import SearchSpace
from ..data.space_io import read_space, write_yaml
from ..data.tables import read_table, write_table
from ..errors import ConfigError, SearchError
from .candidates import CandidateSet, row_keys
from .early_stop import EarlyStop, accuracy_at, choose_epoch, plot_tau
from .evaluators import EvalResult, TableEvaluator, make_evaluator
from .pool import draw_pool
from .refits import AsyncMode
from .schedule import BATCH
from .settings import SearchSettings
from .strategies.predictor_guided import PredictorGuided
from .study import RunStore, pair_counts, trial_params
from .workers import start_local_workers

TARGET = "acc"  # samples.csv column the predictor learns: accuracy at the early-stop epoch


@dataclass
class CoarseResult:
    """What a coarse run produced."""

    samples: pd.DataFrame
    best: dict[str, Any] | None
    early_stop: EarlyStop | None
    run_dir: Path
    final: pd.DataFrame | None = None
    queued: int = 0  # pairs left queued when the time budget ran out (a resume evaluates them)
    refits: int = 0  # asynchronous mode: predictor fits that chose pairs
    fit_seconds: float = 0.0  # their total time and the pretraining's (the coordinator's share)
    wall_seconds: float = 0.0  # first trial start to last trial end


class CoarseSearch(AsyncMode):
    """Run (or resume) one coarse search.

    Args:
        settings: the run's settings.
        progress: show tqdm progress bars.
    """

    def __init__(self, settings: SearchSettings, progress: bool = True) -> None:
        self.settings = settings
        self.progress = progress
        self.space: SearchSpace = read_space(settings.space)
        self.limits = {**self.space.constraints, **settings.constraints}
        self.evaluator = make_evaluator(self.space, settings.evaluator)
        self.run_dir = settings.run_dir
        self.schedule = settings.schedule
        self._workers: list = []  # local worker processes of the current run

    # -- setup ---------------------------------------------------------------------------
    def open_store(self) -> RunStore:
        """Open the run's study and check it belongs to this space."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        store = RunStore(self.settings.storage_url, self.settings.name)
        found = store.meta("fingerprint")
        if found is None:
            store.set_meta("fingerprint", self.space.fingerprint())
            store.set_meta("space", self.space.to_dict())
            store.set_meta("settings", _plain_settings(self.settings))
        elif found != self.space.fingerprint():
            raise SearchError(
                f"run '{self.settings.name}' was made with space fingerprint {found}, "
                f"but {self.settings.space} has {self.space.fingerprint()}: use another "
                "--name or the original space",
                self.settings.storage_url,
            )
        store.set_meta("finished", False)
        return store

    def candidates(self) -> CandidateSet:
        """The pool: the table's rows for a table evaluator, else a feasible Sobol pool."""
        if isinstance(self.evaluator, TableEvaluator):
            if self.settings.zero_cost:
                raise ConfigError(
                    "zero_cost is computed for a Sobol pool of the train evaluator; "
                    "a table evaluator's table can carry proxy columns instead "
                    "(name them in predictor: {features: [...]})"
                )
            return CandidateSet(self.space, pool=self.evaluator.pool(), limits=self.limits)
        pool = draw_pool(self.space, self.schedule.pool, seed=self.settings.seed, limits=self.limits)
        if self.settings.zero_cost:
            pool = self._with_zero_cost(pool)
        return CandidateSet(self.space, pool=pool, limits=self.limits)

    def _with_zero_cost(self, pool: pd.DataFrame) -> pd.DataFrame:
        """The pool with its architectures' zero-cost proxies, computed once per run.

        Cached in ``zero_cost.csv`` of the run folder (the pool's architecture columns
        and the proxies); a cache of another pool, space or proxy list is recomputed.
        """
        from ..recipes.zero_cost import check_proxies, zero_cost_scores

        names = check_proxies(self.settings.zero_cost, "zero_cost")
        arch = pool[list(self.space.arch_names)].reset_index(drop=True)
        path = self.run_dir / "zero_cost.csv"
        cached = read_table(path) if path.is_file() else None
        if (
            cached is not None
            and len(cached) == len(arch)
            and set(names) <= set(cached.columns)
            and cached[arch.columns].astype(str).equals(arch.astype(str))
        ):
            scores = cached[names]
        else:
            bundle = self.evaluator.bundle() if hasattr(self.evaluator, "bundle") else None
            self._say(f"zero-cost proxies {', '.join(names)} of {len(arch):,} pool architectures")
            start = time.perf_counter()
            scores = zero_cost_scores(
                self.space,
                arch,
                bundle,
                proxies=names,
                seed=self.settings.seed,
                progress=self.progress,
                workers=max(1, self.settings.workers),
            )
            self._say(
                f"zero-cost proxies: {time.perf_counter() - start:.1f} s "
                f"({scores['zero_cost_seconds'].mean() * 1e3:.0f} ms per architecture)"
            )
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_table(pd.concat([arch, scores], axis=1), path)
        new = [n for n in names if n not in pool.columns]  # flops, params: the pool has them
        return pd.concat([pool.reset_index(drop=True), scores[new].reset_index(drop=True)], axis=1)

    # -- the run --------------------------------------------------------------------------
    def run(
        self,
        resume: bool = False,
        retry_failed: bool = False,
        warm_start: pd.DataFrame | None = None,
        warm_start_where: str | None = None,
    ) -> CoarseResult:
        """Run all iterations (continuing a stored run), write the outputs and return them.

        Args:
            resume: trials left running by a killed process are re-queued at once
                (without it, the heartbeat re-queues them after its grace period).
            retry_failed: evaluate again the pairs whose evaluation failed.
            warm_start: earlier results (a sample table) to learn from.
            warm_start_where: its file name, for errors.

        Raises:
            JointNASError: bad settings, constraints, dataset or warm-start table, all
                before anything is written.
        """
        s = self.settings
        self._say(f"{s.name}: drawing the pool and checking the dataset")
        candidates = self.candidates()  # infeasible constraints fail here, before any storage
        self._candidates = candidates
        self.evaluator.check()  # and a dataset that cannot fit the space
        imported = (
            None if warm_start is None else self._warm_results(warm_start, warm_start_where)
        )  # and a bad table
        predictor = {**s.predictor, **({"features": tuple(s.zero_cost)} if s.zero_cost else {})}
        strategy = PredictorGuided(
            candidates,
            seed=s.seed,
            n_init=self.schedule.start,
            explore=s.explore,
            selection=s.selection,  # and bad predictor settings here
            pretrain_targets=s.pretrain_targets,
            predictor_params=predictor,
        )
        store = self.open_store()
        store.requeue_unfinished()  # pairs a Ctrl-C or a kill stopped are evaluated again, once
        if resume:
            store.requeue_running()
        if retry_failed:
            store.requeue([t for t in store.trials() if t.user_attrs.get("status") == "failed"])
        if imported is not None and not store.meta("warm_started"):
            store.import_results(self.space, *imported, {"iteration": 0, "imported": True})
            store.set_meta("warm_started", True)
        self._say_resumed(store)
        deadline = None if s.budget_hours is None else time.time() + s.budget_hours * 3600
        store.set_meta("deadline", deadline)
        workers = start_local_workers(s.storage_url, s.name, s.workers)
        self._workers = workers
        try:
            if self.schedule.mode == BATCH:
                self._run_batches(store, strategy, candidates, bool(workers))
            else:
                self._run_async(store, strategy, candidates, bool(workers))
        finally:
            store.set_meta("finished", True)
            for proc in workers:
                proc.join(timeout=30)
                if proc.is_alive():
                    proc.terminate()
        return self._finish(store, strategy)

    def _run_batches(
        self, store: RunStore, strategy: PredictorGuided, candidates: CandidateSet, remote: bool
    ) -> None:
        """FBNetV3's loop: ``iterations`` rounds of ``batch`` pairs, a refit between rounds."""
        for it in range(1, self.schedule.iterations + 1):
            if not self._start_round(store, strategy, candidates, it, self._batch_size(store)):
                break
            self._evaluate(store, it, remote)
            if store.out_of_time():
                break
            if it == 1:
                self._after_start(store)
            self.write_samples(store)

    def _start_round(
        self, store: RunStore, strategy: PredictorGuided, candidates: CandidateSet, it: int, size: int
    ) -> bool:
        """Queue round ``it`` (topping up one a kill cut short); false when nothing is left."""
        have, _ = pair_counts(store, it)  # pairs, not their copies
        planned = store.meta(f"batch_{it}", have or None)
        if planned is None:
            if size == 0:
                return False
            planned = size
            store.set_meta(f"batch_{it}", planned)  # before enqueuing: a kill mid-way is topped up
        if have < planned:
            measured = len(self.samples(store))
            self._say(
                f"iteration {it}: choosing {planned - have} pair(s) of {len(candidates):,}"
                + (f" with the predictor fit on {measured} measured" if it > 1 else " (Sobol start)")
            )
            self._enqueue(store, it, self._choose(store, strategy, planned - have))
        return True

    def _after_start(self, store: RunStore) -> None:
        """After the full-schedule start set: choose the early-stop epoch once."""
        if self.settings.early_stop and store.meta("early_stop") is None:
            self._choose_early_stop(store)

    def _batch_size(self, store: RunStore) -> int:
        """Pairs the next batch-mode round gets: the batch, or what the budget leaves."""
        if store.out_of_time():
            return 0
        n = self.schedule.refit_every
        if self.schedule.budget is not None:
            n = min(n, self.schedule.budget - len(store.results(self.space)) - store.pending())
        return max(n, 0)

    def early_stop(self, store: RunStore) -> EarlyStop | None:
        """The stored early-stop choice, if any."""
        data = store.meta("early_stop")
        return EarlyStop(**data) if data else None

    def _choose(self, store: RunStore, strategy: PredictorGuided, n: int) -> list[int]:
        """Pool positions of the next ``n`` pairs, from a predictor fit on the finished ones."""
        return self._choose_from(strategy, n, self.samples(store), self._every(store))

    def _choose_from(
        self, strategy: PredictorGuided, n: int, samples: pd.DataFrame, every: pd.DataFrame
    ) -> list[int]:
        """Pool positions of ``n`` pairs not in ``every``, from a fit on ``samples``.

        Every pair already queued, running or finished (``every``) counts as chosen. The
        fit sees the finished pairs in a stable order (not trial numbers, which a re-queue
        changes), so the same results give the same choice after a resume.
        """
        strategy.history.clear()
        strategy.proposed.clear()  # what the study holds, not what earlier plans ranked
        done = samples[samples["status"] == "ok"] if len(samples) else samples
        if len(done):
            strategy.tell(self.space.configs(done), done[TARGET].to_numpy(dtype=float))
        if len(every):
            strategy.proposed.update(int(k) for k in row_keys(self.space, every))
        configs = strategy.ask(n)
        return [int(p) for p in strategy.candidates.positions(self.space.frame(configs))]

    def _every(self, store: RunStore) -> pd.DataFrame:
        """The params of every pair in the study (queued, running or finished)."""
        every = [trial_params(t) for t in store.trials()]
        return self.space.frame(every) if every else pd.DataFrame(columns=list(self.space.names))

    def _enqueue(self, store: RunStore, it: int, positions: list[int], full: bool | None = None) -> None:
        """Queue pool rows as round ``it``: trained in full (default: round 1 only) or up to
        the early stop."""
        if not positions:
            return
        pool = self._candidates.pool
        configs = self.space.configs(pool.iloc[positions])
        stop = self.early_stop(store)
        full = it == 1 if full is None else full
        max_epochs = stop.epoch if (not full and stop is not None) else None
        store.enqueue(
            configs, [{"iteration": it, "max_epochs": max_epochs, "pool_index": int(p)} for p in positions]
        )

    def _evaluate(self, store: RunStore, it: int, remote: bool) -> None:
        """Evaluate the iteration's queue here (or wait for the workers) until it is done."""
        total, left = pair_counts(store, it)
        bar = tqdm(total=total, desc=f"iteration {it}", unit="pair", disable=not self.progress)
        bar.update(total - left)

        def evaluate(config, max_epochs, on_epoch) -> EvalResult:
            result = self.evaluator.evaluate(config, max_epochs=max_epochs, on_epoch=on_epoch)
            bar.update(1)
            bar.set_postfix(acc=f"{result.val_acc:.3f}", status=result.status)
            return result

        try:
            while not store.out_of_time():
                if not remote:  # this process evaluates too (again after a re-queue)
                    store.work(self.space, evaluate, stop=lambda: True)
                total, left = pair_counts(store, it)  # counted before the re-queue: a pair that
                if store.fail_stale(every=0.0 if not left else 1.0):  # a worker's Ctrl-C or
                    continue  # death ends meanwhile is not lost (a fresh look before the end)
                bar.total, bar.n = total, total - left  # each pair once, however often re-queued
                bar.refresh()
                if not left:
                    break
                self._check_workers()
                time.sleep(0.25)
        finally:
            bar.close()

    def _check_workers(self) -> None:
        """Raise when every local worker has exited: nobody would evaluate the queue.

        Raises:
            SearchError: naming their exit codes; the queued pairs stay queued, and the
                next run of the command evaluates them.
        """
        workers = self._workers
        if workers and not any(p.is_alive() for p in workers):
            codes = ", ".join(str(p.exitcode) for p in workers)
            raise SearchError(
                f"all {len(workers)} local worker(s) exited (exit codes {codes}; "
                "their errors are printed above); the pairs left stay queued: "
                "fix the cause and run the command again"
            )

    def _choose_early_stop(self, store: RunStore) -> None:
        samples = self.samples(store)
        first = samples[(samples["iteration"] == 1) & (samples["status"] == "ok")]
        s = self.settings
        stop = choose_epoch(
            [_curve(r) for r in first["curve"]],
            s.threshold,
            min_runs=s.early_stop_min_runs,
            hold=s.early_stop_hold,
        )
        if stop is None:
            warnings.warn(
                f"early stop: {len(first)} full-schedule run(s) finished in iteration "
                f"1, the choice needs {s.early_stop_min_runs} (early_stop_min_runs): "
                "later pairs train their full schedule (raise start, or batch in "
                "batch mode, or set early_stop: false to say so)",
                stacklevel=2,
            )
            return
        store.set_meta("early_stop", stop.__dict__)
        stop.save(self.run_dir / "early_stop.json")  # its plot is drawn at the end (_finish):
        # the workers wait for the first refit meanwhile

    def _warm_results(self, table: pd.DataFrame, where: str | None) -> tuple[list, list]:
        """Configs and results of a warm-start table, checked whole (errors name ``where``)."""
        from ..data.tables import validate_table

        validate_table(table, self.space, where=where, require=("val_acc",))
        evaluator = TableEvaluator(self.space, table, where=where)
        configs = self.space.configs(table)
        return configs, [evaluator.evaluate(c) for c in configs]

    # -- outputs --------------------------------------------------------------------------
    def samples(self, store: RunStore) -> pd.DataFrame:
        """Every evaluated pair with its curve, metrics and the predictor target ``acc``."""
        raw = store.results(self.space)
        if raw.empty:
            return pd.DataFrame(columns=[*self.space.names, "status", "iteration", "curve", TARGET])
        stop = self.early_stop(store)
        epoch = stop.epoch if stop else None
        raw[TARGET] = [
            accuracy_at(_curve(c), epoch) if _curve(c) else (v if v is not None else np.nan)
            for c, v in zip(raw["curve"], raw["val_acc"])
        ]
        raw.loc[raw["status"] != "ok", TARGET] = np.nan
        # a stable order (not trial numbers, which a re-queued pair changes): the same
        # finished results give the same predictor fit and the same next pairs after a resume
        keys = [k for k in ("iteration", "pool_index", "trial") if k in raw.columns]
        return raw.sort_values(keys, kind="stable").reset_index(drop=True)

    def write_samples(self, store: RunStore) -> pd.DataFrame:
        """Write ``samples.csv`` (curves as ``acc_e1..`` columns) and return the samples."""
        samples = self.samples(store)
        table = samples.drop(columns=["curve"], errors="ignore")
        if len(samples):
            longest = max((len(_curve(c)) for c in samples["curve"]), default=0)
            for k in range(longest):
                table[f"acc_e{k + 1}"] = [
                    (_curve(c)[k] if len(_curve(c)) > k else np.nan) for c in samples["curve"]
                ]
        write_table(table, self.run_dir / "samples.csv")
        return samples

    def _finish(self, store: RunStore, strategy: PredictorGuided) -> CoarseResult:
        samples = self.write_samples(store)
        stop = self.early_stop(store)
        if stop is not None:
            plot_tau(stop, self.run_dir / "tau_by_epoch.png")
        ok = samples[samples["status"] == "ok"]
        best = None
        if len(ok):
            strategy.history.clear()
            strategy.tell(self.space.configs(ok), ok[TARGET].to_numpy(dtype=float))
            if len(ok) >= 2:
                self._say(f"fitting the final predictor on {len(ok)} measured pairs")
                strategy.refit().save(self.run_dir / "predictor.pt")
            top = ok.loc[ok[TARGET].idxmax()]
            best = self.space.configs(pd.DataFrame([top]))[0]
            write_yaml(best, self.run_dir / "best.yaml")
        final = self._final_eval(best) if self.settings.final_eval and best else None
        plans = store.meta("plans") or []
        return CoarseResult(
            samples=samples,
            best=best,
            early_stop=self.early_stop(store),
            run_dir=self.run_dir,
            final=final,
            queued=store.pending(),
            refits=len(plans),
            fit_seconds=sum(p["seconds"] for p in plans) + (store.meta("pretrain_seconds") or 0.0),
            wall_seconds=store.wall_seconds(),
        )

    def _say(self, message: str) -> None:
        """One line on stderr for a step without a progress bar (nothing with progress off)."""
        if self.progress:
            tqdm.write(message, file=sys.stderr)

    def _say_resumed(self, store: RunStore) -> None:
        """What a continued run starts from."""
        done, queued = len(store.results(self.space)), store.pending()
        if done or queued:
            self._say(f"{self.settings.name}: continuing with {done} pair(s) measured and {queued} queued")

    def _final_eval(self, best: dict[str, Any]) -> pd.DataFrame:
        """Train the found pair and the space's default pair for their full schedules."""
        rows = {"found": best}
        if self.space.default:
            rows["default"] = self.space.default
        out = []
        for label, config in rows.items():
            r = self.evaluator.evaluate(config)
            out.append(
                {
                    "pair": label,
                    "val_acc": r.val_acc,
                    "test_acc": r.test_acc,
                    "flops": r.flops,
                    "params": r.params,
                    "epochs": r.epochs_run,
                    "seconds": r.seconds,
                    "status": r.status,
                }
            )
        return pd.DataFrame(out)


def _curve(value: Any) -> list[float]:
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value if v is not None]
    return []


def _plain_settings(settings: SearchSettings) -> dict[str, Any]:
    data = settings.to_dict()
    data["space"] = str(Path(settings.space).resolve())
    for key in ("table", "checkpoint"):  # workers may start in another directory
        if data["evaluator"].get(key):
            data["evaluator"][key] = str(Path(data["evaluator"][key]).resolve())
    return data

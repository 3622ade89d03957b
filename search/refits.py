"""Asynchronous coarse search: a refit after every few finished pairs while workers train.

The start set is trained in full (it also picks the early-stop epoch); then each refit
ranks every pair still to choose, its ranking is stored before any of its pairs is
queued, and the queue is kept as long as the workers are many. With local workers the
fits run in a background thread, so nobody waits for a batch: until the first fit has
ranked anything, idle workers take further space-filling pairs (trained to the early
stop; at most as many again as the start set and a quarter of the budget). In one
process the fits run between evaluations, which makes the run a function of its seed
and its results.
"""

from __future__ import annotations

import threading
import time
import warnings
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from .candidates import CandidateSet, row_keys
from .evaluators import EvalResult
from .strategies.predictor_guided import PredictorGuided
from .strategies.qmc import SobolStream
from .study import RunStore, pair_counts


class AsyncMode:
    """Coarse search's asynchronous mode, mixed into
    :class:`~jointnas.search.coarse.CoarseSearch` (it uses the search's storage helpers)."""

    def _run_async(
        self, store: RunStore, strategy: PredictorGuided, candidates: CandidateSet, remote: bool
    ) -> None:
        """The start set in full, then a refit after every ``refit_every`` finished pairs.

        Pairs of fit ``k`` are round ``k + 1`` (the start set is round 1). Each fit ranks
        every pair still to choose and is stored (``plan_k`` meta: the pool rows in its
        order; ``plans``: how many results it saw, its seconds) before any of its pairs
        is queued, so a resumed run continues the same plan. The queue is topped up from
        the latest plan whenever fewer pairs are waiting than running. With local
        workers, the fit runs in a thread while they train the previous plan's pairs;
        while the first fit (or the pretraining) runs, the queue is topped up with
        further space-filling pairs of the start set's Sobol sequence instead (round 1,
        trained to the early stop; at most ``min(start, budget // 4)`` of them).
        """
        plan = self.schedule
        chosen, _ = pair_counts(store)
        size = plan.start if plan.budget is None else min(plan.start, plan.budget - chosen)
        if not self._start_round(store, strategy, candidates, 1, max(size, 0)) and not chosen:
            return
        fitting: _Task | None = None
        pretraining: _Task | None = None
        if remote and strategy.predictor is None:  # pretraining needs no results:
            pretraining = _Task(_timed, strategy.prepare)  # overlap it with the start set
        self._evaluate(store, 1, remote)
        if store.out_of_time():
            return
        self._after_start(store)
        self.write_samples(store)
        bar = tqdm(total=plan.budget, desc="pairs", unit="pair", disable=not self.progress)

        def evaluate(config, max_epochs, on_epoch) -> EvalResult:
            result = self.evaluator.evaluate(config, max_epochs=max_epochs, on_epoch=on_epoch)
            bar.set_postfix(acc=f"{result.val_acc:.3f}", status=result.status)
            return result

        local = 2 * len(self._workers)
        filling: SobolStream | None = None  # the start set's sequence, continued
        # space-filling pairs beyond the start set while the first fit runs: at most as
        # many again as the start set, and a quarter of the budget
        extra = plan.start if plan.budget is None else min(plan.start, plan.budget // 4)
        try:
            while not store.out_of_time():
                if store.fail_stale(every=1.0):
                    continue
                if pretraining is not None and pretraining.done():
                    store.set_meta("pretrain_seconds", pretraining.result())
                    pretraining = None
                with store.snapshot():  # one read of the trials per look
                    samples = self.samples(store)
                    chosen, pending = pair_counts(store)
                    started, _ = pair_counts(store, 1)  # the start set and its fillers
                    running = store.running()
                    every = self._every(store)
                # pairs kept waiting or running: as many waiting as are running (workers
                # that joined from elsewhere too), so a worker that finishes finds one
                depth = max(1, local, 2 * running)
                bar.n = len(samples)
                bar.refresh()
                if plan.budget is not None and chosen >= plan.budget and not pending:
                    if store.fail_stale():  # a fresh look before concluding: none is lost
                        continue
                    break
                plans = store.meta("plans") or []
                if fitting is not None and fitting.done():
                    plans = self._store_plan(store, plans, fitting.result())
                    fitting = None
                taken = set(candidates.positions(every).tolist())
                ranked = store.meta(f"plan_{len(plans)}", []) if plans else []
                queue = [p for p in ranked if p not in taken]
                after = plans[-1]["after"] if plans else -1
                if (
                    fitting is None
                    and pretraining is None
                    and (
                        not plans
                        or len(samples) >= after + plan.refit_every
                        or (not queue and len(samples) > after)
                    )
                ):
                    # rank every pair still to choose (a fit slower than the workers leaves
                    # them the older plan's next best, not an empty queue)
                    size = (
                        plan.budget - chosen if plan.budget is not None else 10 * plan.refit_every
                    ) + 2 * depth
                    args = (strategy, size, samples, every)
                    if not remote:
                        self._store_plan(store, plans, self._plan(*args))
                        continue
                    fitting = _Task(self._plan, *args)
                room = depth - pending
                if plan.budget is not None:
                    room = min(room, plan.budget - chosen)
                if room > 0 and queue:
                    self._enqueue(store, len(plans) + 1, queue[:room])
                    continue
                fillers = 0
                if room > 0 and not plans and (fitting or pretraining) is not None:
                    fillers = min(room, extra - (started - (store.meta("batch_1") or started)))
                if fillers > 0:  # no ranking yet: workers train more space-filling pairs meanwhile
                    if filling is None:
                        filling = SobolStream(candidates, strategy.stream.seed)
                        filling.position = strategy.stream.position
                    keys = {int(k) for k in row_keys(self.space, every)} if len(every) else set()
                    found = candidates.positions(filling.next(fillers, keys))
                    if len(found):
                        self._enqueue(store, 1, [int(p) for p in found], full=False)
                        continue
                if not queue and not pending and fitting is None and pretraining is None:
                    if store.fail_stale():
                        continue
                    break  # the pool is used up
                if not remote and pending:
                    store.work(self.space, evaluate, stop=lambda: True)
                else:
                    self._check_workers()
                    busy = fitting or pretraining
                    if busy is not None:
                        busy.wait(0.25)  # a finished fit is used at once
                    else:
                        time.sleep(0.25)
        finally:
            bar.close()
        self.write_samples(store)

    def _plan(
        self, strategy: PredictorGuided, n: int, samples: pd.DataFrame, every: pd.DataFrame
    ) -> dict[str, Any]:
        """One refit: the ``n`` pool rows it ranks first among those not yet chosen."""
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # failed rows in the fit
            positions = self._choose_from(strategy, n, samples, every)
        return {"after": len(samples), "pool": positions, "seconds": round(time.perf_counter() - started, 3)}

    def _store_plan(self, store: RunStore, plans: list, new: dict[str, Any]) -> list:
        """Store a fit's ranking (``plan_K``), then its summary in ``plans``, before any
        of its pairs is queued."""
        store.set_meta(f"plan_{len(plans) + 1}", new.pop("pool"))
        plans = [*plans, new]
        store.set_meta("plans", plans)
        self.write_samples(store)
        self._say(f"refit {len(plans)} on {new['after']} measured pairs ({new['seconds']:.1f} s)")
        return plans


class _Task:
    """A step in a daemon thread: the coordinator goes on meanwhile, and a Ctrl-C does
    not wait for it (a half-done fit is simply redone by the next run)."""

    def __init__(self, step: Any, *args: Any) -> None:
        self._box: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, args=(step, args), daemon=True, name="coarse-fit")
        self._thread.start()

    def _run(self, step: Any, args: tuple) -> None:
        try:
            self._box["value"] = step(*args)
        except BaseException as exc:  # handed to the coordinator by result()
            self._box["error"] = exc

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the step to end."""
        self._thread.join(timeout)

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> Any:
        """The step's return value; raises what it raised."""
        self._thread.join()
        if "error" in self._box:
            raise self._box["error"]
        return self._box["value"]


def _timed(step: Any) -> float:
    """Seconds ``step()`` took."""
    started = time.perf_counter()
    step()
    return round(time.perf_counter() - started, 3)

"""How a coarse run spends its pairs: asynchronous refits (the default) or FBNetV3's batches.

*Asynchronous* (the default): a space-filling start set is trained for the full schedule
(it also chooses the early-stop epoch); then the predictor is refit after every
``refit_every`` finished pairs while the workers keep training the pairs chosen from the
latest fit, so nobody waits for a batch. *Batch* (FBNetV3's synchronous loop, chosen by
giving ``batch`` or ``iterations``): ``iterations`` rounds of ``batch`` pairs, the
predictor refit between rounds.

:func:`budget_rule` sizes the asynchronous run from its budget alone (see README,
"Budget-aware defaults", for the benchmark it was chosen on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

ASYNC, BATCH = "async", "batch"
DEFAULT_BUDGET = 200  # pairs of an asynchronous run given no budget (about FBNetV3's 4 x 48)
PAPER_BATCH, PAPER_ITERATIONS = 48, 4  # FBNetV3's coarse search (ImageNet)
POOL_MIN, POOL_PER_PAIR, POOL_MAX = 20_000, 100, 200_000


@dataclass(frozen=True)
class Schedule:
    """The resolved plan of a coarse run.

    Attributes:
        mode: ``"async"`` or ``"batch"``.
        budget: pairs to evaluate (``None``: until the time budget or the pool runs out).
        start: space-filling pairs trained first, for the full schedule.
        refit_every: finished pairs between predictor refits (batch mode: the batch).
        iterations: rounds of batch mode (``None`` in asynchronous mode).
        pool: Sobol pool size.
    """

    mode: str
    budget: int | None
    start: int
    refit_every: int
    iterations: int | None
    pool: int

    def describe(self) -> str:
        """One line for the run's log."""
        if self.mode == BATCH:
            return f"{self.iterations} iteration(s) of {self.refit_every} pairs (batch mode)"
        budget = f"{self.budget} pairs" if self.budget else "until the time budget"
        return (
            f"{budget}: {self.start} space-filling pairs in full, then a predictor refit "
            f"after every {self.refit_every} finished pairs"
        )


def budget_rule(budget: int) -> dict[str, int]:
    """Start size, refit cadence and pool size of an asynchronous run of ``budget`` pairs.

    About an eighth of the budget as the start set (8 to 48 pairs: the early-stop choice
    needs at least 8 full runs, FBNetV3 starts with 48), about 20 refits whatever the
    budget (every 2 pairs at 50, every 10 at 200, every 100 at 2,000), and a pool of 100
    candidates per pair (20k to 200k).
    """
    return {
        "start": min(budget, max(8, min(48, round(budget / 8)))),
        "refit_every": max(2, min(100, round(budget / 20))),
        "pool": max(POOL_MIN, min(POOL_MAX, POOL_PER_PAIR * budget)),
    }


def resolve(settings: Any) -> Schedule:
    """The schedule of a :class:`~jointnas.search.settings.SearchSettings`.

    Raises:
        ConfigError: batch-mode and asynchronous-only keys together, or a start set or
            refit cadence larger than the budget (naming the key and the allowed range).
    """
    s = settings
    batch_keys = [k for k in ("batch", "iterations") if getattr(s, k) is not None]
    async_keys = [k for k in ("start", "refit_every") if getattr(s, k) is not None]
    if batch_keys and async_keys:
        raise ConfigError(
            f"{' and '.join(batch_keys)} choose the batch mode (FBNetV3's rounds), "
            f"{' and '.join(async_keys)} the asynchronous one: give one or the other"
        )
    if batch_keys:
        batch = s.batch or PAPER_BATCH
        iterations = s.iterations or PAPER_ITERATIONS
        return Schedule(BATCH, s.budget_trials, batch, batch, iterations, s.pool or POOL_MIN)
    budget = (
        s.budget_trials
        if s.budget_trials is not None
        else (None if s.budget_hours is not None else DEFAULT_BUDGET)
    )
    rule = budget_rule(budget or DEFAULT_BUDGET)
    start = s.start if s.start is not None else rule["start"]
    refit = s.refit_every if s.refit_every is not None else rule["refit_every"]
    if budget is not None:
        for key, value in (("start", start), ("refit_every", refit)):
            if value > budget:
                raise ConfigError(
                    f"{key}={value} is larger than the budget of {budget} pairs "
                    f"(allowed: 1 to {budget}; or raise the budget)"
                )
    return Schedule(ASYNC, budget, start, refit, None, s.pool or rule["pool"])

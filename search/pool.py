"""Candidate pools: Sobol draws of (arch, recipe) pairs with their costs, cut to the constraints."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from ..data.space import SearchSpace
from ..errors import SearchError

CostFn = Callable[[SearchSpace, pd.DataFrame], pd.DataFrame]


def model_costs(space: SearchSpace, frame: pd.DataFrame) -> pd.DataFrame:
    """Analytic FLOPs and params of each pair (empty frame for tabular spaces)."""
    if space.model is None:
        return pd.DataFrame(index=frame.index)
    from ..recipes.cost import space_costs

    return space_costs(space, frame).set_index(frame.index)


def feasible(costs: pd.DataFrame, limits: dict[str, float]) -> np.ndarray:
    """Boolean mask of rows whose every named cost is within its upper limit.

    Raises:
        SearchError: a limit names a cost that is not available.
    """
    mask = np.ones(len(costs), dtype=bool)
    for name, limit in limits.items():
        if name not in costs.columns:
            raise SearchError(
                f"constraint '{name}' cannot be checked: available costs are "
                f"{', '.join(costs.columns) or 'none (the space has no model)'}"
            )
        mask &= costs[name].to_numpy() <= limit
    return mask


def draw_pool(
    space: SearchSpace,
    n: int,
    seed: int | None = 0,
    limits: dict[str, float] | None = None,
    qmc: bool = True,
    cost_fn: CostFn = model_costs,
) -> pd.DataFrame:
    """Draw ``n`` pairs, add their costs and keep the feasible ones.

    Args:
        space: the joint space.
        n: pairs to draw (before the constraint cut).
        seed: Sobol scramble (or random) seed.
        limits: upper limits on costs; defaults to the space's constraints.
        qmc: scrambled Sobol when true, uniform random otherwise.
        cost_fn: computes cost columns for a frame of pairs.

    Returns:
        A DataFrame of feasible pairs with cost columns and ``pool_index`` (draw order).

    Raises:
        SearchError: no drawn pair satisfies the limits (naming the smallest cost seen).
    """
    limits = space.constraints if limits is None else limits
    frame = space.sample_qmc(n, seed, frame=True) if qmc else space.sample(n, seed, frame=True)
    pool, mask = _with_costs(space, frame, 0, limits, cost_fn)
    if not mask.any():
        raise _infeasible(pool, limits, n)
    return pool[mask].reset_index(drop=True)


def draw_feasible(
    space: SearchSpace,
    n: int,
    seed: int | None = 0,
    limits: dict[str, float] | None = None,
    qmc: bool = True,
    max_draws: int | None = None,
    cost_fn: CostFn = model_costs,
) -> tuple[pd.DataFrame, int]:
    """Draw pairs until ``n`` satisfy the limits, or until ``max_draws`` pairs were drawn.

    Pairs are drawn in rounds (``n``, then doubling) continuing one Sobol sequence (or
    one random stream), so the result is the first ``n`` feasible pairs in draw order.

    Args:
        space: the joint space.
        n: feasible pairs wanted.
        seed: Sobol scramble (or random) seed.
        limits: upper limits on costs; defaults to the space's constraints.
        qmc: scrambled Sobol when true, uniform random otherwise.
        max_draws: most pairs drawn in all (default :func:`default_max_draws` of ``n``).
        cost_fn: computes cost columns for a frame of pairs.

    Returns:
        ``(pool, drawn)``: at most ``n`` feasible pairs with cost columns and
        ``pool_index`` (draw order), and how many pairs were drawn. Fewer than ``n`` rows
        means ``max_draws`` was reached first.

    Raises:
        SearchError: no drawn pair satisfies the limits (naming the smallest cost seen).
    """
    limits = space.constraints if limits is None else limits
    budget = max(n, max_draws or default_max_draws(n))
    if qmc and seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])  # one sequence for all rounds
    rng = None if qmc else np.random.default_rng(seed)
    parts: list[pd.DataFrame] = []
    found = drawn = 0
    while found < n and drawn < budget:
        size = min(max(n, drawn), budget - drawn)
        frame = (
            space.sample_qmc(size, seed, frame=True, skip=drawn)
            if qmc
            else space.sample(size, rng, frame=True)
        )
        pool, mask = _with_costs(space, frame, drawn, limits, cost_fn)
        parts.append(pool.assign(_ok=mask))
        found += int(mask.sum())
        drawn += size
    every = pd.concat(parts, ignore_index=True)
    if found == 0:
        raise _infeasible(every, limits, drawn)
    ok = every[every.pop("_ok").to_numpy()]
    return ok.head(n).reset_index(drop=True), drawn


DRAWS_PER_PAIR = 100
MIN_DRAWS = 4096


def default_max_draws(n: int) -> int:
    """Most pairs :func:`draw_feasible` draws for ``n`` feasible ones by default.

    ``DRAWS_PER_PAIR`` per pair wanted, at least ``MIN_DRAWS``: a constraint that fewer
    than 1% of the space meets is reported rather than drawn for without end.
    """
    return max(DRAWS_PER_PAIR * n, MIN_DRAWS)


def _with_costs(
    space: SearchSpace, frame: pd.DataFrame, start: int, limits: dict[str, float], cost_fn: CostFn
) -> tuple[pd.DataFrame, np.ndarray]:
    """``frame`` with its cost columns and ``pool_index`` from ``start``, and the feasible mask."""
    costs = cost_fn(space, frame)
    pool = pd.concat([frame, costs], axis=1)
    pool.insert(0, "pool_index", np.arange(start, start + len(pool)))
    return pool, feasible(costs, limits)


def _infeasible(pool: pd.DataFrame, limits: dict[str, float], drawn: int) -> SearchError:
    smallest = ", ".join(f"{k} >= {pool[k].min():.4g} (limit {v:.4g})" for k, v in limits.items())
    return SearchError(f"no pair of the {drawn} drawn satisfies the constraints: smallest {smallest}")

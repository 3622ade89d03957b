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
            raise SearchError(f"constraint '{name}' cannot be checked: available costs are "
                              f"{', '.join(costs.columns) or 'none (the space has no model)'}")
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
    costs = cost_fn(space, frame)
    pool = pd.concat([frame, costs], axis=1)
    pool.insert(0, "pool_index", np.arange(len(pool)))
    mask = feasible(costs, limits)
    if not mask.any():
        smallest = ", ".join(f"{k} >= {costs[k].min():.4g} (limit {v:.4g})" for k, v in limits.items())
        raise SearchError(f"no pair of the {n} drawn satisfies the constraints: smallest {smallest}")
    return pool[mask].reset_index(drop=True)

"""The set of pairs a search may propose: the whole space, or a finite pool, within limits.

Search strategies draw and check candidates through a :class:`CandidateSet`, so the same
strategy works on an open space (every valid config whose costs meet the limits) and on
a finite pool (the rows of a measured table, or a Sobol pool cut to the constraints).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.space import SearchSpace, as_rng
from ..errors import SearchError
from .pool import CostFn, feasible, model_costs


def row_keys(space: SearchSpace, frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit key per row that identifies the config (floats compared to ~1e-9)."""
    unit = np.rint(space.to_unit(frame) * 2.0**30)
    unit = np.nan_to_num(unit, nan=-1.0).astype(np.int64)
    return pd.util.hash_pandas_object(pd.DataFrame(unit), index=False).to_numpy()


class CandidateSet:
    """Feasible pairs of a space, optionally restricted to a finite pool.

    Args:
        space: the joint space.
        pool: a frame of allowed pairs (variable columns; cost columns are reused when
            present). ``None`` allows every config of the space.
        limits: upper limits on costs; defaults to the space's constraints.
        cost_fn: computes cost columns for pairs not in a pool.
    """

    def __init__(
        self,
        space: SearchSpace,
        pool: pd.DataFrame | None = None,
        limits: dict[str, float] | None = None,
        cost_fn: CostFn = model_costs,
    ) -> None:
        self.space = space
        self.limits = dict(space.constraints if limits is None else limits)
        self.cost_fn = cost_fn
        self.pool: pd.DataFrame | None = None
        self._index: dict[int, int] = {}
        if pool is not None:
            pool = pool.reset_index(drop=True)
            if self.limits:
                costs = self._pool_costs(pool)
                pool = pool[feasible(costs, self.limits)].reset_index(drop=True)
            if pool.empty:
                raise SearchError(f"no pair of the pool satisfies the constraints {self.limits}")
            self.pool = pool
            self._index = {int(k): i for i, k in enumerate(row_keys(space, pool))}

    def _pool_costs(self, pool: pd.DataFrame) -> pd.DataFrame:
        names = [k for k in self.limits if k in pool.columns]
        if len(names) == len(self.limits):
            return pool[names]
        return self.cost_fn(self.space, pool[list(self.space.names)])

    def __len__(self) -> int:
        return len(self.pool) if self.pool is not None else int(min(self.space.size(), 2**62))

    def positions(self, frame: pd.DataFrame) -> np.ndarray:
        """Pool row of each config (-1 where it is not in the pool); all -1 without a pool."""
        if self.pool is None:
            return np.full(len(frame), -1, dtype=np.int64)
        return np.array([self._index.get(int(k), -1) for k in row_keys(self.space, frame)], dtype=np.int64)

    def feasible(self, frame: pd.DataFrame) -> np.ndarray:
        """Mask of configs that may be proposed: in the pool (if any) and within the limits."""
        if self.pool is not None:
            return self.positions(frame) >= 0
        if not self.limits:
            return np.ones(len(frame), dtype=bool)
        return feasible(self.cost_fn(self.space, frame), self.limits)

    def sample(self, n: int, seed=None, exclude: set[int] | None = None) -> pd.DataFrame:
        """Draw up to ``n`` distinct feasible configs, avoiding keys in ``exclude``.

        From a pool, rows are drawn without replacement; from an open space, uniform
        draws are filtered by the limits (rejection sampling, bounded effort).
        """
        rng = as_rng(seed)
        exclude = exclude or set()
        if self.pool is not None:
            keys = row_keys(self.space, self.pool)
            free = np.flatnonzero([int(k) not in exclude for k in keys])
            pick = rng.choice(free, size=min(n, len(free)), replace=False)
            return self.pool.iloc[pick][list(self.space.names)].reset_index(drop=True)
        chunks, have, tries = [], 0, 0
        while have < n and tries < 50:
            draw = self.space.sample(max(4 * (n - have), 64), rng, frame=True)
            draw = draw[self.feasible(draw)]
            keys = row_keys(self.space, draw)
            keep = ~pd.Series(keys).duplicated().to_numpy() & np.array(
                [int(k) not in exclude for k in keys], dtype=bool
            )
            draw = draw[keep]
            exclude = exclude | {int(k) for k in keys[keep]}
            chunks.append(draw)
            have += len(draw)
            tries += 1
        if not chunks or have == 0:
            raise SearchError(f"no feasible pair found under the constraints {self.limits}")
        return pd.concat(chunks, ignore_index=True).iloc[:n].reset_index(drop=True)

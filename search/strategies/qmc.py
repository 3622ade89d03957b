"""Quasi-random search: successive points of one scrambled Sobol sequence (space-filling)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ..candidates import CandidateSet, row_keys
from .base import Strategy
from .registry import register


class SobolStream:
    """Feasible configs along a scrambled Sobol sequence, resumable by position.

    On an open space, Sobol points are mapped to configs and infeasible ones skipped; on
    a finite pool, each point takes the nearest pool row (in the unit cube) not yet used.
    """

    def __init__(self, candidates: CandidateSet, seed: int | None) -> None:
        self.candidates = candidates
        self.seed = seed
        self.position = 0
        self._tree: cKDTree | None = None

    def next(self, n: int, exclude: set[int]) -> pd.DataFrame:
        """Up to ``n`` feasible configs whose keys are not in ``exclude``."""
        space, pool = self.candidates.space, self.candidates.pool
        chunks, have = [], 0
        exclude = set(exclude)
        for _ in range(20):
            m = max(2 * (n - have), 16)
            draw = space.sample_qmc(m, self.seed, frame=True, skip=self.position)
            self.position += m
            if pool is not None:
                draw = self.nearest_rows(draw, exclude)
            else:
                draw = draw[self.candidates.feasible(draw)]
            keys = row_keys(space, draw)
            keep = ~pd.Series(keys).duplicated().to_numpy()
            keep &= np.array([int(k) not in exclude for k in keys], dtype=bool)
            exclude |= {int(k) for k in keys[keep]}
            chunks.append(draw[keep])
            have += int(keep.sum())
            if have >= n:
                break
        if not chunks:
            return pd.DataFrame(columns=list(space.names))
        return pd.concat(chunks, ignore_index=True).iloc[:n]

    def nearest_rows(self, draw: pd.DataFrame, exclude: set[int]) -> pd.DataFrame:
        """For each config, the nearest pool row (unit cube) whose key is not in ``exclude``."""
        space, pool = self.candidates.space, self.candidates.pool
        if self._tree is None:
            self._tree = cKDTree(space.to_unit(pool))
            self._keys = row_keys(space, pool)
        k = min(32, len(pool))
        _, idx = self._tree.query(space.to_unit(draw), k=k)
        idx = np.atleast_2d(idx)
        rows, taken = [], set(exclude)
        for cand in idx:
            free = [int(i) for i in cand if int(self._keys[i]) not in taken]
            if free:
                rows.append(free[0])
                taken.add(int(self._keys[free[0]]))
        return pool.iloc[rows][list(space.names)].reset_index(drop=True)


@register
class QMCSearch(Strategy):
    """Scrambled Sobol points in order: evenly spread, no learning."""

    name = "qmc"

    def __init__(self, candidates: CandidateSet, *, seed: int | None = None) -> None:
        super().__init__(candidates, seed=seed)
        self.stream = SobolStream(candidates, seed)

    def propose(self, n: int) -> pd.DataFrame:
        return self.stream.next(n, self.proposed)

    def extra_state(self) -> dict[str, Any]:
        return {"position": self.stream.position}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.stream = SobolStream(self.candidates, self.seed)
        self.stream.position = int(state.get("position", 0))

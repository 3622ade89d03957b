"""Optuna's TPE sampler behind ask/tell: the reference model-based strategy.

Each ``ask`` reseeds the sampler from the strategy's own generator and draws from an
in-memory Optuna study holding every result told so far (:class:`SamplerSession` in the
Optuna adapter). On a finite pool, a proposal that is not a pool row is projected onto
the nearest pool row not yet proposed, and the score told back is the projected row's,
so TPE learns from what was really measured. On an open space, infeasible or repeated
proposals are drawn again (a few rounds; the base class fills any shortfall at random).

Because the study's completed trials are exactly the told results, resuming replays
the history into a fresh session; the generator state then gives the same next ask.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...data.space import SearchSpace
from ...data.variables import Categorical
from ..candidates import CandidateSet, row_keys
from ..study import SamplerSession
from .base import Strategy
from .registry import register


class PoolProjector:
    """Nearest not-yet-used pool row of each config, in a mixed distance.

    Ordered variables (integers, floats) count their distance on the unit scale (log
    scale when ``log``); a categorical counts 1 when the choice differs. The unit-cube
    position of a categorical is only its declaration order, so it is not used.

    Args:
        candidates: a candidate set with a finite pool.
    """

    def __init__(self, candidates: CandidateSet) -> None:
        self.space: SearchSpace = candidates.space
        self.pool = candidates.pool[list(self.space.names)].reset_index(drop=True)
        self.weights = np.concatenate(
            [
                np.full(v.width, np.sqrt(0.5) if isinstance(v, Categorical) else 1.0, dtype=np.float32)
                for v in self.space.variables
            ]
        )
        self.points = self.space.encode(self.pool) * self.weights
        self.keys = row_keys(self.space, self.pool)

    def project(self, frame: pd.DataFrame, exclude: set[int], rng: np.random.Generator) -> pd.DataFrame:
        """One pool row per config of ``frame`` (ties broken at random), skipping ``exclude``.

        Rows are taken in order and never twice; fewer rows come back when the pool runs out.
        """
        used = np.array([int(k) in exclude for k in self.keys], dtype=bool)
        queries = self.space.encode(frame) * self.weights
        rows = []
        for q in queries:
            if used.all():
                break
            dist = ((self.points - q) ** 2).sum(axis=1)
            dist[used] = np.inf
            ties = np.flatnonzero(dist <= dist.min() + 1e-9)
            pick = int(ties[rng.integers(len(ties))]) if len(ties) > 1 else int(ties[0])
            rows.append(pick)
            used[pick] = True
        return self.pool.iloc[rows].reset_index(drop=True)


@register
class TPESearch(Strategy):
    """Tree-structured Parzen estimator (Optuna's ``TPESampler``, its defaults by default).

    Args:
        candidates: what may be proposed.
        seed: seed of the strategy's generator (each ask reseeds the sampler from it).
        sampler_params: keyword arguments of ``optuna.samplers.TPESampler``
            (``n_startup_trials``, ``multivariate``, ``constant_liar``, ...).
        rounds: draws per ask on an open space to replace infeasible or repeated proposals.
    """

    name = "tpe"

    def __init__(
        self,
        candidates: CandidateSet,
        *,
        seed: int | None = None,
        sampler_params: dict[str, Any] | None = None,
        rounds: int = 3,
    ) -> None:
        super().__init__(candidates, seed=seed)
        self.sampler_params = dict(sampler_params or {})
        self.rounds = rounds
        self._session: SamplerSession | None = None
        self._projector: PoolProjector | None = None

    def session(self) -> SamplerSession:
        """The Optuna session, rebuilt from the history when first needed."""
        if self._session is None:
            self._session = SamplerSession(self.space, "tpe", seed=self.seed, params=self.sampler_params)
            if self.history:
                configs, scores = zip(*self.history)
                self._session.tell(configs, scores)
        return self._session

    def propose(self, n: int) -> pd.DataFrame:
        session = self.session()
        if self.candidates.pool is not None:
            draw = self.space.frame(session.ask(n, seed=self._sampler_seed()))
            if self._projector is None:
                self._projector = PoolProjector(self.candidates)
            return self._projector.project(draw, self.proposed, self.rng)
        chunks, taken = [], set(self.proposed)
        for _ in range(self.rounds):
            need = n - sum(len(c) for c in chunks)
            if need <= 0:
                break
            draw = self.space.frame(session.ask(need, seed=self._sampler_seed()))
            keys = row_keys(self.space, draw)
            keep = self.candidates.feasible(draw) & ~pd.Series(keys).duplicated().to_numpy()
            keep &= np.array([int(k) not in taken for k in keys], dtype=bool)
            taken |= {int(k) for k in keys[keep]}
            chunks.append(draw[keep])
        return (
            pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=list(self.space.names))
        )

    def observe(self, configs: list[dict], scores: np.ndarray) -> None:
        if self._session is not None:
            self._session.tell(configs, scores)

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self._session = None  # rebuilt from the restored history on the next ask

    def _sampler_seed(self) -> int:
        return int(self.rng.integers(2**31 - 1))

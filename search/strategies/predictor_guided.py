"""Predictor-guided search, the core of the coarse stage.

The first batch is space-filling (Sobol). Afterwards every ``ask`` refits the accuracy
predictor on all results so far (reusing the encoder pretrained once on architecture
costs), scores every remaining candidate and proposes the top ones, optionally adding
``explore`` times the ensemble's spread (an upper-confidence bonus).
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ...errors import ConfigError, PredictorError
from ...predictor.estimator import AccuracyPredictor
from ..candidates import CandidateSet, row_keys
from ..settings import check_selection
from .base import Strategy
from .qmc import SobolStream
from .registry import register


def round_robin(scores: np.ndarray, n: int) -> np.ndarray:
    """Rows picked by members in turn, each taking its best row not yet picked.

    Args:
        scores: ``(members, rows)`` predictions.
        n: rows to pick (at most all of them).

    Returns:
        Row indices in the order they were picked.
    """
    orders = np.argsort(-scores, axis=1, kind="stable")
    n = min(n, scores.shape[1])
    picked: list[int] = []
    taken = np.zeros(scores.shape[1], dtype=bool)
    pointers = [0] * len(orders)
    while len(picked) < n:
        m = len(picked) % len(orders)
        while taken[orders[m, pointers[m]]]:
            pointers[m] += 1
        row = int(orders[m, pointers[m]])
        taken[row] = True
        picked.append(row)
    return np.asarray(picked, dtype=np.int64)


SEARCH_PREDICTOR: dict[str, Any] = {"tree_weight": 0.0}
"""Predictor defaults of a search, over :class:`AccuracyPredictor`'s: no tree blend. The
trees are shared by every member, so they shrink the members' disagreement that Thompson
selection spreads a batch over; on the MNIST-1D table a blend of 0.5 took coarse search
from 87.5 to 146.5 median queries to the best pair
(``benchmarks/results/search_tree_blend.md``)."""


@register
class PredictorGuided(Strategy):
    """Propose the configs with the best predicted accuracy.

    Args:
        candidates: what may be proposed.
        seed: seed of the generator, the Sobol stream and the predictor.
        n_init: results needed before the predictor is used (space-filling until then);
            default: the size of the first ``ask``.
        pool_size: candidates scored per ask on an open space (a fixed Sobol pool);
            a finite pool is scored whole.
        explore: weight of the ensemble standard deviation added to the prediction.
        selection: how a batch is picked from the scores: ``mean`` (the top ``n`` by
            ensemble mean plus ``explore`` x std) or ``thompson`` (members take turns
            adding their own best remaining candidate: each member is one draw from the
            ensemble's posterior, so a batch spreads over the members' beliefs).
        pretrain_targets: cost columns the encoder is pretrained on (``flops, params``
            computed analytically on model spaces; pool columns such as ``params_m``
            on tabular pools); empty to skip pretraining.
        predictor_params: keyword arguments of :class:`AccuracyPredictor`, over
            :data:`SEARCH_PREDICTOR`. Its ``features`` (e.g. zero-cost proxies) are read
            from the finite pool's columns, for the pairs scored and the pairs measured
            alike.
    """

    name = "predictor"

    def __init__(
        self,
        candidates: CandidateSet,
        *,
        seed: int | None = None,
        n_init: int | None = None,
        pool_size: int = 4096,
        explore: float = 0.0,
        selection: str = "mean",
        pretrain_targets: Sequence[str] | None = None,
        predictor_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(candidates, seed=seed)
        self.n_init = n_init
        self.pool_size = pool_size
        self.explore = explore
        check_selection(selection)
        self.selection = selection
        if pretrain_targets is None:
            pretrain_targets = ("flops", "params") if self.space.model is not None else ()
        self.pretrain_targets = tuple(pretrain_targets)
        self.predictor_params = {**SEARCH_PREDICTOR, **(predictor_params or {})}
        self.features = tuple(self.predictor_params.get("features", ()))
        pool = candidates.pool
        missing = [f for f in self.features if pool is None or f not in pool.columns]
        if missing:
            raise ConfigError(
                f"predictor features {', '.join(missing)} must be columns of the candidates' pool"
            )
        try:  # bad predictor settings fail here, before anything is trained
            AccuracyPredictor(self.space).set_params(**self.predictor_params).check_params()
        except (ValueError, PredictorError) as exc:
            raise ConfigError(f"predictor: {exc}") from None
        self.stream = SobolStream(candidates, seed)
        self.predictor: AccuracyPredictor | None = None
        self._scored: pd.DataFrame | None = None

    def propose(self, n: int) -> pd.DataFrame:
        if self.n_init is None:
            self.n_init = n
        finite = sum(np.isfinite(s) for _, s in self.history)
        if len(self.history) < self.n_init or finite < 2:
            return self.stream.next(n, self.proposed)
        self.refit()
        pool = self.scoring_pool()
        keys = row_keys(self.space, pool)
        pool = pool[np.array([int(k) not in self.proposed for k in keys], dtype=bool)]
        if pool.empty:
            return pool
        if self.selection == "thompson":
            return pool.iloc[round_robin(self.predictor.predict_members(pool), n)]
        mean, std = self.predictor.predict(pool, return_std=True)
        score = mean + self.explore * std
        order = np.argsort(-score, kind="stable")[:n]
        return pool.iloc[order]

    def prepare(self) -> AccuracyPredictor:
        """The predictor, its encoder pretrained on the free labels (done once, before the
        first fit; needs no results, so a run can do it while its first pairs train)."""
        if self.predictor is None:
            params = {"seed": self.seed, **self.predictor_params}
            predictor = AccuracyPredictor(self.space, **params)
            self.predictor = predictor
            if self.pretrain_targets:
                self._pretrain()
        return self.predictor

    def refit(self) -> AccuracyPredictor:
        """Fit a predictor on the history (pretraining its encoder on first use)."""
        self.prepare()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # failed rows are expected here
            self.predictor.fit(self._with_features(self.history_frame()), target="score")
        return self.predictor

    def _with_features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with the pool's feature columns of its pairs (NaN outside the pool)."""
        if not self.features or frame.empty:
            return frame
        pool = self.candidates.pool
        positions = self.candidates.positions(frame[list(self.space.names)])
        inside = positions >= 0
        for name in self.features:
            values = np.full(len(frame), np.nan)
            values[inside] = pd.to_numeric(pool[name]).to_numpy(dtype=np.float64)[positions[inside]]
            frame[name] = values
        return frame

    def _pretrain(self) -> None:
        pool = self.candidates.pool
        if pool is not None and all(t in pool.columns for t in self.pretrain_targets):
            self.predictor.pretrain(
                pool, targets=self.pretrain_targets, costs=pool[list(self.pretrain_targets)]
            )
        else:
            self.predictor.pretrain(
                self.scoring_pool(), targets=self.pretrain_targets, costs=self.candidates.cost_fn
            )

    def scoring_pool(self) -> pd.DataFrame:
        """The finite pool, or a fixed feasible Sobol pool of ``pool_size`` configs."""
        if self.candidates.pool is not None:
            return self.candidates.pool[[*self.space.names, *self.features]]
        if self._scored is None:
            stream = SobolStream(self.candidates, None if self.seed is None else self.seed + 1)
            self._scored = stream.next(self.pool_size, set()).reset_index(drop=True)
        return self._scored

    def extra_state(self) -> dict[str, Any]:
        return {"position": self.stream.position, "n_init": self.n_init}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.stream = SobolStream(self.candidates, self.seed)
        self.stream.position = int(state.get("position", 0))
        self.predictor, self._scored = None, None
        self.n_init = state.get("n_init", self.n_init)

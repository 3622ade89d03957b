"""Tree models blended with the network ensemble.

At a few dozen training rows, tree ensembles on the same inputs often rank better than
the networks (``benchmarks/results/predictor_mnist1d.md``); at hundreds the networks lead. The
estimator fits both on the transformed targets and mixes their outputs
(:attr:`~jointnas.predictor.estimator.AccuracyPredictor.tree_weight`).

Trees are not saved: a predictor file keeps their training inputs, and loading refits
them with the same seed (scikit-learn's fits are deterministic given ``random_state``),
so no pickle is ever read.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

TREE_MODELS = ("gbr", "rf")
"""``gbr``: gradient boosting (scikit-learn defaults: 100 depth-3 trees); ``rf``: a
random forest of 200 trees."""


def new_tree_model(name: str, seed: int) -> Any:
    """An unfitted scikit-learn regressor named in :data:`TREE_MODELS`."""
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

    if name == "gbr":
        return GradientBoostingRegressor(random_state=seed)
    if name == "rf":
        return RandomForestRegressor(n_estimators=200, random_state=seed, n_jobs=1)
    raise ValueError(f"unknown tree model {name!r} (allowed: {', '.join(TREE_MODELS)})")


def fit_trees(names: Sequence[str], x: np.ndarray, y: np.ndarray, seed: int) -> list[Any]:
    """Fit one regressor per name on inputs ``x`` and targets ``y``."""
    return [new_tree_model(name, seed).fit(x, y) for name in names]


def predict_trees(models: Sequence[Any], x: np.ndarray) -> np.ndarray:
    """The mean prediction of ``models`` for each row of ``x``, shape ``(n,)``."""
    return np.mean([model.predict(x) for model in models], axis=0)


__all__ = ["TREE_MODELS", "fit_trees", "new_tree_model", "predict_trees"]

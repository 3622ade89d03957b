"""Ranking and regression metrics for accuracy predictors (scipy.stats based).

Conventions shared by every function here:

* Higher accuracy is better: rank 1 is the largest true value, and "top-k" means the
  k largest values.
* Ties: :func:`kendall_tau` is Kendall's tau-b (ties count in neither concordant nor
  discordant pairs, with tau-b's normalisation), :func:`spearman` ranks ties by their
  average rank. In :func:`precision_at_k` and :func:`top_n_rank` ties in the *predicted*
  scores are broken by position (the earlier row first, a stable sort), while ties in
  the *true* values are resolved in the predictor's favour: every row whose true value
  equals the k-th largest counts as true top-k, and tied true values share the best
  (smallest) rank.
* A correlation that is undefined (fewer than two rows, or a constant vector) is
  ``nan``.

Example:
    >>> kendall_tau([1, 2, 3], [10, 30, 20])  # doctest: +ELLIPSIS
    0.333...
    >>> top_n_rank([0.9, 0.8, 0.7], [0.1, 0.3, 0.2], n=1)
    2
"""

from __future__ import annotations

import itertools
import math
from typing import Sequence

import numpy as np
from scipy import stats

ArrayLike = Sequence[float] | np.ndarray


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true, dtype=np.float64).ravel()
    b = np.asarray(y_pred, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"length mismatch: {a.size} true values, {b.size} predictions")
    return a, b


def _corr(value: float) -> float:
    return float(value) if value is not None and math.isfinite(value) else float("nan")


def kendall_tau(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Kendall's tau-b between true values and predictions (``nan`` when undefined)."""
    a, b = _pair(y_true, y_pred)
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return _corr(stats.kendalltau(a, b).statistic)


def spearman(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Spearman rank correlation, ties at their average rank (``nan`` when undefined)."""
    a, b = _pair(y_true, y_pred)
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return _corr(stats.spearmanr(a, b).statistic)


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error."""
    a, b = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((a - b) ** 2))) if a.size else float("nan")


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, ties broken by position (stable)."""
    return np.argsort(-scores, kind="stable")[:k]


def _check_k(k: int, n: int, name: str) -> int:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{name} must be a positive integer, got {k!r}")
    if n == 0:
        raise ValueError("no rows to rank")
    return int(min(k, n))


def precision_at_k(y_true: ArrayLike, y_pred: ArrayLike, k: int) -> float:
    """Fraction of the predicted top-``k`` rows that are in the true top-``k``.

    Rows tied with the k-th largest true value all count as true top-``k``.
    ``k`` larger than the number of rows is clipped (giving 1.0).
    """
    a, b = _pair(y_true, y_pred)
    k = _check_k(k, a.size, "k")
    threshold = np.sort(a)[::-1][k - 1]
    return float(np.mean(a[_top(b, k)] >= threshold))


def true_ranks(y_true: ArrayLike) -> np.ndarray:
    """Rank of each row by true value: 1 for the largest, ties sharing the best rank."""
    a = np.asarray(y_true, dtype=np.float64).ravel()
    return stats.rankdata(-a, method="min").astype(np.int64)


def top_n_rank(y_true: ArrayLike, y_pred: ArrayLike, n: int = 10) -> int:
    """TnR: the best true rank (1 = best) among the ``n`` rows predicted best."""
    a, b = _pair(y_true, y_pred)
    n = _check_k(n, a.size, "n")
    return int(true_ranks(a)[_top(b, n)].min())


def s_tau(scores: Sequence[ArrayLike] | np.ndarray) -> float:
    """S-Tau: mean pairwise Kendall tau between score vectors of different runs or seeds.

    Args:
        scores: two or more score (or ranking) vectors over the same candidates, as a
            list of vectors or a 2-D array with one run per row.

    Returns:
        The mean of Kendall's tau-b over all pairs of runs (``nan`` pairs are skipped;
        ``nan`` if none is defined). High values mean the ranking is stable across runs.
    """
    runs = [np.asarray(s, dtype=np.float64).ravel() for s in scores]
    if len(runs) < 2:
        raise ValueError("s_tau needs at least two score vectors")
    taus = [kendall_tau(x, y) for x, y in itertools.combinations(runs, 2)]
    taus = [t for t in taus if not math.isnan(t)]
    return float(np.mean(taus)) if taus else float("nan")


def gt_tau(scores: ArrayLike | Sequence[ArrayLike], truth: ArrayLike) -> float:
    """GT-Tau: Kendall tau between scores and the ground truth.

    Args:
        scores: one score vector, or several (one per run), whose taus are averaged.
        truth: ground-truth values for the same candidates.
    """
    arr = np.asarray(scores, dtype=np.float64)
    runs = arr[None, :] if arr.ndim == 1 else arr
    taus = [kendall_tau(truth, run) for run in runs]
    taus = [t for t in taus if not math.isnan(t)]
    return float(np.mean(taus)) if taus else float("nan")


METRIC_HELP: dict[str, str] = {
    "n": "rows compared (status ok, with a true value)",
    "kendall_tau": "Kendall's tau-b between true and predicted values (1: same order, 0: none)",
    "spearman": "Spearman rank correlation between true and predicted values",
    "rmse": "root mean squared error, in the target's units",
    "mae": "mean absolute error, in the target's units",
    "precision_at_k": "share of the k rows predicted best that are in the true top k",
    "k": "the top-k size of precision_at_k (default: 10% of the rows)",
    "top_n_rank": "TnR: the best true rank (1 = best) among the n_top rows predicted best",
    "n_top": "how many predicted-best rows top_n_rank looks at",
    "gt_tau": "GT-Tau: Kendall tau between supernet and standalone accuracy, per seed, averaged",
    "gt_tau_of_mean": "GT-Tau of the supernet accuracy averaged over seeds",
    "s_tau": "S-Tau: mean Kendall tau between the rankings of different supernet seeds",
    "t1r": "TnR for n = 1: the standalone rank (1 = best) of the supernet's best, mean over seeds",
    "t3r": "TnR for n = 3: the best standalone rank among the supernet's top 3, mean over seeds",
}
"""What each metric name printed by the CLIs means (``COMMAND --help`` lists them)."""


def explain(names: Sequence[str]) -> str:
    """One ``name: meaning`` line per metric of :data:`METRIC_HELP` among ``names``."""
    return "\n".join(f"  {name}: {METRIC_HELP[name]}" for name in names if name in METRIC_HELP)


def regression_report(
    y_true: ArrayLike, y_pred: ArrayLike, k: int | None = None, n_top: int = 10
) -> dict[str, float]:
    """All metrics of one prediction at once.

    Args:
        y_true: true values.
        y_pred: predicted values or scores.
        k: top-k size for precision (default: 10% of the rows, at least 1).
        n_top: how many predicted-best rows :func:`top_n_rank` looks at.

    Returns:
        ``{"n", "kendall_tau", "spearman", "rmse", "mae", "precision_at_k", "k",
        "top_n_rank", "n_top"}``.
    """
    a, b = _pair(y_true, y_pred)
    n = a.size
    if n == 0:
        raise ValueError("no rows to evaluate")
    k = max(1, n // 10) if k is None else int(k)
    return {
        "n": n,
        "kendall_tau": kendall_tau(a, b),
        "spearman": spearman(a, b),
        "rmse": rmse(a, b),
        "mae": float(np.mean(np.abs(a - b))),
        "precision_at_k": precision_at_k(a, b, k),
        "k": min(k, n),
        "top_n_rank": top_n_rank(a, b, n_top),
        "n_top": min(n_top, n),
    }


__all__ = [
    "METRIC_HELP",
    "explain",
    "gt_tau",
    "kendall_tau",
    "precision_at_k",
    "regression_report",
    "rmse",
    "s_tau",
    "spearman",
    "top_n_rank",
    "true_ranks",
]

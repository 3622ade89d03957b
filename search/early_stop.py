"""Early-stop epoch selection by rank correlation (FBNetV3's first coarse iteration).

A batch is trained for its full schedules. For every epoch ``k``, the batch is ranked by
the accuracy each run had at epoch ``k`` (runs with shorter schedules keep their final
accuracy) and that ranking is compared with the final ranking by Kendall tau. The
early-stop epoch is the first ``k`` whose tau reaches the threshold and stays there for
``hold`` consecutive epochs (a single lucky epoch does not count): training past it
barely changes which pairs look best.

The rule needs enough runs: over ``n`` runs Kendall tau moves in steps of
``2 / (n (n - 1) / 2)`` and its standard deviation under no agreement is about
``sqrt(2 (2n + 5) / (9 n (n - 1)))`` (0.29 for 8 runs; over 2 runs tau is always +-1).
With fewer than ``min_runs`` runs no epoch is chosen.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.stats import kendalltau

from ..data.atomic import atomic_path
from .plots import new_figure, save_figure

MIN_RUNS = 8  # full-schedule runs the rule needs
HOLD = 3  # consecutive epochs the tau must stay at the threshold


@dataclass
class EarlyStop:
    """The chosen epoch and the evidence for it."""

    epoch: int
    threshold: float
    tau_by_epoch: list[float]
    runs: int
    full_epochs_mean: float
    hold: int = 1  # runs stored before the rule had it chose by one epoch

    def saved_fraction(self, epochs: Sequence[int]) -> float:
        """Fraction of epochs saved when runs of these schedule lengths stop at ``epoch``."""
        total = float(np.sum(epochs))
        return 1.0 - float(np.minimum(epochs, self.epoch).sum()) / total if total else 0.0

    def save(self, path: str | Path) -> None:
        """Write as JSON, atomically."""
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(asdict(self), indent=2))


def accuracy_at(curve: Sequence[float], epoch: int | None) -> float:
    """Accuracy after ``epoch`` epochs (the last one for shorter curves; NaN if empty)."""
    if not len(curve):
        return math.nan
    if epoch is None:
        return float(curve[-1])
    return float(curve[min(epoch, len(curve)) - 1])


def tau_by_epoch(curves: Sequence[Sequence[float]]) -> list[float]:
    """Kendall tau between accuracy at each epoch and final accuracy, over the runs."""
    curves = [c for c in curves if len(c)]
    if len(curves) < 2:
        return []
    longest = max(len(c) for c in curves)
    final = np.array([c[-1] for c in curves])
    taus = []
    for k in range(1, longest + 1):
        at_k = np.array([accuracy_at(c, k) for c in curves])
        tau = kendalltau(at_k, final).statistic
        taus.append(1.0 if not np.isfinite(tau) else float(tau))
    return taus


def choose_epoch(
    curves: Sequence[Sequence[float]], threshold: float = 0.9, min_runs: int = MIN_RUNS, hold: int = HOLD
) -> EarlyStop | None:
    """Pick the first epoch from which tau with the final ranking stays >= ``threshold``.

    Args:
        curves: per-epoch validation accuracy of full-schedule runs.
        threshold: the Kendall tau to reach.
        min_runs: fewer runs with curves than this choose nothing.
        hold: epochs in a row (fewer where the schedule ends first) that must reach it.

    Returns:
        ``None`` when fewer than ``min_runs`` (and at least 2) runs have curves.
    """
    lengths = [len(c) for c in curves if len(c)]
    taus = tau_by_epoch(curves)
    if not taus or len(lengths) < max(min_runs, 2):
        return None
    held = lambda k: all(t >= threshold for t in taus[k - 1 : k - 1 + hold])  # noqa: E731
    epoch = next(k for k in range(1, len(taus) + 1) if held(k) or k == len(taus))
    return EarlyStop(
        epoch=epoch,
        threshold=threshold,
        tau_by_epoch=taus,
        runs=len(lengths),
        full_epochs_mean=float(np.mean(lengths)),
        hold=hold,
    )


def plot_tau(stop: EarlyStop, path: str | Path) -> None:
    """Plot tau by epoch with the threshold and the chosen epoch."""
    plt, fig, ax = new_figure((5, 3.2))
    epochs = np.arange(1, len(stop.tau_by_epoch) + 1)
    ax.plot(epochs, stop.tau_by_epoch, marker="o", ms=3)
    ax.axhline(stop.threshold, color="grey", ls="--", lw=1, label=f"threshold {stop.threshold:g}")
    ax.axvline(stop.epoch, color="tab:red", lw=1, label=f"early stop at epoch {stop.epoch}")
    ax.set(
        xlabel="epoch",
        ylabel="Kendall tau vs final",
        ylim=(min(0, min(stop.tau_by_epoch)), 1.02),
        title=f"Ranking agreement over {stop.runs} runs (held {stop.hold} epochs)",
    )
    ax.legend(loc="lower right", fontsize=8)
    save_figure(plt, fig, path)

"""Matplotlib plumbing shared by every plot jointnas writes (headless, atomic PNG files, accuracy
axes) and the run report's plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ..data.atomic import atomic_path
from .display import format_number


def new_figure(size: tuple[float, float] = (5.5, 3.6)) -> tuple[Any, Any, Any]:
    """``(pyplot, figure, axes)`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(figsize=size)


def save_figure(plt: Any, fig: Any, path: str | Path) -> Path:
    """Lay out, write ``path`` as PNG atomically and close the figure."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(path)


def clip_accuracy_axis(
    ax: Any, shown: dict[str, ArrayLike], keep: Sequence[str] = (), fence: float = 3.0
) -> str:
    """Limit the y-axis to the accuracy band where pairs differ, inside [0, 1], with a note.

    A few failed or diverged pairs near chance would otherwise squash that band: values
    below ``Q1 - fence * IQR`` of all values are left below the axis, unless in a group
    named in ``keep`` (the pairs the plot is about), as are values outside [0, 1]. The
    note, written in the axes' lower left corner and returned, counts what is not shown
    per group (``""`` when everything is shown).

    Args:
        ax: the axes.
        shown: plotted accuracies by group name (``{"coarse samples": values, ...}``).
        keep: names of groups that stay visible (within [0, 1]).
        fence: interquartile ranges below the first quartile that still count as the band.
    """
    groups = {k: _finite(v) for k, v in shown.items()}
    values = np.concatenate([np.zeros(0), *groups.values()])
    if not len(values):
        return ""
    kept = np.concatenate([np.zeros(0), *(groups[k] for k in keep if k in groups)])
    q1, q3 = np.percentile(values, [25, 75])
    band = values[values >= q1 - fence * (q3 - q1)]
    high = min(1.0, float(values.max()))
    low = max(0.0, min(float(band.min()), kept.min(initial=np.inf), high))
    pad = 0.04 * max(high - low, 0.01)
    ax.set_ylim(max(0.0, low - pad), min(1.0, high + pad))
    bottom, top = ax.get_ylim()
    parts = [f"{n} {name}" for name, v in groups.items() if (n := int(((v < bottom) | (v > top)).sum()))]
    note = f"not shown (outside {bottom:.2f}-{top:.2f}): " + ", ".join(parts) if parts else ""
    if note:
        ax.text(0.01, 0.01, note, transform=ax.transAxes, fontsize=7, color="0.35", va="bottom")
    return note


def _finite(values: ArrayLike) -> np.ndarray:
    out = np.asarray(values, dtype=float).ravel()
    return out[np.isfinite(out)]


# -- the run report's plots --------------------------------------------------------------------
def draw_pareto(
    ax: Any,
    fine: pd.DataFrame,
    coarse: pd.DataFrame | None = None,
    target: str | None = None,
    verified: pd.DataFrame | None = None,
) -> None:
    """Fine search's score vs FLOPs on ``ax``: the front, the best pair per budget (dotted
    lines: the budgets), coarse samples in grey and verified pairs' measured accuracy
    (mean +- std of the training seeds) beside their prediction.

    The score is the measured accuracy of pairs the run trained, else the prediction
    (``pred_acc`` alone in files written before measured pairs were kept). The y-axis
    keeps to the band where pairs differ (:func:`clip_accuracy_axis`).

    Args:
        ax: the axes.
        fine: ``fine.csv``: ``kind`` (``best``/``pareto``), ``budget``, ``flops``, ``score``.
        coarse: the coarse run's samples, drawn by their ``target`` column.
        target: the samples' accuracy column.
        verified: ``verify.csv``: ``pred_acc``, ``val_acc``, ``val_acc_std``, ``flops``
            and ``kind`` (``default`` for the space's default pair).
    """
    from matplotlib.ticker import FuncFormatter

    shown: dict[str, Any] = {}
    if coarse is not None and target and "flops" in coarse.columns:
        ax.scatter(coarse["flops"], coarse[target], s=10, c="0.7", label=f"coarse samples ({target})")
        shown["coarse samples"] = pd.to_numeric(coarse[target], errors="coerce")
    shown.update(_draw_found(ax, fine))
    if verified is not None and len(verified):
        shown.update(_draw_verified(ax, verified))
    if fine["flops"].max() > 10 * max(fine["flops"].min(), 1):
        ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: format_number(x)))  # 2.5e5, as in tables
    clip_accuracy_axis(ax, shown, keep=("front pairs", "best pairs"))
    ax.set(xlabel="FLOPs", ylabel="accuracy", title="Fine search: accuracy vs FLOPs")
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: "not drawn" in labels[i])  # the count last
    ax.legend(
        [handles[i] for i in order],
        [labels[i] for i in order],
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0,
    )


def _draw_found(ax: Any, fine: pd.DataFrame) -> dict[str, pd.Series]:
    """The Pareto front (a step line), the best pair per budget (stars) and the budgets."""
    score = "score" if "score" in fine.columns else "pred_acc"
    front = fine[fine["kind"] == "pareto"].sort_values("flops")
    ax.step(front["flops"], front[score], where="post", c="tab:blue", lw=1)
    ax.scatter(front["flops"], front[score], s=14, c="tab:blue", label="Pareto front")
    best = fine[fine["kind"] == "best"]
    ax.scatter(best["flops"], best[score], marker="*", s=140, c="tab:red", zorder=3, label="best per budget")
    for i, b in enumerate(best["budget"].dropna()):
        ax.axvline(b, c="tab:red", ls=":", lw=0.8, label="FLOPs budget" if i == 0 else None)
    return {"front pairs": front[score], "best pairs": best[score]}


def _draw_verified(ax: Any, verified: pd.DataFrame) -> dict[str, pd.Series]:
    """Verified pairs (the default pair apart): hollow predicted markers, measured mean +- std,
    a line between them. Pairs without a measurement are counted in the legend."""
    acc = pd.to_numeric(verified["val_acc"], errors="coerce")
    default = (
        verified["kind"].eq("default")
        if "kind" in verified.columns
        else pd.Series(False, index=verified.index)
    )
    missing = int(acc.isna().sum())
    values = []
    for rows, name, colour, marker in (
        (verified[~default], "verified", "tab:green", "o"),
        (verified[default], "default pair", "tab:purple", "s"),
    ):
        rows = rows[pd.to_numeric(rows["val_acc"], errors="coerce").notna()]
        if rows.empty:
            continue
        numbers = rows.reindex(columns=["flops", "pred_acc", "val_acc", "val_acc_std"])
        flops, pred, mean, std = (pd.to_numeric(numbers[c], errors="coerce") for c in numbers.columns)
        std = std.fillna(0.0)  # one run: no spread
        ax.vlines(flops, np.fmin(pred, mean), np.fmax(pred, mean), colors=colour, lw=0.8, alpha=0.6)
        ax.scatter(
            flops,
            pred,
            s=40,
            marker=marker,
            facecolors="none",
            edgecolors=colour,
            zorder=4,
            label=f"{name}: predicted",
        )
        ax.errorbar(
            flops,
            mean,
            yerr=std,
            fmt=marker,
            ms=4,
            c=colour,
            capsize=3,
            zorder=4,
            label=f"{name}: measured (mean ± std)",
        )
        values += [mean - std, mean + std, pred]
    if missing:
        ax.plot([], [], ls="none", label=f"{missing} verified pairs failed (not drawn)")
    return {"verified pairs": pd.concat(values)} if values else {}


def plot_pred_vs_true(frame: pd.DataFrame, tau: float, method: str, path: Path) -> None:
    """Predicted vs measured accuracy of held-out trials, with the diagonal."""
    plt, fig, ax = new_figure((4.2, 4.0))
    ax.scatter(frame["true"], frame["pred"], s=14)
    low = float(min(frame["true"].min(), frame["pred"].min()))
    high = float(max(frame["true"].max(), frame["pred"].max()))
    ax.plot([low, high], [low, high], c="0.6", ls="--", lw=1)
    ax.set(xlabel="measured accuracy", ylabel="predicted accuracy", title=f"{method}: Kendall tau {tau:.3f}")
    save_figure(plt, fig, path)


def plot_acc_over_trials(samples: pd.DataFrame, target: str, path: Path) -> None:
    """Accuracy of every trial in order, coloured by iteration, with the running best."""
    plt, fig, ax = new_figure()
    rows = samples.sort_values("trial") if "trial" in samples.columns else samples
    acc = pd.to_numeric(rows[target], errors="coerce").to_numpy(dtype=float)
    order = np.arange(1, len(rows) + 1)
    its = rows["iteration"].to_numpy() if "iteration" in rows.columns else np.ones(len(rows))
    for it in sorted(pd.unique(its)):
        sel = its == it
        ax.scatter(order[sel], acc[sel], s=14, label=f"iteration {it}")
    ax.plot(
        order, np.fmax.accumulate(np.where(np.isfinite(acc), acc, -np.inf)), c="k", lw=1, label="best so far"
    )
    ax.set(xlabel="trial", ylabel=target, title="Accuracy over trials")
    ax.legend(fontsize=8, loc="lower right")
    save_figure(plt, fig, path)

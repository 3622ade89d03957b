"""Verification: train pairs for real, possibly with several seeds, and compare with predictions.

The measurement of a verified pair is ``val_acc`` (mean over the training seeds' full
schedules, spread ``val_acc_std``; ``test_acc`` alike); its prediction is ``pred_acc``.
:func:`verified_tau` is the one definition of how well the two agree, used by
``search fine --verify`` and ``search report`` alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..data.space import SearchSpace
from ..errors import JointNASError
from ..predictor.metrics import kendall_tau
from .display import format_number
from .fine import budget_label

VERIFY_COLUMNS = (
    "kind",
    "budget",
    "pred_acc",
    "val_acc",
    "val_acc_std",
    "test_acc",
    "test_acc_std",
    "flops",
    "params",
    "status",
)  # the columns printed for verified pairs
MIN_TAU_PAIRS = 3  # measured pairs below which a Kendall tau says nothing


def verify_pairs(
    space: SearchSpace,
    evaluators: Sequence[Any],
    pairs: pd.DataFrame,
    progress: bool = True,
    desc: str = "verify",
) -> pd.DataFrame:
    """Evaluate pairs for real (full schedules), once per evaluator (e.g. per training
    seed), next to their ``pred_acc``.

    Args:
        space: the pairs' space.
        evaluators: one per training seed.
        pairs: the variables, ``pred_acc`` and any other columns (kept). A
            ``measured_acc`` column (fine search's coarse-run accuracy, blank for pairs
            the run never trained) is renamed ``coarse_acc``: the measurement here is
            ``val_acc``.
        progress: show a tqdm bar (runs done; the epoch of the run in progress).
        desc: the bar's label.

    Returns:
        The pairs with ``val_acc`` and ``test_acc`` (means over the runs that finished),
        ``val_acc_std`` and ``test_acc_std`` (their standard deviations; NaN for one
        run), ``status`` (``ok`` when every run is; else the first other status, with
        its ``message``), ``runs`` (runs that finished), ``epochs_run`` and ``seconds``
        (all runs).
    """
    from tqdm.auto import tqdm

    rows = []
    with tqdm(total=len(pairs) * len(evaluators), desc=desc, unit="run", disable=not progress) as bar:
        on_epoch = lambda epoch, acc: bar.set_postfix_str(f"epoch {epoch}, val_acc {acc:.4f}")  # noqa: E731
        for config in space.configs(pairs):
            runs = []
            for evaluator in evaluators:
                runs.append(_verify_once(evaluator, config, on_epoch))
                bar.update(1)
            rows.append(_summarize_runs(pd.DataFrame(runs)))
    pairs = pairs.rename(columns={"measured_acc": "coarse_acc"}).reset_index(drop=True)
    return pd.concat([pairs, pd.DataFrame(rows)], axis=1)


def _verify_once(evaluator: Any, config: dict[str, Any], on_epoch: Any) -> dict[str, Any]:
    try:
        r = evaluator.evaluate(config, on_epoch=on_epoch)
        return {
            "val_acc": r.val_acc,
            "test_acc": r.test_acc,
            "status": r.status,
            "epochs_run": r.epochs_run,
            "seconds": r.seconds,
            "message": r.message,
            "threads": r.threads,
        }
    except JointNASError as exc:  # e.g. a pair the table evaluator has not measured
        return {
            "val_acc": np.nan,
            "test_acc": np.nan,
            "status": "failed",
            "epochs_run": 0,
            "seconds": 0.0,
            "message": str(exc),
            "threads": None,
        }


def _summarize_runs(runs: pd.DataFrame) -> dict[str, Any]:
    ok = runs[runs["status"] == "ok"]
    bad = runs[runs["status"] != "ok"]
    val = pd.to_numeric(ok["val_acc"], errors="coerce")
    test = pd.to_numeric(ok["test_acc"], errors="coerce")
    return {
        "val_acc": val.mean(),
        "val_acc_std": val.std(ddof=1),  # NaN below 1 and 2 finished runs
        "test_acc": test.mean(),
        "test_acc_std": test.std(ddof=1),
        "status": "ok" if bad.empty else bad["status"].iloc[0],
        "runs": len(ok),
        "epochs_run": int(runs["epochs_run"].iloc[0]),
        "seconds": float(runs["seconds"].sum()),
        "message": "" if bad.empty else bad["message"].iloc[0],
        "threads": runs["threads"].iloc[0],
    }


@dataclass(frozen=True)
class VerifiedTau:
    """Kendall tau between predicted (``pred_acc``) and measured (``val_acc``) accuracy.

    Attributes:
        tau: the tau over the measured pairs; NaN below :data:`MIN_TAU_PAIRS` of them
            or when either side has no ranking (all values equal).
        measured: verified pairs that count: every run ok, finite ``val_acc`` and
            ``pred_acc``. The space's default pair (``--compare-default``) counts like
            any other: it has a prediction and a measurement.
        total: verified pairs, the default included.
        default: whether a default pair is among them.
    """

    tau: float
    measured: int
    total: int
    default: bool = False

    def line(self) -> str:
        """``Kendall tau, predicted (pred_acc) vs measured (val_acc): 0.333 over all 4 verified pairs``."""
        head = "Kendall tau, predicted (pred_acc) vs measured (val_acc)"
        if self.measured < MIN_TAU_PAIRS:
            return (
                f"{head}: - (fewer than {MIN_TAU_PAIRS} verified pairs measured: {self.measured} "
                f"of {self.total} with every run ok)"
            )
        over = f"all {self.total}" if self.measured == self.total else f"{self.measured} of {self.total}"
        over += " verified pairs" + ("" if self.measured == self.total else " (those with every run ok)")
        over += ", the default pair included" if self.default else ""
        if self.tau != self.tau:
            return f"{head}: - over {over} (the measured or predicted values are all equal)"
        return f"{head}: {self.tau:.3f} over {over}"


def verified_tau(verified: pd.DataFrame) -> VerifiedTau:
    """How well predictions rank the verified pairs: the one definition (see :class:`VerifiedTau`)."""
    truth = pd.to_numeric(verified["val_acc"], errors="coerce").to_numpy(dtype=float)
    pred = pd.to_numeric(verified["pred_acc"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(truth) & np.isfinite(pred) & _ok(verified)
    tau = float(kendall_tau(truth[ok], pred[ok])) if ok.sum() >= MIN_TAU_PAIRS else math.nan
    default = "kind" in verified.columns and bool((verified["kind"] == "default").any())
    return VerifiedTau(tau=tau, measured=int(ok.sum()), total=len(verified), default=default)


def _ok(verified: pd.DataFrame) -> np.ndarray:
    if "status" not in verified.columns:
        return np.ones(len(verified), dtype=bool)
    return (verified["status"].astype(str) == "ok").to_numpy()


def failure_lines(verified: pd.DataFrame) -> list[str]:
    """Why verified pairs are not ok: a heading, then one line per such pair (row as printed).

    Empty when every pair is ok.
    """
    bad = np.flatnonzero(~_ok(verified))
    if not len(bad):
        return []
    lines = [
        f"{len(bad)} of {len(verified)} verified pairs not ok (their val_acc is missing or "
        "averages the runs that finished):"
    ]
    for i in bad:
        row = verified.iloc[i]
        flops = f", {format_number(row['flops'])} FLOPs" if "flops" in verified.columns else ""
        message = str(row.get("message", "") or "").strip() or "no message"
        finished = f" ({int(row['runs'])} runs finished)" if int(row.get("runs", 0) or 0) else ""
        lines.append(
            f"  row {i + 1} ({row.get('kind', 'pair')}{flops}): {row['status']}{finished}: {message}"
        )
    return lines


def verify_view(verified: pd.DataFrame) -> pd.DataFrame:
    """The printed columns of verified pairs; a best pair's budget as fine search labels it."""
    view = verified[[c for c in VERIFY_COLUMNS if c in verified.columns]]
    if "budget" in view.columns and "kind" in view.columns:
        labels = [
            budget_label(b) if k == "best" else format_number(b)
            for k, b in zip(view["kind"], pd.to_numeric(view["budget"], errors="coerce"))
        ]
        view = view.assign(budget=labels)
    return view


def compare_with_default(verified: pd.DataFrame, margin: float = 2.0) -> pd.DataFrame:
    """How far each verified pair at most as costly as the default beats it, in pooled stds.

    For ``val_acc`` and ``test_acc``: the gain over the default (points of accuracy) and
    the pooled standard deviation ``sqrt((s_pair^2 + s_default^2) / 2)`` of the seeds'
    runs; a pair ``beats`` the default on a metric when the gain exceeds ``margin``
    pooled standard deviations. Empty without a default row, or with single runs.

    Args:
        verified: rows of :func:`verify_pairs` with ``kind`` (``default`` for the
            reference), ``flops`` and the ``*_std`` columns.
        margin: how many pooled standard deviations a gain must exceed.
    """
    if "kind" not in verified.columns or not (verified["kind"] == "default").any():
        return pd.DataFrame()
    ref = verified[verified["kind"] == "default"].iloc[0]
    found = verified[(verified["kind"] != "default") & (verified["status"] == "ok")]
    if "flops" in verified.columns and np.isfinite(float(ref["flops"])):
        found = found[pd.to_numeric(found["flops"], errors="coerce") <= float(ref["flops"])]
    rows = []
    for _, pair in found.iterrows():
        row: dict[str, Any] = {
            "kind": pair.get("kind"),
            "budget": pair.get("budget"),
            "flops": pair.get("flops"),
        }
        for metric in ("val_acc", "test_acc"):
            pooled = math.sqrt((float(pair[f"{metric}_std"]) ** 2 + float(ref[f"{metric}_std"]) ** 2) / 2)
            gain = float(pair[metric]) - float(ref[metric])
            row.update(
                {
                    f"{metric}_gain": gain,
                    f"{metric}_pooled_std": pooled,
                    f"{metric}_beats": bool(gain > margin * pooled) if np.isfinite(pooled) else None,
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)

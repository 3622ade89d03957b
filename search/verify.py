"""Verification: train pairs for real, possibly with several seeds, and compare with predictions."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..data.space import SearchSpace
from ..errors import JointNASError
from ..predictor.metrics import kendall_tau

VERIFY_COLUMNS = ("kind", "budget", "pred_acc", "measured_acc", "val_acc", "val_acc_std", "test_acc",
                  "test_acc_std", "flops", "params", "status")  # the columns printed for verified pairs


def verify_pairs(space: SearchSpace, evaluators: Sequence[Any], pairs: pd.DataFrame,
                 progress: bool = True) -> tuple[pd.DataFrame, float]:
    """Evaluate pairs for real (full schedules), once per evaluator (e.g. per training
    seed), and compare the mean with their ``pred_acc``.

    Returns:
        The pairs with ``val_acc`` and ``test_acc`` (means over the runs that finished),
        ``val_acc_std`` and ``test_acc_std`` (their standard deviations; NaN for one
        run), ``status`` (``ok``
        when every run is; else the first other status, with its ``message``),
        ``epochs_run``, ``seconds`` (all runs), and Kendall tau between predicted and
        mean measured accuracy (NaN below 3 measured pairs).
    """
    from tqdm.auto import tqdm

    rows = []
    total = len(pairs) * len(evaluators)
    with tqdm(total=total, desc="verify", unit="run", disable=not progress) as bar:
        for config in space.configs(pairs):
            runs = []
            for evaluator in evaluators:
                runs.append(_verify_once(evaluator, config))
                bar.update(1)
            rows.append(_summarize_runs(pd.DataFrame(runs)))
    out = pd.concat([pairs.reset_index(drop=True), pd.DataFrame(rows)], axis=1)
    return out, prediction_tau(out, "val_acc", "pred_acc")


def _verify_once(evaluator: Any, config: dict[str, Any]) -> dict[str, Any]:
    try:
        r = evaluator.evaluate(config)
        return {"val_acc": r.val_acc, "test_acc": r.test_acc, "status": r.status,
                "epochs_run": r.epochs_run, "seconds": r.seconds, "message": r.message}
    except JointNASError as exc:  # e.g. a pair the table evaluator has not measured
        return {"val_acc": np.nan, "test_acc": np.nan, "status": "failed", "epochs_run": 0,
                "seconds": 0.0, "message": str(exc)}


def _summarize_runs(runs: pd.DataFrame) -> dict[str, Any]:
    ok = runs[runs["status"] == "ok"]
    bad = runs[runs["status"] != "ok"]
    val = pd.to_numeric(ok["val_acc"], errors="coerce")
    test = pd.to_numeric(ok["test_acc"], errors="coerce")
    return {"val_acc": val.mean(), "val_acc_std": val.std(ddof=1),  # NaN below 1 and 2 finished runs
            "test_acc": test.mean(), "test_acc_std": test.std(ddof=1),
            "status": "ok" if bad.empty else bad["status"].iloc[0], "runs": len(ok),
            "epochs_run": int(runs["epochs_run"].iloc[0]), "seconds": float(runs["seconds"].sum()),
            "message": "" if bad.empty else bad["message"].iloc[0]}


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
        row: dict[str, Any] = {"kind": pair.get("kind"), "budget": pair.get("budget"),
                               "flops": pair.get("flops")}
        for metric in ("val_acc", "test_acc"):
            pooled = math.sqrt((float(pair[f"{metric}_std"]) ** 2
                                + float(ref[f"{metric}_std"]) ** 2) / 2)
            gain = float(pair[metric]) - float(ref[metric])
            row.update({f"{metric}_gain": gain, f"{metric}_pooled_std": pooled,
                        f"{metric}_beats": bool(gain > margin * pooled) if np.isfinite(pooled)
                        else None})
        rows.append(row)
    return pd.DataFrame(rows)


def prediction_tau(frame: pd.DataFrame, truth: str, pred: str) -> float:
    """Kendall tau between ``pred`` and ``truth`` over finished rows (NaN below 3)."""
    ok = np.isfinite(pd.to_numeric(frame[truth], errors="coerce").to_numpy(dtype=float))
    if "status" in frame.columns:
        ok &= (frame["status"].astype(str) == "ok").to_numpy()
    return float(kendall_tau(frame.loc[ok, truth], frame.loc[ok, pred])) if ok.sum() >= 3 else math.nan

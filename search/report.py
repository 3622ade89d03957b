"""Read a run folder and turn it into plots, tables and a ``report.md`` summary.

:class:`RunFolder` is what ``search fine`` and ``search report`` know about a run:
its space and settings (from the study metadata), its samples, and where its pairs'
costs come from. :func:`write_report` writes, next to the run's other files,
``pareto.png`` (when ``fine.csv`` exists), ``pred_vs_true.png`` (a fresh predictor
scoring held-out trials), ``tau_by_epoch.png``, ``acc_over_trials.png`` and
``report.md``. Every file is written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.atomic import atomic_path
from ..data.space import SearchSpace
from ..data.space_io import read_space
from ..data.tables import read_table, usable_rows, validate_table
from ..errors import ConfigError
from ..predictor.metrics import kendall_tau
from .display import format_table
from .early_stop import EarlyStop, plot_tau
from .fine import FineResult, budget_label, table_costs
from .pool import CostFn, model_costs
from .study import RunStore
from .verify import VERIFY_COLUMNS, prediction_tau
from .plots import new_figure, save_figure

TARGETS = ("acc", "val_acc", "valid_acc")  # accuracy columns, in order of preference
BEST_COLUMNS = ("budget", "pred_acc", "measured_acc", "flops", "params")  # fine search's summary


@dataclass
class RunFolder:
    """A coarse run's folder: space, settings, samples.

    Attributes:
        path: the folder.
        space: the run's space (stored in the study, or given).
        settings: the run's settings dict from the study metadata (``None`` without one).
        samples: ``samples.csv`` (``None`` when absent).
    """

    path: Path
    space: SearchSpace
    settings: dict[str, Any] | None = None
    samples: pd.DataFrame | None = field(default=None, repr=False)

    @classmethod
    def open(cls, path: str | Path, space: str | None = None, storage: str | None = None) -> "RunFolder":
        """Read a run folder; the study is ``storage`` (default: the folder's ``study.db``).

        Raises:
            ConfigError: no such folder, or no way to know the space.
        """
        path = Path(path)
        if not path.is_dir():
            raise ConfigError("run folder not found", str(path))
        settings = stored = None
        db = path / "study.db"
        if storage or db.is_file():
            store = RunStore(storage or f"sqlite:///{db.resolve()}", path.name, create=False)
            settings, stored = store.meta("settings"), store.meta("space")
        if space:
            found = read_space(space)
        elif stored:
            found = SearchSpace.from_dict(stored, where=str(db))
        else:
            raise ConfigError("the run has no study with a stored space: pass --space", str(path))
        samples = read_table(path / "samples.csv") if (path / "samples.csv").is_file() else None
        return cls(path=path, space=found, settings=settings, samples=samples)

    def limits(self) -> dict[str, float]:
        """The run's cost limits: the space's constraints and the run's own."""
        own = (self.settings or {}).get("constraints") or {}
        return {**self.space.constraints, **{k: float(v) for k, v in own.items()}}

    def measured_pairs(self, table: pd.DataFrame | None = None, where: str | None = None
                       ) -> pd.DataFrame | None:
        """Finished pairs of ``table`` (default: the run's samples): the variables and ``acc``.

        ``acc`` is the table's first accuracy column of ``acc, val_acc, valid_acc``; a
        run's ``acc`` is the predictor's target (accuracy at the early-stop epoch).

        Raises:
            TableError: a missing variable column or a value outside the space (``where``
                names the file).
        """
        table = self.samples if table is None else table
        target = next((t for t in TARGETS if table is not None and t in table.columns), None)
        if target is None:
            return None
        validate_table(table, self.space, where=where)
        mask = usable_rows(table, target)
        acc = pd.to_numeric(table[target]).to_numpy()[mask]
        return table.loc[mask, list(self.space.names)].assign(acc=acc)

    def best_pairs(self, n: int, table: pd.DataFrame | None = None, where: str | None = None
                   ) -> pd.DataFrame | None:
        """The ``n`` best measured pairs of ``table`` (default: the run's samples)."""
        rows = self.measured_pairs(table, where)
        if rows is None:
            return None
        return rows.sort_values("acc", ascending=False, kind="stable").head(n)[list(self.space.names)]

    def cost_fn(self, table: pd.DataFrame | None = None, where: str | None = None) -> CostFn:
        """Analytic costs for model spaces; for tabular ones, arch costs measured in a table.

        The table is ``table``, else the table evaluator's, else the run's samples.
        """
        if self.space.model is not None:
            return model_costs
        if table is None:
            spec = (self.settings or {}).get("evaluator") or {}
            if spec.get("type") == "table":
                table, where = read_table(spec["table"]), spec["table"]
            else:
                table, where = self.samples, str(self.path / "samples.csv")
        if table is None:
            return model_costs
        return table_costs(self.space, table, where=where)

    def evaluator(self, seed: int | None = None) -> Any:
        """The run's evaluator, built from the stored settings, with another training seed
        when ``seed`` is given.

        Raises:
            ConfigError: the run has no stored settings, or ``seed`` for an evaluator
                that does not train (a table replays one measurement).
        """
        from .evaluators import make_evaluator

        if not self.settings or "evaluator" not in self.settings:
            raise ConfigError("the run has no stored evaluator settings (no study.db)", str(self.path))
        spec = dict(self.settings["evaluator"])
        if seed is not None:
            if spec.get("type", "train") != "train":
                raise ConfigError(f"training seeds need the train evaluator (this run's: {spec['type']})",
                                  str(self.path))
            spec["seed"] = seed
        return make_evaluator(self.space, spec)

    def evaluators(self, seeds: int) -> list[Any]:
        """``seeds`` evaluators: the run's, then the same with its seed + 1, + 2, ...

        Raises:
            ConfigError: ``seeds > 1`` for an evaluator that does not train.
        """
        first = self.evaluator()
        base = int((self.settings or {}).get("evaluator", {}).get("seed", 0))
        return [first] + [self.evaluator(seed=base + i) for i in range(1, seeds)]


# -- fine search outputs ---------------------------------------------------------------------
def write_fine(result: FineResult, run: RunFolder) -> list[Path]:
    """Write ``fine.csv``, ``best_<budget>.yaml`` per budget and ``pareto.png`` into the run.

    Outputs of an earlier fine search that this one does not replace (other budgets'
    ``best_*.yaml``, ``verify.csv``) are removed, so the folder describes one search.
    """
    from ..data.space_io import write_yaml
    from ..data.tables import write_table

    table = result.table()
    write_table(table, run.path / "fine.csv")
    paths = [run.path / "fine.csv"]
    for label, config in result.best_configs(run.space).items():
        write_yaml(config, run.path / f"best_{label}.yaml")
        paths.append(run.path / f"best_{label}.yaml")
    for stale in [*run.path.glob("best_*.yaml"), run.path / "verify.csv"]:
        if stale not in paths and stale.is_file():
            stale.unlink()
    if plot_pareto(table, run.path / "pareto.png", run.samples):
        paths.append(run.path / "pareto.png")
    return paths


# -- plots --------------------------------------------------------------------------------------
def plot_pareto(fine: pd.DataFrame, path: Path, coarse: pd.DataFrame | None = None) -> bool:
    """Fine search's score vs FLOPs: the front, the best pair per budget, coarse samples in grey.

    The score is the measured accuracy of pairs the run trained, else the prediction
    (``pred_acc`` alone in files written before measured pairs were kept).

    Returns:
        Whether a plot was written (not without a ``flops`` column).
    """
    if "flops" not in fine.columns or fine.empty:
        return False
    plt, fig, ax = new_figure()
    target = next((t for t in TARGETS if coarse is not None and t in coarse.columns), None)
    if target and "flops" in coarse.columns:
        ax.scatter(coarse["flops"], coarse[target], s=10, c="0.7", label=f"coarse samples ({target})")
    score = "score" if "score" in fine.columns else "pred_acc"
    front = fine[fine["kind"] == "pareto"].sort_values("flops")
    ax.step(front["flops"], front[score], where="post", c="tab:blue", lw=1)
    ax.scatter(front["flops"], front[score], s=14, c="tab:blue", label="Pareto front")
    best = fine[fine["kind"] == "best"]
    ax.scatter(best["flops"], best[score], marker="*", s=140, c="tab:red", zorder=3,
               label="best per budget")
    for b in best["budget"].dropna():
        ax.axvline(b, c="tab:red", ls=":", lw=0.8)
    if fine["flops"].max() > 10 * max(fine["flops"].min(), 1):
        ax.set_xscale("log")
    ax.set(xlabel="FLOPs", ylabel="accuracy (measured, else predicted)",
           title="Fine search: accuracy vs FLOPs")
    ax.legend(fontsize=8, loc="lower right")
    save_figure(plt, fig, path)
    return True


def plot_pred_vs_true(frame: pd.DataFrame, tau: float, method: str, path: Path) -> None:
    """Predicted vs measured accuracy of held-out trials, with the diagonal."""
    plt, fig, ax = new_figure((4.2, 4.0))
    ax.scatter(frame["true"], frame["pred"], s=14)
    low = float(min(frame["true"].min(), frame["pred"].min()))
    high = float(max(frame["true"].max(), frame["pred"].max()))
    ax.plot([low, high], [low, high], c="0.6", ls="--", lw=1)
    ax.set(xlabel="measured accuracy", ylabel="predicted accuracy",
           title=f"{method}: Kendall tau {tau:.3f}")
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
    ax.plot(order, np.fmax.accumulate(np.where(np.isfinite(acc), acc, -np.inf)), c="k", lw=1,
            label="best so far")
    ax.set(xlabel="trial", ylabel=target, title="Accuracy over trials")
    ax.legend(fontsize=8, loc="lower right")
    save_figure(plt, fig, path)


# -- held-out predictor quality -------------------------------------------------------------------
def heldout(run: RunFolder, seed: int = 0, folds: int = 5) -> tuple[pd.DataFrame, str] | None:
    """Predictions of a fresh predictor for trials it was not fitted on.

    With several iterations, fit on the iterations before the last and score the last;
    otherwise ``folds``-fold cross-validation. The predictor takes the run's settings
    and is pretrained on the samples' own cost columns when the run pretrained.

    Returns:
        ``(frame with true and pred, method)``, or ``None`` with too few usable trials.
    """
    from ..predictor.estimator import AccuracyPredictor

    s = run.samples
    target = next((t for t in TARGETS if s is not None and t in s.columns), None)
    if target is None:
        return None
    rows = s[usable_rows(s, target)].reset_index(drop=True)
    its = rows["iteration"].to_numpy() if "iteration" in rows.columns else np.zeros(len(rows))
    last = its.max() if len(its) else 0
    if (its == last).sum() >= 2 and (its < last).sum() >= 2:
        splits, method = [(its < last, its == last)], "last iteration held out"
    elif len(rows) >= 4:
        k = min(folds, len(rows) // 2)
        fold = np.random.default_rng(seed).permutation(len(rows)) % k
        splits, method = [(fold != f, fold == f) for f in range(k)], f"{k}-fold cross-validation"
    else:
        return None
    settings = run.settings or {}
    targets = settings.get("pretrain_targets") or (("flops", "params") if run.space.model else ())
    targets = [t for t in targets if t in rows.columns
               and (pd.to_numeric(rows[t], errors="coerce") > 0).all()]
    pred = np.full(len(rows), np.nan)
    for train, test in splits:
        est = AccuracyPredictor(run.space, **{"seed": seed, **(settings.get("predictor") or {})})
        if targets:
            est.pretrain(rows, targets=targets, costs=rows[targets])
        pred[test] = est.fit(rows[train], target=target).predict(rows[test])
    keep = np.zeros(len(rows), dtype=bool)
    for _, test in splits:
        keep |= test
    return pd.DataFrame({"true": rows[target].to_numpy(dtype=float)[keep], "pred": pred[keep]}), method


# -- the report --------------------------------------------------------------------------------
def write_report(run: RunFolder, seed: int = 0) -> dict[str, Any]:
    """Write the run's plots and ``report.md``.

    Returns:
        ``{"files": [paths], "heldout_tau": float, "heldout_method": str, ...}``.
    """
    out: dict[str, Any] = {"files": []}
    lines = [f"# Run report: {run.path.name}", "", f"Space `{run.space.name}` "
             f"({len(run.space.arch)} arch + {len(run.space.recipe)} recipe variables)."]
    s = run.samples
    target = next((t for t in TARGETS if s is not None and t in s.columns), None)
    if target is not None and len(s):
        ok = s[usable_rows(s, target)]
        lines += ["", "## Coarse search", "", f"{len(s)} pairs evaluated, {len(ok)} ok."]
        cols = [c for c in ("trial", "iteration", target, "val_acc", "test_acc", "flops", "params")
                if c in ok.columns]
        lines += ["", "Best pairs:", "", format_table(ok.sort_values(target, ascending=False).head(5), cols)]
        _plot(out, run.path / "acc_over_trials.png", plot_acc_over_trials, s, target)
    found = heldout(run, seed=seed)
    if found is not None:
        frame, method = found
        tau = float(kendall_tau(frame["true"], frame["pred"]))
        out.update(heldout_tau=tau, heldout_method=method)
        _plot(out, run.path / "pred_vs_true.png", plot_pred_vs_true, frame, tau, method)
        lines += ["", "## Predictor on held-out trials", "",
                  f"{method}: Kendall tau {tau:.3f} over {len(frame)} trials."]
    if (run.path / "early_stop.json").is_file():
        stop = EarlyStop(**json.loads((run.path / "early_stop.json").read_text()))
        _plot(out, run.path / "tau_by_epoch.png", plot_tau, stop)
        lines += ["", "## Early stop", "", f"Epoch {stop.epoch}: Kendall tau with the final ranking "
                  f">= {stop.threshold:g} over {stop.runs} full runs "
                  f"(mean schedule {stop.full_epochs_mean:.1f} epochs)."]
    if (run.path / "fine.csv").is_file():
        fine = read_table(run.path / "fine.csv")
        if plot_pareto(fine, run.path / "pareto.png", s):
            out["files"].append(run.path / "pareto.png")
        best = fine[fine["kind"] == "best"]
        best = best.assign(budget=[budget_label(b) for b in best["budget"]])
        cols = [c for c in BEST_COLUMNS if c in best.columns]
        lines += ["", "## Fine search", "", format_table(best, cols), "",
                  f"Pareto front: {int((fine['kind'] == 'pareto').sum())} pairs."]
    if (run.path / "verify.csv").is_file():
        verify = read_table(run.path / "verify.csv")
        tau = prediction_tau(verify, "val_acc", "pred_acc")
        out["verify_tau"] = tau
        lines += ["", "## Verified pairs", "",
                  format_table(verify, [c for c in VERIFY_COLUMNS if c in verify.columns]), "",
                  f"Kendall tau predicted vs measured: {tau:.3f}"]
    lines += ["", "## Figures", ""] + [f"![{p.stem}]({p.name})" for p in out["files"]]
    with atomic_path(run.path / "report.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    out["files"].append(run.path / "report.md")
    return out


def _plot(out: dict[str, Any], path: Path, fn: Any, *args: Any) -> None:
    fn(*args, path)
    out["files"].append(path)

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
from .plots import draw_pareto, new_figure, plot_acc_over_trials, plot_pred_vs_true, save_figure
from .pool import CostFn, model_costs
from .study import RunStore
from .verify import failure_lines, verified_tau, verify_view

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

    def measured_pairs(
        self, table: pd.DataFrame | None = None, where: str | None = None
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

    def best_pairs(
        self, n: int, table: pd.DataFrame | None = None, where: str | None = None
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
                raise ConfigError(
                    f"training seeds need the train evaluator (this run's: {spec['type']})", str(self.path)
                )
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
def plot_pareto(
    fine: pd.DataFrame, path: Path, coarse: pd.DataFrame | None = None, verified: pd.DataFrame | None = None
) -> bool:
    """Write fine search's accuracy vs FLOPs plot (see :func:`~jointnas.search.plots.draw_pareto`).

    Coarse samples are drawn by their first accuracy column of ``TARGETS``.

    Returns:
        Whether a plot was written (not without a ``flops`` column).
    """
    if "flops" not in fine.columns or fine.empty:
        return False
    plt, fig, ax = new_figure((6.4, 4.0))
    target = next((t for t in TARGETS if coarse is not None and t in coarse.columns), None)
    draw_pareto(ax, fine, coarse if target else None, target, verified)
    save_figure(plt, fig, path)
    return True


# -- held-out predictor quality -------------------------------------------------------------------
def heldout(
    run: RunFolder, seed: int = 0, folds: int = 5, progress: bool = False
) -> tuple[pd.DataFrame, str] | None:
    """Predictions of a fresh predictor for trials it was not fitted on.

    With several iterations, fit on the iterations before the last and score the last;
    otherwise ``folds``-fold cross-validation. The predictor takes the run's settings
    and is pretrained on the samples' own cost columns when the run pretrained.

    Returns:
        ``(frame with true and pred, method)``, or ``None`` with too few usable trials.
    """
    from tqdm.auto import tqdm

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
    targets = [
        t for t in targets if t in rows.columns and (pd.to_numeric(rows[t], errors="coerce") > 0).all()
    ]
    pred = np.full(len(rows), np.nan)
    for train, test in tqdm(splits, desc="held-out predictor", unit="fit", disable=not progress, leave=False):
        est = AccuracyPredictor(run.space, **{"seed": seed, **(settings.get("predictor") or {})})
        if targets:
            est.pretrain(rows, targets=targets, costs=rows[targets])
        pred[test] = est.fit(rows[train], target=target).predict(rows[test])
    keep = np.zeros(len(rows), dtype=bool)
    for _, test in splits:
        keep |= test
    return pd.DataFrame({"true": rows[target].to_numpy(dtype=float)[keep], "pred": pred[keep]}), method


# -- the report --------------------------------------------------------------------------------
def write_report(run: RunFolder, seed: int = 0, progress: bool = False) -> dict[str, Any]:
    """Write the run's plots and ``report.md``.

    Args:
        run: the run folder.
        seed: seed of the held-out predictor.
        progress: show a tqdm bar naming the section in progress (the held-out
            predictor's fits take the longest).

    Returns:
        ``{"files": [paths], "heldout_tau": float, "heldout_method": str,
        "verify_tau": VerifiedTau, "verify_failures": [lines]}``, the held-out and verify
        entries only when there is something to score.
    """
    from tqdm.auto import tqdm

    out: dict[str, Any] = {"files": []}
    lines = [
        f"# Run report: {run.path.name}",
        "",
        f"Space `{run.space.name}` ({len(run.space.arch)} arch + {len(run.space.recipe)} recipe variables).",
    ]
    verified = read_table(run.path / "verify.csv") if (run.path / "verify.csv").is_file() else None
    sections = [
        ("coarse search", lambda: _coarse_lines(run, out)),
        ("held-out predictor", lambda: _heldout_lines(run, out, seed, progress)),
        ("early stop", lambda: _early_stop_lines(run, out)),
        ("fine search", lambda: _fine_lines(run, out, verified)),
        ("verified pairs", lambda: _verified_lines(out, verified)),
    ]
    with tqdm(total=len(sections), desc="report", unit="section", disable=not progress, leave=False) as bar:
        for name, section in sections:
            bar.set_postfix_str(name)
            lines += section()
            bar.update(1)
    lines += ["", "## Figures", ""] + [f"![{p.stem}]({p.name})" for p in out["files"]]
    with atomic_path(run.path / "report.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    out["files"].append(run.path / "report.md")
    return out


def _coarse_lines(run: RunFolder, out: dict[str, Any]) -> list[str]:
    s = run.samples
    target = next((t for t in TARGETS if s is not None and t in s.columns), None)
    if target is None or not len(s):
        return []
    ok = s[usable_rows(s, target)]
    cols = [
        c for c in ("trial", "iteration", target, "val_acc", "test_acc", "flops", "params") if c in ok.columns
    ]
    _plot(out, run.path / "acc_over_trials.png", plot_acc_over_trials, s, target)
    return [
        "",
        "## Coarse search",
        "",
        f"{len(s)} pairs evaluated, {len(ok)} ok.",
        "",
        "Best pairs:",
        "",
        format_table(ok.sort_values(target, ascending=False).head(5), cols),
    ]


def _heldout_lines(run: RunFolder, out: dict[str, Any], seed: int, progress: bool) -> list[str]:
    found = heldout(run, seed=seed, progress=progress)
    if found is None:
        return []
    frame, method = found
    tau = float(kendall_tau(frame["true"], frame["pred"]))
    out.update(heldout_tau=tau, heldout_method=method)
    _plot(out, run.path / "pred_vs_true.png", plot_pred_vs_true, frame, tau, method)
    return [
        "",
        "## Predictor on held-out trials",
        "",
        f"{method}: Kendall tau {tau:.3f} over {len(frame)} trials.",
    ]


def _early_stop_lines(run: RunFolder, out: dict[str, Any]) -> list[str]:
    if not (run.path / "early_stop.json").is_file():
        return []
    stop = EarlyStop(**json.loads((run.path / "early_stop.json").read_text()))
    _plot(out, run.path / "tau_by_epoch.png", plot_tau, stop)
    return [
        "",
        "## Early stop",
        "",
        f"Epoch {stop.epoch}: Kendall tau with the final ranking "
        f">= {stop.threshold:g} over {stop.runs} full runs "
        f"(mean schedule {stop.full_epochs_mean:.1f} epochs).",
    ]


def _fine_lines(run: RunFolder, out: dict[str, Any], verified: pd.DataFrame | None) -> list[str]:
    if not (run.path / "fine.csv").is_file():
        return []
    fine = read_table(run.path / "fine.csv")
    if plot_pareto(fine, run.path / "pareto.png", run.samples, verified):
        out["files"].append(run.path / "pareto.png")
    best = fine[fine["kind"] == "best"]
    best = best.assign(budget=[budget_label(b) for b in best["budget"]])
    cols = [c for c in BEST_COLUMNS if c in best.columns]
    return [
        "",
        "## Fine search",
        "",
        format_table(best, cols),
        "",
        f"Pareto front: {int((fine['kind'] == 'pareto').sum())} pairs.",
    ]


def _verified_lines(out: dict[str, Any], verified: pd.DataFrame | None) -> list[str]:
    if verified is None:
        return []
    out["verify_tau"] = verified_tau(verified)
    lines = ["", "## Verified pairs", "", format_table(verify_view(verified)), ""]
    failures = out["verify_failures"] = failure_lines(verified)
    if failures:  # a heading, then a markdown list
        lines += [failures[0], ""] + [f"- {line.strip()}" for line in failures[1:]] + [""]
    return lines + [out["verify_tau"].line()]


def _plot(out: dict[str, Any], path: Path, fn: Any, *args: Any) -> None:
    fn(*args, path)
    out["files"].append(path)

"""Search settings: one dataclass, read from a YAML search config and overridden by flags.

A search config (``configs/demo.yaml``) names the space file (relative to the config),
the evaluator and the coarse/fine settings. Library code receives only the dataclass.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.space_io import load_yaml
from ..errors import ConfigError
from .early_stop import HOLD, MIN_RUNS
from .schedule import Schedule, resolve

EVALUATOR_KEYS = {
    "train": ("type", "dataset", "dataset_options", "root", "device", "seed", "num_threads"),
    "table": ("type", "table", "target", "sleep"),
    "supernet": (
        "type",
        "dataset",
        "dataset_options",
        "root",
        "device",
        "seed",
        "epochs",
        "sampler",
        "recalibrate_bn",
        "checkpoint",
        "num_threads",
    ),
}


SELECTIONS = ("thompson", "mean")  # batch picking of coarse search; see PredictorGuided


def check_selection(selection: str) -> None:
    """Raise :class:`ConfigError` unless ``selection`` is one of :data:`SELECTIONS`."""
    if selection not in SELECTIONS:
        raise ConfigError(f"selection={selection!r} (allowed: {', '.join(SELECTIONS)})")


@dataclass
class SearchSettings:
    """Everything a coarse (and fine) search run needs besides the space itself.

    Attributes:
        space: path of the space YAML.
        name: run name; outputs go to ``runs_dir/name``.
        runs_dir: parent folder of run folders.
        storage: Optuna storage URL; default ``sqlite:///<run>/study.db``.
        evaluator: ``{type: train, dataset, root, device, seed}`` or
            ``{type: table, table, target}``.
        pool: Sobol pool size (ignored by the table evaluator, whose table is the pool;
            default: by the budget, see :func:`~jointnas.search.schedule.budget_rule`).
        start: asynchronous mode: space-filling pairs trained in full before the first
            predictor fit (default: by the budget).
        refit_every: asynchronous mode: finished pairs between predictor refits
            (default: by the budget).
        batch: batch mode (FBNetV3's synchronous rounds): pairs trained per iteration
            (default 48 when ``iterations`` is given).
        iterations: batch mode: coarse iterations (default 4 when ``batch`` is given).
        threshold: Kendall tau the early-stop epoch must reach.
        early_stop: choose an early-stop epoch in iteration 1.
        early_stop_min_runs: full-schedule runs the choice needs (fewer: no early stop,
            with a warning).
        early_stop_hold: epochs in a row the tau must stay at the threshold.
        constraints: upper limits on costs, added to the space's own.
        seed: seed of the pool, the strategies and the predictor.
        explore: weight of the ensemble std in candidate scores (``selection: mean``).
        selection: how each batch is picked from the predictor's scores: ``thompson``
            (ensemble members take turns adding their best remaining pair; the default: on
            NAS-Bench-Graph it reached the true top 0.1% in fewer queries than ``mean`` on
            the tables where ``mean`` was slowest) or ``mean`` (top pairs by ensemble mean).
        budget_trials: stop after this many evaluated pairs (``None``: batch mode runs
            its iterations; asynchronous mode runs 200 pairs, or until ``budget_hours``).
        budget_hours: stop after this many hours of this invocation: no trial starts later
            (trials still queued stay queued, and a resume evaluates them).
        workers: local worker processes (0: evaluate in the coordinator process).
        predictor: keyword arguments of the accuracy predictor.
        pretrain_targets: cost columns for encoder pretraining (default by space kind).
        zero_cost: zero-cost proxies (e.g. ``[nwot, synflow]``) computed for every pool
            pair's architecture before the search (timed, cached in the run folder as
            ``zero_cost.csv``) and fed to the predictor as extra inputs (``features``).
        final_eval: after the search, train the best and the default pair in full.
    """

    space: str
    name: str = "run"
    runs_dir: str = "runs"
    storage: str | None = None
    evaluator: dict[str, Any] = field(default_factory=lambda: {"type": "train", "dataset": "digits"})
    pool: int | None = None
    start: int | None = None
    refit_every: int | None = None
    batch: int | None = None
    iterations: int | None = None
    threshold: float = 0.9
    early_stop: bool = True
    early_stop_min_runs: int = MIN_RUNS
    early_stop_hold: int = HOLD
    constraints: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    explore: float = 0.0
    selection: str = "thompson"
    budget_trials: int | None = None
    budget_hours: float | None = None
    workers: int = 0
    predictor: dict[str, Any] = field(default_factory=dict)
    pretrain_targets: list[str] | None = None
    zero_cost: list[str] | None = None
    final_eval: bool = False

    def __post_init__(self) -> None:
        self.check()

    @property
    def run_dir(self) -> Path:
        """The run's output folder."""
        return Path(self.runs_dir) / self.name

    @property
    def storage_url(self) -> str:
        """The storage URL, defaulting to the run folder's SQLite file."""
        return self.storage or f"sqlite:///{(self.run_dir / 'study.db').resolve()}"

    def check(self) -> None:
        """Validate values (one-line ConfigError naming the key and what is allowed)."""
        for key in ("pool", "start", "refit_every", "batch", "iterations", "early_stop_hold"):
            value = getattr(self, key)
            if value is None and key != "early_stop_hold":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{key}={value!r} must be a positive integer")
        runs = self.early_stop_min_runs
        if isinstance(runs, bool) or not isinstance(runs, int) or runs < 2:
            raise ConfigError(
                f"early_stop_min_runs={self.early_stop_min_runs!r} must be an "
                "integer >= 2 (Kendall tau over fewer runs is always +-1)"
            )
        if not (isinstance(self.threshold, (int, float)) and -1 < self.threshold <= 1):
            raise ConfigError(f"threshold={self.threshold!r} must be in (-1, 1]")
        if not isinstance(self.workers, int) or self.workers < 0:
            raise ConfigError(f"workers={self.workers!r} must be an integer >= 0")
        check_selection(self.selection)
        if self.explore < 0:
            raise ConfigError(f"explore={self.explore!r} must be >= 0")
        if self.budget_trials is not None and (
            isinstance(self.budget_trials, bool)
            or not isinstance(self.budget_trials, int)
            or self.budget_trials < 1
        ):
            raise ConfigError(f"budget_trials={self.budget_trials!r} must be an integer >= 1 pair")
        if self.budget_hours is not None and (
            isinstance(self.budget_hours, bool)
            or not isinstance(self.budget_hours, (int, float))
            or not self.budget_hours > 0
        ):
            raise ConfigError(
                f"budget_hours={self.budget_hours!r} must be a number of hours > 0 "
                "(like the flag: --budget 2h or 30m)"
            )
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(self.name)):
            raise ConfigError(f"name={self.name!r} may hold only letters, digits, '.', '_' and '-'")
        kind = self.evaluator.get("type") if isinstance(self.evaluator, dict) else None
        if kind not in EVALUATOR_KEYS:
            raise ConfigError(f"evaluator.type={kind!r} (allowed: {', '.join(EVALUATOR_KEYS)})")
        unknown = sorted(set(self.evaluator) - set(EVALUATOR_KEYS[kind]))
        if unknown:
            raise ConfigError(
                f"unknown evaluator key(s) {', '.join(unknown)} for type {kind} "
                f"(allowed: {', '.join(EVALUATOR_KEYS[kind])})"
            )
        if kind == "table" and "table" not in self.evaluator:
            raise ConfigError("evaluator.table: the table evaluator needs a table file")
        resolve(self)  # batch and asynchronous keys together, a start set above the budget

    @property
    def schedule(self) -> Schedule:
        """How the run spends its pairs (mode, start set, refit cadence, pool)."""
        return resolve(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for the run's metadata."""
        return dataclasses.asdict(self)


def parse_budget(text: str) -> tuple[int | None, float | None]:
    """``"200"`` -> 200 pairs; ``"2h"`` / ``"30m"`` -> hours.

    Raises:
        ConfigError: anything else.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([hm]?)\s*", str(text))
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"budget {text!r}: give a number of pairs (200) or a time (2h, 30m)")
    value, unit = float(match.group(1)), match.group(2)
    if not unit:
        if value != math.floor(value):
            raise ConfigError(f"budget {text!r}: a number of pairs must be whole")
        return int(value), None
    return None, value if unit == "h" else value / 60


def load_settings(path: str | Path, **overrides: Any) -> SearchSettings:
    """Read a search config YAML; ``overrides`` (non-``None``) replace its values.

    Paths in the file (``space``, ``runs_dir``, ``evaluator.table``, a supernet
    evaluator's ``checkpoint``) are relative to it;
    without ``runs_dir``, runs go to ``runs/`` in the working directory.

    Raises:
        ConfigError: malformed YAML, unknown keys (listing the allowed ones), bad values.
    """
    path = Path(path)
    data = load_yaml(path) or {}
    if not isinstance(data, dict):
        raise ConfigError("a search config must be a mapping", str(path))
    allowed = [f.name for f in dataclasses.fields(SearchSettings)]
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(map(str, unknown))} (allowed: {', '.join(allowed)})", str(path)
        )
    if "space" not in data and overrides.get("space") is None:
        raise ConfigError("missing key 'space' (the space YAML file)", str(path))
    base = path.parent
    for key in ("space", "runs_dir"):
        if key in data:
            data[key] = str(base / data[key])
    evaluator = dict(data.get("evaluator") or {"type": "train", "dataset": "digits"})
    if evaluator.get("type") == "table" and "table" in evaluator:
        evaluator["table"] = str(base / evaluator["table"])
    if evaluator.get("type") == "supernet" and evaluator.get("checkpoint"):
        evaluator["checkpoint"] = str(base / evaluator["checkpoint"])
    data["evaluator"] = evaluator
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return SearchSettings(**data)
    except ConfigError as exc:
        raise exc.at(str(path)) from None
    except TypeError as exc:
        raise ConfigError(f"bad value in search config: {exc}", str(path)) from None

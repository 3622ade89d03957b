"""Fine search: predictor-only evolution of (arch, recipe) pairs under constraints (FBNetV3).

Nothing is trained. A population of pairs starts from given pairs (the coarse run's
best) plus a scored Sobol pool; each generation breeds children (uniform parents,
optional crossover, ``mutations`` changed variables: :func:`breed`), drops duplicates
and infeasible ones, computes the costs of all children as one frame, scores them all
with one ``predictor.predict(frame)`` call and keeps the best. Pairs already trained
(``measured``) are ranked by their measured accuracy instead of a prediction. With
several FLOPs budgets the population keeps the best pairs under each budget, so one
run answers all of them, and the accuracy-vs-FLOPs Pareto front of everything scored
is kept alongside. The run stops when no budget's best score gains ``tol`` or more for
``patience`` generations, or after ``max_generations``.

Example:
    >>> result = fine_search(space, AccuracyPredictor.load("runs/demo/predictor.pt", space=space),
    ...                      budgets=[1e6, 2e6], seed=0)  # doctest: +SKIP
    >>> result.best[["budget", "pred_acc", "measured_acc", "flops"]]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..data.space import Config, SearchSpace
from ..data.tables import usable_rows, validate_table
from ..data.variables import Categorical
from ..errors import ConfigError, SearchError
from .candidates import row_keys
from .display import format_number
from .pool import CostFn, feasible, model_costs
from .strategies.fine_evolution import breed, check_variation

_GRID = 2.0**30  # the float resolution of row_keys: pairs closer than this are one pair
_MULT = np.random.default_rng(20240611).integers(1, 2**63, size=4096, dtype=np.uint64) | np.uint64(1)


class Scorer(Protocol):
    """Anything with ``predict(frame) -> scores`` (an :class:`AccuracyPredictor`)."""

    def predict(self, configs: pd.DataFrame) -> np.ndarray: ...


@dataclass
class FineResult:
    """What a fine search found.

    Attributes:
        best: one row per budget: ``budget`` (NaN without budgets), the variables,
            ``pred_acc`` (the prediction), ``measured_acc`` (NaN for pairs not in
            ``measured``), ``score`` (what the search ranks by: the measured accuracy
            where there is one, else the prediction) and the cost columns.
        pareto: pairs not dominated in (higher ``score``, lower ``flops``) among all
            scored, by increasing FLOPs (empty when the costs have no ``flops``).
        population: the final population, best first.
        history: best score per budget and generation (generation 0: start).
        generations: generations run.
        scored: candidates scored by the predictor (start pool included).
        seconds: wall time.
        stopped: ``saturated`` or ``max_generations``.
    """

    best: pd.DataFrame
    pareto: pd.DataFrame
    population: pd.DataFrame
    history: pd.DataFrame
    generations: int
    scored: int
    seconds: float
    stopped: str

    def table(self) -> pd.DataFrame:
        """Best pair per budget and the Pareto front, one frame with a ``kind`` column."""
        return pd.concat(
            [self.best.assign(kind="best"), self.pareto.assign(kind="pareto")], ignore_index=True
        )[["kind", *self.best.columns]]

    def best_configs(self, space: SearchSpace) -> dict[str, Config]:
        """Best pair per budget, keyed by :func:`budget_label`."""
        return {budget_label(b): c for b, c in zip(self.best["budget"], space.configs(self.best))}

    def top(self, k: int, space: SearchSpace) -> pd.DataFrame:
        """``k`` distinct pairs of :meth:`table`: the best per budget first, then the front.

        Within each group, a higher score comes first.
        """
        table = self.table()
        table = (
            table.assign(_first=table["kind"] != "best")
            .sort_values(["_first", "score"], ascending=[True, False], kind="stable")
            .drop(columns="_first")
        )
        keys = row_keys(space, table)
        return table[~pd.Series(keys).duplicated().to_numpy()].head(k).reset_index(drop=True)


def budget_label(budget: float | None) -> str:
    """File-name label of a FLOPs budget: ``2e6``, ``2.5e6``, ``500``; ``any`` for none (or NaN, inf)."""
    if budget is None or not np.isfinite(budget):
        return "any"
    return format_number(budget)


def pareto_mask(acc: np.ndarray, flops: np.ndarray) -> np.ndarray:
    """Rows not dominated by another with flops <= and acc >= (one strictly); ties keep one."""
    acc, flops = np.asarray(acc, dtype=np.float64), np.asarray(flops, dtype=np.float64)
    order = np.lexsort((-acc, flops))
    running = np.maximum.accumulate(acc[order])
    before = np.concatenate([[-np.inf], running[:-1]])
    mask = np.zeros(len(acc), dtype=bool)
    mask[order] = acc[order] > before
    return mask


def table_costs(
    space: SearchSpace,
    table: pd.DataFrame,
    columns: Sequence[str] = ("flops", "params"),
    where: str | None = None,
) -> CostFn:
    """A cost function for tabular spaces: costs of each arch as measured in a table.

    Costs depend on the arch only, so a pair's costs are those of any table row with
    the same arch; archs absent from the table get NaN (never feasible).

    Raises:
        SearchError: the table has none of ``columns``; TableError: bad arch values.
    """
    cols = [c for c in columns if c in table.columns]
    if not cols:
        raise SearchError(f"the table has no cost column ({', '.join(columns)}) to rank pairs by", where)
    arch = SearchSpace(arch=space.arch, name=space.name)
    validate_table(table, arch, where=where)
    values = table[cols].apply(pd.to_numeric, errors="coerce").set_axis(row_keys(arch, table))
    lookup = values.groupby(level=0).first()

    def costs(_space: SearchSpace, frame: pd.DataFrame) -> pd.DataFrame:
        return lookup.reindex(row_keys(arch, frame)).set_axis(frame.index)

    return costs


class _Rows:
    """Scored candidates as arrays: unit-cube rows, predicted and measured accuracy, costs.

    ``score``, what the search ranks by, is the measured accuracy where there is one
    and the prediction elsewhere.
    """

    def __init__(self, unit: np.ndarray, pred: np.ndarray, measured: np.ndarray, costs: np.ndarray) -> None:
        self.unit, self.pred, self.measured, self.costs = unit, pred, measured, costs
        self.score = np.where(np.isnan(measured), pred, measured)

    def __len__(self) -> int:
        return len(self.score)

    def take(self, idx: np.ndarray) -> "_Rows":
        return _Rows(self.unit[idx], self.pred[idx], self.measured[idx], self.costs[idx])

    def __add__(self, other: "_Rows") -> "_Rows":
        return _Rows(
            np.vstack([self.unit, other.unit]),
            np.concatenate([self.pred, other.pred]),
            np.concatenate([self.measured, other.measured]),
            np.vstack([self.costs, other.costs]),
        )


class _Evaluator:
    """Deduplicate, cost, filter and score batches of unit-cube rows, all vectorized."""

    def __init__(
        self,
        space: SearchSpace,
        predictor: Scorer,
        cost_fn: CostFn,
        limits: dict[str, float],
        risk: float = 0.0,
        measured: dict[int, float] | None = None,
    ) -> None:
        self.space, self.predictor, self.cost_fn, self.limits = space, predictor, cost_fn, limits
        self.risk = risk
        self.measured = measured or {}
        self.seen: set[int] = set()
        self.scored = 0
        self.cost_names: list[str] | None = None
        self.smallest: dict[str, float] = {}
        self.dtypes = [
            pd.Series(list(v.choices)).infer_objects().dtype if isinstance(v, Categorical) else None
            for v in space.variables
        ]

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted accuracy, less ``risk`` times the ensemble's spread when ``risk > 0``."""
        if not self.risk:
            return np.asarray(self.predictor.predict(frame), dtype=np.float64)
        mean, std = self.predictor.predict(frame, return_std=True)
        return np.asarray(mean, dtype=np.float64) - self.risk * np.asarray(std, dtype=np.float64)

    def frame(self, unit: np.ndarray) -> pd.DataFrame:
        """Configs of unit rows (same values as ``space.from_unit``, typed columns)."""
        cols = {}
        for j, (v, dtype) in enumerate(zip(self.space.variables, self.dtypes)):
            values = v.from_unit(unit[:, j])
            cols[v.name] = values.astype(dtype) if getattr(dtype, "kind", "O") in "biuf" else values
        return pd.DataFrame(cols, index=pd.RangeIndex(len(unit)), copy=False)

    def __call__(self, unit: np.ndarray) -> _Rows:
        keys = unit_keys(unit)
        fresh = np.zeros(len(keys), dtype=bool)
        fresh[np.unique(keys, return_index=True)[1]] = True
        fresh &= np.fromiter((k not in self.seen for k in keys.tolist()), bool, len(keys))
        self.seen.update(keys[fresh].tolist())
        unit = unit[fresh]
        if not len(unit) and self.cost_names is not None:
            return _Rows(unit, np.zeros(0), np.zeros(0), np.zeros((0, len(self.cost_names))))
        frame = self.frame(unit)
        costs = self.cost_fn(self.space, frame)
        if self.cost_names is None:
            self.cost_names = [str(c) for c in costs.columns]
        values = (
            costs[self.cost_names].to_numpy(dtype=np.float64)
            if len(unit)
            else np.zeros((0, len(self.cost_names)))
        )
        with np.errstate(invalid="ignore"):
            for j, name in enumerate(self.cost_names):
                low = np.nanmin(values[:, j], initial=np.inf)
                self.smallest[name] = min(self.smallest.get(name, np.inf), low)
        ok = np.isfinite(values).all(axis=1) & feasible(costs, self.limits)
        if not ok.any():
            return _Rows(unit[:0], np.zeros(0), np.zeros(0), values[:0])
        score = self.score(frame if ok.all() else frame[ok])
        self.scored += int(ok.sum())
        measured = np.fromiter(
            (self.measured.get(k, np.nan) for k in keys[fresh][ok].tolist()), np.float64, int(ok.sum())
        )
        return _Rows(unit[ok], np.nan_to_num(score, nan=-np.inf), measured, values[ok])


def unit_keys(unit: np.ndarray) -> np.ndarray:
    """A 64-bit key per unit-cube row, on :func:`row_keys`'s grid (without a frame round trip)."""
    grid = np.rint(np.asarray(unit) * _GRID).astype(np.int64)
    hashed = pd.util.hash_array(grid.ravel()).reshape(grid.shape)
    return (hashed * _MULT[: grid.shape[1]]).sum(axis=1)


def fine_search(
    space: SearchSpace,
    predictor: Scorer,
    *,
    init: pd.DataFrame | Sequence[Config] | None = None,
    population: int = 128,
    children: int | None = None,
    mutations: int = 1,
    crossover: float = 0.0,
    budgets: Sequence[float] | None = None,
    limits: dict[str, float] | None = None,
    tol: float = 1e-4,
    patience: int = 5,
    max_generations: int = 1000,
    seed: int = 0,
    sobol: int = 1024,
    cost_fn: CostFn = model_costs,
    risk: float = 0.0,
    measured: pd.DataFrame | None = None,
    progress: bool = False,
) -> FineResult:
    """Evolve pairs by predicted accuracy only, under limits and per FLOPs budget.

    Args:
        space: the joint space.
        predictor: scores configs (higher is better), e.g. a fitted AccuracyPredictor.
        init: starting pairs (configs or a frame with the variable columns).
        population: survivors kept each generation (split evenly across budgets).
        children: children bred per generation (default: ``population``).
        mutations: variables changed per child (architecture and recipe alike).
        crossover: probability of uniform crossover between two parents.
        budgets: FLOPs upper limits answered in one run; ``None``: just ``limits``.
        limits: upper limits on costs for every pair, added to the space's constraints.
        tol: least gain of a budget's best predicted accuracy that counts as progress.
        patience: generations without progress before stopping.
        max_generations: hard cap on generations.
        seed: seed of the Sobol start pool and of the evolution.
        sobol: Sobol points scored at the start besides ``init``.
        cost_fn: cost columns of a frame of pairs (:func:`table_costs` for tabular spaces).
        risk: score pairs by ``mean - risk * std`` of the predictor ensemble: a pessimistic
            score that keeps the evolution near pairs the predictor has evidence for
            (0: the mean alone). ``pred_acc`` then holds that score.
        measured: pairs already trained: the variables and an ``acc`` column on the
            predictor's scale (a coarse run's samples). Such a pair is ranked by its
            measured accuracy, not by a prediction, so the search returns a pair the
            predictor favours only when it is predicted to beat what was measured. They
            join the start pairs.
        progress: show a tqdm bar.

    Returns:
        A :class:`FineResult`.

    Raises:
        ConfigError: bad settings, or ``measured`` without an ``acc`` column.
        TableError: an init or measured pair outside the space.
        SearchError: no start pair meets the limits, or a budget (naming the smallest
            FLOPs seen), or a limit names an unknown cost.
    """
    check_variation(population, mutations, crossover)
    _check(tol, patience, max_generations, children, sobol)
    limits = {**space.constraints, **(limits or {})}
    levels = _budgets(budgets)
    loose = dict(limits)
    if budgets:
        loose["flops"] = min(limits.get("flops", math.inf), max(levels))
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    if not (isinstance(risk, (int, float)) and risk >= 0):
        raise ConfigError(f"risk={risk!r} must be a number >= 0")
    known, known_unit = _measured(space, measured)
    evaluate = _Evaluator(space, predictor, cost_fn, loose, risk, known)
    start = [space.to_unit(space.sample_qmc(sobol, seed, frame=True))] if sobol else []
    if init is not None and len(init):
        init = init if isinstance(init, pd.DataFrame) else space.frame(list(init))
        start.insert(0, space.to_unit(validate_table(init, space, where="init pairs")))
    if len(known_unit):
        start.insert(0, known_unit)
    if not start:
        raise ConfigError("nothing to start from: give init pairs or sobol > 0")
    rows = evaluate(np.vstack(start))
    flops = _flops(evaluate, rows)
    _check_start(evaluate, rows, flops, levels, loose)
    pop = rows.take(_select(rows.score, flops, levels, population))
    front = rows.take(np.flatnonzero(pareto_mask(rows.score, flops))) if flops is not None else None
    best = _best(pop.score, _flops(evaluate, pop), levels)
    history, stall, stopped, gen = [(0, best, evaluate.scored)], 0, "max_generations", 0
    bar = tqdm(total=max_generations, desc="fine search", unit="gen", disable=not progress, leave=False)
    n_children = children or population
    for gen in range(1, max_generations + 1):
        kids = evaluate(breed(space, pop.unit, rng, n_children, mutations, crossover))
        if len(kids):
            merged = pop + kids
            merged_flops = _flops(evaluate, merged)
            pop = merged.take(_select(merged.score, merged_flops, levels, population))
            if front is not None:
                front = front + kids
                front = front.take(np.flatnonzero(pareto_mask(front.score, _flops(evaluate, front))))
        now = _best(pop.score, _flops(evaluate, pop), levels)
        stall = stall + 1 if float(np.max(now - best)) < tol else 0
        best = now
        history.append((gen, best, evaluate.scored))
        bar.update(1)
        if stall >= patience:
            stopped = "saturated"
            break
    bar.close()
    return _result(space, evaluate, pop, front, levels, history, gen, stopped, time.perf_counter() - started)


def _measured(space: SearchSpace, table: pd.DataFrame | None) -> tuple[dict[int, float], np.ndarray]:
    """Measured accuracy by pair key (repeats averaged) and the measured pairs' unit rows.

    Raises:
        TableError: a value outside the space; ConfigError: no ``acc`` column.
    """
    if table is None or not len(table):
        return {}, np.zeros((0, len(space.variables)))
    if "acc" not in table.columns:
        raise ConfigError("measured pairs need an 'acc' column (accuracy on the predictor's scale)")
    table = validate_table(table, space, where="measured pairs")  # rows named as given
    table = table[usable_rows(table, "acc")]
    unit = space.to_unit(table)
    acc = pd.Series(pd.to_numeric(table["acc"]).to_numpy(dtype=np.float64), index=unit_keys(unit))
    means = acc.groupby(level=0).mean()
    return dict(zip(means.index.tolist(), means.tolist())), unit


def _check(tol: float, patience: int, max_generations: int, children: int | None, sobol: int) -> None:
    if not (isinstance(tol, (int, float)) and tol >= 0):
        raise ConfigError(f"tol={tol!r} must be a number >= 0")
    for key, value, low in (
        ("patience", patience, 1),
        ("max_generations", max_generations, 1),
        ("children", 1 if children is None else children, 1),
        ("sobol", sobol, 0),
    ):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"{key}={value!r} must be an integer >= {low}")


def _budgets(budgets: Sequence[float] | None) -> list[float]:
    if not budgets:
        return [math.inf]
    for b in budgets:
        if not isinstance(b, (int, float, np.number)) or not b > 0:
            raise ConfigError(f"budget {b!r} must be a positive number of FLOPs")
    return sorted({float(b) for b in budgets})


def _flops(evaluate: _Evaluator, rows: _Rows) -> np.ndarray | None:
    names = evaluate.cost_names or []
    return rows.costs[:, names.index("flops")] if "flops" in names else None


def _check_start(
    evaluate: _Evaluator, rows: _Rows, flops: np.ndarray | None, levels: list[float], limits: dict[str, float]
) -> None:
    seen = len(evaluate.seen)
    unmet = [b for b in levels if np.isfinite(b) and (flops is None or not (flops <= b).any())]
    if unmet and "flops" in evaluate.smallest:
        raise SearchError(
            f"no pair meets the FLOPs budget {format_number(unmet[0])}: the smallest FLOPs "
            f"seen among {seen} start pairs is {format_number(evaluate.smallest['flops'])}"
        )
    if not len(rows):
        smallest = ", ".join(
            f"{k} {format_number(evaluate.smallest.get(k, math.nan))} (limit {format_number(v)})"
            for k, v in limits.items()
        )
        raise SearchError(f"none of the {seen} start pairs meets the limits: smallest {smallest}")


def _select(score: np.ndarray, flops: np.ndarray | None, levels: list[float], size: int) -> np.ndarray:
    """Survivors: the best ``size / len(levels)`` under each budget, then the best (ties: fewer FLOPs)."""
    order = np.argsort(-score, kind="stable") if flops is None else np.lexsort((flops, -score))
    keep = np.zeros(len(score), dtype=bool)
    share = -(-size // len(levels))
    for b in levels:
        under = order if flops is None or not np.isfinite(b) else order[flops[order] <= b]
        keep[under[:share]] = True
    if keep.sum() < size:
        keep[order[~keep[order]][: size - int(keep.sum())]] = True
    return order[keep[order]]


def _best(score: np.ndarray, flops: np.ndarray | None, levels: list[float]) -> np.ndarray:
    out = np.full(len(levels), -np.inf)
    for i, b in enumerate(levels):
        under = score if flops is None or not np.isfinite(b) else score[flops <= b]
        if len(under):
            out[i] = under.max()
    return out


def _frame(space: SearchSpace, evaluate: _Evaluator, rows: _Rows) -> pd.DataFrame:
    frame = evaluate.frame(rows.unit)
    frame["pred_acc"] = rows.pred
    frame["measured_acc"] = rows.measured
    frame["score"] = rows.score
    for j, name in enumerate(evaluate.cost_names or []):
        frame[name] = rows.costs[:, j]
    return frame


def _result(
    space: SearchSpace,
    evaluate: _Evaluator,
    pop: _Rows,
    front: _Rows | None,
    levels: list[float],
    history: list,
    gen: int,
    stopped: str,
    seconds: float,
) -> FineResult:
    flops = _flops(evaluate, pop)
    picks = []
    for b in levels:
        under = np.arange(len(pop)) if flops is None or not np.isfinite(b) else np.flatnonzero(flops <= b)
        cheap = np.zeros(len(under)) if flops is None else flops[under]
        picks.append(under[np.lexsort((cheap, -pop.score[under]))[0]])  # ties: fewer FLOPs
    best = _frame(space, evaluate, pop.take(np.array(picks)))
    best.insert(0, "budget", [b if np.isfinite(b) else np.nan for b in levels])
    if front is not None:
        front = front.take(np.lexsort((-front.score, _flops(evaluate, front))))
        pareto = _frame(space, evaluate, front)
    else:
        pareto = best.iloc[:0].drop(columns="budget")
    hist = pd.DataFrame(
        [
            {"generation": g, "budget": budget_label(b), "best": float(s), "scored": n}
            for g, values, n in history
            for b, s in zip(levels, values)
        ]
    )
    return FineResult(
        best=best,
        pareto=pareto.assign(budget=np.nan)[best.columns],
        population=_frame(space, evaluate, pop),
        history=hist,
        generations=gen,
        scored=evaluate.scored,
        seconds=seconds,
        stopped=stopped,
    )

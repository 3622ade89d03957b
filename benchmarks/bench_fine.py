"""Fine search: the quality of what it returns after coarse, and its speed.

**Quality**, on spaces where the true accuracy of any pair can be had: NAS-Bench-Graph
tables (every architecture measured), their ``+recipe`` joint forms (measured
architecture plus the synthetic lr x optimizer effect of ``bench_predictor.py``; coarse
searches a 6000-pair table, fine the whole joint space) and the digits table (coarse
searches its 320 measured pairs, 96 queries; a pair's true accuracy is a new training
run with another seed, so the pair coarse returns is not judged by the run that
selected it). Per seed: coarse search as ``bench_search.py`` runs it (batches of 48,
its small predictor), then fine search from the coarse predictor and its 16 best
measured pairs, with the measured pairs ranked by their prediction
(``--predicted-only``) and by what was measured (the default). Printed: the regret of
the pair each returns (best accuracy in the space minus its true accuracy, in points;
digits: the validation error) and how often fine returns a pair coarse did not train.

**Speed**, on the cifar space: the predictor is an :class:`AccuracyPredictor` with the
default network sizes (hidden 128, embed 32, 5 ensemble members: inference cost
depends on these, not on what it learned), fitted without pretraining on a synthetic
table of Sobol pairs whose accuracy is a known smooth function of FLOPs and the recipe
(plus noise). Each run uses population 128, 128 children per generation and ``tol=0``,
so it runs all generations. Per setting: generations, candidates scored, wall and CPU
seconds, generations/s, candidates/s, and the wall seconds spent in
``predictor.predict`` and in the cost function (the rest is breeding, deduplication,
selection and the Pareto archive).

Usage::

    python benchmarks/bench_fine.py [--tables arxiv,cs,...,digits] [--seeds 10]
                                    [--generations 1000] [--population 128] [--table 512]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from jointnas.data import SearchSpace, read_space
from jointnas.predictor.estimator import AccuracyPredictor
from jointnas.recipes.cost import space_costs
from jointnas.search.candidates import row_keys
from jointnas.search.display import format_table
from jointnas.search.evaluators import TableEvaluator
from jointnas.search.fine import fine_search, table_costs
from jointnas.search.pool import model_costs

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_predictor  # noqa: E402
import bench_search  # noqa: E402
from common import (
    DIGITS,
    DIGITS_SPACE,
    NBG_COSTS,
    NBG_TARGET,
    nasbench_graph_table,  # noqa: E402
    quartiles,
    recipe_effect,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def synthetic_table(space: SearchSpace, n: int, seed: int = 0) -> pd.DataFrame:
    """Sobol pairs with a known accuracy: rises with log FLOPs, best lr near 0.05, noisy."""
    frame = space.sample_qmc(n, seed=seed, frame=True)
    flops = space_costs(space, frame)["flops"].to_numpy(dtype=float)
    lr = np.log10(frame["lr"].to_numpy(dtype=float))
    score = (
        0.3 * np.log10(flops / flops.min())
        - 0.15 * (lr + 1.3) ** 2
        + 0.002 * frame["epochs"]
        - 0.5 * frame["dropout"]
        + 0.1 * (frame["optimizer"] == "sgd")
    )
    noise = np.random.default_rng(seed).normal(0, 0.02, n)
    frame["acc"] = 0.4 + 0.5 / (1 + np.exp(-(score.to_numpy() + noise)))
    return frame


class Timed:
    """Wraps a predictor and a cost function to add up the seconds spent in each."""

    def __init__(self, predictor: Any) -> None:
        self.predictor, self.predict_s, self.cost_s = predictor, 0.0, 0.0

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        start = time.perf_counter()
        out = self.predictor.predict(frame)
        self.predict_s += time.perf_counter() - start
        return out

    def costs(self, space: SearchSpace, frame: pd.DataFrame) -> pd.DataFrame:
        start = time.perf_counter()
        out = model_costs(space, frame)
        self.cost_s += time.perf_counter() - start
        return out


def run(
    space: SearchSpace,
    predictor: AccuracyPredictor,
    label: str,
    generations: int,
    population: int,
    **kwargs: Any,
) -> dict[str, Any]:
    """One fine search with ``tol=0``; its counts and timings."""
    timed = Timed(predictor)
    wall, cpu = time.perf_counter(), time.process_time()
    result = fine_search(
        space,
        timed,
        population=population,
        tol=0,
        max_generations=generations,
        seed=0,
        cost_fn=timed.costs,
        **kwargs,
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "setting": label,
        "generations": result.generations,
        "scored": result.scored,
        "wall_s": wall,
        "cpu_s": cpu,
        "gen_per_s": result.generations / wall,
        "cand_per_s": result.scored / wall,
        "predict_s": timed.predict_s,
        "costs_s": timed.cost_s,
        "front": len(result.pareto),
        "best_pred": float(result.best["pred_acc"].max()),
    }


class Truth:
    """True accuracy of any pair of a NAS-Bench-Graph table's space, or of its ``+recipe`` form.

    Attributes:
        space: the space fine search explores (every architecture of the table).
        bench: the table coarse search runs on (``bench_search.Bench``).
        cost_fn: architecture costs of any pair, for fine search.
        best: the best true accuracy in the space.
        budget: coarse queries.
    """

    budget = 192

    def __init__(self, name: str) -> None:
        base = name.removesuffix("+recipe")
        self.full, arch_space = nasbench_graph_table(base)
        self.arch = list(arch_space.names)
        if name.endswith("+recipe"):
            data = bench_predictor.nasbench_graph_with_recipe(base)
            self.space, self.scale = data.space, data.table[NBG_TARGET].std()
            self.bench = bench_search.Bench(
                name, data.space, TableEvaluator(data.space, data.table, target="acc"), NBG_COSTS
            )
        else:
            self.space, self.scale = arch_space, None
            self.bench = bench_search.nasbench_graph(name)
        self.cost_fn = table_costs(self.space, self.full, columns=NBG_COSTS)
        self.lookup = self.full.set_index(self.arch)[NBG_TARGET]
        self.best = float(self.full[NBG_TARGET].max())  # with the best lr, the recipe effect is 0

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        acc = self.lookup.loc[pd.MultiIndex.from_frame(frame[self.arch])].to_numpy(dtype=np.float64)
        return acc + recipe_effect(frame, self.scale) if self.scale is not None else acc


class DigitsTruth:
    """The digits table for coarse search; "true" accuracy = a new training run (seed 1).

    The table was trained with seed 0, so the pair coarse returns is judged on a run
    that did not select it, like the pairs fine search returns. ``best`` is 1.0: regret
    is the validation error.
    """

    budget = 96  # of 320 pairs

    def __init__(self) -> None:
        from jointnas.data.datasets import load_dataset

        self.bench = bench_search.table_bench("digits", DIGITS, DIGITS_SPACE)
        if self.bench is None:
            raise SystemExit(f"no digits table at {DIGITS}")
        self.space, self.cost_fn, self.best = self.bench.space, model_costs, 1.0
        self.data, self.cache = load_dataset("digits"), {}

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        from jointnas.recipes.train import train_and_evaluate

        out = []
        for key, config in zip(row_keys(self.space, frame), self.space.configs(frame)):
            if key not in self.cache:
                arch, recipe = self.space.split(config)
                self.cache[key] = float(
                    train_and_evaluate(
                        arch,
                        recipe,
                        self.data,
                        device="cpu",
                        seed=1,
                        model_spec=self.space.model,
                        num_threads=1,
                    ).val_acc
                )
            out.append(self.cache[key])
        return np.asarray(out)


def after_coarse(
    truth: Truth | DigitsTruth,
    seed: int,
    budget: int | None = None,
    batch: int = 48,
    predictor: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Coarse then fine: regret (best in the space - true accuracy) of the pair each returns.

    ``budget``: coarse queries (default ``truth.budget``); ``predictor``: coarse's
    predictor settings (default ``bench_search.PREDICTOR``).
    """
    bench, names = truth.bench, list(truth.space.names)
    scores = bench.scores
    spec = bench_search.coarse_spec("coarse", bench, predictor or bench_search.PREDICTOR, batch)
    seen, strategy = bench_search.search(bench, spec, seed, budget or truth.budget, scores)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rows of failed evaluations in the refit
        predictor = strategy.refit()
    measured = bench.pool.iloc[seen][names].assign(acc=scores[seen])
    coarse_best = bench.pool.iloc[[seen[np.argmax(scores[seen])]]][names]
    row: dict[str, Any] = {"table": bench.name, "seed": seed, "coarse": truth.best - truth(coarse_best)[0]}
    trained = set(row_keys(truth.space, measured))
    for label, kept in (("predicted only", None), ("measured kept", measured)):
        result = fine_search(
            truth.space,
            predictor,
            init=measured.nlargest(16, "acc")[names],
            cost_fn=truth.cost_fn,
            population=64,
            seed=seed,
            measured=kept,
        )
        found = result.best.iloc[[0]]
        row[label] = truth.best - truth(found)[0]
        row[f"{label}: new"] = row_keys(truth.space, found)[0] not in trained
    return row


def quality(truths: list[Truth | DigitsTruth], seeds: int, **kwargs: Any) -> None:
    """Print the quality table: coarse's best vs fine's, per table, medians over seeds.

    ``kwargs`` go to :func:`after_coarse`.
    """
    rows = pd.DataFrame([after_coarse(truth, seed, **kwargs) for truth in truths for seed in range(seeds)])
    out = []
    for name, group in rows.groupby("table", sort=False):

        def points(col: str, group: pd.DataFrame = group) -> str:
            return quartiles((100 * group[col]).round(3).tolist())

        out.append(
            {
                "table": name,
                "coarse best (measured)": points("coarse"),
                **{f"fine, {label}": points(label) for label in ("predicted only", "measured kept")},
                **{
                    f"new pair, {label}": f"{group[f'{label}: new'].mean():.0%}"
                    for label in ("predicted only", "measured kept")
                },
            }
        )
    print(
        f"\nfine search after coarse ({kwargs or 'batch 48, 192 queries; digits 96'}), {seeds} seeds: regret "
        "of the returned pair = best accuracy in the space - its true accuracy, in points (digits: "
        "validation error of a new training run), median [IQR]; 'new pair': how often fine returns a "
        "pair coarse did not train\n"
    )
    print(format_table(pd.DataFrame(out)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--population", type=int, default=128)
    parser.add_argument("--table", type=int, default=512, help="synthetic pairs the predictor is fitted on")
    parser.add_argument(
        "--tables",
        default="arxiv,cs,citeseer,cora,cs+recipe,citeseer+recipe,digits",
        help="NAS-Bench-Graph datasets, '<dataset>+recipe' joint tables or 'digits' (trains "
        "the pairs it judges), for the quality table ('' to skip it)",
    )
    parser.add_argument("--seeds", type=int, default=10, help="seeds per quality table")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.tables:
        quality(
            [DigitsTruth() if name == "digits" else Truth(name) for name in args.tables.split(",")],
            args.seeds,
        )
    space = read_space(CONFIGS / "cifar.yaml")
    start = time.perf_counter()
    predictor = AccuracyPredictor(space, seed=0, epochs=60).fit(synthetic_table(space, args.table))
    print(
        f"predictor fitted on {args.table} synthetic pairs in {time.perf_counter() - start:.1f} s "
        f"(hidden {predictor.hidden}, embed {predictor.embed}, {predictor.n_models} members)"
    )
    flops = space_costs(space, space.sample_qmc(4096, seed=1, frame=True))["flops"]
    budgets = [float(flops.quantile(q)) for q in (0.1, 0.3, 0.6)]
    rows = [
        run(space, predictor, "one objective, k=1", args.generations, args.population),
        run(space, predictor, "3 FLOPs budgets, k=1", args.generations, args.population, budgets=budgets),
        run(
            space,
            predictor,
            "3 budgets, k=2, crossover 0.5",
            args.generations,
            args.population,
            budgets=budgets,
            mutations=2,
            crossover=0.5,
        ),
    ]
    print(
        f"\nfine search on {space.name}: population {args.population}, {args.population} children "
        f"per generation, tol=0; budgets {', '.join(f'{b:.3g}' for b in budgets)} FLOPs; "
        f"torch threads 1\n"
    )
    print(format_table(pd.DataFrame(rows)))


if __name__ == "__main__":
    main()

"""Fine search: its speed on the cifar space and the quality of what it returns after coarse.

**Quality** (NAS-Bench-Graph tables, where every architecture is measured): per seed,
coarse search as ``bench_search.py`` runs it (batches of 48, 192 queries, its small
predictor) and then fine search from the coarse predictor and its 16 best measured
pairs, with the measured pairs ranked by their prediction (``--predicted-only``) and
by what was measured (the default). Printed: the median true rank of the pair each
returns (1 = best in the table) and how often fine returns a pair coarse did not train.

The predictor is an :class:`AccuracyPredictor` with the default network sizes (hidden
128, embed 32, 5 ensemble members: inference cost depends on these, not on what it
learned), fitted without pretraining on a synthetic table of Sobol pairs whose accuracy
is a known smooth function of FLOPs and the recipe (plus noise). Each run uses
population 128, 128 children per generation and ``tol=0``, so it runs all generations.

**Speed**: prints one markdown table: per setting, generations, candidates scored, wall and CPU
seconds, generations/s, candidates/s, and the wall seconds spent in
``predictor.predict`` and in the cost function (the rest is breeding, deduplication,
selection and the Pareto archive).

Usage::

    python benchmarks/bench_fine.py [--generations 1000] [--population 128] [--table 512]
                                    [--tables arxiv,cs,citeseer,cora] [--seeds 10]
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
from jointnas.search.display import format_table
from jointnas.search.fine import fine_search, table_costs
from jointnas.search.pool import model_costs

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_search  # noqa: E402
from common import quartiles  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def synthetic_table(space: SearchSpace, n: int, seed: int = 0) -> pd.DataFrame:
    """Sobol pairs with a known accuracy: rises with log FLOPs, best lr near 0.05, noisy."""
    frame = space.sample_qmc(n, seed=seed, frame=True)
    flops = space_costs(space, frame)["flops"].to_numpy(dtype=float)
    lr = np.log10(frame["lr"].to_numpy(dtype=float))
    score = (0.3 * np.log10(flops / flops.min()) - 0.15 * (lr + 1.3) ** 2 + 0.002 * frame["epochs"]
             - 0.5 * frame["dropout"] + 0.1 * (frame["optimizer"] == "sgd"))
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


def run(space: SearchSpace, predictor: AccuracyPredictor, label: str, generations: int,
        population: int, **kwargs: Any) -> dict[str, Any]:
    """One fine search with ``tol=0``; its counts and timings."""
    timed = Timed(predictor)
    wall, cpu = time.perf_counter(), time.process_time()
    result = fine_search(space, timed, population=population, tol=0, max_generations=generations,
                         seed=0, cost_fn=timed.costs, **kwargs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"setting": label, "generations": result.generations, "scored": result.scored,
            "wall_s": wall, "cpu_s": cpu, "gen_per_s": result.generations / wall,
            "cand_per_s": result.scored / wall, "predict_s": timed.predict_s, "costs_s": timed.cost_s,
            "front": len(result.pareto), "best_pred": float(result.best["pred_acc"].max())}


def after_coarse(name: str, seed: int, budget: int = 192, batch: int = 48) -> dict[str, Any]:
    """Coarse then fine on one NAS-Bench-Graph table: true ranks of the pairs each returns."""
    bench = bench_search.nasbench_graph(name)
    truth = bench.scores
    rank = pd.Series(-truth).rank(method="min").to_numpy()
    spec = bench_search.make_specs(["coarse"], bench, bench_search.PREDICTOR, [batch])[0]
    seen, strategy = bench_search.search(bench, spec, seed, budget, truth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rows of failed evaluations in the refit
        predictor = strategy.refit()
    names = list(bench.space.names)
    position = {key: i for i, key in enumerate(bench.pool[names].itertuples(index=False, name=None))}
    measured = bench.pool.iloc[seen][names].assign(acc=truth[seen])
    row: dict[str, Any] = {"table": name, "seed": seed, "coarse": rank[seen[np.argmax(truth[seen])]]}
    for label, kept in (("predicted only", None), ("measured kept", measured)):
        result = fine_search(bench.space, predictor, init=measured.nlargest(16, "acc")[names],
                             cost_fn=table_costs(bench.space, bench.pool, columns=bench.costs),
                             population=64, seed=seed, measured=kept)
        found = position[tuple(result.best.iloc[0][names])]
        row[label] = rank[found]
        row[f"{label}: new"] = found not in set(seen.tolist())
    return row


def quality(tables: list[str], seeds: int) -> None:
    """Print the quality table: coarse's best vs fine's, per table, medians over seeds."""
    rows = pd.DataFrame([after_coarse(name, seed) for name in tables for seed in range(seeds)])
    out = []
    for name, group in rows.groupby("table", sort=False):
        out.append({"table": name, "coarse best (measured)": quartiles(group["coarse"].tolist()),
                    **{f"fine, {label}": quartiles(group[label].tolist())
                       for label in ("predicted only", "measured kept")},
                    **{f"new pair, {label}": f"{group[f'{label}: new'].mean():.0%}"
                       for label in ("predicted only", "measured kept")}})
    print(f"\nfine search after coarse (batch 48, 192 queries), {seeds} seeds: true rank of the "
          "returned pair, median [IQR]; 'new pair': how often fine returns a pair coarse did not train\n")
    print(format_table(pd.DataFrame(out)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--population", type=int, default=128)
    parser.add_argument("--table", type=int, default=512, help="synthetic pairs the predictor is fitted on")
    parser.add_argument("--tables", default="arxiv,cs,citeseer,cora",
                        help="NAS-Bench-Graph datasets for the quality table ('' to skip it)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per quality table")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.tables:
        quality(args.tables.split(","), args.seeds)
    space = read_space(CONFIGS / "cifar.yaml")
    start = time.perf_counter()
    predictor = AccuracyPredictor(space, seed=0, epochs=60).fit(synthetic_table(space, args.table))
    print(f"predictor fitted on {args.table} synthetic pairs in {time.perf_counter() - start:.1f} s "
          f"(hidden {predictor.hidden}, embed {predictor.embed}, {predictor.n_models} members)")
    flops = space_costs(space, space.sample_qmc(4096, seed=1, frame=True))["flops"]
    budgets = [float(flops.quantile(q)) for q in (0.1, 0.3, 0.6)]
    rows = [
        run(space, predictor, "one objective, k=1", args.generations, args.population),
        run(space, predictor, "3 FLOPs budgets, k=1", args.generations, args.population, budgets=budgets),
        run(space, predictor, "3 budgets, k=2, crossover 0.5", args.generations, args.population,
            budgets=budgets, mutations=2, crossover=0.5),
    ]
    print(f"\nfine search on {space.name}: population {args.population}, {args.population} children "
          f"per generation, tol=0; budgets {', '.join(f'{b:.3g}' for b in budgets)} FLOPs; "
          f"torch threads 1\n")
    print(format_table(pd.DataFrame(rows)))


if __name__ == "__main__":
    main()

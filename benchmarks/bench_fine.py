"""Speed of the predictor-only fine search on the cifar space.

The predictor is an :class:`AccuracyPredictor` with the default network sizes (hidden
128, embed 32, 5 ensemble members: inference cost depends on these, not on what it
learned), fitted without pretraining on a synthetic table of Sobol pairs whose accuracy
is a known smooth function of FLOPs and the recipe (plus noise). Each run uses
population 128, 128 children per generation and ``tol=0``, so it runs all generations.

Prints one markdown table: per setting, generations, candidates scored, wall and CPU
seconds, generations/s, candidates/s, and the wall seconds spent in
``predictor.predict`` and in the cost function (the rest is breeding, deduplication,
selection and the Pareto archive).

Usage::

    python benchmarks/bench_fine.py [--generations 1000] [--population 128] [--table 512]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from jointnas.data import SearchSpace, read_space
from jointnas.predictor.estimator import AccuracyPredictor
from jointnas.recipes.cost import space_costs
from jointnas.search.display import format_table
from jointnas.search.fine import fine_search
from jointnas.search.pool import model_costs

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--population", type=int, default=128)
    parser.add_argument("--table", type=int, default=512, help="synthetic pairs the predictor is fitted on")
    args = parser.parse_args()
    torch.set_num_threads(1)
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

"""Zero-cost proxies on the MNIST-1D development table: how each tracks trained accuracy,
and what it costs.

For every usable pair of ``benchmarks/data/mnist1d_joint.csv`` the proxies of its
architecture (untrained, seed 0, one training minibatch of 64) are computed and written
to ``benchmarks/data/mnist1d_zero_cost.csv`` (the architecture columns plus one column
per proxy; rows already there are reused). Printed: Spearman and Kendall correlation of
each proxy with ``val_acc`` over all pairs, and over the pairs trained twice with the
seeds' mean; then the time to score ``--time-n`` Sobol architectures with ``--workers``
processes (target: 4,096 in 5 minutes on 2 cores). The default 4,096 architectures and
their proxies are kept in ``benchmarks/data/mnist1d_sobol_zero_cost.csv``, the free
labels ``bench_predictor.py``'s ``jointnas-zc`` row pretrains on.

The table is joint: a pair's accuracy depends on its training recipe as much as on its
architecture, and a proxy sees only the architecture, so these correlations are lower
than on architecture-only benchmarks (where each architecture has one fixed recipe).

Usage:
    python benchmarks/bench_zero_cost.py                 # table proxies, then 4,096 timed
    python benchmarks/bench_zero_cost.py --time-n 256    # quicker timing
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from jointnas.data import SearchSpace, load_dataset
from jointnas.data.tables import read_table, usable_rows, write_table
from jointnas.recipes.zero_cost import PROXIES, zero_cost_scores
from jointnas.search.pool import draw_pool

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import JOINT_TABLES, ROOT, report_path, write_report  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "zero_cost.md"
CACHE = ROOT / "benchmarks" / "data" / "mnist1d_zero_cost.csv"
SOBOL = ROOT / "benchmarks" / "data" / "mnist1d_sobol_zero_cost.csv"  # free labels to pretrain on


def table_proxies(space: SearchSpace, table: pd.DataFrame, bundle, workers: int, cache: Path) -> pd.DataFrame:
    """Proxies of the table's architectures, aligned with its rows (cached by arch)."""
    names = list(space.arch_names)
    archs = table[names].drop_duplicates().reset_index(drop=True)
    known = read_table(cache) if cache.is_file() else pd.DataFrame(columns=names)
    key = lambda f: f[names].astype(str).agg("|".join, axis=1)  # noqa: E731
    todo = archs[~key(archs).isin(set(key(known)))] if len(known) else archs
    if len(todo):
        scores = zero_cost_scores(space, todo, bundle, proxies=PROXIES, workers=workers, progress=True)
        known = pd.concat(
            [known, pd.concat([todo.reset_index(drop=True), scores.reset_index(drop=True)], axis=1)]
        )
        write_table(known.reset_index(drop=True), cache)
    lookup = known.assign(_key=key(known)).drop_duplicates("_key").set_index("_key")
    return lookup.loc[key(table), list(PROXIES)].reset_index(drop=True)


def recipe_residual(space: SearchSpace, table: pd.DataFrame, seed: int = 0) -> np.ndarray:
    """``val_acc`` minus a 5-fold cross-validated random forest's prediction from the recipe
    alone: the part of accuracy the recipe does not explain, which an architecture-only
    proxy can hope to track."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.model_selection import cross_val_predict

    acc = pd.to_numeric(table["val_acc"], errors="coerce").to_numpy()
    forest = RandomForestRegressor(n_estimators=200, min_samples_leaf=3, random_state=seed)
    return acc - cross_val_predict(forest, space.encode_recipe(table), acc, cv=5)


def correlation_lines(
    proxies: pd.DataFrame, table: pd.DataFrame, residual: np.ndarray | None = None
) -> list[str]:
    """Spearman and Kendall of each proxy with val_acc (all pairs; pairs trained twice),
    and with ``residual`` (accuracy the recipe does not explain) when given."""
    acc = pd.to_numeric(table["val_acc"], errors="coerce").to_numpy()
    twice = (
        pd.to_numeric(table["val_acc_2"], errors="coerce").notna().to_numpy()
        if "val_acc_2" in table.columns
        else np.zeros(len(table), bool)
    )
    mean2 = (
        (acc + pd.to_numeric(table.get("val_acc_2"), errors="coerce").to_numpy()) / 2 if twice.any() else acc
    )
    targets = [(np.ones(len(acc), bool), acc), (twice, mean2)]
    extra = ""
    if residual is not None:
        targets.append((np.ones(len(acc), bool), residual))
        extra = " Spearman, beyond the recipe | Kendall, beyond the recipe |"
    lines = [
        f"| proxy | Spearman, all {len(table)} pairs | Kendall, all | Spearman, "
        f"{int(twice.sum())} pairs, 2-seed mean | Kendall, 2-seed mean |{extra} missing |",
        "|---" * (2 * len(targets) + 2) + "|",
    ]
    for name in PROXIES:
        values = proxies[name].to_numpy(dtype=np.float64)
        cells = []
        for mask, target in targets:
            ok = mask & np.isfinite(values) & np.isfinite(target)
            if ok.sum() < 3:
                cells += ["-", "-"]
                continue
            cells += [
                f"{spearmanr(values[ok], target[ok]).statistic:+.3f}",
                f"{kendalltau(values[ok], target[ok]).statistic:+.3f}",
            ]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {int(np.isnan(values).sum())} |")
    return lines


def timing_lines(space: SearchSpace, bundle, n: int, workers: int, save: Path | None = None) -> list[str]:
    """Wall time to score ``n`` Sobol architectures with every proxy (the architectures
    and their proxies are written to ``save``: free labels for pretraining)."""
    archs = draw_pool(space, n, seed=1)
    t0 = time.perf_counter()
    scores = zero_cost_scores(space, archs, bundle, proxies=PROXIES, workers=workers, progress=True)
    wall = time.perf_counter() - t0
    if save is not None:
        arch = archs[list(space.arch_names)].reset_index(drop=True)
        write_table(pd.concat([arch, scores.reset_index(drop=True)], axis=1), save)
    per = scores["zero_cost_seconds"]
    load = os.getloadavg()[0]
    return [
        f"{n} Sobol architectures, all {len(PROXIES)} proxies, {workers} worker process(es): "
        f"{wall:.0f} s wall ({n / wall:.1f} archs/s; per arch median {per.median() * 1e3:.0f} ms, "
        f"max {per.max() * 1e3:.0f} ms); scaled to 4,096: {wall * 4096 / n / 60:.1f} min "
        f"(target <= 5 min on 2 cores). Load average while measuring: {load:.1f}."
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-n", type=int, default=4096, help="Sobol architectures timed")
    parser.add_argument("--workers", type=int, default=2, help="processes scoring proxies")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"markdown report (default {OUT.relative_to(ROOT)} for a default run)",
    )
    args = parser.parse_args(argv)
    out = report_path(parser, args, OUT)
    started = time.perf_counter()
    table_path, space_path = JOINT_TABLES["mnist1d"]
    space = SearchSpace.from_yaml(str(space_path))
    table = read_table(table_path)
    table = table.loc[usable_rows(table, "val_acc")].reset_index(drop=True)
    bundle = load_dataset("mnist1d")
    proxies = table_proxies(space, table, bundle, args.workers, CACHE)
    lines = [
        "# Zero-cost proxies on MNIST-1D",
        "",
        f"Proxies of each pair's untrained architecture (seed 0, minibatch of 64) against "
        f"its trained val_acc, {len(table)} usable pairs of {table_path.name}. 'Beyond the "
        "recipe': against val_acc minus a 5-fold cross-validated random forest's "
        "prediction from the recipe variables alone.",
        "",
        *correlation_lines(proxies, table, recipe_residual(space, table)),
        "",
    ]
    print("\n".join(lines), flush=True)
    lines += timing_lines(
        space,
        bundle,
        args.time_n,
        args.workers,
        SOBOL if args.time_n == parser.get_default("time_n") else None,
    )
    print(lines[-1])
    write_report(lines, out, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())

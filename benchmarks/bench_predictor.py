"""Predictor quality benchmark: Kendall tau vs training-set size, against sklearn baselines.

For every dataset, N training rows are drawn at random (one draw per seed) and every
method predicts all remaining rows; the table shows the mean Kendall tau over seeds.
Methods: jointnas with pretraining (encoder pretrained on free architecture costs of
every architecture of the dataset), ``jointnas-zc`` (pretrained on every zero-cost proxy
of 4,096 Sobol architectures, where ``bench_zero_cost.py`` has computed them: MNIST-1D),
jointnas without pretraining, and scikit-learn
baselines on the same one-hot encoding (Ridge, random forest, gradient boosting,
Gaussian process; ``ridge-rank`` and ``gp-rank`` fit the training rows' ranks scaled to
[0, 1] instead of the accuracy, the GP with an RBF + linear kernel: strong at small N).
Two tables per dataset: Kendall tau, and P@10 (the fraction of the 10 rows predicted best
that are among the true 10 best). Tables trained with a second seed also print their
noise ceiling (Kendall tau between the seeds). Then scoring throughput and fit time.

Datasets: NAS-Bench-Graph (``arxiv``, ``cs``, ``citeseer``, ``cora``, ... as tabular
spaces: topology_id and four node operations, target ``valid_acc``, pretraining on
``params_m`` and ``latency_s`` of all architectures), and the trained development
tables ``digits`` and ``mnist1d`` (target ``val_acc``, pretraining on analytic FLOPs and
params of a Sobol pool of their space), when a table exists with at least 100 usable rows.
``<dataset>+recipe`` (e.g. ``cs+recipe``, not in the default list) adds a synthetic
recipe effect to a NAS-Bench-Graph table, for a joint table whose architecture part is measured and matters.

Usage:
    python benchmarks/bench_predictor.py                       # full (slow: ~40 min on 2 cores)
    python benchmarks/bench_predictor.py --quick               # arxiv + cora, 2 seeds
    python benchmarks/bench_predictor.py --datasets cora --n 50,200 --seeds 3 \\
        --set n_models=3 --set target_transform=standard
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from jointnas.data import SearchSpace
from jointnas.data.tables import read_table, usable_rows
from jointnas.predictor import AccuracyPredictor
from jointnas.predictor.metrics import kendall_tau, precision_at_k

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    JOINT_TABLES,
    NBG_COSTS,
    NBG_TARGET,
    ROOT,  # noqa: E402
    nasbench_graph_table,
    parse_value,
    recipe_effect,
    seed_noise,
    with_recipe,
)

BASELINES = ("ridge", "rf", "gbr", "gp", "ridge-rank", "gp-rank")
ZERO_COST = {"mnist1d": ROOT / "benchmarks" / "data" / "mnist1d_sobol_zero_cost.csv"}
"""Free labels (every proxy of 4,096 Sobol architectures, from bench_zero_cost.py) that
the ``jointnas-zc`` row pretrains on."""
RANK_TARGETS = ("ridge-rank", "gp-rank")
TOP_K = 10
METHODS = ("jointnas", "jointnas-zc", "jointnas-nopre") + BASELINES


class Dataset:
    """One benchmark: a space, its measured rows, the target and the pretraining data."""

    def __init__(
        self,
        name: str,
        space: SearchSpace,
        table: pd.DataFrame,
        target: str,
        pretrain: Callable[[AccuracyPredictor], AccuracyPredictor],
        pretrain_zc: Callable[[AccuracyPredictor], AccuracyPredictor] | None = None,
    ) -> None:
        self.name, self.space, self.table, self.target = name, space, table, target
        self.pretrain, self.pretrain_zc = pretrain, pretrain_zc


def nasbench_graph(name: str) -> Dataset:
    """A NAS-Bench-Graph dataset as a tabular space; pretraining on params and latency."""
    table, space = nasbench_graph_table(name)
    return Dataset(name, space, table, NBG_TARGET, lambda est: est.pretrain(table, targets=NBG_COSTS))


def nasbench_graph_with_recipe(name: str, n: int = 6000, seed: int = 0) -> Dataset:
    """``<name>+recipe``: a joint table where both the architecture and the recipe matter.

    ``n`` NAS-Bench-Graph rows, each given a random recipe (``lr`` log-uniform in
    [1e-3, 1], ``optimizer`` sgd or adam) and the target ``acc = valid_acc - std *
    (log10(lr) - best)^2 / 2``, ``best`` = -1 for sgd and -2.5 for adam, ``std`` the
    table's standard deviation of ``valid_acc``. The recipe effect is synthetic (an
    interaction like the lr x optimizer one of the digits table); the architecture effect
    is measured.
    """
    table, space = nasbench_graph_table(name)
    table = table.sample(n, random_state=seed).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    table["lr"] = 10 ** rng.uniform(-3, 0, n)
    table["optimizer"] = rng.choice(["sgd", "adam"], n)
    table["acc"] = table[NBG_TARGET] + recipe_effect(table, table[NBG_TARGET].std())
    joint = with_recipe(space)
    return Dataset(f"{name}+recipe", joint, table, "acc", lambda est: est.pretrain(table, targets=NBG_COSTS))


def joint_table(name: str, n_pool: int = 20000) -> Dataset | None:
    """A trained development table (``digits``, ``mnist1d``), or ``None`` when it is
    missing or has fewer than 100 usable rows."""
    path, space_path = JOINT_TABLES[name]
    if not path.is_file():
        return None
    space = SearchSpace.from_yaml(str(space_path))
    table = read_table(path)
    target = "val_acc" if "val_acc" in table.columns else "acc"
    table = table.loc[usable_rows(table, target)].reset_index(drop=True)
    if len(table) < 100:
        print(f"{name}: only {len(table)} usable rows in {path}, skipped")
        return None
    from jointnas.recipes.cost import space_costs
    from jointnas.recipes.zero_cost import PROXIES

    labels = ZERO_COST.get(name)
    zc = None
    if labels is not None and labels.is_file():
        free = read_table(labels)
        zc = lambda est: est.pretrain(free, targets=PROXIES)  # noqa: E731
    return Dataset(name, space, table, target, lambda est: est.pretrain(n=n_pool, costs=space_costs), zc)


def baseline(name: str, seed: int) -> Any:
    """A scikit-learn regressor with default-ish settings."""
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, DotProduct, WhiteKernel
    from sklearn.linear_model import Ridge

    if name in ("ridge", "ridge-rank"):
        return Ridge(alpha=1.0)
    if name == "gp-rank":
        kernel = ConstantKernel() * RBF(length_scale=2.0) + DotProduct() + WhiteKernel(1e-2)
        return GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed)
    if name == "rf":
        return RandomForestRegressor(n_estimators=200, random_state=seed, n_jobs=1)
    if name == "gbr":
        return GradientBoostingRegressor(random_state=seed)
    kernel = ConstantKernel() * RBF(length_scale=2.0) + WhiteKernel(1e-2)
    return GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed)


def rank_scaled(y: np.ndarray) -> np.ndarray:
    """Ranks of ``y`` scaled to [0, 1] (ties averaged): the target of the ``-rank`` baselines."""
    from scipy.stats import rankdata

    return (rankdata(y) - 1) / max(len(y) - 1, 1)


def evaluate(
    ds: Dataset, ns: list[int], seeds: list[int], methods: list[str], params: dict[str, Any]
) -> tuple[dict, dict, dict]:
    """Kendall tau, P@10 and fit seconds per (method, N), one value per seed."""
    taus: dict[tuple[str, int], list[float]] = {}
    p10: dict[tuple[str, int], list[float]] = {}
    secs: dict[tuple[str, int], list[float]] = {}
    y_all = ds.table[ds.target].to_numpy(dtype=np.float64)
    x_all = ds.space.encode(ds.table)
    if ds.pretrain_zc is None and "jointnas-zc" in methods:
        methods = [m for m in methods if m != "jointnas-zc"]
        print(f"  [{ds.name}] jointnas-zc skipped: no zero-cost labels (bench_zero_cost.py)")
    for seed in seeds:
        pretrained = {}
        for method, fn in (("jointnas", ds.pretrain), ("jointnas-zc", ds.pretrain_zc)):
            if method in methods:
                t0 = time.perf_counter()
                pretrained[method] = fn(AccuracyPredictor(ds.space, seed=seed, **params))
                secs.setdefault((f"pretrain {method}", 0), []).append(time.perf_counter() - t0)
        order = np.random.default_rng(seed).permutation(len(ds.table))
        for n in ns:
            train, test = order[:n], order[n:]
            for method in methods:
                t0 = time.perf_counter()
                if method.startswith("jointnas"):
                    est = (
                        copy.deepcopy(pretrained[method])
                        if method in pretrained
                        else AccuracyPredictor(ds.space, seed=seed, **params)
                    )
                    est.fit(ds.table.iloc[train], target=ds.target)
                    fit_s = time.perf_counter() - t0
                    pred = est.predict(ds.table.iloc[test])
                else:
                    y_fit = rank_scaled(y_all[train]) if method in RANK_TARGETS else y_all[train]
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        model = baseline(method, seed).fit(x_all[train], y_fit)
                    fit_s = time.perf_counter() - t0
                    pred = model.predict(x_all[test])
                taus.setdefault((method, n), []).append(kendall_tau(y_all[test], pred))
                p10.setdefault((method, n), []).append(precision_at_k(y_all[test], pred, TOP_K))
                secs.setdefault((method, n), []).append(fit_s)
            line = "  ".join(f"{m} {taus[(m, n)][-1]:.3f}" for m in methods)
            print(f"  [{ds.name} seed {seed} N={n}] {line}", flush=True)
    return taus, p10, secs


def print_table(
    ds: Dataset, ns: list[int], methods: list[str], taus: dict, secs: dict, p10: dict | None = None
) -> None:
    """Mean (std) tau and P@10 per method and N, the noise ceiling, then the targets."""
    methods = [m for m in methods if (m, ns[0]) in taus]  # rows that ran on this dataset
    print(
        f"\n### {ds.name}: Kendall tau of {ds.target} on the remaining rows "
        f"({len(ds.table)} rows, mean (std) over seeds)"
    )
    print("| method | " + " | ".join(f"N={n}" for n in ns) + " | fit s @ N=" + str(ns[-1]) + " |")
    print("|---" * (len(ns) + 2) + "|")
    for m in methods:
        cells = [f"{np.mean(taus[(m, n)]):.3f} ({np.std(taus[(m, n)]):.3f})" for n in ns]
        print(f"| {m} | " + " | ".join(cells) + f" | {np.mean(secs[(m, ns[-1])]):.2f} |")
    if p10:
        print(f"\nP@{TOP_K} (fraction of the predicted top {TOP_K} among the true top {TOP_K}):")
        print("| method | " + " | ".join(f"N={n}" for n in ns) + " |")
        print("|---" * (len(ns) + 1) + "|")
        for m in methods:
            print(f"| {m} | " + " | ".join(f"{np.mean(p10[(m, n)]):.2f}" for n in ns) + " |")
    repeated, ceiling = seed_noise(ds.table, ds.target)
    if repeated:
        print(
            f"noise ceiling: Kendall tau between two training seeds over the {repeated} "
            f"pairs trained twice: {ceiling:.3f}"
        )
    base = [m for m in methods if m in BASELINES]
    if "jointnas" in methods and base:
        gaps = [np.mean(taus[("jointnas", n)]) - max(np.mean(taus[(b, n)]) for b in base) for n in ns]
        print(
            "jointnas - best baseline: "
            + ", ".join(f"N={n}: {g:+.3f}" for n, g in zip(ns, gaps))
            + ("  (target >= +0.03: " + ("met" if min(gaps) >= 0.03 else "MISSED") + ")")
        )
    for method, what in (("jointnas", "FLOPs/params"), ("jointnas-zc", "zero-cost proxies")):
        if (method, ns[0]) in taus and ("jointnas-nopre", ns[0]) in taus:
            n0 = ns[0]
            gain = np.mean(taus[(method, n0)]) - np.mean(taus[("jointnas-nopre", n0)])
            print(
                f"pretraining gain ({what}) at N={n0}: {gain:+.3f}  (target >= +0.05: "
                + ("met" if gain >= 0.05 else "MISSED")
                + ")"
            )
        if (f"pretrain {method}", 0) in secs:
            print(f"pretraining time ({what}): {np.mean(secs[(f'pretrain {method}', 0)]):.1f} s")


def measure_speed(
    ds: Dataset, params: dict[str, Any], n_score: int, n_fit: int, seed: int = 0
) -> dict[str, Any]:
    """Pretrain and fit on ``n_fit`` random rows, then time scoring ``n_score`` Sobol configs.

    Returns:
        ``pretrain_s``, ``fit_s``, ``score_s``, ``score_std_s`` (with ``return_std``),
        ``tau`` (Kendall tau on the rows not fitted) and ``n_models``. GPU work is
        synchronized before each clock read.
    """

    def clock() -> float:
        if str(params.get("device", "cpu")).startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter()

    order = np.random.default_rng(seed).permutation(len(ds.table))
    train, rest = ds.table.iloc[order[:n_fit]], ds.table.iloc[order[n_fit:]]
    t0 = clock()
    est = ds.pretrain(AccuracyPredictor(ds.space, seed=seed, **params))
    t1 = clock()
    est.fit(train, target=ds.target)
    t2 = clock()
    tau = kendall_tau(rest[ds.target].to_numpy(dtype=np.float64), est.predict(rest))
    pool = ds.space.sample_qmc(n_score, seed=seed + 1, frame=True)
    est.predict(pool[:1000])
    t3 = clock()
    est.predict(pool)
    t4 = clock()
    est.predict(pool, return_std=True)
    t5 = clock()
    return {
        "pretrain_s": t1 - t0,
        "fit_s": t2 - t1,
        "score_s": t4 - t3,
        "score_std_s": t5 - t4,
        "tau": tau,
        "n_models": est.n_models,
    }


def speed(ds: Dataset, params: dict[str, Any], n_score: int, n_fit: int, threads: int) -> None:
    """Print fit time at ``n_fit`` rows and scoring throughput on ``n_score`` Sobol configs."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    m = measure_speed(ds, params, n_score, n_fit)
    print(f"\n### speed on {ds.name} ({torch.get_num_threads()} torch thread(s), n_models={m['n_models']})")
    print(f"pretrain: {m['pretrain_s']:.1f} s; fit at N={n_fit}: {m['fit_s']:.2f} s (target <= 20 s)")
    print(
        f"scoring {n_score} configs: {n_score / m['score_s']:,.0f} candidates/s "
        f"({n_score / m['score_std_s']:,.0f}/s with return_std; target >= 200,000/s)"
    )
    torch.set_num_threads(before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        default="arxiv,cs,citeseer,cora,digits,mnist1d",
        help="comma list of NAS-Bench-Graph datasets, 'digits', 'mnist1d' and/or '<dataset>+recipe'",
    )
    parser.add_argument("--n", default="50,100,200,500", help="training-set sizes")
    parser.add_argument("--seeds", type=int, default=5, help="random training sets per N")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma list of methods")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an AccuracyPredictor hyperparameter (repeatable)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads for the quality tables (1 on a shared box)"
    )
    parser.add_argument(
        "--speed-threads",
        type=int,
        default=2,
        help="torch threads for throughput and fit time (target: 2 cores)",
    )
    parser.add_argument("--score-n", type=int, default=200_000, help="configs for throughput")
    parser.add_argument("--no-speed", action="store_true", help="skip throughput and fit time")
    parser.add_argument("--quick", action="store_true", help="arxiv and cora, 2 seeds")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = ["arxiv", "cora"] if args.quick else args.datasets.split(",")
    seeds = list(range(2 if args.quick else args.seeds))
    ns = [int(v) for v in args.n.split(",")]
    methods = args.methods.split(",")
    params = {k: parse_value(v) for k, v in (item.split("=", 1) for item in args.set)}
    print(f"predictor hyperparameters: defaults{' + ' + str(params) if params else ''}")
    timed = None
    for name in names:
        if name in JOINT_TABLES:
            ds = joint_table(name)
        elif name.endswith("+recipe"):
            ds = nasbench_graph_with_recipe(name.removesuffix("+recipe"))
        else:
            ds = nasbench_graph(name)
        if ds is None:
            continue
        usable = [n for n in ns if n <= len(ds.table) - 50]
        taus, p10, secs = evaluate(ds, usable, seeds, methods, params)
        print_table(ds, usable, methods, taus, secs, p10)
        if timed is None or ds.name in JOINT_TABLES:  # time a joint space when present
            timed = ds
    if not args.no_speed and timed is not None:
        speed(timed, params, args.score_n, min(200, len(timed.table)), args.speed_threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())

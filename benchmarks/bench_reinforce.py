"""REINFORCE controller and ENAS: search efficiency on measured tables, ENAS cost and ranking.

1. Tables (NAS-Bench-Graph arxiv, cs, citeseer, cora and the digits sample table), each
   table's rows the finite pool, batches of 10, the same seeds for every strategy: the
   true rank (1 = best in the table) of the best pair found after 50, 100 and 200
   queries, median [25th, 75th percentile] over seeds, for ``reinforce`` (its defaults),
   ``random`` and ``evolution`` (regularized evolution, its defaults), all through
   ``create_strategy`` on a ``CandidateSet``. A table with no more rows than the largest
   budget gets budgets scaled down to at most half its rows (stated in its heading).
2. ENAS on MNIST-1D (``configs/supernet_layers_mnist1d.yaml``; ``--enas-dataset digits
   --enas-space configs/supernet_layers.yaml`` for the digits run): per seed the search wall time,
   the chosen architecture's shared-weight and standalone accuracy (retrained from
   scratch); the cost of training every candidate standalone, estimated as the mean
   time of the standalone trainings below times the number of architectures; the Kendall
   tau between shared-weight accuracy (the ENAS supernet, batch norm recalibrated) and
   standalone accuracy (mean over ``--truth-seeds`` seeds, whose own tau is the noise
   ceiling) over ``--archs`` architectures drawn uniformly.

Usage:
    python benchmarks/bench_reinforce.py                 # 20 seeds, all tables, ENAS 3 seeds
    python benchmarks/bench_reinforce.py --quick         # 3 seeds, arxiv + cora, ENAS 1 seed
    python benchmarks/bench_reinforce.py --skip-enas --datasets cora --seeds 5
"""

from __future__ import annotations

import argparse
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search import Bench, Spec, nasbench_graph, run_search, table_bench  # noqa: E402
from common import DIGITS, DIGITS_SPACE, ROOT, quartiles, report_path, write_report  # noqa: E402

from jointnas.data.datasets import load_dataset  # noqa: E402
from jointnas.data.space_io import read_space  # noqa: E402
from jointnas.predictor.metrics import kendall_tau  # noqa: E402
from jointnas.recipes.supernet.training import evaluate_paths, supernet_recipe  # noqa: E402
from jointnas.search.oneshot.enas import ENAS_CONTROLLER, enas_search, retrain  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "reinforce.md"
ENAS_SPACE = ROOT / "configs" / "supernet_layers_mnist1d.yaml"
STRATEGIES = ("random", "evolution", "reinforce")
BATCH = 10


def table_section(bench: Bench, seeds: list[int], budgets: list[int]) -> list[str]:
    """Median rank of the best found per strategy and budget on one table."""
    scores = bench.scores
    rank = pd.Series(-scores).rank(method="min").to_numpy()
    n = len(scores)
    note = ""
    if budgets[-1] >= n:  # a small (partial) table: budgets scaled to at most half the pool
        budgets = sorted({max(1, n * b // (2 * budgets[-1])) for b in budgets})
        note = f" (pool smaller than the budgets: scaled to {budgets})"
    lines = [
        f"### {bench.name}: {n} pairs, target `{bench.evaluator.target}` (best {scores.max():.4f})" + note,
        "",
        "| strategy | " + " | ".join(f"rank@{b}" for b in budgets) + " | found best @"
        f"{budgets[-1]} | s/run |",
        "|---" * (len(budgets) + 3) + "|",
    ]
    for name in STRATEGIES:
        started = time.perf_counter()
        best = {b: [] for b in budgets}
        for seed in seeds:
            rows = run_search(bench, Spec(name, name, BATCH), seed, min(budgets[-1], n), scores)
            for b in budgets:
                best[b].append(float(rank[rows[:b]].min()))
        secs = (time.perf_counter() - started) / len(seeds)
        cells = [quartiles(best[b]) for b in budgets]
        found = np.mean([v == 1 for v in best[budgets[-1]]])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {found:.2f} | {secs:.2f} |")
        print(f"  [{bench.name}] {lines[-1]}", file=sys.stderr, flush=True)
    return lines + [""]


def enas_section(
    seeds: list[int],
    epochs: int,
    steps: int,
    samples: int,
    retrain_epochs: int,
    n_archs: int,
    *,
    dataset: str = "mnist1d",
    space_file: Path = ENAS_SPACE,
    truth_seeds: int = 2,
) -> list[str]:
    """ENAS on a layer supernet: time, found accuracy, estimate, tau against standalone
    training (mean over ``truth_seeds`` seeds, whose own tau is the noise ceiling)."""
    space = read_space(str(space_file))
    bundle = load_dataset(dataset)
    results = []
    for seed in seeds:
        r = enas_search(
            space,
            bundle,
            epochs=epochs,
            controller_steps=steps,
            samples=samples,
            retrain_epochs=retrain_epochs,
            seed=seed,
        )
        results.append(r)
        print(
            f"  [enas] seed {seed}: {r.search_seconds:.1f} s, best {r.best}, "
            f"standalone {r.standalone['val_acc']:.4f}",
            file=sys.stderr,
            flush=True,
        )
    net = results[0].supernet
    rng = np.random.default_rng(0)
    paths = sorted({tuple(int(rng.integers(k)) for k in net.spec.num_choices) for _ in range(4 * n_archs)})
    paths = [paths[i] for i in rng.choice(len(paths), size=min(n_archs, len(paths)), replace=False)]
    archs = [net.spec.arch(p) for p in paths]
    shared = evaluate_paths(net, archs, bundle, recalibrate_bn=4, seed=seeds[0])
    recipe = results[0].settings["recipe"]
    runs = [
        [retrain(space, a, bundle, supernet_recipe(recipe), retrain_epochs, seed, "cpu") for a in archs]
        for seed in range(truth_seeds)
    ]
    by_seed = np.array([[a["val_acc"] for a in alone] for alone in runs])
    truth = by_seed.mean(axis=0)
    per_arch = float(np.mean([a["seconds"] for alone in runs for a in alone]))
    total = net.spec.num_paths
    lines = [
        f"### ENAS on {dataset} ({space.name}: {total} architectures)",
        "",
        f"Settings: {epochs} supernet epochs (SGD lr {recipe['lr']}, batch {recipe['batch_size']}, "
        f"cosine), {steps} controller steps x {samples} samples per epoch, controller "
        f"{ENAS_CONTROLLER}, batch norm recalibrated on 4 batches per scored path, 16 final "
        f"samples; standalone = {retrain_epochs} epochs from scratch, same recipe; the "
        f"{len(archs)} sampled architectures trained with {truth_seeds} seed(s), truth = their mean.",
        "",
        "| seed | search s | found architecture | shared val | standalone val | standalone test "
        "| retrain s | found vs the sample below |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for seed, r in zip(seeds, results):
        s = r.standalone
        beaten = float(np.mean(truth < s["val_acc"]))
        label = ",".join(str(v) for v in r.best.values())
        lines.append(
            f"| {seed} | {r.search_seconds:.1f} | {label} | {r.shared_acc:.4f} | {s['val_acc']:.4f} "
            f"| {s['test_acc']:.4f} | {s['seconds']:.1f} | beats {100 * beaten:.0f}% |"
        )
    search = float(np.median([r.search_seconds for r in results]))
    lines += [
        "",
        "| quantity | value |",
        "|---|---|",
        f"| ENAS search time (median over seeds) | {search:.1f} s |",
        f"| standalone training, mean of {by_seed.size} runs | {per_arch:.2f} s |",
        f"| training all {total} architectures (estimate) | {per_arch * total:.0f} s "
        f"({per_arch * total / search:.1f}x the ENAS search) |",
        f"| standalone val accuracy of the {len(archs)} sampled: median [min, max] | "
        f"{np.median(truth):.4f} [{truth.min():.4f}, {truth.max():.4f}] |",
        f"| Kendall tau, shared-weight vs standalone val accuracy ({len(archs)} archs, seed "
        f"{seeds[0]} supernet) | {kendall_tau(truth, shared):.3f} |",
    ]
    if truth_seeds > 1:
        noise = np.mean([kendall_tau(a, b) for a, b in combinations(by_seed, 2)])
        lines.append(f"| Kendall tau between standalone seeds (noise ceiling) | {noise:.3f} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print markdown tables and write them to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="arxiv,cs,citeseer,cora,digits", help="comma list")
    parser.add_argument("--seeds", type=int, default=20, help="seeds per strategy and table")
    parser.add_argument("--budgets", default="50,100,200", help="query budgets")
    parser.add_argument("--enas-seeds", type=int, default=3, help="ENAS runs")
    parser.add_argument("--epochs", type=int, default=20, help="ENAS supernet epochs (default 20)")
    parser.add_argument("--controller-steps", type=int, default=10, help="ENAS controller steps per epoch")
    parser.add_argument("--samples", type=int, default=8, help="ENAS samples per controller step")
    parser.add_argument("--retrain-epochs", type=int, default=20, help="standalone epochs (default 20)")
    parser.add_argument("--archs", type=int, default=20, help="architectures for the tau")
    parser.add_argument("--enas-dataset", default="mnist1d", help="ENAS dataset (default mnist1d)")
    parser.add_argument("--enas-space", type=Path, default=ENAS_SPACE, help="ENAS layer supernet space")
    parser.add_argument("--truth-seeds", type=int, default=2, help="standalone seeds of the tau's truth")
    parser.add_argument("--skip-enas", action="store_true", help="tables only")
    parser.add_argument("--quick", action="store_true", help="3 seeds, arxiv and cora, 1 ENAS seed")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"markdown file written at the end (default: {OUT.relative_to(ROOT)}, "
        "and only for a run with every other option at its default)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    names = "arxiv,cora".split(",") if args.quick else args.datasets.split(",")
    seeds = list(range(3 if args.quick else args.seeds))
    budgets = sorted(int(b) for b in args.budgets.split(","))
    lines = [
        "# REINFORCE controller and ENAS",
        "",
        f"Seeds 0-{len(seeds) - 1}, batches of {BATCH}, each table's rows as the finite pool; "
        "ranks: median [25th, 75th percentile] over seeds, 1 = best in the table; torch threads 1.",
        "Strategies at their defaults (reinforce: hidden 32, Adam lr 0.05, entropy 0.01, "
        "baseline decay 0.8, tanh constant 2.5, normalized advantages).",
        "",
    ]
    print("\n".join(lines), flush=True)
    for name in names:
        bench = table_bench(name, DIGITS, DIGITS_SPACE) if name == "digits" else nasbench_graph(name)
        if bench is None:
            continue
        block = table_section(bench, seeds, budgets)
        print("\n".join(block), flush=True)
        lines += block
    if not args.skip_enas:
        enas_seeds = list(range(1 if args.quick else args.enas_seeds))
        block = enas_section(
            enas_seeds,
            args.epochs,
            args.controller_steps,
            args.samples,
            args.retrain_epochs,
            args.archs,
            dataset=args.enas_dataset,
            space_file=args.enas_space,
            truth_seeds=args.truth_seeds,
        )
        print("\n".join(block), flush=True)
        lines += block
    write_report(lines, report_path(parser, args, OUT), started)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Ensemble search benchmark: EdgeNES against DARTS and random baselines, same budget accounting.

Rows (the table of the EdgeNES study), each over ``--seeds`` repetitions:

* ``DARTS (single)``: one first-order DARTS search, its ``alpha*`` trained from scratch.
* ``random arch (single)``: one uniformly random architecture trained from scratch.
* ``DARTS ensemble``: ``n`` DARTS searches with different seeds, each ``alpha*`` trained,
  all ``n`` averaged. Repetition ``r`` uses DARTS runs ``r .. r+n-1`` of a pool of
  ``n + seeds - 1`` runs (a sliding window: fewer searches, same per-ensemble budget).
* ``random ensemble``: ``N`` random architectures trained, at most ``n`` chosen by greedy
  forward selection on validation accuracy.
* ``EdgeNES ensemble``: DARTS run ``r`` + hypernetwork, ``N`` architectures sampled for
  ``lambda ~ U{1..Lambda}`` and trained from scratch, at most ``n`` chosen greedily.
* ``EdgeNES (inherit)``: the same ``N`` architectures starting from the hypernetwork's
  supernet weights, ``--inherit-epochs`` fine-tuning epochs each.

Budget: process CPU time of everything a row needs (searches, hypernetwork, every trained
candidate), single-threaded, in CPU hours; ``hours`` sums the shared DARTS run into each
row that uses it. Accuracies are test accuracy (and validation) mean and standard
deviation over repetitions.

Diversity control: mean edges shared with ``alpha*`` of architectures sampled at each
``lambda`` (``--samples`` per value and repetition) and its Spearman correlation with
``lambda``; then the check of the expected number of updated edges
``N (Lambda + 1)^2 / (4 Lambda)`` (see ``updated_edges`` for the interpretation).

The default is MNIST-1D (``configs/darts_mnist1d.yaml``): digits is saturated (every
architecture scores about the same), so it cannot tell the ensembles apart. A full default
run writes the tables to ``benchmarks/results/ensemble.md``.

Usage:
    python benchmarks/bench_ensemble.py                       # mnist1d, 3 seeds, n=3, N=10
    python benchmarks/bench_ensemble.py --quick               # smoke run (1 seed, tiny)
    python benchmarks/bench_ensemble.py --config configs/darts_digits.yaml
    python benchmarks/bench_ensemble.py --dataset mnist --root ~/data --seeds 3
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import sys
import time
from itertools import combinations
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from jointnas.data.datasets import load_dataset
from jointnas.search.display import format_table
from jointnas.search.oneshot.ensemble import (
    Member,
    Splits,
    darts_search,
    ensemble_scores,
    greedy_select,
    mean_pairwise_shared,
    random_genotype,
    read_config,
    sample_architectures,
    shared_edges,
    spawn_seeds,
    train_hypernet,
    train_member,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ensemble.md"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--config",
        default=str(ROOT / "configs" / "darts_mnist1d.yaml"),
        help="EdgeNES config YAML (default configs/darts_mnist1d.yaml)",
    )
    p.add_argument("--dataset", help="dataset name (default: the config's)")
    p.add_argument("--root", help="dataset folder for datasets other than digits")
    p.add_argument("--seeds", type=int, default=3, help="repetitions (default 3)")
    p.add_argument("--n", type=int, help="ensemble size (default: the config's)")
    p.add_argument("--N", type=int, help="candidates (default: the config's)")
    p.add_argument("--samples", type=int, default=20, help="samples per lambda (default 20)")
    p.add_argument(
        "--pair-samples",
        type=int,
        default=200,
        help="architectures sampled per seed for the updated-edges check (default 200)",
    )
    p.add_argument(
        "--inherit-epochs",
        type=int,
        default=1,
        help="fine-tuning epochs of inherited members (default 1; -1 skips the row)",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 1 epoch everywhere")
    p.add_argument("--out", help="also write the tables (markdown) to this file")
    args = p.parse_args(argv)
    args.full = all(getattr(args, k) == p.get_default(k) for k in vars(args) if k != "out")
    return args


def stats(values: list[float]) -> str:
    a = np.asarray(values, dtype=float)
    return f"{a.mean():.4f} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.4f}"


def train_pool(
    space, genotypes, splits, settings, seeds, source, star, lambdas=None, supernet=None
) -> list[Member]:
    lambdas = lambdas or [None] * len(genotypes)
    return [
        train_member(space, g, splits, settings, s, supernet, lam, source, star)
        for g, s, lam in zip(genotypes, seeds, lambdas)
    ]


def updated_edges(
    lambda_max: int, N: int, pool_sets: list[list[set]], rng: np.random.Generator, draws: int = 200_000
) -> pd.DataFrame:
    """Check ``N (Lambda+1)^2 / (4 Lambda)``.

    Interpretation: member ``i`` keeps a set ``S_i`` of ``lambda_i`` edges of ``alpha*``,
    ``lambda_i ~ U{1..Lambda}`` independently (the continuous ``U(1, Lambda)`` has the same
    mean). When ``S_i`` is a uniformly random ``lambda_i``-subset, two members share
    ``|S_i & S_j|`` edges of ``alpha*`` with mean ``E[lambda]^2 / Lambda = (Lambda+1)^2 /
    (4 Lambda)`` (hypergeometric). Those are the edges whose (inherited, shared) weights a
    member updates again after another member did; over ``N`` members, each paired with the
    next (cyclically), the expected total is ``N (Lambda+1)^2 / (4 Lambda)``. Measured here:
    (a) Monte Carlo of that model, (b) the same model fed with the shared-edge counts the
    hypernetwork's samples really have (``E[c_i c_j] / Lambda``: the count is not exactly
    ``lambda``), (c) the hypernetwork's samples themselves (every pair within each set of
    samples drawn for ``lambda ~ U{1..Lambda}``).
    """
    L = lambda_max
    formula = N * (L + 1) ** 2 / (4 * L)
    lam = rng.integers(1, L + 1, size=(draws, 2))
    # hypergeometric overlap of two uniform random subsets of sizes lam_i, lam_j of L items
    overlap = rng.hypergeometric(lam[:, 0], L - lam[:, 0], lam[:, 1])
    nested = np.minimum(lam[:, 0], lam[:, 1])
    pairs = [len(a & b) for sets in pool_sets for a, b in combinations(sets, 2)]
    counts = [(len(a), len(b)) for sets in pool_sets for a, b in combinations(sets, 2)]
    product = float(np.mean([ca * cb for ca, cb in counts]) / L) if counts else float("nan")
    rows = [
        {"quantity": "formula N (L+1)^2 / (4 L)", "per pair": formula / N, "x N": formula},
        {
            "quantity": "Monte Carlo, uniform random subsets",
            "per pair": overlap.mean(),
            "x N": N * overlap.mean(),
        },
        {
            "quantity": "if subsets were nested (E min(l_i, l_j))",
            "per pair": nested.mean(),
            "x N": N * nested.mean(),
        },
        {"quantity": "random-subset model with the samples' counts", "per pair": product, "x N": N * product},
        {
            "quantity": "measured: EdgeNES samples (alpha* edges shared by both)",
            "per pair": float(np.mean(pairs)) if pairs else float("nan"),
            "x N": N * float(np.mean(pairs)) if pairs else float("nan"),
        },
    ]
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    overrides = {"n": args.n, "N": args.N, "dataset": args.dataset}
    if args.quick:
        overrides.update(search__epochs=1, search__warmup_epochs=0, hypernet__epochs=1, members__epochs=1)
        args.seeds, args.samples, args.pair_samples = 1, 4, 20
    config = read_config(args.config, **overrides)
    n, N, S = config.n, config.N, args.seeds
    t0 = time.perf_counter()
    bundle = load_dataset(config.dataset, root=args.root)
    splits = Splits.from_bundle(bundle)
    space = dataclasses.replace(config.space, in_shape=tuple(bundle.in_shape), num_classes=bundle.num_classes)
    L = space.max_shared
    members = config.members
    inherit = dataclasses.replace(members, inherit=True, epochs=max(args.inherit_epochs, 0))
    print(
        f"dataset {config.dataset}: train {len(splits.y_train)}, val {len(splits.y_val)}, "
        f"test {0 if splits.y_test is None else len(splits.y_test)}; cells {list(space.layout)}, "
        f"{space.nodes} nodes, {len(space.ops)} ops, {space.channels} channels, Lambda={L}; "
        f"DARTS {config.darts.epochs} epochs, hypernet {config.hyper.epochs} epochs "
        f"(C={config.hyper.penalty}), members {members.epochs} epochs; n={n}, N={N}, "
        f"seeds={S}; 1 CPU thread",
        flush=True,
    )

    # DARTS pool: n + S - 1 searches, each alpha* trained once
    runs = []
    for k in range(n + S - 1):
        d = darts_search(space, splits, config.darts, seed=1000 + k)
        m = train_member(
            space, d.alpha_star, splits, members, seed=2000 + k, source="darts", alpha_star=d.alpha_star
        )
        runs.append((d, m))
        print(
            f"  DARTS run {k}: supernet val {d.val_acc:.4f}, alpha* test {m.test_acc:.4f}, "
            f"{d.cpu_seconds + m.cpu_seconds:.0f} CPU s",
            flush=True,
        )

    rows: dict[str, list[dict]] = {}

    def add(name: str, **kw: Any) -> None:
        rows.setdefault(name, []).append(kw)

    curve = {lam: [] for lam in range(L + 1)}
    pool_sets = []
    for r in range(S):
        d, m = runs[r]
        star = d.alpha_star
        add(
            "DARTS (single)",
            test=m.test_acc,
            val=m.val_acc,
            cpu=d.cpu_seconds + m.cpu_seconds,
            size=1,
            div=float("nan"),
        )
        window = runs[r : r + n]
        ens = [w[1] for w in window]
        val, test = ensemble_scores(ens, splits)
        add(
            "DARTS ensemble",
            test=test,
            val=val,
            size=n,
            cpu=sum(w[0].cpu_seconds + w[1].cpu_seconds for w in window),
            div=mean_pairwise_shared([w[1].genotype for w in window]),
        )

        rng = np.random.default_rng(r)
        rand = train_pool(
            space,
            [random_genotype(space, rng) for _ in range(N)],
            splits,
            members,
            spawn_seeds(3000 + r, N),
            "random",
            star,
        )
        add(
            "random arch (single)",
            test=rand[0].test_acc,
            val=rand[0].val_acc,
            cpu=rand[0].cpu_seconds,
            size=1,
            div=float("nan"),
        )
        sel = greedy_select([p.val_proba for p in rand], splits.y_val, n)
        chosen = [rand[i] for i in sel.indices]
        val, test = ensemble_scores(chosen, splits)
        add(
            "random ensemble",
            test=test,
            val=val,
            cpu=sum(p.cpu_seconds for p in rand),
            size=len(chosen),
            div=mean_pairwise_shared([p.genotype for p in chosen]),
        )

        supernet = copy.deepcopy(d.supernet)
        h = train_hypernet(space, splits, supernet, d.alpha, star, config.hyper, seed=4000 + r)
        gen = torch.Generator().manual_seed(5000 + r)
        low, high = config.sample_range or (1, L)
        lambdas = [int(v) for v in torch.randint(low, high + 1, (N,), generator=gen)]
        genos = sample_architectures(h.hypernet, space, lambdas, config.hyper.tau, gen)
        star_set = star.edge_set()
        draws = [int(v) for v in torch.randint(low, high + 1, (args.pair_samples,), generator=gen)]
        pool_sets.append(
            [
                g.edge_set() & star_set
                for g in sample_architectures(h.hypernet, space, draws, config.hyper.tau, gen)
            ]
        )
        for lam in range(L + 1):
            for g in sample_architectures(h.hypernet, space, [lam] * args.samples, config.hyper.tau, gen):
                curve[lam].append(shared_edges(g, star))
        variants = [("EdgeNES ensemble", members, None)]
        if args.inherit_epochs >= 0:
            variants.append((f"EdgeNES (inherit, {inherit.epochs} ep)", inherit, supernet))
        for name, settings, source_net in variants:
            pool = train_pool(
                space, genos, splits, settings, spawn_seeds(6000 + r, N), "edgenes", star, lambdas, source_net
            )
            sel = greedy_select([p.val_proba for p in pool], splits.y_val, n)
            chosen = [pool[i] for i in sel.indices]
            val, test = ensemble_scores(chosen, splits)
            add(
                name,
                test=test,
                val=val,
                size=len(chosen),
                cpu=d.cpu_seconds + h.cpu_seconds + sum(p.cpu_seconds for p in pool),
                div=mean_pairwise_shared([p.genotype for p in chosen]),
            )
        print(f"  seed {r} done ({time.perf_counter() - t0:.0f} s wall)", flush=True)

    table = pd.DataFrame(
        [
            {
                "method": name,
                "members": f"{np.mean([x['size'] for x in xs]):.2g}",
                "test acc": stats([x["test"] for x in xs]),
                "val acc": stats([x["val"] for x in xs]),
                "CPU h": np.mean([x["cpu"] for x in xs]) / 3600,
                "pairwise shared": float(np.nanmean([x["div"] for x in xs]))
                if any(np.isfinite(x["div"]) for x in xs)
                else "-",
            }
            for name, xs in rows.items()
        ]
    )
    lam_frame = pd.DataFrame(
        [
            {
                "lambda": lam,
                "mean shared with alpha*": float(np.mean(v)),
                "std": float(np.std(v)),
                "samples": len(v),
            }
            for lam, v in curve.items()
        ]
    )
    rho = spearmanr(lam_frame["lambda"], lam_frame["mean shared with alpha*"])[0]
    upd = updated_edges(L, N, pool_sets, np.random.default_rng(0))
    text = [
        f"## Ensembles ({config.dataset}, n={n}, N={N}, {S} seeds; test/val acc mean ± std)",
        format_table(table),
        f"\n## Diversity control: edges shared with alpha* vs lambda (Spearman {rho:.3f})",
        format_table(lam_frame),
        f"\n## Expected updated edges, N={N}, Lambda={L}",
        format_table(upd),
        f"\ntotal wall time {time.perf_counter() - t0:.0f} s",
    ]
    print("\n" + "\n".join(text))
    for path in [args.out] + ([RESULTS] if args.full else []):
        if path:
            Path(path).write_text("\n".join(text) + "\n")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

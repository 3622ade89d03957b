"""Choose a space's default pair: a few common hand-made CNN designs x standard recipes.

The default pair is the baseline the demo must beat, so it must be fair, not a strawman.
This script trains each (design, recipe) combination with ``--seeds`` seeds on the
dataset and prints mean validation / test accuracy, FLOPs and params; the best by mean
validation accuracy is the default of ``configs/mnist1d.yaml``. Results:
``benchmarks/results/default_mnist1d.md``.

Usage::

    python benchmarks/bench_default.py --seeds 2 --workers 2
"""

from __future__ import annotations

import argparse
import itertools
import json
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent

_STAGE = ("width", "depth", "kernel", "expand", "se", "stride")


def _arch(stem: int, activation: str, *stages: tuple) -> dict[str, Any]:
    arch: dict[str, Any] = {"stem_width": stem, "activation": activation}
    for i, stage in enumerate(stages, start=1):
        arch.update({f"s{i}_{k}": v for k, v in zip(_STAGE, stage) if not (i == 1 and k == "stride")})
    return arch


DESIGNS: dict[str, dict[str, Any]] = {
    # the MNIST-1D paper's CNN: three 5-tap convolutions, stride 2 twice, one width
    "plain-cnn": _arch(32, "relu", (32, 1, 5, 1, False, 1), (32, 1, 5, 1, False, 2), (32, 1, 5, 1, False, 2)),
    # MobileNetV2-like: widening stages, expansion 3, two blocks per stage
    "mobilenet": _arch(16, "relu", (16, 1, 3, 1, False, 1), (32, 2, 3, 3, False, 2), (64, 2, 3, 3, False, 2)),
    # wide receptive field: the plain CNN with 9-tap depthwise kernels
    "wide-kernel": _arch(
        32, "relu", (32, 1, 9, 1, False, 1), (32, 1, 9, 1, False, 2), (32, 1, 9, 1, False, 2)
    ),
}

_COMMON = {
    "epochs": 30,
    "batch_size": 64,
    "schedule": "cosine",
    "warmup_epochs": 1,
    "label_smoothing": 0.0,
    "dropout": 0.0,
    "mixup_alpha": 0.0,
    "ema_decay": 0.0,
}
RECIPES: dict[str, dict[str, Any]] = {
    "adamw": dict(_COMMON, optimizer="adamw", lr=3e-3, momentum=0.9, weight_decay=1e-4),
    "sgd": dict(_COMMON, optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4),
}


def _run(job: tuple[str, str, int, str, str, dict]) -> tuple[str, str, int, Any]:
    import torch

    from jointnas.data.datasets import load_dataset
    from jointnas.data.space_io import read_space
    from jointnas.recipes.train import train_and_evaluate

    design, recipe, seed, space_path, dataset, options = job
    torch.set_num_threads(1)
    space = read_space(space_path)
    bundle = load_dataset(dataset, options=options or None)
    result = train_and_evaluate(
        DESIGNS[design], RECIPES[recipe], bundle, device="cpu", seed=seed, space=space, num_threads=1
    )
    return design, recipe, seed, result


def main(argv: list[str] | None = None) -> int:
    """Train every design x recipe x seed and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default=str(HERE.parent / "configs" / "mnist1d.yaml"))
    p.add_argument("--dataset", default="mnist1d")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--options", default="{}", help='dataset options as JSON, e.g. {"num_samples": 4000}')
    args = p.parse_args(argv)
    options = json.loads(args.options)
    jobs = [
        (d, r, s, args.space, args.dataset, options)
        for d, r, s in itertools.product(DESIGNS, RECIPES, range(args.seeds))
    ]
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as ex:
        results = list(ex.map(_run, jobs))
    print(f"{args.dataset} {options or 'defaults'}, {args.seeds} seeds")
    print("| design | recipe | val_acc | test_acc | FLOPs | params | seconds |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for design, recipe in itertools.product(DESIGNS, RECIPES):
        runs = [r for d, rc, _, r in results if d == design and rc == recipe]
        val = np.array([r.val_acc for r in runs])
        test = np.array([r.test_acc for r in runs])
        rows.append((val.mean(), design, recipe))
        print(
            f"| {design} | {recipe} | {val.mean():.4f} ± {val.std(ddof=1) if len(val) > 1 else 0:.4f} "
            f"| {test.mean():.4f} ± {test.std(ddof=1) if len(test) > 1 else 0:.4f} "
            f"| {runs[0].flops:.3g} | {runs[0].params} | {np.mean([r.seconds for r in runs]):.0f} |"
        )
    best = max(rows)
    print(f"best: {best[1]} with {best[2]} (mean val_acc {best[0]:.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

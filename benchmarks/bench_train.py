"""Trainer speed and quality on digits: overhead vs a bare torch loop, seconds per pair.

Prints three tables:

1. samples/s of :func:`train_and_evaluate` and of a hand-written loop doing the same
   work (same model, data, batches, optimizer, loss, per-epoch validation and final
   test pass); the target is a ratio >= 0.9;
2. seconds per pair for the smallest, median and largest architecture of the space (by
   FLOPs, over a Sobol pool of archs) trained with the default recipe;
3. the default pair's validation and test accuracy over a few seeds.

Usage::

    python benchmarks/bench_train.py [--threads 1] [--epochs 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from jointnas.data.datasets import load_dataset
from jointnas.data.space_io import read_space
from jointnas.recipes import TrainingRecipe, build_model, costs, train_and_evaluate
from jointnas.search.display import format_table

SPACE = Path(__file__).resolve().parents[1] / "configs" / "digits.yaml"


def bare_loop(arch: dict, recipe: TrainingRecipe, bundle, epochs: int, seed: int) -> float:
    """The same training as the trainer, written plainly; returns seconds."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = build_model(arch, bundle.num_classes, bundle.in_shape, dropout=recipe.dropout, seed=seed)
    decay = [p for p in model.parameters() if p.ndim > 1]
    rest = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": rest, "weight_decay": 0.0}],
        lr=recipe.lr,
        momentum=recipe.momentum,
    )
    steps = math.ceil(len(bundle.train) / recipe.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs * steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    x, y = bundle.train.tensors
    gen = torch.Generator().manual_seed(seed)
    bs = recipe.batch_size

    def evaluate(split) -> float:
        model.eval()
        with torch.no_grad():
            vx, vy = split.tensors
            return float((model(vx).argmax(1) == vy).float().mean())

    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y), generator=gen)
        for i in range(steps):
            idx = order[i * bs : (i + 1) * bs]
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        evaluate(bundle.val)
    evaluate(bundle.test)
    return time.perf_counter() - start


def throughput(space, bundle, epochs: int, repeats: int, threads: int) -> pd.DataFrame:
    """samples/s of the trainer and of the bare loop (best of ``repeats``, interleaved)."""
    arch, recipe_cfg = space.split(space.default)
    recipe = TrainingRecipe.from_config(
        {
            **recipe_cfg,
            "warmup_epochs": 0,
            "ema_decay": 0.0,
            "mixup_alpha": 0.0,
            "optimizer": "sgd",
            "schedule": "cosine",
        }
    )
    torch.set_num_threads(threads)
    trainer, bare = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        r = train_and_evaluate(arch, recipe, bundle, device="cpu", max_epochs=epochs, num_threads=threads)
        trainer.append(time.perf_counter() - t)
        assert r.status == "ok", r.message
        bare.append(bare_loop(arch, recipe, bundle, epochs, seed=0))
    samples = epochs * len(bundle.train)
    rows = [("train_and_evaluate", min(trainer)), ("bare torch loop", min(bare))]
    frame = pd.DataFrame(
        {
            "loop": [n for n, _ in rows],
            "seconds": [s for _, s in rows],
            "samples/s": [samples / s for _, s in rows],
        }
    )
    frame["ratio"] = frame["samples/s"] / frame["samples/s"].iloc[1]
    return frame


def per_pair(space, bundle, threads: int, pool: int) -> pd.DataFrame:
    """Seconds per pair (default recipe) of the smallest, median and largest archs by FLOPs."""
    configs = space.sample_qmc(pool, seed=0, frame=True)
    cost = costs(configs, space.model)
    order = cost["flops"].sort_values(kind="stable").index
    picks = {"smallest": order[0], "median": order[len(order) // 2], "largest": order[-1]}
    _, recipe = space.split(space.default)
    rows = []
    for label, i in picks.items():
        arch = {n: configs.at[i, n] for n in space.arch_names}
        arch = space.validate(arch, part="arch")
        r = train_and_evaluate(arch, recipe, bundle, device="cpu", num_threads=threads)
        rows.append(
            {
                "arch": label,
                "flops": r.flops,
                "params": r.params,
                "epochs": r.epochs_run,
                "seconds": r.seconds,
                "s/epoch": r.seconds / max(r.epochs_run, 1),
                "test_acc": r.test_acc,
                "status": r.status,
            }
        )
    return pd.DataFrame(rows)


def default_quality(space, bundle, threads: int, seeds: int) -> pd.DataFrame:
    """The default pair's accuracies over ``seeds`` training seeds."""
    arch, recipe = space.split(space.default)
    rows = []
    for seed in range(seeds):
        r = train_and_evaluate(arch, recipe, bundle, device="cpu", seed=seed, num_threads=threads)
        rows.append(
            {
                "seed": seed,
                "val_acc": r.val_acc,
                "test_acc": r.test_acc,
                "seconds": r.seconds,
                "status": r.status,
            }
        )
    frame = pd.DataFrame(rows)
    mean = {
        "seed": "mean",
        "val_acc": frame["val_acc"].mean(),
        "test_acc": frame["test_acc"].mean(),
        "seconds": frame["seconds"].mean(),
        "status": "",
    }
    return pd.concat([frame, pd.DataFrame([mean])], ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    """Run the three benchmarks and print their tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default=str(SPACE))
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    p.add_argument("--epochs", type=int, default=5, help="epochs of the throughput runs")
    p.add_argument("--repeats", type=int, default=3, help="throughput repeats (best kept)")
    p.add_argument("--pool", type=int, default=1024, help="archs drawn to find smallest/median/largest")
    p.add_argument("--seeds", type=int, default=3, help="seeds of the default pair")
    args = p.parse_args(argv)
    space = read_space(args.space)
    bundle = load_dataset("digits")
    print(
        f"torch {torch.__version__}, CPU, {args.threads} thread(s); digits: "
        f"{len(bundle.train)} train / {len(bundle.val)} val / {len(bundle.test)} test\n"
    )
    print(f"1. default pair, {args.epochs} epochs, best of {args.repeats}")
    print(format_table(throughput(space, bundle, args.epochs, args.repeats, args.threads)))
    print(
        f"\n2. seconds per pair, default recipe ({space.default['epochs']} epochs), "
        f"archs from a Sobol pool of {args.pool}"
    )
    print(format_table(per_pair(space, bundle, args.threads, args.pool)))
    print(f"\n3. default pair over {args.seeds} seeds")
    quality = default_quality(space, bundle, args.threads, args.seeds)
    print(format_table(quality))
    print(f"\nmedian default test accuracy: {statistics.median(quality['test_acc'][:-1]):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

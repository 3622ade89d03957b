"""GPU path: the trainer (CUDA + AMP) and the predictor (fit and scoring) against the CPU.

In one run, on every device present (``cpu``, then ``cuda`` when available):
- trains the digits space's documented default pair on scikit-learn's digits (the
  demo's data) and reports seconds, validation and test accuracy and the AMP dtype;
- fits the default :class:`AccuracyPredictor` on 200 rows of the digits development
  table, reports fit seconds and Kendall tau on the other rows, then scores a Sobol pool
  and reports candidates/s.

Accuracies should agree across devices up to AMP rounding; the speeds are what the
accelerator buys. Without CUDA only the CPU rows are printed.

Usage::

    python benchmarks/bench_gpu.py [--score-n 1000000] [--fit-n 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from jointnas.data import SearchSpace
from jointnas.data.datasets import load_dataset
from jointnas.recipes.train import train_and_evaluate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_predictor import Dataset, digits, measure_speed  # noqa: E402
from common import DIGITS  # noqa: E402


def train_row(space: SearchSpace, device: str, seed: int) -> str:
    """Train the default pair on ``device``; one markdown row."""
    arch, recipe = space.split(space.default)
    bundle = load_dataset("digits")
    result = train_and_evaluate(
        arch, recipe, bundle, device=device, seed=seed, model_spec=space.model, space=space
    )
    amp = "none"
    if device.startswith("cuda"):
        amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16 + GradScaler"
    return (
        f"| {device} | train default pair ({result.epochs_run} epochs, AMP {amp}) | "
        f"{result.seconds:.1f} s | val {result.val_acc:.4f}, test {result.test_acc:.4f} "
        f"({result.status}) |"
    )


def predictor_rows(ds: Dataset, device: str, fit_n: int, score_n: int) -> list[str]:
    """Fit on ``fit_n`` digits rows and score ``score_n`` configs on ``device``."""
    m = measure_speed(ds, {"device": device}, score_n, fit_n)
    return [
        f"| {device} | predictor pretrain + fit ({fit_n} rows, {m['n_models']} members) | "
        f"{m['pretrain_s'] + m['fit_s']:.1f} s | Kendall tau {m['tau']:.3f} on "
        f"{len(ds.table) - fit_n} other rows |",
        f"| {device} | predictor scoring ({score_n:,} configs) | {m['score_s']:.2f} s | "
        f"{score_n / m['score_s']:,.0f} candidates/s |",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--score-n", type=int, default=1_000_000, help="configs scored per device")
    parser.add_argument("--fit-n", type=int, default=200, help="predictor training rows")
    parser.add_argument("--seed", type=int, default=0, help="seed of the default pair's training")
    args = parser.parse_args(argv)
    ds = digits()
    if ds is None:
        raise SystemExit(f"no usable digits table at {DIGITS}")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    print(f"torch {torch.__version__}; {torch.get_num_threads()} CPU threads; {name}\n")
    print("| device | work | time | result |")
    print("|---|---|---|---|")
    for device in devices:
        print(train_row(ds.space, device, args.seed), flush=True)
        for row in predictor_rows(ds, device, args.fit_n, args.score_n):
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

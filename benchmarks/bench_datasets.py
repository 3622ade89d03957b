"""Signal and noise of the embedded datasets, from tables of Sobol pairs trained with 2 seeds.

For each table made by ``make_table.py --repeat R`` (rows with ``val_acc_2``): Kendall
tau between the two seeds' validation accuracies over the repeated pairs (how alike two
training runs rank pairs), the seed-to-seed standard deviation of one pair's accuracy
(``sqrt(mean((a - b)^2 / 2))`` over pairs, and the median of ``|a - b|``, which a few
unstable pairs do not dominate), the spread of accuracies across pairs
(10th-90th percentile, and their difference in seed stds), and the seconds one training
run took for the smallest, median and largest architecture by FLOPs.

Usage::

    python benchmarks/make_table.py --dataset mnist1d --n 600 --repeat 120
    python benchmarks/make_table.py --dataset digits --n 60 --repeat 60 \\
        --out benchmarks/data/digits_seeds.csv
    python benchmarks/bench_datasets.py   # writes benchmarks/results/datasets.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

HERE = Path(__file__).resolve().parent
TABLES = {"mnist1d": HERE / "data" / "mnist1d_joint.csv", "digits": HERE / "data" / "digits_seeds.csv"}


def seed_noise(frame: pd.DataFrame) -> dict[str, float]:
    """The table's statistics over rows trained with both seeds (see the module docstring)."""
    a = pd.to_numeric(frame["val_acc"], errors="coerce")
    b = pd.to_numeric(frame.get("val_acc_2"), errors="coerce")
    both = frame[np.isfinite(a) & np.isfinite(b)]
    a, b = a[both.index].to_numpy(), b[both.index].to_numpy()
    std = float(np.sqrt(np.mean((a - b) ** 2 / 2))) if len(a) else np.nan
    mean = (a + b) / 2
    p10, p90 = np.percentile(mean, [10, 90]) if len(mean) else (np.nan, np.nan)
    order = np.argsort(pd.to_numeric(both["flops"]).to_numpy())
    seconds = pd.to_numeric(both["seconds"]).to_numpy()[order] if len(order) else np.array([])
    pick = (
        (lambda q: float(seconds[int(round(q * (len(seconds) - 1)))])) if len(seconds) else (lambda q: np.nan)
    )
    return {
        "pairs": len(a),
        "tau": float(stats.kendalltau(a, b)[0]) if len(a) > 2 else np.nan,
        "seed_std": std,
        "median_diff": float(np.median(np.abs(a - b))) if len(a) else np.nan,
        "p10": float(p10),
        "p90": float(p90),
        "spread_in_stds": float((p90 - p10) / std) if std else np.nan,
        "s_small": pick(0.0),
        "s_median": pick(0.5),
        "s_large": pick(1.0),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the side-by-side table and write it to ``--out``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(HERE / "results" / "datasets.md"))
    p.add_argument("--note", default="", help="a line on how the tables were made (load, machine)")
    p.add_argument(
        "--max-pairs", type=int, default=None, help="use only the first N repeated pairs of each table"
    )
    args = p.parse_args(argv)
    lines = [
        "| dataset | pairs (2 seeds) | Kendall tau seed 1 vs 2 | seed std of one pair | "
        "median abs(seed 1 - seed 2) | val_acc p10-p90 | spread / seed std | "
        "s/run smallest | median | largest |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, path in TABLES.items():
        if not path.exists():
            print(f"{name}: no table at {path} (see the module docstring)")
            continue
        frame = pd.read_csv(path)
        if "val_acc_2" not in frame.columns:
            print(f"{name}: {path} has no second-seed columns")
            continue
        frame = frame[frame["val_acc_2"].notna()]
        if args.max_pairs:
            frame = frame.head(args.max_pairs)
        r = seed_noise(frame)
        lines.append(
            f"| {name} | {r['pairs']} | {r['tau']:.3f} | {r['seed_std']:.4f} | "
            f"{r['median_diff']:.4f} | "
            f"{r['p10']:.3f}-{r['p90']:.3f} | {r['spread_in_stds']:.1f} | "
            f"{r['s_small']:.1f} | {r['s_median']:.1f} | {r['s_large']:.1f} |"
        )
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "# Signal and noise of the embedded datasets (benchmarks/bench_datasets.py)\n\n"
        "Sobol pairs of configs/<dataset>.yaml, each trained with seeds 0 and 1 on one "
        "CPU thread; seconds are one run of seed 0. " + args.note + "\n\n" + text + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Weight-sharing supernet vs standalone training on digits: does the supernet rank alike?

On the 9-architecture depth space (``configs/supernet_digits.yaml``: two NAS blocks of 1..3
sub-blocks) the supernet is trained with the uniform, epsilon-greedy and fair samplers,
3 seeds each; every architecture is also trained standalone from scratch. Prints:

1. the per-architecture table (standalone accuracy, supernet accuracy per sampler, ranks),
2. the per-sampler table (GT-Tau, S-Tau, T1R, T3R, time per run),
3. GT-Tau after each supernet epoch,
4. wall time: one supernet run per sampler vs the sum of the 9 standalone trainings,
5. the close pair (1,3) vs (2,2) (same total depth, split differently) and the discordant
   pairs of each sampler, with the ranking noise of standalone training itself.

Usage::

    python benchmarks/bench_supernet.py [--epochs 20] [--standalone-epochs 20]
        [--standalone-seeds 2] [--seeds 3] [--threads 1] [--out runs/bench_supernet]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

from jointnas.data.datasets import load_dataset
from jointnas.data.space_io import read_space
from jointnas.search.display import format_table
from jointnas.search.oneshot.supernet_rank import arch_labels, discordant_pairs, rank_supernet
from jointnas.search.oneshot.supernet_report import architecture_view, tau_view, write_ranking

SPACE = Path(__file__).resolve().parents[1] / "configs" / "supernet_digits.yaml"
SAMPLERS = ("uniform", "epsilon_greedy", "fair")
CLOSE_PAIR = ("(1,3)", "(2,2)")


def timing_table(ranking, standalone_seeds: int) -> pd.DataFrame:
    """Seconds of one supernet run per sampler vs the 9 standalone trainings of one seed."""
    standalone = ranking.standalone_seconds / standalone_seeds
    rows = []
    for row in ranking.samplers.itertuples(index=False):
        rows.append(
            {
                "sampler": row.sampler,
                "supernet_train_s": row.train_seconds,
                "score_all_s": row.eval_seconds,
                "standalone_all_s": standalone,
                "supernet/standalone": row.train_seconds / standalone,
            }
        )
    return pd.DataFrame(rows)


def close_pair_table(ranking) -> pd.DataFrame:
    """Standalone and per-sampler accuracies of the close pair, and whether the order agrees."""
    table = ranking.architectures
    labels = arch_labels(table)
    a, b = (labels.index(x) for x in CLOSE_PAIR)
    rows = [
        {
            "scorer": "standalone",
            CLOSE_PAIR[0]: table["standalone"][a],
            CLOSE_PAIR[1]: table["standalone"][b],
            "agrees": "-",
        }
    ]
    truth = table["standalone"][a] - table["standalone"][b]
    for name, runs in ranking.scores.items():
        diff = runs[:, a] - runs[:, b]
        agree = int(((diff > 0) == (truth > 0)).sum()) if truth != 0 else 0
        rows.append(
            {
                "scorer": name,
                CLOSE_PAIR[0]: runs[:, a].mean(),
                CLOSE_PAIR[1]: runs[:, b].mean(),
                "agrees": f"{agree}/{len(runs)} seeds" if truth != 0 else "tie in truth",
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default=str(SPACE))
    p.add_argument("--epochs", type=int, default=20, help="supernet epochs (default 20)")
    p.add_argument("--standalone-epochs", type=int, default=20, help="standalone epochs (default 20)")
    p.add_argument("--standalone-seeds", type=int, default=2, help="standalone seeds (default 2)")
    p.add_argument("--seeds", type=int, default=3, help="supernet seeds per sampler (default 3)")
    p.add_argument("--recalibrate-bn", type=int, default=4, help="BN recalibration batches (default 4)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    p.add_argument("--out", default="runs/bench_supernet", help="folder for CSV, report and plots")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    space = read_space(args.space)
    bundle = load_dataset("digits")
    start = time.perf_counter()
    ranking = rank_supernet(
        space,
        bundle,
        samplers=SAMPLERS,
        seeds=args.seeds,
        epochs=args.epochs,
        standalone_epochs=args.standalone_epochs,
        standalone_seeds=args.standalone_seeds,
        recalibrate_bn=args.recalibrate_bn,
        device="cpu",
        progress=lambda m: print(f"[{time.perf_counter() - start:6.0f}s] {m}", flush=True),
    )
    write_ranking(ranking, args.out)
    total = time.perf_counter() - start
    print(
        f"\n{space.name}: {len(ranking.architectures)} architectures; supernet {args.epochs} epochs "
        f"x {args.seeds} seeds per sampler; standalone {args.standalone_epochs} epochs x "
        f"{args.standalone_seeds} seeds; SGD lr 0.05 cosine, batch 64; BN recalibration "
        f"{args.recalibrate_bn} batches; {args.threads} thread(s); total {total:.0f} s\n"
    )
    print("## Per architecture (val accuracy; supernet = mean over seeds)\n")
    print(format_table(architecture_view(ranking)))
    print("\n## Per sampler\n")
    print(format_table(ranking.samplers))
    print(
        f"\nstandalone S-Tau across its {args.standalone_seeds} seeds (noise of the ground "
        f"truth): {ranking.standalone_s_tau():.3f}"
    )
    print("\n## GT-Tau by supernet epoch (mean over seeds)\n")
    print(format_table(tau_view(ranking)))
    print("\n## Wall time: one supernet run vs the 9 standalone trainings (one seed)\n")
    print(format_table(timing_table(ranking, args.standalone_seeds)))
    print(f"\n## Close pair {CLOSE_PAIR[0]} vs {CLOSE_PAIR[1]}\n")
    print(format_table(close_pair_table(ranking)))
    for name in ranking.scores:
        pairs = discordant_pairs(ranking, name)
        print(f"\n## {name}: {len(pairs)} of 36 pairs ordered against standalone (closest first)\n")
        if len(pairs):
            print(format_table(pairs.head(6)))
    print(f"\nwrote {args.out}/ (architectures.csv, samplers.csv, tau_by_epoch.csv, report.md, plots)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

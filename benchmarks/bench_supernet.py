"""Weight-sharing supernet vs standalone training on real MNIST: does the supernet rank alike?

On the 9-architecture depth space (``configs/supernet_mnist5k.yaml``: two NAS blocks of
1..3 sub-blocks with a shared stride-2 block between them) on ``mnist5k`` (5,000 real MNIST
digits), the supernet is trained with the uniform, epsilon-greedy (uniform for the first 100
rounds, then epsilon 0.2) and fair samplers, 3 seeds each; every architecture is also
trained standalone from scratch with 3 seeds, so the ground truth's own ranking noise
(standalone S-Tau) is known. Prints:

1. the per-architecture table (standalone accuracy, supernet accuracy per sampler, ranks),
2. the per-sampler table (GT-Tau, S-Tau, T1R, T3R, time per run),
3. GT-Tau after each supernet epoch,
4. wall time: one supernet run per sampler vs the sum of the 9 standalone trainings,
5. the close pair (1,3) vs (2,2) (same total depth, split differently) and the discordant
   pairs of each sampler, with the ranking noise of standalone training itself.

A full default run writes the printed tables to ``benchmarks/results/supernet.md``.

Usage::

    python benchmarks/bench_supernet.py [--epochs 20] [--standalone-epochs 20]
        [--standalone-seeds 3] [--seeds 3] [--threads 1] [--out runs/bench_supernet]
    python benchmarks/bench_supernet.py --dataset digits --space configs/supernet_digits.yaml
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402

from jointnas.data.datasets import DATASETS, load_dataset  # noqa: E402
from jointnas.data.space_io import read_space  # noqa: E402
from jointnas.search.display import format_table  # noqa: E402
from jointnas.search.oneshot.supernet_rank import arch_labels, discordant_pairs, rank_supernet  # noqa: E402
from jointnas.search.oneshot.supernet_report import architecture_view, tau_view, write_ranking  # noqa: E402

SPACE = ROOT / "configs" / "supernet_mnist5k.yaml"
RESULTS = ROOT / "benchmarks" / "results" / "supernet.md"
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
    p.add_argument("--space", default=str(SPACE), help="supernet space YAML (default supernet_mnist5k)")
    p.add_argument("--dataset", default="mnist5k", choices=DATASETS, help="dataset (default mnist5k)")
    p.add_argument("--epochs", type=int, default=20, help="supernet epochs (default 20)")
    p.add_argument("--standalone-epochs", type=int, default=20, help="standalone epochs (default 20)")
    p.add_argument("--standalone-seeds", type=int, default=3, help="standalone seeds (default 3)")
    p.add_argument("--seeds", type=int, default=3, help="supernet seeds per sampler (default 3)")
    p.add_argument("--recalibrate-bn", type=int, default=4, help="BN recalibration batches (default 4)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    p.add_argument("--out", default="runs/bench_supernet", help="folder for CSV, report and plots")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    full = all(getattr(args, k) == p.get_default(k) for k in vars(args) if k not in ("out", "threads"))

    space = read_space(args.space)
    bundle = load_dataset(args.dataset)
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
    lines: list[str] = []

    def say(text: str) -> None:
        print(text)
        lines.append(text)

    r = ranking.settings["recipe"]  # the recipe the run trained with
    say(
        f"{space.name}: {len(ranking.architectures)} architectures; supernet {args.epochs} epochs "
        f"x {args.seeds} seeds per sampler; standalone {args.standalone_epochs} epochs x "
        f"{args.standalone_seeds} seeds; {r['optimizer']} lr {r['lr']:g} {r['schedule']}, batch "
        f"{r['batch_size']}; BN recalibration "
        f"{args.recalibrate_bn} batches; {args.threads} thread(s); total {total:.0f} s\n"
    )
    say("## Per architecture (val accuracy; supernet = mean over seeds)\n")
    say(format_table(architecture_view(ranking)))
    say("\n## Per sampler\n")
    say(format_table(ranking.samplers))
    say(
        f"\nstandalone S-Tau across its {args.standalone_seeds} seeds (noise of the ground "
        f"truth): {ranking.standalone_s_tau():.3f}"
    )
    say("\n## GT-Tau by supernet epoch (mean over seeds)\n")
    say(format_table(tau_view(ranking)))
    say("\n## Wall time: one supernet run vs the 9 standalone trainings (one seed)\n")
    say(format_table(timing_table(ranking, args.standalone_seeds)))
    say(f"\n## Close pair {CLOSE_PAIR[0]} vs {CLOSE_PAIR[1]}\n")
    say(format_table(close_pair_table(ranking)))
    for name in ranking.scores:
        pairs = discordant_pairs(ranking, name)
        say(f"\n## {name}: {len(pairs)} of 36 pairs ordered against standalone (closest first)\n")
        if len(pairs):
            say(format_table(pairs.head(6)))
    if full:
        RESULTS.write_text("\n".join(lines) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    print(f"\nwrote {args.out}/ (architectures.csv, samplers.csv, tau_by_epoch.csv, report.md, plots)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

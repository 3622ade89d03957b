"""``search supernet``: does a weight-sharing supernet rank architectures like standalone training?

Trains the supernet of a space with each path sampler and seed, trains the architectures
standalone, and writes per-architecture and per-sampler tables (GT-Tau, S-Tau, TnR, tau by
epoch), discordant pairs and plots into ``--out``.
"""

from __future__ import annotations

import argparse

from ...cli_base import (
    Command,
    add_dataset_arguments,
    add_device_argument,
    dataset_for,
    positive_float,
    positive_int,
)
from ...errors import ConfigError
from ...predictor.metrics import explain

RANKING_METRICS = ("gt_tau", "gt_tau_of_mean", "s_tau", "t1r", "t3r")
"""Columns of the per-sampler table, explained under it and in ``--help``."""


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", required=True, help="supernet space YAML (e.g. configs/supernet_digits.yaml)")
    p.add_argument(
        "--sampler",
        default="uniform,epsilon_greedy,fair",
        help="comma-separated path samplers (default: uniform,epsilon_greedy,fair)",
    )
    p.add_argument("--seeds", type=positive_int, default=3, help="supernet runs per sampler (default 3)")
    p.add_argument("--epochs", type=positive_int, default=10, help="supernet epochs (default 10)")
    p.add_argument(
        "--standalone-epochs",
        type=positive_int,
        help="epochs of each standalone training (default: --epochs)",
    )
    p.add_argument(
        "--standalone-seeds",
        type=positive_int,
        default=1,
        help="standalone runs per architecture, averaged (default 1)",
    )
    p.add_argument(
        "--share-first",
        type=int,
        metavar="K",
        help="share only the stem and the first K block slots; the rest is trained per path",
    )
    p.add_argument(
        "--recalibrate-bn",
        type=int,
        default=4,
        metavar="BATCHES",
        help="batch-norm recalibration batches before scoring each path (default 4; 0: off)",
    )
    p.add_argument(
        "--sample",
        type=positive_int,
        help="architectures to rank (default: all of a space of at most 64, else 32)",
    )
    p.add_argument("--epsilon", type=float, default=0.2, help="epsilon_greedy exploration (default 0.2)")
    p.add_argument(
        "--warmup", type=int, default=100, help="epsilon_greedy uniform steps before exploiting (default 100)"
    )
    p.add_argument("--lr", type=positive_float, default=0.05, help="SGD learning rate (default 0.05)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="batch size (default 64)")
    add_dataset_arguments(p)
    add_device_argument(p)
    p.add_argument("--threads", type=positive_int, help="CPU threads (default: torch's)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--out", default="runs/supernet", help="output folder (default runs/supernet)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def _run(args: argparse.Namespace) -> int:
    import torch

    from ...data.datasets import load_dataset
    from ...data.space_io import read_space
    from ...recipes.train import resolve_device
    from ..display import format_table
    from ..oneshot.supernet_rank import rank_supernet
    from ..oneshot.supernet_report import architecture_view, write_ranking

    device = str(resolve_device(args.device))  # before any training
    samplers = [s.strip() for s in args.sampler.split(",") if s.strip()]
    if not samplers:
        raise ConfigError("give at least one sampler", "--sampler")
    if args.threads:
        torch.set_num_threads(args.threads)
    space = read_space(args.space)
    bundle = load_dataset(dataset_for(args.dataset, space.model.in_shape), root=args.root)
    ranking = rank_supernet(
        space,
        bundle,
        samplers=samplers,
        seeds=args.seeds,
        epochs=args.epochs,
        standalone_epochs=args.standalone_epochs,
        standalone_seeds=args.standalone_seeds,
        share_first=args.share_first,
        recalibrate_bn=args.recalibrate_bn,
        sample=args.sample,
        recipe={"lr": args.lr, "batch_size": args.batch_size},
        sampler_options={"epsilon_greedy": {"epsilon": args.epsilon, "warmup": args.warmup}},
        seed=args.seed,
        device=device,
        progress=None if args.quiet else (lambda message: print(message, flush=True)),
    )
    files = write_ranking(ranking, args.out)
    print(format_table(architecture_view(ranking)))
    print()
    print(format_table(ranking.samplers))
    print(explain(RANKING_METRICS))
    print(f"standalone training: {ranking.standalone_seconds:.1f} s")
    print("wrote: " + ", ".join(str(f) for f in files))
    return 0


SUPERNET = Command(
    "supernet",
    "train a weight-sharing supernet per path sampler and seed and "
    "compare its ranking of architectures with standalone training",
    _add_arguments,
    _run,
    epilog="columns of the per-sampler table:\n" + explain(RANKING_METRICS),
)
"""Register in ``search/cli.py``'s ``COMMANDS``."""

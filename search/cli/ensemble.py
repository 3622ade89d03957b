"""``search ensemble``: diversity-controlled ensemble search (EdgeNES) on a DARTS cell space.

Reads the config (``--space``), runs DARTS and the hypernetwork, samples ``--candidates``
(N) architectures for ``lambda ~ U{1..Lambda}``, trains them and selects at most
``--size`` (n) by greedy forward selection (``--n`` and ``--N``, the first spellings, still
work); writes the run folder (:mod:`~jointnas.search.oneshot.ensemble.report`) and prints the member table and
the ensemble's accuracy. Bad input is refused before any training.
"""

from __future__ import annotations

import argparse
import time

from ...cli_base import Command, add_device_argument, non_negative_int, positive_int
from ...data.datasets import DATASETS
from ..display import format_table


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", required=True, help="ensemble config YAML (e.g. configs/darts_digits.yaml)")
    p.add_argument(
        "--size",
        dest="n",
        type=positive_int,
        metavar="n",
        help="largest ensemble size, the paper's n (default: the config's ensemble.n, 3)",
    )
    p.add_argument(
        "--candidates",
        dest="N",
        type=positive_int,
        metavar="N",
        help="candidates to sample and train, the paper's N (default: the config's ensemble.N, 10)",
    )
    for old, dest in (("--n", "n"), ("--N", "N")):  # the first spellings, kept working unlisted
        p.add_argument(old, dest=dest, type=positive_int, help=argparse.SUPPRESS)
    p.add_argument(
        "--epochs", type=non_negative_int, help="member training epochs (fine-tuning epochs with --inherit)"
    )
    p.add_argument("--search-epochs", type=positive_int, help="DARTS epochs")
    p.add_argument("--hyper-epochs", type=positive_int, help="hypernetwork epochs")
    p.add_argument("--penalty", type=float, help="C, weight of the shared-edge penalty (>= 0)")
    p.add_argument(
        "--inherit", action="store_true", default=None, help="members start from the supernet's weights"
    )
    p.add_argument("--dataset", help=f"one of {', '.join(DATASETS)} (default: the config's, digits)")
    p.add_argument("--root", help="dataset folder (datasets other than digits)")
    add_device_argument(p)
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument(
        "--threads",
        type=positive_int,
        help="CPU threads for torch (default: torch's; 1 is best for these small "
        "networks on a shared machine)",
    )
    p.add_argument("--out", default="runs/ensemble", help="run folder (default runs/ensemble)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _run(args: argparse.Namespace) -> int:
    from ...recipes.train import resolve_device
    from ..oneshot.ensemble.config import read_config
    from ..oneshot.ensemble.edgenes import EdgeNES
    from ..oneshot.ensemble.report import ensemble_frame, members_frame, write_run

    config = read_config(
        args.space,
        n=args.n,
        N=args.N,
        dataset=args.dataset,
        members__epochs=args.epochs,
        members__inherit=args.inherit,
        search__epochs=args.search_epochs,
        hypernet__epochs=args.hyper_epochs,
        hypernet__penalty=args.penalty,
    )
    device = resolve_device(args.device)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    nes = EdgeNES(
        config.space,
        dataset=config.dataset,
        root=args.root,
        darts=config.darts,
        hyper=config.hyper,
        members=config.members,
        sample_range=config.sample_range,
        seed=args.seed,
        device=str(device),
        progress=not args.quiet,
    ).search()
    result = nes.build_ensemble(config.n, config.N)
    info = {
        "config": str(args.space),
        "name": config.name,
        "dataset": config.dataset,
        "device": str(device),
        "seed": args.seed,
        "n": config.n,
        "N": config.N,
        "Lambda": nes.space_.max_shared,
        "inherit": config.members.inherit,
        "wall_seconds": time.perf_counter() - start,
    }
    written = write_run(result, args.out, info)
    frame = members_frame(result)
    print(
        f"\nEdgeNES on {config.dataset}: Lambda={nes.space_.max_shared}, N={config.N}, "
        f"n<={config.n}; alpha* val acc of the supernet {nes.darts_.val_acc:.4f}"
    )
    print(
        format_table(
            frame.fillna("-"),
            ["member", "lambda", "shared_star", "val_acc", "test_acc", "seconds", "selected"],
        )
    )
    print()
    print(format_table(ensemble_frame(result)))
    d = result.diversity
    print(
        f"\ndiversity: mean pairwise shared edges {d['mean_pairwise_shared_chosen']:.2f} "
        f"(chosen), {d['mean_pairwise_shared_pool']:.2f} (pool); shared with alpha* "
        f"{d['mean_shared_with_alpha_star_chosen']:.2f} (chosen)"
    )
    t = result.seconds
    print(
        f"time: DARTS {t['darts']:.1f} s, hypernetwork {t['hypernet']:.1f} s, members "
        f"{t['members']:.1f} s, total {t['total']:.1f} s"
    )
    print(f"wrote {len(written)} files to {args.out}")
    return 0


ENSEMBLE = Command(
    "ensemble",
    "diversity-controlled ensemble search (EdgeNES): DARTS, a "
    "lambda-conditioned hypernetwork, greedy ensemble selection",
    _add_arguments,
    _run,
)

"""``search enas``: ENAS on a supernet space (controller and shared weights trained in turn).

Runs :func:`~jointnas.search.oneshot.enas.enas_search` and writes into ``--out``: ``enas.json``
(the chosen architecture, its shared-weight and standalone accuracies, search time and
settings), ``best.yaml``, ``history.csv`` (per epoch) and ``candidates.csv`` (the final
samples with their shared-weight accuracy and costs).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ...cli_base import (
    Command,
    add_dataset_arguments,
    add_device_argument,
    dataset_for,
    positive_float,
    positive_int,
)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", required=True, help="supernet space YAML (e.g. configs/supernet_layers.yaml)")
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=10,
        help="supernet epochs, each followed by controller training (default 10)",
    )
    p.add_argument(
        "--controller-steps", type=positive_int, default=10, help="controller updates per epoch (default 10)"
    )
    p.add_argument(
        "--samples",
        type=positive_int,
        default=8,
        help="architectures sampled per controller update (default 8)",
    )
    p.add_argument(
        "--final-samples",
        type=positive_int,
        default=16,
        help="architectures sampled at the end to pick the best from (default 16)",
    )
    p.add_argument(
        "--retrain-epochs",
        type=int,
        default=10,
        help="train the chosen architecture from scratch this many epochs (default 10; 0: off)",
    )
    p.add_argument(
        "--recalibrate-bn",
        type=int,
        default=4,
        metavar="BATCHES",
        help="batch-norm recalibration batches before scoring a path (default 4; 0: off)",
    )
    p.add_argument(
        "--lr", type=positive_float, default=0.05, help="supernet SGD learning rate (default 0.05)"
    )
    p.add_argument("--batch-size", type=positive_int, default=64, help="batch size (default 64)")
    p.add_argument(
        "--controller-lr", type=positive_float, help="controller Adam learning rate (default 0.005)"
    )
    p.add_argument("--entropy-weight", type=float, help="controller entropy bonus (default 0.05)")
    add_dataset_arguments(p)
    add_device_argument(p)
    p.add_argument("--threads", type=positive_int, help="CPU threads (default: torch's)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--out", default="runs/enas", help="output folder (default runs/enas)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress")


def _run(args: argparse.Namespace) -> int:
    import torch
    import yaml

    from ...data.datasets import load_dataset
    from ...data.space_io import read_space
    from ...recipes.train import resolve_device
    from ..display import format_table
    from ..oneshot.enas import enas_search, result_summary

    device = str(resolve_device(args.device))  # before any training
    if args.threads:
        torch.set_num_threads(args.threads)
    controller = {
        k: v
        for k, v in (("lr", args.controller_lr), ("entropy_weight", args.entropy_weight))
        if v is not None
    }
    space = read_space(args.space)
    bundle = load_dataset(dataset_for(args.dataset, space.model.in_shape), root=args.root)
    result = enas_search(
        space,
        bundle,
        epochs=args.epochs,
        controller_steps=args.controller_steps,
        samples=args.samples,
        final_samples=args.final_samples,
        retrain_epochs=args.retrain_epochs,
        recalibrate_bn=args.recalibrate_bn,
        recipe={"lr": args.lr, "batch_size": args.batch_size},
        controller=controller,
        seed=args.seed,
        device=device,
        progress=None if args.quiet else (lambda message: print(message, flush=True)),
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "enas.json").write_text(json.dumps(result_summary(result), indent=2) + "\n")
    (out / "best.yaml").write_text(yaml.safe_dump(result.best, sort_keys=False))
    result.history.to_csv(out / "history.csv", index=False)
    result.candidates.to_csv(out / "candidates.csv", index=False)
    print(format_table(result.candidates.head(8)))
    line = (
        f"\nbest {result.best}: shared-weight val {result.shared_acc:.4f}; "
        f"search {result.search_seconds:.1f} s"
    )
    if result.standalone is not None:
        s = result.standalone
        line += (
            f"; standalone ({s['epochs']} epochs, {s['seconds']:.1f} s) val {s['val_acc']:.4f}, "
            f"test {s['test_acc']:.4f}"
        )
    print(line)
    print(
        "wrote: "
        + ", ".join(str(out / f) for f in ("enas.json", "best.yaml", "history.csv", "candidates.csv"))
    )
    return 0


ENAS = Command(
    "enas",
    "ENAS: train a supernet's shared weights and a REINFORCE controller in turn, "
    "then pick and retrain the best sampled architecture",
    _add_arguments,
    _run,
)

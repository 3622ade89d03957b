"""``search evaluate``: train one (arch, recipe) pair and print its curve and scores.

Exit status: 0 when the run finished (``ok``), 1 when it diverged or failed, 2 for a
user error (bad pair file, value outside the space, missing dataset...).
"""

from __future__ import annotations

import argparse
from typing import Any

from ...cli_base import Command, add_dataset_arguments, add_device_argument, dataset_for, positive_int
from ...data.space_io import load_yaml, read_space
from ...errors import ConfigError


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", required=True, help="search space YAML (e.g. configs/digits.yaml)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--pair", help="YAML file with one pair: a mapping of every variable to a value")
    which.add_argument("--default", action="store_true", help="train the space's default pair")
    add_dataset_arguments(p)
    p.add_argument("--download", action="store_true", help="download the dataset into --root if missing")
    add_device_argument(p)
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument(
        "--epochs",
        type=positive_int,
        help="stop after N epochs (the learning-rate schedule still follows the pair's own epochs)",
    )
    p.add_argument("--threads", type=positive_int, help="CPU threads (default: torch's, at most 8)")
    p.add_argument("--save", metavar="MODEL_PT", help="save the trained model to this file")
    p.add_argument("--quiet", action="store_true", help="no progress bar (shown on a terminal only)")


def _pair(args: argparse.Namespace, space: Any) -> tuple[dict[str, Any], str]:
    if args.default:
        if space.default is None:
            raise ConfigError("the space has no 'default' pair; pass --pair FILE", args.space)
        return dict(space.default), "default"
    data = load_yaml(args.pair)
    if not isinstance(data, dict):
        raise ConfigError("a pair file must be a mapping of variable names to values", args.pair)
    return space.validate(data, where=args.pair), args.pair


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ...data.datasets import load_dataset
    from ...recipes.checkpoint import save_model
    from ...recipes.recipe import TrainingRecipe
    from ...recipes.train import check_data, check_space, resolve_device, train_and_evaluate

    device = resolve_device(args.device)  # a missing CUDA fails before any progress bar
    space = read_space(args.space)
    if space.model is None:
        raise ConfigError("the space has no 'model' to build and train (a tabular space)", args.space)
    check_space(space)
    config, label = _pair(args, space)
    arch, recipe = space.split(config)
    name = dataset_for(args.dataset, space.model.in_shape)
    bundle = load_dataset(name, root=args.root, download=args.download)
    check_data(space.model, bundle)  # a dataset of another kind fails before any progress bar
    full = TrainingRecipe.from_config(recipe, where=label).epochs
    epochs = min(full, args.epochs or full)
    with tqdm(
        total=epochs,
        unit="epoch",
        desc=f"training {label}",
        leave=False,
        disable=True if args.quiet else None,
    ) as bar:  # a bar on a terminal only

        def on_epoch(epoch: int, acc: float) -> None:
            bar.set_postfix(val_acc=f"{acc:.4f}")
            bar.update()

        result = train_and_evaluate(
            arch,
            recipe,
            bundle,
            device=device,
            seed=args.seed,
            max_epochs=args.epochs,
            on_epoch=on_epoch,
            model_spec=space.model,
            space=space,
            num_threads=args.threads,
            keep_model=bool(args.save),
        )
    print(f"{space.name}: pair {label} on {bundle.name} (seed {args.seed})")
    print("epoch  val_acc")
    for epoch, acc in enumerate(result.curve, start=1):
        print(f"{epoch:5d}  {acc:.4f}")
    rows = [
        ("status", result.status),
        ("val_acc", f"{result.val_acc:.4f}"),
        ("test_acc", f"{result.test_acc:.4f}"),
        ("flops", f"{result.flops:,.0f}"),
        ("params", f"{result.params:,d}"),
        ("seconds", f"{result.seconds:.1f}"),
        ("threads", result.threads),
    ]
    if result.message:
        rows.append(("message", result.message))
    if args.save and result.model is not None:
        save_model(
            args.save,
            result.model,
            arch,
            recipe,
            model_spec=space.model,
            meta={
                "in_shape": list(bundle.in_shape),
                "num_classes": bundle.num_classes,
                "dataset": bundle.name,
                "seed": args.seed,
                "threads": result.threads,
                "val_acc": result.val_acc,
                "test_acc": result.test_acc,
                "epochs_run": result.epochs_run,
                "space": space.name,
                "fingerprint": space.fingerprint(),
            },
        )
        rows.append(("saved", args.save))
    for key, value in rows:
        print(f"{key:<9} {value}")
    return 0 if result.status == "ok" else 1


EVALUATE = Command(
    "evaluate",
    "train one (arch, recipe) pair and print its validation curve, test accuracy, FLOPs, params and time",
    _add_arguments,
    _run,
)
"""Register in ``search/cli.py``'s ``COMMANDS``."""

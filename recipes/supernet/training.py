"""Train a weight-sharing supernet with a path sampler; score paths with inherited weights.

:func:`train_supernet` runs SGD (or any :class:`~jointnas.recipes.recipe.TrainingRecipe` optimizer and
schedule): every step asks the sampler for its path(s), runs forward and backward on each
(gradients of a fair step's paths accumulate) and takes one optimizer step. Blocks off the
step's paths get no gradient and are left alone by the optimizer.

:func:`evaluate_paths` measures each path's accuracy with the supernet's weights. Shared
batch-norm statistics mix the activations of all paths, so it can first *recalibrate*
them per path (:func:`recalibrate_batch_norm`: reset the running statistics of the path's
batch-norm layers, forward a few training batches in train mode without gradients, then
evaluate); the supernet's own statistics are restored afterwards.

Example:
    >>> net = Supernet.from_space(read_space("configs/supernet_digits.yaml"), seed=0)  # doctest: +SKIP
    >>> train_supernet(net, "digits", "fair", epochs=5)  # doctest: +SKIP
    >>> evaluate_paths(net, net.paths(), "digits", recalibrate_bn=4)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import torch
from torch import nn

from ...data.datasets import DatasetBundle, load_dataset
from ...errors import ConfigError, DatasetError
from ..batches import make_batches
from ..recipe import TrainingRecipe, build_loss, build_optimizer, build_scheduler
from ..train import EVAL_BATCH, resolve_device
from .model import Supernet
from .samplers import PathSampler, create_sampler
from .slots import Path

OnSupernetEpoch = Callable[[int, float], "bool | None"]
CALIBRATION_BATCH = 64
"""Batch size of the training batches used to recalibrate batch norm."""


@dataclass
class SupernetTrainResult:
    """What one supernet training run did.

    Attributes:
        epochs_run: epochs completed.
        losses: mean training loss of each epoch (summed over a step's paths).
        seconds: wall time of the training (callbacks included).
        steps: optimizer steps.
        path_counts: how many times each path was trained.
        status: ``ok`` or ``diverged`` (a NaN or infinite loss).
        message: why it diverged or stopped early.
    """

    epochs_run: int
    losses: list[float]
    seconds: float
    steps: int
    path_counts: dict[Path, int] = field(default_factory=dict)
    status: str = "ok"
    message: str = ""


def supernet_recipe(
    recipe: TrainingRecipe | Mapping[str, Any] | None = None, epochs: int | None = None
) -> TrainingRecipe:
    """The recipe of a supernet run: ``recipe`` (default SGD, cosine) with ``epochs`` set.

    Raises:
        ConfigError: a bad recipe, or mixup / EMA (not supported for supernets).
    """
    recipe = TrainingRecipe.from_config(recipe or {})
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"epochs={epochs!r} must be a positive integer")
        recipe = dataclasses.replace(
            recipe, epochs=epochs, warmup_epochs=min(recipe.warmup_epochs, epochs - 1)
        )
    if recipe.mixup_alpha > 0 or recipe.ema_decay > 0:
        raise ConfigError(
            "recipe fields 'mixup_alpha' and 'ema_decay' must be 0 for supernet "
            "training (mixup and EMA are not supported)"
        )
    return recipe


def train_supernet(
    supernet: Supernet,
    dataset: DatasetBundle | str,
    sampler: PathSampler | str = "uniform",
    *,
    recipe: TrainingRecipe | Mapping[str, Any] | None = None,
    epochs: int | None = None,
    seed: int = 0,
    device: str = "auto",
    sampler_options: Mapping[str, Any] | None = None,
    on_epoch: OnSupernetEpoch | None = None,
    num_threads: int | None = None,
) -> SupernetTrainResult:
    """Train a supernet in place, one sampled path (or fair set of paths) per step.

    Args:
        supernet: the supernet; moved to ``device``.
        dataset: a :class:`DatasetBundle` or a dataset name.
        sampler: a :class:`~.samplers.PathSampler`, or a registered name.
        recipe: optimizer, learning rate, schedule, batch size... (default: SGD with
            momentum 0.9, lr 0.05, cosine); mixup and EMA are not supported.
        epochs: overrides ``recipe.epochs``.
        seed: seeds the batch order, the sampler (when named) and the validation batches
            used for sampler feedback.
        device: ``auto``, ``cpu``, ``cuda``...
        sampler_options: keyword arguments of a named sampler (``epsilon``, ``warmup``).
        on_epoch: ``on_epoch(epoch, mean_loss)`` after each epoch; returning ``True``
            stops training. It may evaluate the supernet (e.g. :func:`evaluate_paths`).
        num_threads: CPU threads during training (restored afterwards).

    Returns:
        A :class:`SupernetTrainResult`.

    Raises:
        ConfigError: bad recipe, sampler or device. DatasetError: the data does not fit.
    """
    recipe = supernet_recipe(recipe, epochs)
    bundle = _bundle(dataset, supernet)
    if isinstance(sampler, str):
        sampler = create_sampler(sampler, supernet.spec.num_choices, seed=seed, **dict(sampler_options or {}))
    elif tuple(sampler.num_choices) != supernet.spec.num_choices:
        raise ConfigError(
            f"sampler num_choices {sampler.num_choices} do not match the supernet's "
            f"{supernet.spec.num_choices}"
        )
    dev = resolve_device(device)
    previous = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    start = time.perf_counter()
    try:
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else [], device_type="cuda"):
            torch.manual_seed(seed)
            return _fit(supernet.to(dev), bundle, sampler, recipe, dev, seed, on_epoch, start)
    finally:
        torch.set_num_threads(previous)


def _fit(
    net: Supernet,
    bundle: DatasetBundle,
    sampler: PathSampler,
    recipe: TrainingRecipe,
    dev: torch.device,
    seed: int,
    on_epoch: OnSupernetEpoch | None,
    start: float,
) -> SupernetTrainResult:
    train = make_batches(
        bundle.train, recipe.batch_size, dev, torch.Generator().manual_seed(seed), True, None
    )
    feedback = None
    if sampler.wants_feedback:
        gen = torch.Generator().manual_seed(seed + 1)
        feedback = _cycle(make_batches(bundle.val, recipe.batch_size, dev, gen, True, None))
    optimizer = build_optimizer(net, recipe)
    scheduler = build_scheduler(optimizer, recipe, len(train))
    criterion = build_loss(recipe)
    result = SupernetTrainResult(epochs_run=0, losses=[], seconds=0.0, steps=0)
    for epoch in range(1, recipe.epochs + 1):
        net.train()
        total, count = torch.zeros((), device=dev), 0
        for x, y in train:
            paths = sampler.ask()
            optimizer.zero_grad(set_to_none=True)
            for path in paths:
                loss = criterion(net(x, path), y)
                loss.backward()
                total += loss.detach()
                result.path_counts[path] = result.path_counts.get(path, 0) + 1
            optimizer.step()
            scheduler.step()
            result.steps += 1
            count += 1
            if feedback is not None:
                xv, yv = next(feedback)
                for path in paths:
                    sampler.tell(path, _batch_accuracy(net, path, xv, yv))
        mean_loss = float(total) / max(count, 1)
        result.losses.append(mean_loss)
        result.epochs_run = epoch
        if not math.isfinite(mean_loss):
            result.status, result.message = "diverged", f"loss became NaN or infinite in epoch {epoch}"
            break
        if on_epoch is not None and on_epoch(epoch, mean_loss) is True and epoch < recipe.epochs:
            result.message = f"stopped after epoch {epoch} by on_epoch"
            break
    result.seconds = time.perf_counter() - start
    net.eval()
    return result


def evaluate_paths(
    supernet: Supernet,
    paths: Iterable[Path | Mapping[str, Any]],
    dataset: DatasetBundle | str,
    *,
    recalibrate_bn: int = 0,
    split: str = "val",
    seed: int = 0,
    device: str | None = None,
    batch_size: int = EVAL_BATCH,
) -> list[float]:
    """Top-1 accuracy of each path with the weights it inherits from the supernet.

    Args:
        supernet: a (trained) supernet.
        paths: paths (tuples of value indices) or arch dicts.
        dataset: a :class:`DatasetBundle` or a dataset name.
        recalibrate_bn: before each path, recompute its batch-norm statistics on this many
            training batches of :data:`CALIBRATION_BATCH` (the same batches for every
            path); 0 keeps the supernet's shared statistics.
        split: ``val``, ``test`` or ``train``.
        seed: seed of the choice of calibration batches.
        device: default: where the supernet's weights are.
        batch_size: evaluation batch size.

    Returns:
        One accuracy per path, in order. The supernet's weights, statistics and mode are
        unchanged afterwards.

    Raises:
        ConfigError: bad ``recalibrate_bn`` or ``split``; SupernetError: a bad path.
    """
    if isinstance(recalibrate_bn, bool) or not isinstance(recalibrate_bn, int) or recalibrate_bn < 0:
        raise ConfigError(f"recalibrate_bn={recalibrate_bn!r} must be an integer >= 0 (batches)")
    bundle = _bundle(dataset, supernet)
    data = {"train": bundle.train, "val": bundle.val, "test": bundle.test}.get(split)
    if data is None:
        raise ConfigError(
            f"split={split!r} not available (train, val" + (", test)" if bundle.test is not None else ")")
        )
    paths = [supernet.spec.path(p) for p in paths]
    dev = resolve_device(device) if device else next(supernet.parameters()).device
    supernet.to(dev)
    gen = torch.Generator().manual_seed(seed)
    batches = make_batches(data, batch_size, dev, gen, False, None)
    calibration: list[tuple[torch.Tensor, torch.Tensor]] = []
    if recalibrate_bn:
        loader = make_batches(bundle.train, CALIBRATION_BATCH, dev, gen, True, None)
        calibration = [b for _, b in zip(range(recalibrate_bn), loader)]
    saved = {k: v.clone() for k, v in supernet.state_dict().items() if _is_bn_buffer(supernet, k)}
    was_training = supernet.training
    try:
        out = []
        for path in paths:
            if calibration:
                recalibrate_batch_norm(supernet, path, calibration)
            out.append(_accuracy(supernet, path, batches))
        return out
    finally:
        supernet.load_state_dict(saved, strict=False)
        supernet.train(was_training)


@torch.no_grad()
def recalibrate_batch_norm(
    supernet: Supernet, path: Path, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]
) -> None:
    """Recompute the running statistics of the batch-norm layers a path runs.

    Resets their running mean and variance, forwards ``batches`` through the path with
    only those layers in train mode (cumulative average, no gradients) and leaves the
    supernet in eval mode. Other layers and all weights are untouched.
    """
    norms = {
        id(m): m
        for mod in supernet.path_modules(path)
        for m in mod.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    }
    supernet.eval()
    momenta = {}
    for key, bn in norms.items():
        momenta[key] = bn.momentum
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    try:
        for x, _ in batches:
            supernet(x, path)
    finally:
        for key, bn in norms.items():
            bn.momentum = momenta[key]
            bn.eval()


# -- helpers ---------------------------------------------------------------------------------
@torch.no_grad()
def _accuracy(net: Supernet, path: Path, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> float:
    net.eval()
    correct, count = 0, 0
    for x, y in batches:
        correct += int((net(x, path).argmax(1) == y).sum())
        count += len(y)
    return correct / max(count, 1)


def _batch_accuracy(net: Supernet, path: Path, x: torch.Tensor, y: torch.Tensor) -> float:
    acc = _accuracy(net, path, [(x, y)])
    net.train()
    return acc


def _cycle(batches: Iterable[Any]) -> Iterator[Any]:
    while True:
        yield from batches


def _is_bn_buffer(net: nn.Module, key: str) -> bool:
    module_name, _, leaf = key.rpartition(".")
    if leaf not in ("running_mean", "running_var", "num_batches_tracked"):
        return False
    return isinstance(net.get_submodule(module_name), nn.modules.batchnorm._BatchNorm)


def _bundle(dataset: DatasetBundle | str, supernet: Supernet) -> DatasetBundle:
    bundle = load_dataset(dataset) if isinstance(dataset, str) else dataset
    if not isinstance(bundle, DatasetBundle):
        raise ConfigError(f"dataset must be a DatasetBundle or a name, got {type(dataset).__name__}")
    spec = supernet.spec
    if len(bundle.in_shape) - 1 != spec.spatial_dims:
        kinds = {1: "sequences [C, L]", 2: "images [C, H, W]"}
        raise DatasetError(
            f"the supernet takes {kinds[spec.spatial_dims]} but dataset "
            f"{bundle.name!r} holds inputs of shape {list(bundle.in_shape)}"
        )
    if bundle.in_shape[0] != spec.in_channels or bundle.num_classes != spec.num_classes:
        raise DatasetError(
            f"the supernet takes {spec.in_channels}-channel inputs and "
            f"{spec.num_classes} classes but dataset {bundle.name!r} has "
            f"{bundle.in_shape[0]} channel(s) and {bundle.num_classes} classes"
        )
    return bundle


__all__ = [
    "CALIBRATION_BATCH",
    "SupernetTrainResult",
    "evaluate_paths",
    "recalibrate_batch_norm",
    "supernet_recipe",
    "train_supernet",
]

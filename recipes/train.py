"""Train one (arch, recipe) pair and measure it: per-epoch validation curve, test accuracy.

:func:`train_and_evaluate` never raises for a run that goes wrong once training has
started: a NaN / inf loss ends it as ``diverged``, any other exception as ``failed``,
both with the curve so far. Clear *user* errors found before training (a value outside
the space, a bad recipe, a dataset that does not fit the model) raise
:class:`~jointnas.errors.JointNASError` subclasses.

Data: datasets whose splits are all ``TensorDataset`` (digits, MNIST, CIFAR-10 here)
are moved to the device once and batched by index with ``torch.randperm`` on a seeded
``torch.Generator``; other datasets go through a ``DataLoader`` with workers.

Determinism: the run uses its own RNG state (``torch.random.fork_rng``, seeded with
``seed``; the caller's global state is restored afterwards), so the same seed on the
same device with the same thread count gives the same curve. On CUDA, bit-exact
repeats also need deterministic cuDNN kernels, which this module does not force.

Example:
    >>> space = read_space("configs/digits.yaml")  # doctest: +SKIP
    >>> arch, recipe = space.split(space.default)  # doctest: +SKIP
    >>> result = train_and_evaluate(arch, recipe, "digits", max_epochs=3, space=space)  # doctest: +SKIP
    >>> result.status, result.curve  # doctest: +SKIP
    ('ok', [0.1003, 0.6212, 0.8106])
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping

import torch
from torch import nn

from ..data.datasets import DatasetBundle, load_dataset
from ..data.space import ModelSpec, SearchSpace
from ..errors import ConfigError, DatasetError, JointNASError
from .batches import make_batches
from .model import check_builder
from .recipe import (
    TrainingRecipe,
    build_ema,
    build_loss,
    build_mixup,
    build_optimizer,
    build_scheduler,
    check_recipe_variables,
)

STATUSES: tuple[str, ...] = ("ok", "diverged", "failed")
MAX_CPU_THREADS = 8
"""Default cap on CPU threads: small networks gain nothing from more."""
EVAL_BATCH = 1024

OnEpoch = Callable[[int, float], "bool | None"]


class TrainingPruned(Exception):
    """Raised by an ``on_epoch`` callback to stop a run early (the run stays ``ok``)."""


class _CallbackError(Exception):
    """Carries an exception of the caller's ``on_epoch`` out of the run, to re-raise it."""

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


@dataclass
class TrainResult:
    """What one training run measured.

    Attributes:
        curve: validation accuracy after each epoch run.
        val_acc: final validation accuracy (last value of ``curve``; for a diverged run
            the accuracy of the diverged model; NaN when failed).
        test_acc: test accuracy of the final model (NaN when failed or no test split).
        flops: FLOPs of one forward pass of one input (fvcore convention).
        params: trainable parameters.
        seconds: wall time of model building, training and evaluation.
        epochs_run: epochs completed (``len(curve)``).
        status: ``ok``, ``diverged`` or ``failed``.
        message: why a run diverged, failed or stopped early; empty otherwise.
        model: the trained (EMA when on) model when ``keep_model=True``, else ``None``.
        threads: torch CPU threads during the run. Results for one seed can differ
            between thread counts (the order of float summation changes).
    """

    curve: list[float]
    val_acc: float
    test_acc: float
    flops: float
    params: int
    seconds: float
    epochs_run: int
    status: str
    message: str = ""
    model: nn.Module | None = field(default=None, repr=False, compare=False)
    threads: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Metrics as a plain dict (without the model)."""
        out = asdict(self)
        out.pop("model")
        return out


def train_and_evaluate(
    arch: Mapping[str, Any],
    recipe: TrainingRecipe | Mapping[str, Any],
    dataset: DatasetBundle | str,
    device: str = "auto",
    seed: int = 0,
    max_epochs: int | None = None,
    on_epoch: OnEpoch | None = None,
    model_spec: ModelSpec | None = None,
    *,
    space: SearchSpace | None = None,
    num_threads: int | None = None,
    num_workers: int | None = None,
    keep_model: bool = False,
) -> TrainResult:
    """Train the network ``arch`` describes with ``recipe`` on ``dataset`` and measure it.

    Args:
        arch: the arch part of a config.
        recipe: a :class:`TrainingRecipe` or the recipe part of a config.
        dataset: a :class:`DatasetBundle` or a dataset name (loaded with defaults).
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:1``...
            CUDA runs with AMP (bf16, or fp16 with a GradScaler) and channels-last.
        seed: seeds weight initialization, batch order, dropout and mixup.
        max_epochs: stop after this many epochs; the learning-rate schedule is still
            the one of ``recipe.epochs`` (early-stop proxy of the full run).
        on_epoch: called as ``on_epoch(epoch, val_acc)`` after each epoch (1-based);
            returning ``True`` or raising :class:`TrainingPruned` stops the run, which
            keeps status ``ok``. Other exceptions from the callback propagate.
        model_spec: builder and data shape (e.g. ``space.model``); checked against the
            dataset. Default: the space's model, else ``mbconv`` for the dataset's shape.
        space: when given, ``arch`` and the recipe are validated against it.
        num_threads: CPU threads for this run (default: torch's current setting, at
            most :data:`MAX_CPU_THREADS`); the previous setting is restored afterwards.
        num_workers: DataLoader workers for datasets not held in memory.
        keep_model: return the trained model in :attr:`TrainResult.model`.

    Returns:
        A :class:`TrainResult`.

    Raises:
        SpaceError: an arch or recipe value outside ``space``, or an invalid arch.
        ConfigError: a bad recipe (e.g. ``lr <= 0``, unknown optimizer), device or
            ``max_epochs``.
        DatasetError: an unknown or missing dataset, or one whose channels or classes
            differ from ``model_spec``.
    """
    recipe, model_spec = _check_pair(arch, recipe, space, model_spec)
    bundle = load_dataset(dataset) if isinstance(dataset, str) else dataset
    if not isinstance(bundle, DatasetBundle):
        raise ConfigError(f"dataset must be a DatasetBundle or a name, got {type(dataset).__name__}")
    model_spec = check_data(model_spec, bundle)
    if max_epochs is not None and (not isinstance(max_epochs, int) or max_epochs < 1):
        raise ConfigError(f"max_epochs={max_epochs!r} must be a positive integer")
    epochs = min(recipe.epochs, max_epochs or recipe.epochs)
    dev = resolve_device(device)

    from . import model as models  # the builder raises SpaceError for a bad arch
    from .cost import COST_BUILDERS, arch_costs

    analytic = model_spec.builder in COST_BUILDERS  # others: measured on the built network
    n_flops, n_params = (
        arch_costs(arch, in_shape=bundle.in_shape, num_classes=bundle.num_classes)
        if analytic
        else (math.nan, 0)
    )
    n_flops, n_params = float(n_flops), int(n_params)
    previous_threads = torch.get_num_threads()
    if dev.type == "cpu":
        torch.set_num_threads(_threads(num_threads))
    threads = torch.get_num_threads()
    cuda_devices = [dev] if dev.type == "cuda" else []
    start = time.perf_counter()
    try:
        with torch.random.fork_rng(devices=cuda_devices, device_type="cuda"):
            torch.manual_seed(seed)
            model = models.create_model(model_spec, arch, dropout=recipe.dropout, seed=seed)
            if not analytic:
                n_flops, n_params = _built_costs(model, bundle.in_shape)
            run = _Run(model, recipe, bundle, dev, seed, num_workers)
            curve, status, message = run.fit(epochs, on_epoch)
            val_acc, test_acc = run.final_scores(curve, status)
    except JointNASError:
        raise
    except _CallbackError as exc:
        raise exc.original from None
    except Exception as exc:  # building the model or setting up the run failed
        curve, status, message, val_acc, test_acc = [], "failed", _describe(exc), math.nan, math.nan
        run = None
    finally:
        torch.set_num_threads(previous_threads)
    return TrainResult(
        curve=curve,
        val_acc=val_acc,
        test_acc=test_acc,
        flops=n_flops,
        params=n_params,
        seconds=time.perf_counter() - start,
        epochs_run=len(curve),
        status=status,
        message=message,
        model=run.eval_model().cpu() if keep_model and run else None,
        threads=threads,
    )


def check_space(space: SearchSpace) -> None:
    """Check, before any training, what would make a space's pairs fail when trained.

    Raises:
        SpaceError: ``model.builder`` names no builder (listing every builder).
        ConfigError: a recipe variable that is no recipe field, or a choice training does
            not know (e.g. an optimizer), naming the variable and the allowed values.
        Both are located at the space's file (``space.source``) when it has one.
    """
    try:
        if space.model is not None:
            check_builder(space.model.builder)
        check_recipe_variables(space.recipe)
    except JointNASError as exc:
        raise exc.at(space.source) if space.source else exc from None


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; other names checked.

    Raises:
        ConfigError: an unknown device name or CUDA requested but unavailable.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {device!r} (allowed: auto, cpu, cuda, cuda:N, mps)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available (use cpu or auto)")
    return dev


# -- one run ---------------------------------------------------------------------------
class _Run:
    """Model, optimizer, schedule, data and EMA of one training run."""

    def __init__(
        self,
        model: nn.Module,
        recipe: TrainingRecipe,
        bundle: DatasetBundle,
        device: torch.device,
        seed: int,
        num_workers: int | None,
    ) -> None:
        self.device, self.recipe = device, recipe
        cuda = device.type == "cuda"
        self.sequences = len(bundle.in_shape) == 2  # [C, L] inputs: 1D networks
        self.channels_last = cuda and not self.sequences  # a 4D memory format: images only
        self.amp_dtype = None
        if cuda:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.model = (
            model.to(device, memory_format=torch.channels_last) if self.channels_last else model.to(device)
        )
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        gen = torch.Generator().manual_seed(seed)
        self.train = make_batches(bundle.train, recipe.batch_size, device, gen, True, num_workers)
        self.val = make_batches(bundle.val, EVAL_BATCH, device, gen, False, num_workers)
        self.test = (
            make_batches(bundle.test, EVAL_BATCH, device, gen, False, num_workers)
            if bundle.test is not None
            else None
        )
        self.optimizer = build_optimizer(self.model, recipe)
        self.scheduler = build_scheduler(self.optimizer, recipe, len(self.train))
        self.criterion = build_loss(recipe)
        self.mixup = build_mixup(recipe, bundle.num_classes)
        self.ema = build_ema(self.model, recipe)

    def eval_model(self) -> nn.Module:
        """The model evaluated: the EMA copy when EMA is on."""
        return self.ema.module if self.ema is not None else self.model

    def fit(self, epochs: int, on_epoch: OnEpoch | None) -> tuple[list[float], str, str]:
        """Run up to ``epochs`` epochs; returns ``(curve, status, message)``."""
        curve: list[float] = []
        for epoch in range(1, epochs + 1):
            try:
                if not self._epoch():
                    return curve, "diverged", f"loss became NaN or infinite in epoch {epoch}"
                acc = self.accuracy(self.val)
            except Exception as exc:
                return curve, "failed", f"epoch {epoch}: {_describe(exc)}"
            curve.append(acc)
            if on_epoch is None:
                continue
            try:
                stop, why = on_epoch(epoch, acc) is True, "by on_epoch"
            except TrainingPruned as exc:
                stop, why = True, f"(pruned: {exc})" if str(exc) else "(pruned)"
            except Exception as exc:
                raise _CallbackError(exc) from exc
            if stop and epoch < epochs:
                return curve, "ok", f"stopped after epoch {epoch} {why}"
        return curve, "ok", ""

    def final_scores(self, curve: list[float], status: str) -> tuple[float, float]:
        """``(val_acc, test_acc)`` of the final model (see :class:`TrainResult`)."""
        if status == "failed":
            return math.nan, math.nan
        try:
            val = curve[-1] if status == "ok" and curve else self.accuracy(self.val)
            test = self.accuracy(self.test) if self.test is not None else math.nan
        except Exception:  # evaluating a broken model: nothing measurable
            return math.nan, math.nan
        return val, test

    def _epoch(self) -> bool:
        """One training epoch; False when the loss was not finite."""
        model, opt = self.model, self.optimizer
        model.train()
        total = torch.zeros((), device=self.device)
        for x, y in self.train:
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            if self.mixup is not None:  # torchvision's MixUp takes image batches: sequences as [N, C, L, 1]
                x, y = self.mixup(x.unsqueeze(-1), y) if self.sequences else self.mixup(x, y)
                x = x.squeeze(-1) if self.sequences else x
            with torch.autocast(
                self.device.type, dtype=self.amp_dtype or torch.bfloat16, enabled=self.amp_dtype is not None
            ):
                loss = self.criterion(model(x), y)
            opt.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.step(opt)
                self.scaler.update()
            else:
                loss.backward()
                opt.step()
            self.scheduler.step()
            if self.ema is not None:
                self.ema.update_parameters(model)
            total += loss.detach().float()
        return bool(torch.isfinite(total))

    @torch.no_grad()
    def accuracy(self, batches: Any) -> float:
        """Top-1 accuracy of :meth:`eval_model` over ``batches``."""
        model = self.eval_model()
        model.eval()
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        count = 0
        for x, y in batches:
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(
                self.device.type, dtype=self.amp_dtype or torch.bfloat16, enabled=self.amp_dtype is not None
            ):
                logits = model(x)
            correct += (logits.argmax(1) == y).sum()
            count += len(y)
        return float(correct.item()) / max(count, 1)


# -- checks ----------------------------------------------------------------------------
def _check_pair(
    arch: Any, recipe: Any, space: SearchSpace | None, model_spec: ModelSpec | None
) -> tuple[TrainingRecipe, ModelSpec | None]:
    recipe = TrainingRecipe.from_config(recipe)
    if space is not None:
        space.validate(dict(arch), where="arch", part="arch")
        values = recipe.to_dict()
        space.validate({n: values.get(n) for n in space.recipe_names}, where="recipe", part="recipe")
        model_spec = model_spec or space.model
    return recipe, model_spec


def check_data(model_spec: ModelSpec | None, bundle: DatasetBundle) -> ModelSpec:
    """The model spec a dataset is trained with: ``model_spec`` with the dataset's shape.

    Raises:
        DatasetError: the dataset holds images for a 1D model or sequences for a 2D one
            (both shapes named), or other channels or classes than ``model_spec``.
    """
    if model_spec is None:
        return ModelSpec("mbconv", tuple(bundle.in_shape), bundle.num_classes)
    _check_dims(model_spec.in_shape, bundle)
    if model_spec.in_shape[0] != bundle.in_shape[0]:
        raise DatasetError(
            f"the model takes {model_spec.in_shape[0]}-channel inputs "
            f"(in_shape {list(model_spec.in_shape)}) but dataset {bundle.name!r} "
            f"has {bundle.in_shape[0]} channel(s) (in_shape {list(bundle.in_shape)})"
        )
    if model_spec.num_classes != bundle.num_classes:
        raise DatasetError(
            f"the model has {model_spec.num_classes} classes but dataset "
            f"{bundle.name!r} has {bundle.num_classes}"
        )
    return ModelSpec(model_spec.builder, tuple(bundle.in_shape), bundle.num_classes, model_spec.options)


def _check_dims(in_shape: Any, bundle: DatasetBundle) -> None:
    """Refuse a 1D model on images or a 2D model on sequences, naming both shapes.

    Raises:
        DatasetError: ``in_shape`` and the dataset's inputs differ in spatial dimensions.
    """
    kinds = {2: "sequences [C, L]", 3: "images [C, H, W]"}
    if len(in_shape) != len(bundle.in_shape):
        raise DatasetError(
            f"the space's model takes {kinds.get(len(in_shape), 'inputs')} "
            f"(in_shape {list(in_shape)}) but dataset {bundle.name!r} holds "
            f"{kinds.get(len(bundle.in_shape), 'inputs')} (in_shape "
            f"{list(bundle.in_shape)}); pick a dataset of the space's kind"
        )


def _built_costs(model: nn.Module, in_shape: Any) -> tuple[float, int]:
    """``(flops, params)`` of a built network: analytic when it carries a ``NetworkSpec``
    (the supernet builders' standalone networks), else measured by fvcore."""
    from .cost import fvcore_costs, spec_costs
    from .specs import NetworkSpec

    spec = getattr(model, "spec", None)
    if isinstance(spec, NetworkSpec):
        f, p = spec_costs(spec, *in_shape[1:])
    else:
        f, p = fvcore_costs(model, in_shape)
    return float(f), int(p)


def _threads(num_threads: int | None) -> int:
    if num_threads is None:
        return max(1, min(torch.get_num_threads(), MAX_CPU_THREADS))
    if not isinstance(num_threads, int) or num_threads < 1:
        raise ConfigError(f"num_threads={num_threads!r} must be a positive integer")
    return num_threads


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


__all__ = ["STATUSES", "TrainResult", "TrainingPruned", "check_space", "resolve_device", "train_and_evaluate"]

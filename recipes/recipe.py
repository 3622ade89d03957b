"""Training recipes: a validated dataclass and the torch objects it turns into.

A :class:`TrainingRecipe` is built from the recipe part of a config
(:meth:`TrainingRecipe.from_config`); keys the space does not search keep their
defaults. The helpers build the optimizer (no weight decay on norm and bias
parameters), the learning-rate schedule, the loss, mixup and the EMA model.

The schedule is stepped **once per iteration** (optimizer step): a linear warmup over
``warmup_epochs * steps_per_epoch`` iterations, then cosine / step / constant over the
remaining iterations of ``epochs`` epochs. Stopping early (``max_epochs``) keeps this
schedule: it is always built for the recipe's full ``epochs``.

Example:
    >>> recipe = TrainingRecipe.from_config({"optimizer": "adamw", "lr": 3e-3, "epochs": 5})
    >>> recipe.schedule, recipe.batch_size
    ('cosine', 64)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from ..data.variables import Categorical, Variable
from ..errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

OPTIMIZERS: tuple[str, ...] = ("sgd", "adamw", "rmsprop")
SCHEDULES: tuple[str, ...] = ("cosine", "step", "constant")
CHOICES: dict[str, tuple[str, ...]] = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES}
"""Recipe fields whose value is one of a fixed list of names."""
STEP_DECAYS = 3
"""``step`` schedule: the post-warmup iterations are cut in this many equal parts, the
learning rate multiplied by ``STEP_GAMMA`` at each cut (0.1x, then 0.01x)."""
STEP_GAMMA = 0.1
WARMUP_START = 0.1
"""Warmup starts at this fraction of ``lr`` and reaches ``lr`` linearly."""


@dataclass(frozen=True)
class TrainingRecipe:
    """How a network is trained.

    Args:
        optimizer: ``sgd``, ``adamw`` or ``rmsprop``.
        lr: peak learning rate (> 0).
        momentum: SGD / RMSprop momentum in ``[0, 1)`` (unused by AdamW).
        nesterov: Nesterov momentum for SGD (needs ``momentum > 0``).
        weight_decay: L2 / decoupled weight decay (>= 0), never applied to norm and
            bias parameters.
        epochs: length of the schedule in epochs (>= 1).
        batch_size: training batch size (>= 1).
        schedule: ``cosine``, ``step`` or ``constant`` after warmup.
        warmup_epochs: epochs of linear warmup (``0 <= warmup_epochs < epochs``).
        label_smoothing: cross-entropy label smoothing in ``[0, 1)``.
        dropout: dropout before the classifier in ``[0, 1)`` (passed to the model).
        mixup_alpha: mixup Beta(alpha, alpha) parameter; 0 disables mixup.
        ema_decay: per-iteration EMA decay of the weights in ``[0, 1)``, warmed up over
            the first steps (see :func:`build_ema`); 0 disables EMA. When on, the EMA
            model is the one evaluated.

    Raises:
        ConfigError: a value of the wrong type or out of range, naming the field and the
            allowed values.
    """

    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    epochs: int = 30
    batch_size: int = 64
    schedule: str = "cosine"
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    dropout: float = 0.0
    mixup_alpha: float = 0.0
    ema_decay: float = 0.0

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            _choice(self, name, allowed)
        if not isinstance(self.nesterov, bool):
            raise ConfigError(f"recipe field 'nesterov'={self.nesterov!r} must be true or false")
        _number(self, "lr", low=0.0, low_open=True)
        _number(self, "momentum", low=0.0, high=1.0)
        _number(self, "weight_decay", low=0.0)
        _number(self, "label_smoothing", low=0.0, high=1.0)
        _number(self, "dropout", low=0.0, high=1.0)
        _number(self, "mixup_alpha", low=0.0)
        _number(self, "ema_decay", low=0.0, high=1.0)
        _integer(self, "epochs", low=1)
        _integer(self, "batch_size", low=1)
        _integer(self, "warmup_epochs", low=0)
        if self.warmup_epochs >= self.epochs:
            raise ConfigError(
                f"recipe field 'warmup_epochs'={self.warmup_epochs} must be smaller than epochs={self.epochs}"
            )
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ConfigError(
                "recipe field 'nesterov'=true needs optimizer 'sgd' and momentum > 0 "
                f"(got optimizer {self.optimizer!r}, momentum {self.momentum})"
            )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all recipe fields, in declaration order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_config(cls, config: Mapping[str, Any], where: str | None = None) -> "TrainingRecipe":
        """Build a recipe from the recipe part of a config; absent fields keep defaults.

        Args:
            config: mapping of field name to value (numpy scalars accepted).
            where: location for error messages (file, row).

        Raises:
            ConfigError: an unknown key (listing the known fields) or a bad value.
        """
        if isinstance(config, TrainingRecipe):
            return config
        if not isinstance(config, Mapping):
            raise ConfigError(f"a recipe must be a mapping of field names to values, got {config!r}", where)
        names = cls.field_names()
        unknown = [str(k) for k in config if k not in names]
        if unknown:
            raise ConfigError(
                f"unknown recipe field(s) {', '.join(unknown)} (allowed: {', '.join(names)})", where
            )
        try:
            return cls(**{k: _plain(v) for k, v in config.items()})
        except ConfigError as exc:
            raise exc.at(where) if where else exc from None

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (YAML / ``torch.save`` friendly)."""
        return asdict(self)


def check_recipe_variables(variables: Iterable[Variable]) -> None:
    """Check that a space's recipe variables make training recipes, before any training.

    Every recipe variable must name a :class:`TrainingRecipe` field, and a field that
    takes one of a list of names (:data:`CHOICES`: ``optimizer``, ``schedule``) must be
    categorical with every choice allowed; otherwise the pairs drawing that value would
    fail only when trained. (:func:`~.train.check_space` also names the space's file.)

    Raises:
        ConfigError: naming the variable, the bad choice and the allowed values.
    """
    names = TrainingRecipe.field_names()
    for var in variables:
        if var.name not in names:
            raise ConfigError(
                f"recipe variable '{var.name}' is not a training-recipe field (allowed: {', '.join(names)})"
            )
        allowed = CHOICES.get(var.name)
        if allowed is None:
            continue
        if not isinstance(var, Categorical):
            raise ConfigError(
                f"recipe variable '{var.name}' must be categorical (choices among {', '.join(allowed)})"
            )
        bad = [c for c in var.choices if c not in allowed]
        if bad:
            raise ConfigError(
                f"recipe variable '{var.name}': choice {bad[0]!r} not allowed (allowed: {', '.join(allowed)})"
            )


# -- torch objects ---------------------------------------------------------------------
def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Split trainable parameters: decay for weights of dim >= 2, none for norms and biases.

    Args:
        model: the network.
        weight_decay: decay of the first group.

    Returns:
        Two optimizer param groups (the second with ``weight_decay=0``).
    """
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim > 1 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, recipe: TrainingRecipe) -> torch.optim.Optimizer:
    """The recipe's optimizer over :func:`param_groups` of ``model``."""
    import torch

    groups = param_groups(model, recipe.weight_decay)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=recipe.lr)
    return torch.optim.RMSprop(groups, lr=recipe.lr, momentum=recipe.momentum, alpha=0.9)


def build_scheduler(
    optimizer: torch.optim.Optimizer, recipe: TrainingRecipe, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning-rate schedule, to be stepped once per iteration.

    Args:
        optimizer: the optimizer whose learning rate it drives.
        recipe: gives ``epochs``, ``warmup_epochs`` and ``schedule``.
        steps_per_epoch: optimizer steps in one epoch (>= 1).

    Returns:
        ``LinearLR`` warmup followed by ``CosineAnnealingLR`` / ``StepLR`` /
        ``ConstantLR`` through ``SequentialLR`` (the main schedule alone without warmup).
    """
    from torch.optim import lr_scheduler as sched

    steps_per_epoch = max(1, int(steps_per_epoch))
    total = recipe.epochs * steps_per_epoch
    warmup = recipe.warmup_epochs * steps_per_epoch
    main_steps = max(1, total - warmup)
    if recipe.schedule == "cosine":
        main = sched.CosineAnnealingLR(optimizer, T_max=main_steps)
    elif recipe.schedule == "step":
        main = sched.StepLR(
            optimizer, step_size=max(1, math.ceil(main_steps / STEP_DECAYS)), gamma=STEP_GAMMA
        )
    else:
        main = sched.ConstantLR(optimizer, factor=1.0, total_iters=0)
    if warmup == 0:
        return main
    ramp = sched.LinearLR(optimizer, start_factor=WARMUP_START, end_factor=1.0, total_iters=warmup)
    return sched.SequentialLR(optimizer, [ramp, main], milestones=[warmup])


def build_loss(recipe: TrainingRecipe) -> nn.Module:
    """Cross-entropy with the recipe's label smoothing (accepts class or mixed targets)."""
    from torch import nn

    return nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)


def build_mixup(recipe: TrainingRecipe, num_classes: int) -> Any | None:
    """``torchvision.transforms.v2.MixUp`` for ``(images, labels)`` batches, or ``None``.

    The mixing weight is drawn from torch's global generator (seeded by the trainer).
    """
    if recipe.mixup_alpha <= 0:
        return None
    from torchvision.transforms import v2

    return v2.MixUp(alpha=recipe.mixup_alpha, num_classes=num_classes)


def build_ema(model: nn.Module, recipe: TrainingRecipe) -> Any | None:
    """An EMA copy of ``model`` (``AveragedModel``, buffers averaged too), or ``None``.

    The decay warms up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates (as
    TensorFlow's ``ExponentialMovingAverage`` with ``num_updates``): with a fixed 0.99
    and the ~20 steps per epoch of a small dataset, the random initial weights would
    still weigh 13% in the evaluated model after 10 epochs. Call
    ``ema.update_parameters(model)`` after each optimizer step; evaluate ``ema.module``.
    """
    if recipe.ema_decay <= 0:
        return None
    from torch.optim.swa_utils import AveragedModel

    return AveragedModel(model, multi_avg_fn=warmup_ema(recipe.ema_decay), use_buffers=True)


def warmup_ema(decay: float) -> Callable[[list, list, Any], None]:
    """A ``multi_avg_fn`` for ``AveragedModel``: EMA whose decay warms up to ``decay``."""
    import torch

    @torch.no_grad()
    def update(ema: list, current: list, num_averaged: Any) -> None:
        n = float(num_averaged)
        d = min(decay, (1.0 + n) / (10.0 + n))
        if torch.is_floating_point(ema[0]) or torch.is_complex(ema[0]):
            torch._foreach_lerp_(ema, current, 1.0 - d)
        else:  # integer buffers (BatchNorm's step counters)
            for e, c in zip(ema, current):
                e.copy_(e * d + c * (1.0 - d))

    return update


# -- validation helpers ----------------------------------------------------------------
def _plain(value: Any) -> Any:
    """numpy scalars to Python scalars."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        return value.item()
    return value


def _choice(recipe: TrainingRecipe, name: str, allowed: tuple[str, ...]) -> None:
    value = getattr(recipe, name)
    if value not in allowed:
        raise ConfigError(f"recipe field '{name}'={value!r} not allowed (allowed: {', '.join(allowed)})")


def _number(
    recipe: TrainingRecipe, name: str, low: float, high: float | None = None, low_open: bool = False
) -> None:
    value = getattr(recipe, name)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (high is None or value < high)
    if not ok:
        lo = f"> {low:g}" if low_open else f">= {low:g}"
        rng = f"a number {lo}" + (f" and < {high:g}" if high is not None else "")
        raise ConfigError(f"recipe field '{name}'={value!r} must be {rng}")
    object.__setattr__(recipe, name, float(value))


def _integer(recipe: TrainingRecipe, name: str, low: int) -> None:
    value = getattr(recipe, name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"recipe field '{name}'={value!r} must be an integer >= {low}")
    object.__setattr__(recipe, name, value)


__all__ = [
    "CHOICES",
    "OPTIMIZERS",
    "SCHEDULES",
    "TrainingRecipe",
    "build_ema",
    "build_loss",
    "build_mixup",
    "build_optimizer",
    "build_scheduler",
    "check_recipe_variables",
    "param_groups",
]

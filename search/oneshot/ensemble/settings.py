"""Hyperparameters of the three EdgeNES phases, as small frozen dataclasses.

Each dataclass validates itself when created and names the offending field as
``<section>.<field>`` (the key of the config file): :class:`DartsSettings` (``search``),
:class:`HyperSettings` (``hypernet``) and :class:`MemberSettings` (``members``).

Example:
    >>> try:
    ...     HyperSettings(penalty=-1.0)
    ... except ConfigError as exc:
    ...     print(exc)
    penalty C must be >= 0, got -1.0 (hypernet.penalty)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from ....errors import ConfigError


def _check(section: str, obj: Any, rules: dict[str, tuple[str, float]]) -> None:
    """Check each ``field: (kind, low)``; kind ``int>=``, ``float>=`` or ``float>``."""
    for name, (kind, low) in rules.items():
        value = getattr(obj, name)
        where = f"{section}.{name}"
        label = "penalty C" if name == "penalty" else name
        if kind.startswith("int"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{label} must be an integer >= {low:g}, got {value!r}", where)
            if value < low:
                raise ConfigError(f"{label} must be an integer >= {low:g}, got {value}", where)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{label} must be a finite number, got {value!r}", where)
        if kind == "float>=" and value < low:
            raise ConfigError(f"{label} must be >= {low:g}, got {value!r}", where)
        if kind == "float>" and not value > low:
            raise ConfigError(f"{label} must be > {low:g}, got {value!r}", where)


@dataclass(frozen=True)
class DartsSettings:
    """First-order DARTS: weights on the train split, logits alpha on the validation split.

    Args:
        epochs: passes over the training split (one alpha step per weight step).
        warmup_epochs: first epochs that train the weights only.
        batch_size: examples per step.
        w_lr: initial SGD learning rate of the weights (cosine decay).
        w_momentum: SGD momentum.
        w_weight_decay: weight decay of the weights.
        alpha_lr: Adam learning rate of the architecture logits.
        alpha_weight_decay: weight decay of the architecture logits.
        grad_clip: gradient-norm clip of the weights.
    """

    epochs: int = 6
    warmup_epochs: int = 1
    batch_size: int = 128
    w_lr: float = 0.05
    w_momentum: float = 0.9
    w_weight_decay: float = 3e-4
    alpha_lr: float = 6e-3
    alpha_weight_decay: float = 1e-3
    grad_clip: float = 5.0

    def __post_init__(self) -> None:
        _check(
            "search",
            self,
            {
                "epochs": ("int", 1),
                "warmup_epochs": ("int", 0),
                "batch_size": ("int", 1),
                "w_lr": ("float>", 0),
                "w_momentum": ("float>=", 0),
                "w_weight_decay": ("float>=", 0),
                "alpha_lr": ("float>", 0),
                "alpha_weight_decay": ("float>=", 0),
                "grad_clip": ("float>", 0),
            },
        )
        if self.warmup_epochs >= self.epochs:
            raise ConfigError(
                f"warmup_epochs ({self.warmup_epochs}) must be < epochs ({self.epochs})",
                "search.warmup_epochs",
            )


@dataclass(frozen=True)
class HyperSettings:
    """Training of the hypernetwork alpha(lambda, a) with the shared supernet weights.

    Objective per step: ``L_val(w, alpha(lambda)) + C * mean_k (lambda_k -
    <alpha*, GS(alpha(lambda_k))>)^2`` with ``lambda ~ U(lambda_range)``; the weights
    ``w`` take a training step under a freshly sampled ``lambda`` after each step of ``a``.

    Args:
        epochs: passes over the training split.
        hidden: hidden units of the hypernetwork's MLP.
        lr: Adam learning rate of the hypernetwork.
        penalty: ``C``, weight of the squared shared-edge penalty (>= 0).
        tau: Gumbel-softmax temperature (> 0).
        lambda_range: ``(low, high)`` of the uniform training ``lambda``; ``None`` means
            ``(0, Lambda)``. Checked against the space by :class:`~.edgenes.EdgeNES`.
        penalty_samples: ``lambda`` values (each with its Gumbel sample) per penalty term.
        batch_size: examples per step.
        w_lr: SGD learning rate of the supernet weights in this phase (cosine decay).
        w_momentum: SGD momentum.
        w_weight_decay: weight decay of the weights.
    """

    epochs: int = 3
    hidden: int = 32
    lr: float = 0.02
    penalty: float = 0.05
    tau: float = 1.0
    lambda_range: tuple[float, float] | None = None
    penalty_samples: int = 16
    batch_size: int = 128
    w_lr: float = 0.02
    w_momentum: float = 0.9
    w_weight_decay: float = 3e-4

    def __post_init__(self) -> None:
        _check(
            "hypernet",
            self,
            {
                "epochs": ("int", 1),
                "hidden": ("int", 1),
                "lr": ("float>", 0),
                "penalty": ("float>=", 0),
                "tau": ("float>", 0),
                "penalty_samples": ("int", 1),
                "batch_size": ("int", 1),
                "w_lr": ("float>", 0),
                "w_momentum": ("float>=", 0),
                "w_weight_decay": ("float>=", 0),
            },
        )
        if self.lambda_range is not None:
            object.__setattr__(self, "lambda_range", lambda_pair(self.lambda_range, "hypernet.lambda_range"))


@dataclass(frozen=True)
class MemberSettings:
    """Training of one ensemble member (a discrete architecture).

    Args:
        epochs: SGD epochs with a cosine schedule (from scratch), or fine-tuning epochs
            after inheriting the supernet weights (0: only re-estimate batch-norm stats).
        lr: initial learning rate.
        momentum: SGD momentum.
        weight_decay: weight decay.
        batch_size: examples per step.
        inherit: start from the supernet's weights instead of a fresh initialization.
    """

    epochs: int = 5
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 3e-4
    batch_size: int = 64
    inherit: bool = False

    def __post_init__(self) -> None:
        _check(
            "members",
            self,
            {
                "epochs": ("int", 0),
                "lr": ("float>", 0),
                "momentum": ("float>=", 0),
                "weight_decay": ("float>=", 0),
                "batch_size": ("int", 1),
            },
        )
        if not isinstance(self.inherit, bool):
            raise ConfigError(f"inherit must be true or false, got {self.inherit!r}", "members.inherit")
        if self.epochs == 0 and not self.inherit:
            raise ConfigError(
                "epochs must be >= 1 when members train from scratch (0 only with inherit: true)",
                "members.epochs",
            )


def lambda_pair(value: Any, where: str) -> tuple[float, float]:
    """``[low, high]`` -> ``(low, high)`` floats with ``low <= high``.

    Raises:
        ConfigError: not a pair of finite numbers in increasing order.
    """
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"must be a pair [low, high] of numbers, got {value!r}", where) from None
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ConfigError(f"must be [low, high] with low <= high, got {list(value)!r}", where)
    return (low, high)


def settings_fields(cls: type) -> tuple[str, ...]:
    """Field names of a settings dataclass (the keys its config section accepts)."""
    return tuple(f.name for f in fields(cls))


__all__ = ["DartsSettings", "HyperSettings", "MemberSettings", "lambda_pair", "settings_fields"]

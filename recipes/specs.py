"""Typed block specs: the one place where an architecture dict is decoded.

An arch dict (the arch part of a config, see ``configs/digits.yaml``) holds
``stem_width``, ``activation`` and, for each stage ``i = 1..S``, the keys
``s{i}_width``, ``s{i}_depth``, ``s{i}_kernel``, ``s{i}_expand`` and ``s{i}_se``.
The number of stages is the number of consecutive ``s{i}_width`` keys. Stage 1 keeps
the resolution; the first block of every later stage has stride 2.

:func:`network_spec` turns such a dict into a :class:`NetworkSpec`, a flat tuple of
:class:`BlockSpec` (like torchvision's MobileNetV3 ``InvertedResidualConfig`` list).
The model builder (:mod:`.model`) and the analytic costs (:mod:`.cost`) only read
specs, so they cannot disagree on what an arch means.

Example:
    >>> arch = {"stem_width": 16, "activation": "relu", "s1_width": 16, "s1_depth": 2,
    ...         "s1_kernel": 3, "s1_expand": 1, "s1_se": False}
    >>> spec = network_spec(arch, num_classes=10, in_channels=1)
    >>> [b.use_residual for b in spec.blocks]
    [True, True]
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Mapping

import numpy as np

from ..errors import DatasetError, SpaceError

ACTIVATIONS: tuple[str, ...] = ("relu", "hardswish", "silu")
"""Allowed values of the ``activation`` arch variable."""

STAGE_FIELDS: tuple[str, ...] = ("width", "depth", "kernel", "expand", "se")
"""Per-stage arch variables, named ``s{i}_{field}``."""

STEM_KERNEL = 3
"""Kernel size of the stem convolution (stride 1)."""

_STAGE_KEY = re.compile(r"^s(\d+)_(" + "|".join(STAGE_FIELDS) + r")$")


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never going below 90% of it.

    The usual MobileNet / EfficientNet channel rounding (``torchvision.models._utils``).

    Args:
        value: a channel count.
        divisor: the multiple to round to.
        min_value: the smallest result (default ``divisor``).

    Returns:
        The rounded channel count.
    """
    min_value = divisor if min_value is None else min_value
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


@dataclass(frozen=True, kw_only=True)
class BlockSpec:
    """One MBConv block: [1x1 expand] -> kxk depthwise -> [squeeze-excitation] -> 1x1 project.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel: depthwise kernel size (odd).
        stride: depthwise stride (1 or 2).
        expand: expansion ratio (>= 1); ``1`` means no expansion convolution.
        se: whether a squeeze-excitation layer follows the depthwise convolution.
        activation: activation name, one of :data:`ACTIVATIONS`.
    """

    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    expand: float
    se: bool
    activation: str

    @property
    def expanded_channels(self) -> int:
        """Channels of the depthwise convolution: ``round(in_channels * expand)``."""
        return int(round(self.in_channels * self.expand))

    @property
    def has_expansion(self) -> bool:
        """Whether the block starts with a 1x1 expansion convolution."""
        return self.expand != 1

    @property
    def squeeze_channels(self) -> int:
        """Hidden channels of the squeeze-excitation layer."""
        return make_divisible(self.expanded_channels // 4, 8)

    @property
    def use_residual(self) -> bool:
        """Whether the input is added to the output (stride 1, same channels)."""
        return self.stride == 1 and self.in_channels == self.out_channels


@dataclass(frozen=True, kw_only=True)
class NetworkSpec:
    """A whole network: stem, MBConv blocks in order, pooled linear classifier.

    Args:
        in_channels: channels of the input images.
        stem_width: output channels of the 3x3 stride-1 stem convolution.
        activation: activation name used throughout, one of :data:`ACTIVATIONS`.
        blocks: the MBConv blocks, first to last.
        num_classes: outputs of the classifier.
        dropout: dropout probability before the classifier.
    """

    in_channels: int
    stem_width: int
    activation: str
    blocks: tuple[BlockSpec, ...]
    num_classes: int
    dropout: float = 0.0

    @property
    def last_channels(self) -> int:
        """Channels entering the classifier."""
        return self.blocks[-1].out_channels if self.blocks else self.stem_width


def num_stages(keys: Any) -> int:
    """Number of stages: how many consecutive ``s1_width``, ``s2_width``, ... keys exist."""
    keys = keys if isinstance(keys, (Mapping, set, frozenset)) else set(keys)
    count = 0
    while _stage_keys(count + 1)[0] in keys:
        count += 1
    return count


@functools.lru_cache(maxsize=None)
def _stage_keys(stage: int) -> tuple[str, ...]:
    """``(s{i}_width, s{i}_depth, s{i}_kernel, s{i}_expand, s{i}_se)`` for stage ``i``."""
    return tuple(f"s{stage}_{field}" for field in STAGE_FIELDS)


@functools.lru_cache(maxsize=None)
def _all_stage_keys(stages: int) -> frozenset[str]:
    return frozenset(k for i in range(1, stages + 1) for k in _stage_keys(i))


def network_spec(arch: Mapping[str, Any], num_classes: int, in_channels: int,
                 dropout: float = 0.0) -> NetworkSpec:
    """Decode an arch dict into a :class:`NetworkSpec`.

    Keys that are not arch variables (e.g. the recipe part of a full config) are ignored.

    Args:
        arch: ``stem_width``, ``activation`` and ``s{i}_{width,depth,kernel,expand,se}``.
        num_classes: classifier outputs (>= 1).
        in_channels: input image channels (>= 1).
        dropout: dropout probability before the classifier, in ``[0, 1)``.

    Returns:
        The network spec.

    Raises:
        SpaceError: a missing key or a bad value, naming the key and what is allowed.
    """
    if not isinstance(arch, Mapping):
        raise SpaceError(f"an arch must be a mapping of variable names to values, got {arch!r}")
    stages = num_stages(arch)
    if stages == 0:
        raise SpaceError("arch has no stages: missing variable 's1_width'")
    _check_stage_keys(arch, stages)
    activation = _activation(arch)
    stem = _integer(arch, "stem_width", 1)
    blocks: list[BlockSpec] = []
    channels = stem
    for i in range(1, stages + 1):
        width_key, depth_key, kernel_key, expand_key, se_key = _stage_keys(i)
        width = _integer(arch, width_key, 1)
        depth = _integer(arch, depth_key, 1)
        kernel = _integer(arch, kernel_key, 1)
        if kernel % 2 == 0:
            raise SpaceError(f"arch variable '{kernel_key}': value {kernel} not allowed "
                             "(an odd kernel size)")
        expand = _expand(arch, expand_key)
        se = _boolean(arch, se_key)
        blocks.append(BlockSpec(in_channels=channels, out_channels=width, kernel=kernel,
                                stride=2 if i > 1 else 1, expand=expand, se=se,
                                activation=activation))
        if depth > 1:  # the other blocks of a stage are equal (frozen: shared safely)
            blocks.extend([BlockSpec(in_channels=width, out_channels=width, kernel=kernel,
                                     stride=1, expand=expand, se=se,
                                     activation=activation)] * (depth - 1))
        channels = width
    return NetworkSpec(in_channels=_positive_int(in_channels, "in_channels"), stem_width=stem,
                       activation=activation, blocks=tuple(blocks),
                       num_classes=_positive_int(num_classes, "num_classes"),
                       dropout=_dropout(dropout))


def check_in_shape(in_shape: Any) -> tuple[int, int, int]:
    """Return ``in_shape`` as ``(channels, height, width)`` positive ints.

    Raises:
        DatasetError: not three positive integers.
    """
    if (isinstance(in_shape, (list, tuple)) and len(in_shape) == 3
            and all(_is_int(d) and d > 0 for d in in_shape)):
        return int(in_shape[0]), int(in_shape[1]), int(in_shape[2])
    raise DatasetError(f"in_shape={in_shape!r} must be three positive integers "
                       "(channels, height, width)")


def _check_stage_keys(arch: Mapping[str, Any], stages: int) -> None:
    expected = _all_stage_keys(stages)
    for key in arch:
        if key in expected or not isinstance(key, str) or not key.startswith("s"):
            continue
        match = _STAGE_KEY.match(key)
        if match:
            raise SpaceError(f"arch variable '{key}' has no stage: stages must be numbered "
                             f"1..S with an 's{{i}}_width' each, found {stages}")


def _is_int(value: Any) -> bool:
    if type(value) is int:
        return True
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _get(arch: Mapping[str, Any], key: str) -> Any:
    try:
        return arch[key]
    except KeyError:
        raise SpaceError(f"arch is missing variable '{key}'") from None


def _integer(arch: Mapping[str, Any], key: str, minimum: int) -> int:
    value = _get(arch, key)
    if type(value) is int and value >= minimum:  # fast path for plain values
        return value
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if not _is_int(value) or value < minimum:
        raise SpaceError(f"arch variable '{key}': value {value!r} not allowed "
                         f"(an integer >= {minimum})")
    return int(value)


def _expand(arch: Mapping[str, Any], key: str) -> float:
    value = _get(arch, key)
    if type(value) is int and value >= 1:
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real) or not value >= 1:
        raise SpaceError(f"arch variable '{key}': value {value!r} not allowed "
                         "(an expansion ratio >= 1)")
    return int(value) if float(value).is_integer() else float(value)


def _boolean(arch: Mapping[str, Any], key: str) -> bool:
    value = _get(arch, key)
    if value is True or value is False:
        return value
    if not isinstance(value, np.bool_):
        raise SpaceError(f"arch variable '{key}': value {value!r} not allowed (true or false)")
    return bool(value)


def _activation(arch: Mapping[str, Any]) -> str:
    value = _get(arch, "activation")
    if not isinstance(value, str) or value not in ACTIVATIONS:
        raise SpaceError(f"arch variable 'activation': value {value!r} not allowed "
                         f"(one of {', '.join(ACTIVATIONS)})")
    return value


def _positive_int(value: Any, name: str) -> int:
    if not _is_int(value) or value < 1:
        raise SpaceError(f"{name}={value!r} must be a positive integer")
    return int(value)


def _dropout(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real) or not 0 <= value < 1:
        raise SpaceError(f"dropout={value!r} must be a number in [0, 1)")
    return float(value)


__all__ = [
    "ACTIVATIONS",
    "STAGE_FIELDS",
    "BlockSpec",
    "NetworkSpec",
    "check_in_shape",
    "make_divisible",
    "network_spec",
    "num_stages",
]

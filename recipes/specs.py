"""Typed block specs: the one place where an architecture dict is decoded.

An arch dict (the arch part of a config, see ``configs/digits.yaml``) holds
``stem_width``, ``activation`` and, for each stage ``i = 1..S``, the keys
``s{i}_width``, ``s{i}_depth``, ``s{i}_kernel``, ``s{i}_expand`` and ``s{i}_se``, and
optionally ``s{i}_stride`` (1 or 2). The number of stages is the number of consecutive
``s{i}_width`` keys. Without ``s{i}_stride``, stage 1 keeps the resolution and the first
block of every later stage has stride 2.

The same specs describe 2D networks (inputs ``[C, H, W]``) and 1D networks over
sequences (inputs ``[C, L]``): :attr:`NetworkSpec.spatial_dims` says which.

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
"""Per-stage arch variables every stage has, named ``s{i}_{field}``."""

OPTIONAL_STAGE_FIELDS: tuple[str, ...] = ("stride",)
"""Per-stage arch variables a space may leave out (``s{i}_stride``: see :func:`stage_stride`)."""

STRIDES: tuple[int, ...] = (1, 2)
"""Allowed values of ``s{i}_stride``."""

STEM_KERNEL = 3
"""Kernel size of the stem convolution (stride 1)."""

_STAGE_KEY = re.compile(r"^s(\d+)_(" + "|".join(STAGE_FIELDS + OPTIONAL_STAGE_FIELDS) + r")$")


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
        spatial_dims: 2 for images ``[C, H, W]``, 1 for sequences ``[C, L]``.
    """

    in_channels: int
    stem_width: int
    activation: str
    blocks: tuple[BlockSpec, ...]
    num_classes: int
    dropout: float = 0.0
    spatial_dims: int = 2

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
    return frozenset(
        f"s{i}_{field}" for i in range(1, stages + 1) for field in STAGE_FIELDS + OPTIONAL_STAGE_FIELDS
    )


def network_spec(
    arch: Mapping[str, Any],
    num_classes: int,
    in_channels: int,
    dropout: float = 0.0,
    *,
    spatial_dims: int = 2,
) -> NetworkSpec:
    """Decode an arch dict into a :class:`NetworkSpec`.

    Keys that are not arch variables (e.g. the recipe part of a full config) are ignored.

    Args:
        arch: ``stem_width``, ``activation``, ``s{i}_{width,depth,kernel,expand,se}`` and
            optionally ``s{i}_stride``.
        num_classes: classifier outputs (>= 1).
        in_channels: input channels (>= 1).
        dropout: dropout probability before the classifier, in ``[0, 1)``.
        spatial_dims: 2 for images, 1 for sequences.

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
            raise SpaceError(f"arch variable '{kernel_key}': value {kernel} not allowed (an odd kernel size)")
        expand = _expand(arch, expand_key)
        se = _boolean(arch, se_key)
        blocks.append(
            BlockSpec(
                in_channels=channels,
                out_channels=width,
                kernel=kernel,
                stride=stage_stride(arch, i),
                expand=expand,
                se=se,
                activation=activation,
            )
        )
        if depth > 1:  # the other blocks of a stage are equal (frozen: shared safely)
            blocks.extend(
                [
                    BlockSpec(
                        in_channels=width,
                        out_channels=width,
                        kernel=kernel,
                        stride=1,
                        expand=expand,
                        se=se,
                        activation=activation,
                    )
                ]
                * (depth - 1)
            )
        channels = width
    return NetworkSpec(
        in_channels=_positive_int(in_channels, "in_channels"),
        stem_width=stem,
        activation=activation,
        blocks=tuple(blocks),
        num_classes=_positive_int(num_classes, "num_classes"),
        dropout=_dropout(dropout),
        spatial_dims=_spatial_dims(spatial_dims),
    )


def stage_stride(arch: Mapping[str, Any], stage: int) -> int:
    """Stride of the first block of ``stage``: ``s{i}_stride``, else 1 for stage 1 and 2 after.

    Raises:
        SpaceError: a stride not in :data:`STRIDES`.
    """
    key = f"s{stage}_stride"
    if key not in arch:
        return 2 if stage > 1 else 1
    value = arch[key]
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if not _is_int(value) or value not in STRIDES:
        raise SpaceError(
            f"arch variable '{key}': value {value!r} not allowed (one of {', '.join(map(str, STRIDES))})"
        )
    return int(value)


def out_size(size: int, kernel: int, stride: int) -> int:
    """Output length of a 'same'-padded convolution (padding ``(kernel - 1) // 2``)."""
    return (size + 2 * ((kernel - 1) // 2) - kernel) // stride + 1


def max_kernel(length: int) -> int:
    """Largest kernel whose every tap can reach a signal of ``length`` samples: ``2 L - 1``.

    A larger 'same'-padded kernel has taps that only ever multiply padding.
    """
    return 2 * length - 1


def check_fits(spec: NetworkSpec, spatial: tuple[int, ...]) -> None:
    """Check that a 1D network's kernels fit its sequence lengths, block by block.

    Sequences shrink with every stride-2 stage; a depthwise kernel longer than
    :func:`max_kernel` of its input length is refused. Images are not checked (the
    image spaces' small last stages use 3x3 or 5x5 kernels on 2x2 maps by design).

    Raises:
        SpaceError: naming the block, its kernel, its input length and the largest kernel.
    """
    if spec.spatial_dims != 1:
        return
    (length,) = spatial
    for index, block in enumerate(spec.blocks, start=1):
        if block.kernel > max_kernel(length):
            raise SpaceError(
                f"block {index}: kernel {block.kernel} is too large for its input "
                f"length {length} (at most {max_kernel(length)} for a sequence of "
                f"length {length}; fewer stride-2 stages or smaller kernels)"
            )
        length = out_size(length, block.kernel, block.stride)


def check_in_shape(in_shape: Any) -> tuple[int, ...]:
    """Return ``in_shape`` as positive ints: ``(channels, height, width)`` or ``(channels, length)``.

    Raises:
        DatasetError: not two or three positive integers.
    """
    if (
        isinstance(in_shape, (list, tuple))
        and len(in_shape) in (2, 3)
        and all(_is_int(d) and d > 0 for d in in_shape)
    ):
        return tuple(int(d) for d in in_shape)
    raise DatasetError(
        f"in_shape={in_shape!r} must be positive integers [C, H, W] (images) or [C, L] (sequences)"
    )


def _check_stage_keys(arch: Mapping[str, Any], stages: int) -> None:
    expected = _all_stage_keys(stages)
    for key in arch:
        if key in expected or not isinstance(key, str) or not key.startswith("s"):
            continue
        match = _STAGE_KEY.match(key)
        if match:
            raise SpaceError(
                f"arch variable '{key}' has no stage: stages must be numbered "
                f"1..S with an 's{{i}}_width' each, found {stages}"
            )


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
        raise SpaceError(f"arch variable '{key}': value {value!r} not allowed (an integer >= {minimum})")
    return int(value)


def _expand(arch: Mapping[str, Any], key: str) -> float:
    value = _get(arch, key)
    if type(value) is int and value >= 1:
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real) or not value >= 1:
        raise SpaceError(f"arch variable '{key}': value {value!r} not allowed (an expansion ratio >= 1)")
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
        raise SpaceError(
            f"arch variable 'activation': value {value!r} not allowed (one of {', '.join(ACTIVATIONS)})"
        )
    return value


def _positive_int(value: Any, name: str) -> int:
    if not _is_int(value) or value < 1:
        raise SpaceError(f"{name}={value!r} must be a positive integer")
    return int(value)


def _spatial_dims(value: Any) -> int:
    if value not in (1, 2):
        raise SpaceError(f"spatial_dims={value!r} must be 1 (sequences) or 2 (images)")
    return int(value)


def _dropout(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real) or not 0 <= value < 1:
        raise SpaceError(f"dropout={value!r} must be a number in [0, 1)")
    return float(value)


__all__ = [
    "ACTIVATIONS",
    "OPTIONAL_STAGE_FIELDS",
    "STAGE_FIELDS",
    "STRIDES",
    "BlockSpec",
    "NetworkSpec",
    "check_fits",
    "check_in_shape",
    "make_divisible",
    "max_kernel",
    "network_spec",
    "num_stages",
    "out_size",
    "stage_stride",
]

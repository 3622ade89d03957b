"""Candidate operations of a DARTS cell, one small registry built on torchvision.ops.

``create_op(name, channels, stride, affine, dims)`` builds the module for one operation
over ``dims`` spatial axes (2: images ``[N, C, H, W]``, 1: sequences ``[N, C, L]``). Every
operation keeps the channel count and divides the resolution by ``stride`` (1 or 2,
rounding up). ``none`` is the zero operation: it has no module, a mixed edge simply
leaves it out of its weighted sum.

Example:
    >>> op = create_op("sep_conv_3x3", channels=4, stride=2, affine=False)
    >>> op(torch.zeros(2, 4, 7, 7)).shape
    torch.Size([2, 4, 4, 4])
"""

from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import Conv2dNormActivation
from torchvision.ops.misc import ConvNormActivation

from ....errors import SpaceError
from ....recipes.model import Conv1dNormActivation
from .space import OPERATIONS


class _Layers(NamedTuple):
    """The torch layers of one spatial dimensionality."""

    block: type[nn.Module]  # convolution + batch norm (torchvision's ConvNormActivation)
    conv: type[nn.Module]
    bn: type[nn.Module]
    max_pool: type[nn.Module]
    avg_pool: type[nn.Module]


_LAYERS: dict[int, _Layers] = {
    1: _Layers(Conv1dNormActivation, nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d, nn.AvgPool1d),
    2: _Layers(Conv2dNormActivation, nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d),
}


def conv_bn(
    c_in: int,
    c_out: int,
    kernel: int,
    stride: int,
    affine: bool,
    groups: int = 1,
    dilation: int = 1,
    norm: bool = True,
    dims: int = 2,
) -> ConvNormActivation:
    """Convolution (no bias) and optional batch norm: the one conv primitive."""
    layers = _LAYERS[dims]
    return layers.block(
        c_in,
        c_out,
        kernel,
        stride,
        padding=dilation * (kernel - 1) // 2,
        groups=groups,
        dilation=dilation,
        activation_layer=None,
        bias=False,
        norm_layer=partial(layers.bn, affine=affine) if norm else None,
    )


def relu_conv_bn(c_in: int, c_out: int, affine: bool, dims: int = 2) -> nn.Sequential:
    """ReLU, 1x1 convolution, batch norm (a cell's input preprocessing)."""
    return nn.Sequential(nn.ReLU(inplace=False), conv_bn(c_in, c_out, 1, 1, affine, dims=dims))


def _dil_conv(c: int, kernel: int, stride: int, dilation: int, affine: bool, dims: int) -> nn.Sequential:
    """ReLU, depthwise (dilated) convolution, pointwise convolution, batch norm."""
    return nn.Sequential(
        nn.ReLU(inplace=False),
        conv_bn(c, c, kernel, stride, affine, groups=c, dilation=dilation, norm=False, dims=dims),
        conv_bn(c, c, 1, 1, affine, dims=dims),
    )


def _sep_conv(c: int, kernel: int, stride: int, affine: bool, dims: int) -> nn.Sequential:
    """Two stacked separable convolutions (DARTS ``sep_conv``), the first with ``stride``."""
    return nn.Sequential(
        _dil_conv(c, kernel, stride, 1, affine, dims), _dil_conv(c, kernel, 1, 1, affine, dims)
    )


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset 1x1 stride-2 convolutions, concatenated.

    Args:
        c_in: input channels.
        c_out: output channels (even).
        affine: learnable batch-norm scale and shift.
        dims: spatial dims (2: images, 1: sequences).
    """

    def __init__(self, c_in: int, c_out: int, affine: bool, dims: int = 2) -> None:
        super().__init__()
        if c_out % 2:
            raise SpaceError(f"FactorizedReduce needs an even channel count, got {c_out}")
        layers = _LAYERS[dims]
        self.conv_a = layers.conv(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_b = layers.conv(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = layers.bn(c_out, affine=affine)
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        shifted = F.pad(x, (0, 1) * self.dims)[(slice(None), slice(None)) + (slice(1, None),) * self.dims]
        return self.bn(torch.cat([self.conv_a(x), self.conv_b(shifted)], dim=1))


def _pool(kind: str, c: int, stride: int, affine: bool, dims: int) -> nn.Sequential:
    layers = _LAYERS[dims]
    pool = (
        layers.max_pool(3, stride, padding=1)
        if kind == "max"
        else layers.avg_pool(3, stride, padding=1, count_include_pad=False)
    )
    return nn.Sequential(pool, layers.bn(c, affine=affine))


def _skip(c: int, stride: int, affine: bool, dims: int) -> nn.Module:
    return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine, dims)


_BUILDERS: dict[str, Callable[[int, int, bool, int], nn.Module]] = {
    "skip_connect": _skip,
    "sep_conv_3x3": lambda c, s, a, d: _sep_conv(c, 3, s, a, d),
    "sep_conv_5x5": lambda c, s, a, d: _sep_conv(c, 5, s, a, d),
    "dil_conv_3x3": lambda c, s, a, d: _dil_conv(c, 3, s, 2, a, d),
    "dil_conv_5x5": lambda c, s, a, d: _dil_conv(c, 5, s, 2, a, d),
    "max_pool_3x3": lambda c, s, a, d: _pool("max", c, s, a, d),
    "avg_pool_3x3": lambda c, s, a, d: _pool("avg", c, s, a, d),
}
assert set(_BUILDERS) == set(OPERATIONS) - {"none"}  # internal invariant


def create_op(name: str, channels: int, stride: int, affine: bool, dims: int = 2) -> nn.Module:
    """Build operation ``name`` (any of :data:`OPERATIONS` but ``none``) over ``dims``
    spatial axes (2: images, 1: sequences).

    Raises:
        SpaceError: an unknown name (listing the allowed ones).
    """
    if name not in _BUILDERS:
        raise SpaceError(f"no module for operation {name!r} (allowed: {', '.join(_BUILDERS)})")
    return _BUILDERS[name](channels, stride, affine, dims)


__all__ = ["FactorizedReduce", "conv_bn", "create_op", "relu_conv_bn"]

"""Candidate operations of a DARTS cell, one small registry built on torchvision.ops.

``create_op(name, channels, stride, affine)`` builds the module for one operation. Every
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
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import Conv2dNormActivation

from ....errors import SpaceError
from .space import OPERATIONS


def _conv_bn(
    c_in: int,
    c_out: int,
    kernel: int,
    stride: int,
    affine: bool,
    groups: int = 1,
    dilation: int = 1,
    norm: bool = True,
) -> Conv2dNormActivation:
    """Convolution (no bias) and optional batch norm: the one conv primitive."""
    return Conv2dNormActivation(
        c_in,
        c_out,
        kernel,
        stride,
        padding=dilation * (kernel - 1) // 2,
        groups=groups,
        dilation=dilation,
        activation_layer=None,
        bias=False,
        norm_layer=partial(nn.BatchNorm2d, affine=affine) if norm else None,
    )


def relu_conv_bn(c_in: int, c_out: int, affine: bool) -> nn.Sequential:
    """ReLU, 1x1 convolution, batch norm (a cell's input preprocessing)."""
    return nn.Sequential(nn.ReLU(inplace=False), _conv_bn(c_in, c_out, 1, 1, affine))


def _dil_conv(c: int, kernel: int, stride: int, dilation: int, affine: bool) -> nn.Sequential:
    """ReLU, depthwise (dilated) convolution, pointwise convolution, batch norm."""
    return nn.Sequential(
        nn.ReLU(inplace=False),
        _conv_bn(c, c, kernel, stride, affine, groups=c, dilation=dilation, norm=False),
        _conv_bn(c, c, 1, 1, affine),
    )


def _sep_conv(c: int, kernel: int, stride: int, affine: bool) -> nn.Sequential:
    """Two stacked separable convolutions (DARTS ``sep_conv``), the first with ``stride``."""
    return nn.Sequential(_dil_conv(c, kernel, stride, 1, affine), _dil_conv(c, kernel, 1, 1, affine))


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset 1x1 stride-2 convolutions, concatenated.

    Args:
        c_in: input channels.
        c_out: output channels (even).
        affine: learnable batch-norm scale and shift.
    """

    def __init__(self, c_in: int, c_out: int, affine: bool) -> None:
        super().__init__()
        if c_out % 2:
            raise SpaceError(f"FactorizedReduce needs an even channel count, got {c_out}")
        self.conv_a = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_b = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_a(x), self.conv_b(shifted)], dim=1))


def _pool(kind: str, c: int, stride: int, affine: bool) -> nn.Sequential:
    pool = (
        nn.MaxPool2d(3, stride, padding=1)
        if kind == "max"
        else nn.AvgPool2d(3, stride, padding=1, count_include_pad=False)
    )
    return nn.Sequential(pool, nn.BatchNorm2d(c, affine=affine))


def _skip(c: int, stride: int, affine: bool) -> nn.Module:
    return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine)


_BUILDERS: dict[str, Callable[[int, int, bool], nn.Module]] = {
    "skip_connect": _skip,
    "sep_conv_3x3": lambda c, s, a: _sep_conv(c, 3, s, a),
    "sep_conv_5x5": lambda c, s, a: _sep_conv(c, 5, s, a),
    "dil_conv_3x3": lambda c, s, a: _dil_conv(c, 3, s, 2, a),
    "dil_conv_5x5": lambda c, s, a: _dil_conv(c, 5, s, 2, a),
    "max_pool_3x3": lambda c, s, a: _pool("max", c, s, a),
    "avg_pool_3x3": lambda c, s, a: _pool("avg", c, s, a),
}
assert set(_BUILDERS) == set(OPERATIONS) - {"none"}  # internal invariant


def create_op(name: str, channels: int, stride: int, affine: bool) -> nn.Module:
    """Build operation ``name`` (any of :data:`OPERATIONS` but ``none``).

    Raises:
        SpaceError: an unknown name (listing the allowed ones).
    """
    if name not in _BUILDERS:
        raise SpaceError(f"no module for operation {name!r} (allowed: {', '.join(_BUILDERS)})")
    return _BUILDERS[name](channels, stride, affine)


__all__ = ["FactorizedReduce", "create_op", "relu_conv_bn"]

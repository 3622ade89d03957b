"""MBConv networks built from typed block specs with ``torchvision.ops``.

:func:`build_model` decodes an arch dict once (:func:`.specs.network_spec`) and then
only loops over the block specs, like torchvision's MobileNetV3. Builders are looked
up by name in :data:`MODEL_BUILDERS`, which is what a space's ``model.builder`` names.

Images (``in_shape`` ``[C, H, W]``) get 2D layers, sequences (``[C, L]``) the same
blocks with 1D layers: :data:`LAYERS` holds the convolution, norm and pooling of each.

Example:
    >>> import torch
    >>> arch = {"stem_width": 8, "activation": "silu", "s1_width": 8, "s1_depth": 1,
    ...         "s1_kernel": 3, "s1_expand": 3, "s1_se": True}
    >>> build_model(arch, num_classes=10, in_shape=(1, 8, 8))(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any, Callable, Mapping

import torch
from torch import nn
from torchvision.ops import Conv2dNormActivation, SqueezeExcitation
from torchvision.ops.misc import ConvNormActivation

from ..data.space import ModelSpec
from ..errors import SpaceError
from .specs import (
    STEM_KERNEL,
    BlockSpec,
    NetworkSpec,
    check_fits,
    check_in_shape,
    make_divisible,
    network_spec,
)

_make_divisible = make_divisible  # the usual name in torchvision / timm code

ACTIVATION_LAYERS: dict[str, Callable[..., nn.Module]] = {
    "relu": nn.ReLU,
    "hardswish": nn.Hardswish,
    "silu": nn.SiLU,
}
"""Activation module for each allowed ``activation`` value (see ``specs.ACTIVATIONS``)."""


class Conv1dNormActivation(ConvNormActivation):
    """torchvision's conv -> norm -> activation block over one spatial axis (sequences).

    The 1D counterpart of ``torchvision.ops.Conv2dNormActivation``: ``nn.Conv1d`` and
    ``nn.BatchNorm1d``, 'same' padding, the same arguments.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        norm_layer: Callable[..., nn.Module] | None = nn.BatchNorm1d,
        activation_layer: Callable[..., nn.Module] | None = nn.ReLU,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            groups=groups,
            norm_layer=norm_layer,
            activation_layer=activation_layer,
            conv_layer=nn.Conv1d,
            **kwargs,
        )


LAYERS: dict[int, tuple[type[ConvNormActivation], type[nn.Module]]] = {
    1: (Conv1dNormActivation, nn.AdaptiveAvgPool1d),
    2: (Conv2dNormActivation, nn.AdaptiveAvgPool2d),
}
"""Conv-norm-activation block and global pooling for 1 (sequences) or 2 (images) spatial dims."""


def conv_norm_act(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    spatial_dims: int = 2,
    stride: int = 1,
    groups: int = 1,
    activation_layer: Callable[..., nn.Module] | None = None,
) -> ConvNormActivation:
    """torchvision's conv -> batch norm -> activation, in 1D or 2D ('same' padding)."""
    return LAYERS[spatial_dims][0](
        in_channels,
        out_channels,
        kernel_size=kernel_size,
        stride=stride,
        groups=groups,
        activation_layer=activation_layer,
    )


def stem_layer(spec: NetworkSpec | Any) -> ConvNormActivation:
    """The stride-1 stem convolution of a network (or supernet) spec."""
    return conv_norm_act(
        spec.in_channels,
        spec.stem_width,
        STEM_KERNEL,
        spatial_dims=spec.spatial_dims,
        activation_layer=ACTIVATION_LAYERS[spec.activation],
    )


def pooled_classifier(
    channels: int, num_classes: int, dropout: float, spatial_dims: int = 2
) -> nn.Sequential:
    """Global average pooling, flatten, dropout and a linear layer."""
    return nn.Sequential(
        LAYERS[spatial_dims][1](1), nn.Flatten(1), nn.Dropout(dropout), nn.Linear(channels, num_classes)
    )


class SqueezeExcitation1d(SqueezeExcitation):
    """torchvision's squeeze-excitation over one spatial axis (pooling and 1x1 convs in 1D)."""

    def __init__(self, input_channels: int, squeeze_channels: int, **kwargs: Any) -> None:
        super().__init__(input_channels, squeeze_channels, **kwargs)
        self.avgpool = nn.AdaptiveAvgPool1d(1)
        self.fc1 = nn.Conv1d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv1d(squeeze_channels, input_channels, 1)


class MBConv(nn.Module):
    """Inverted residual block: [1x1 expand] -> kxk depthwise -> [SE] -> 1x1 project (+ input).

    The squeeze-excitation layer is MobileNetV3's (ReLU inside, hard-sigmoid gate).

    Args:
        spec: the block's channels, kernel, stride, expansion, SE flag and activation.
        spatial_dims: 2 for images, 1 for sequences.
    """

    def __init__(self, spec: BlockSpec, spatial_dims: int = 2) -> None:
        super().__init__()
        act = ACTIVATION_LAYERS[spec.activation]
        hidden = spec.expanded_channels
        layers: list[nn.Module] = []
        if spec.has_expansion:
            layers.append(
                conv_norm_act(spec.in_channels, hidden, 1, spatial_dims=spatial_dims, activation_layer=act)
            )
        layers.append(
            conv_norm_act(
                hidden,
                hidden,
                spec.kernel,
                spatial_dims=spatial_dims,
                stride=spec.stride,
                groups=hidden,
                activation_layer=act,
            )
        )
        if spec.se:
            se = SqueezeExcitation if spatial_dims == 2 else SqueezeExcitation1d
            layers.append(se(hidden, spec.squeeze_channels, scale_activation=nn.Hardsigmoid))
        layers.append(conv_norm_act(hidden, spec.out_channels, 1, spatial_dims=spatial_dims))
        self.block = nn.Sequential(*layers)
        self.use_residual = spec.use_residual
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block; adds the input when :attr:`use_residual`."""
        out = self.block(x)
        return out + x if self.use_residual else out


class MBConvNet(nn.Module):
    """Stem, MBConv blocks, global average pooling, dropout and a linear classifier.

    Args:
        spec: the decoded network (see :func:`.specs.network_spec`).
    """

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        dims = spec.spatial_dims
        self.features = nn.Sequential(stem_layer(spec), *(MBConv(block, dims) for block in spec.blocks))
        self.avgpool = LAYERS[dims][1](1)
        self.classifier = nn.Sequential(
            nn.Flatten(1),
            nn.Dropout(spec.dropout),
            nn.Linear(spec.last_channels, spec.num_classes),
        )
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(batch, num_classes)``."""
        return self.classifier(self.avgpool(self.features(x)))


def build_model(
    arch: Mapping[str, Any], num_classes: int, in_shape: Any, dropout: float = 0.0, seed: int | None = None
) -> nn.Module:
    """Build the MBConv network an arch dict describes.

    Args:
        arch: the arch part of a config (see :mod:`.specs` for the keys).
        num_classes: classifier outputs.
        in_shape: input shape without batch, ``(channels, height, width)`` for a 2D
            network or ``(channels, length)`` for a 1D one.
        dropout: dropout probability before the classifier.
        seed: seed of a private generator for the weight initialization; ``None`` uses
            torch's global generator.

    Returns:
        An :class:`MBConvNet` in training mode.

    Raises:
        DatasetError: ``in_shape`` is not two or three positive integers.
        SpaceError: a missing or invalid arch variable, naming it, or a 1D kernel too
            large for its sequence length.
    """
    channels, *spatial = check_in_shape(in_shape)
    spec = network_spec(arch, num_classes, channels, dropout, spatial_dims=len(spatial))
    check_fits(spec, tuple(spatial))
    model = MBConvNet(spec)
    _init_weights(model, None if seed is None else torch.Generator().manual_seed(seed))
    return model


MODEL_BUILDERS: dict[str, Callable[..., nn.Module]] = {"mbconv": build_model}
"""Model builders by name: ``builder(arch, num_classes, in_shape, dropout=, seed=, **options)``
(``options``: the space's ``model.options``). The supernet builders register themselves in
:mod:`.supernet`."""


def unknown_builder(name: Any, need: str = "") -> str:
    """Why ``name`` is no registered builder: every builder, ``need`` and the closest name."""
    close = difflib.get_close_matches(str(name), list(MODEL_BUILDERS), n=1)
    return "; ".join(
        [
            f"model.builder={name!r} is not a known builder (builders: {', '.join(sorted(MODEL_BUILDERS))})",
            *([need] if need else []),
            *([f"did you mean {close[0]!r}?"] if close else []),
        ]
    )


def check_builder(name: str) -> Callable[..., nn.Module]:
    """The model builder registered as ``name``.

    Raises:
        SpaceError: no builder of that name (listing every builder, and the closest).
    """
    builder = MODEL_BUILDERS.get(name)
    if builder is None:
        raise SpaceError(unknown_builder(name))
    return builder


def create_model(
    model_spec: ModelSpec, arch: Mapping[str, Any], dropout: float = 0.0, seed: int | None = None
) -> nn.Module:
    """Build the network for an arch with the builder a space's model spec names.

    Args:
        model_spec: builder name, input shape and number of classes (``space.model``).
        arch: the arch part of a config.
        dropout: dropout probability before the classifier.
        seed: weight-initialization seed (see :func:`build_model`).

    Raises:
        SpaceError: unknown builder (listing the registered ones), options the builder
            does not take, or a bad arch.
    """
    if not isinstance(model_spec, ModelSpec):
        raise SpaceError(f"expected a ModelSpec (a space's 'model'), got {model_spec!r}")
    builder = check_builder(model_spec.builder)
    options = dict(model_spec.options)
    if options:
        try:
            inspect.signature(builder).bind(
                arch, model_spec.num_classes, model_spec.in_shape, dropout=dropout, seed=seed, **options
            )
        except TypeError:
            raise SpaceError(
                f"model.options {', '.join(sorted(options))} not accepted by "
                f"model.builder={model_spec.builder!r}"
            ) from None
    return builder(arch, model_spec.num_classes, model_spec.in_shape, dropout=dropout, seed=seed, **options)


def _init_weights(model: nn.Module, generator: torch.Generator | None) -> None:
    """MobileNetV3's initialization: He-normal convs, unit norms, small-normal linear."""
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", generator=generator)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0, 0.01, generator=generator)
            nn.init.zeros_(module.bias)


__all__ = [
    "ACTIVATION_LAYERS",
    "Conv1dNormActivation",
    "LAYERS",
    "MBConv",
    "MBConvNet",
    "MODEL_BUILDERS",
    "SqueezeExcitation1d",
    "build_model",
    "check_builder",
    "conv_norm_act",
    "create_model",
    "pooled_classifier",
    "stem_layer",
    "unknown_builder",
]

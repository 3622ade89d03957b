"""MBConv networks built from typed block specs with ``torchvision.ops``.

:func:`build_model` decodes an arch dict once (:func:`.specs.network_spec`) and then
only loops over the block specs, like torchvision's MobileNetV3. Builders are looked
up by name in :data:`MODEL_BUILDERS`, which is what a space's ``model.builder`` names.

Example:
    >>> import torch
    >>> arch = {"stem_width": 8, "activation": "silu", "s1_width": 8, "s1_depth": 1,
    ...         "s1_kernel": 3, "s1_expand": 3, "s1_se": True}
    >>> build_model(arch, num_classes=10, in_shape=(1, 8, 8))(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping

import torch
from torch import nn
from torchvision.ops import Conv2dNormActivation, SqueezeExcitation

from ..data.space import ModelSpec
from ..errors import SpaceError
from .specs import STEM_KERNEL, BlockSpec, NetworkSpec, check_in_shape, make_divisible, network_spec

_make_divisible = make_divisible  # the usual name in torchvision / timm code

ACTIVATION_LAYERS: dict[str, Callable[..., nn.Module]] = {
    "relu": nn.ReLU,
    "hardswish": nn.Hardswish,
    "silu": nn.SiLU,
}
"""Activation module for each allowed ``activation`` value (see ``specs.ACTIVATIONS``)."""


class MBConv(nn.Module):
    """Inverted residual block: [1x1 expand] -> kxk depthwise -> [SE] -> 1x1 project (+ input).

    The squeeze-excitation layer is MobileNetV3's (ReLU inside, hard-sigmoid gate).

    Args:
        spec: the block's channels, kernel, stride, expansion, SE flag and activation.
    """

    def __init__(self, spec: BlockSpec) -> None:
        super().__init__()
        act = ACTIVATION_LAYERS[spec.activation]
        hidden = spec.expanded_channels
        layers: list[nn.Module] = []
        if spec.has_expansion:
            layers.append(Conv2dNormActivation(spec.in_channels, hidden, kernel_size=1,
                                               activation_layer=act))
        layers.append(Conv2dNormActivation(hidden, hidden, kernel_size=spec.kernel,
                                           stride=spec.stride, groups=hidden,
                                           activation_layer=act))
        if spec.se:
            layers.append(SqueezeExcitation(hidden, spec.squeeze_channels,
                                            scale_activation=nn.Hardsigmoid))
        layers.append(Conv2dNormActivation(hidden, spec.out_channels, kernel_size=1,
                                           activation_layer=None))
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
        stem = Conv2dNormActivation(spec.in_channels, spec.stem_width, kernel_size=STEM_KERNEL,
                                    stride=1, activation_layer=ACTIVATION_LAYERS[spec.activation])
        self.features = nn.Sequential(stem, *(MBConv(block) for block in spec.blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(1),
            nn.Dropout(spec.dropout),
            nn.Linear(spec.last_channels, spec.num_classes),
        )
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(batch, num_classes)``."""
        return self.classifier(self.avgpool(self.features(x)))


def build_model(arch: Mapping[str, Any], num_classes: int, in_shape: Any,
                dropout: float = 0.0, seed: int | None = None) -> nn.Module:
    """Build the MBConv network an arch dict describes.

    Args:
        arch: the arch part of a config (see :mod:`.specs` for the keys).
        num_classes: classifier outputs.
        in_shape: input shape without batch, ``(channels, height, width)``.
        dropout: dropout probability before the classifier.
        seed: seed of a private generator for the weight initialization; ``None`` uses
            torch's global generator.

    Returns:
        An :class:`MBConvNet` in training mode.

    Raises:
        DatasetError: ``in_shape`` is not three positive integers.
        SpaceError: a missing or invalid arch variable, naming it.
    """
    channels, _, _ = check_in_shape(in_shape)
    model = MBConvNet(network_spec(arch, num_classes, channels, dropout))
    _init_weights(model, None if seed is None else torch.Generator().manual_seed(seed))
    return model


MODEL_BUILDERS: dict[str, Callable[..., nn.Module]] = {"mbconv": build_model}
"""Model builders by name: ``builder(arch, num_classes, in_shape, dropout=, seed=, **options)``
(``options``: the space's ``model.options``). The supernet builders register themselves in
:mod:`.supernet`."""


def create_model(model_spec: ModelSpec, arch: Mapping[str, Any], dropout: float = 0.0,
                 seed: int | None = None) -> nn.Module:
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
    builder = MODEL_BUILDERS.get(model_spec.builder)
    if builder is None:
        raise SpaceError(f"model.builder={model_spec.builder!r} is not a known builder "
                         f"(one of {', '.join(sorted(MODEL_BUILDERS))})")
    options = dict(model_spec.options)
    if options:
        try:
            inspect.signature(builder).bind(arch, model_spec.num_classes, model_spec.in_shape,
                                            dropout=dropout, seed=seed, **options)
        except TypeError:
            raise SpaceError(f"model.options {', '.join(sorted(options))} not accepted by "
                             f"model.builder={model_spec.builder!r}") from None
    return builder(arch, model_spec.num_classes, model_spec.in_shape, dropout=dropout, seed=seed,
                   **options)


def _init_weights(model: nn.Module, generator: torch.Generator | None) -> None:
    """MobileNetV3's initialization: He-normal convs, unit norms, small-normal linear."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", generator=generator)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0, 0.01, generator=generator)
            nn.init.zeros_(module.bias)


__all__ = ["ACTIVATION_LAYERS", "MBConv", "MBConvNet", "MODEL_BUILDERS", "build_model",
           "create_model"]

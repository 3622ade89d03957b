"""The predictor's networks: an architecture encoder and two heads.

``Encoder`` maps the arch encoding of a config to an embedding. ``ProxyHead`` predicts
cheap, exactly known architecture costs (standardized log FLOPs and params, or any cost
columns) from the embedding: it is what pretraining fits. ``AccuracyHead`` reads the
embedding(s) together with the recipe encoding and predicts the (transformed) accuracy.
A :class:`Member` of the ensemble is one or more encoders (a pretrained one and one
trained from scratch, their embeddings concatenated) and an accuracy head.

Every block is ``Linear -> LayerNorm -> SiLU``: LayerNorm keeps the tiny-batch
fine-tuning (20 to 500 rows, often full batch) independent of batch statistics, which
BatchNorm is not, and makes a frozen encoder behave the same in training and inference.

Example:
    >>> enc = Encoder(31, hidden=64, embed=16)
    >>> head = AccuracyHead(16, recipe_dim=20, hidden=64)
    >>> x_arch, x_recipe = torch.rand(4, 31), torch.rand(4, 20)
    >>> Member([enc], head)(x_arch, x_recipe).shape
    torch.Size([4])
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn


def _mlp(n_in: int, hidden: int, depth: int, n_out: int) -> nn.Sequential:
    """``depth`` blocks of Linear-LayerNorm-SiLU, then a Linear to ``n_out``."""
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.SiLU()]
        width = hidden
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """MLP from an architecture encoding to a layer-normalized embedding.

    Args:
        in_dim: width of the arch encoding (``space.arch_width``).
        hidden: width of the hidden layers.
        embed: width of the embedding.
        depth: number of hidden ``Linear-LayerNorm-SiLU`` blocks.
    """

    def __init__(self, in_dim: int, hidden: int = 128, embed: int = 32, depth: int = 2) -> None:
        super().__init__()
        self.net = _mlp(in_dim, hidden, depth, embed)
        self.norm = nn.LayerNorm(embed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of arch encodings, shape ``(n, in_dim) -> (n, embed)``."""
        return self.norm(self.net(x))


class ProxyHead(nn.Module):
    """Linear map from the embedding to standardized cost targets.

    A linear head makes the embedding itself carry the costs, which is what the accuracy
    head later reuses.

    Args:
        embed: embedding width.
        n_out: number of cost targets (e.g. 2 for log FLOPs and log params).
    """

    def __init__(self, embed: int, n_out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(embed, n_out)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Predict ``(n, n_out)`` standardized costs from ``(n, embed)`` embeddings."""
        return self.linear(z)


class AccuracyHead(nn.Module):
    """MLP from embedding(s) and the recipe encoding to one transformed accuracy.

    The recipe encoding first goes through its own small branch (``Linear-LayerNorm-SiLU``
    then a layer-normalized ``embed``-wide output), so that arch and recipe reach the MLP
    on the same footing: fed raw, the ``[0, 1]`` recipe columns are dwarfed by the
    unit-variance arch embedding and the head overfits the architecture (on the digits
    table, where the recipe decides most of the accuracy, Kendall tau 0.14 instead of
    0.33 at 100 rows).

    With ``arch_dropout`` > 0, training passes a ``keep`` mask that zeroes the whole arch
    embedding of some rows, and inference scales the embedding by the keep probability
    (dropout's original form; the inverted form, scaling kept rows up in training, did
    worse here). The head must predict from the recipe alone for the dropped rows, which
    keeps it from explaining recipe effects with architecture details it can memorize.

    Args:
        embed: width of the (concatenated) arch embedding.
        recipe_dim: width of the recipe encoding (0 for arch-only spaces).
        hidden: hidden width.
        depth: number of hidden blocks.
        recipe_embed: width of the recipe branch's output.
        arch_dropout: probability of dropping a row's arch embedding in training (used
            only with a recipe branch).
    """

    def __init__(
        self,
        embed: int,
        recipe_dim: int = 0,
        hidden: int = 128,
        depth: int = 1,
        recipe_embed: int = 32,
        arch_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.recipe_dim = recipe_dim
        self.arch_dropout = arch_dropout if recipe_dim else 0.0
        self.recipe = None
        if recipe_dim:
            self.recipe = nn.Sequential(_mlp(recipe_dim, hidden, 1, recipe_embed), nn.LayerNorm(recipe_embed))
        self.net = _mlp(embed + (recipe_embed if recipe_dim else 0), hidden, depth, 1)

    def forward(
        self, z: torch.Tensor, recipe: torch.Tensor | None = None, keep: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predict ``(n,)`` accuracies from embeddings and recipe encodings.

        ``keep``: an ``(n, 1)`` 0/1 training mask of the rows whose arch embedding is
        kept; ``None`` at inference.
        """
        if self.arch_dropout:
            z = z * keep if keep is not None else z * (1.0 - self.arch_dropout)
        if self.recipe is not None:
            z = torch.cat([z, self.recipe(recipe)], dim=1)
        return self.net(z).squeeze(1)


class Member(nn.Module):
    """One ensemble member: encoders whose embeddings are concatenated, and a head.

    Args:
        encoders: one encoder, or a pretrained one and one trained from scratch.
        head: the accuracy head, sized for the concatenated embedding.
    """

    def __init__(self, encoders: Sequence[Encoder], head: AccuracyHead) -> None:
        super().__init__()
        self.encoders = nn.ModuleList(encoders)
        self.head = head

    def forward(
        self, arch: torch.Tensor, recipe: torch.Tensor | None = None, keep: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predicted transformed accuracy of ``(arch, recipe)`` encodings (``keep``: see
        :meth:`AccuracyHead.forward`)."""
        if len(self.encoders) == 1:
            z = self.encoders[0](arch)
        else:
            z = torch.cat([enc(arch) for enc in self.encoders], dim=1)
        return self.head(z, recipe, keep)


def init_weights(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialize every Linear layer from ``generator`` (PyTorch's default scheme).

    Module constructors draw from torch's global generator; this makes initialization
    depend only on the owned ``generator``.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return module


__all__ = ["AccuracyHead", "Encoder", "Member", "ProxyHead", "init_weights"]

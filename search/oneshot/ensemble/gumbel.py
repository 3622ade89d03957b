"""Straight-through Gumbel-softmax samples of discrete architectures and edge counts.

:func:`gumbel_architecture` perturbs architecture logits with Gumbel noise, relaxes them
with a softmax at temperature ``tau`` and discretizes the relaxed weights the DARTS way
(two edges per node, strongest non-``none`` op). The returned tensor is the hard one-hot
mask of that discrete architecture in the forward pass and carries the gradient of the
relaxed weights in the backward pass (straight-through). :func:`edge_count` then gives
``<alpha*, GS(alpha)>``: in the forward pass the exact number of (edge, op) pairs the
sampled architecture shares with ``alpha*``, differentiable with respect to the logits.

Example:
    >>> space = CellSpace(nodes=2, ops=("none", "skip_connect", "sep_conv_3x3"),
    ...                   layout=("normal",))
    >>> logits = torch.zeros(1, space.num_edges, 3, requires_grad=True)
    >>> sample = gumbel_architecture(logits, space, tau=1.0,
    ...                              generator=torch.Generator().manual_seed(0))
    >>> int(sample.detach().sum())  # 2 nodes x 2 kept edges
    4
    >>> star = genotype_mask(mask_to_genotype(sample.detach(), space), space)
    >>> count = edge_count(star, sample)
    >>> float(count.detach()), count.requires_grad
    (4.0, True)
"""

from __future__ import annotations

import torch

from .genotype import genotype_mask, keep_mask, mask_to_genotype  # noqa: F401 (doctest)
from .space import CellSpace


def gumbel_noise(
    shape: torch.Size | tuple[int, ...], generator: torch.Generator | None, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Standard Gumbel noise ``-log(-log(U))`` drawn from ``generator`` (on CPU, then moved)."""
    u = torch.rand(shape, generator=generator).clamp_(1e-10, 1.0 - 1e-7)
    return (-torch.log(-torch.log(u))).to(device)


def gumbel_architecture(
    logits: torch.Tensor, space: CellSpace, tau: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Sample a discrete architecture from ``logits [..., T, E, O]`` (straight-through).

    Args:
        logits: architecture logits; leading batch dimensions allowed.
        space: the cell space (for the discretization).
        tau: softmax temperature of the relaxation (> 0).
        generator: source of the Gumbel noise (owned randomness).

    Returns:
        A tensor shaped like ``logits`` whose forward value is the one-hot mask of the
        sampled discrete architecture and whose gradient is that of the relaxed
        Gumbel-softmax weights.
    """
    soft = torch.softmax((logits + gumbel_noise(logits.shape, generator, logits.device)) / tau, dim=-1)
    flat = soft.detach().reshape(-1, *soft.shape[-3:])
    hard = torch.stack([keep_mask(s, space) for s in flat]).reshape(soft.shape)
    return hard - soft.detach() + soft


def edge_count(star_mask: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
    """``<alpha*, sample>``: shared (edge, op) pairs, summed over the last three dims.

    Args:
        star_mask: one-hot ``[T, E, O]`` mask of ``alpha*`` (:func:`genotype_mask`).
        sample: ``[..., T, E, O]`` architecture weights (e.g. :func:`gumbel_architecture`).

    Returns:
        The count per leading index (a scalar for a single sample).
    """
    return (star_mask.to(sample.device) * sample).sum(dim=(-3, -2, -1))


__all__ = ["edge_count", "gumbel_architecture", "gumbel_noise"]

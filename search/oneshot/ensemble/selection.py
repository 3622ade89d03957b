"""Averaged-softmax ensembles, greedy forward selection and diversity measures.

The ensemble's prediction is the mean of its members' softmax probabilities.
:func:`greedy_select` starts from the best single member on validation and adds, one at a
time and without repeats, the candidate that maximizes the ensemble's validation accuracy
(ties: lower validation log loss, then the lower index). It returns the best ensemble met
along that path, of at most ``n`` members, so it is never worse on validation than the
best single member.

Example:
    >>> p = [torch.tensor([[0.9, 0.1], [0.4, 0.6]]), torch.tensor([[0.6, 0.4], [0.8, 0.2]])]
    >>> ensemble_proba(p)
    tensor([[0.7500, 0.2500],
            [0.6000, 0.4000]])
    >>> greedy_select(p, torch.tensor([0, 1]), n=2).indices
    [0]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Sequence

import numpy as np
import torch

from ....errors import ConfigError
from .genotype import Genotype, shared_edges


def ensemble_proba(probas: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean of the members' probability tensors ``[N, K]``."""
    if not len(probas):
        raise ConfigError("an ensemble needs at least one member")
    return torch.stack([torch.as_tensor(p) for p in probas]).mean(dim=0)


def _score(proba: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """``(accuracy, log loss)`` of probabilities against labels."""
    acc = float((proba.argmax(-1) == labels).double().mean())
    nll = float(-torch.log(proba[torch.arange(len(labels)), labels].clamp_min(1e-12)).mean())
    return acc, nll


@dataclass
class Selection:
    """The chosen ensemble and the greedy path that led to it.

    Attributes:
        indices: chosen candidates, in the order they were added.
        val_acc: validation accuracy of the chosen ensemble.
        val_nll: its validation log loss.
        path: ``(indices so far, val_acc, val_nll)`` after each greedy step.
    """

    indices: list[int]
    val_acc: float
    val_nll: float
    path: list[tuple[list[int], float, float]] = field(default_factory=list)


def greedy_select(val_probas: Sequence[torch.Tensor], labels: torch.Tensor, n: int) -> Selection:
    """Greedy forward selection of at most ``n`` members on validation accuracy.

    Args:
        val_probas: validation probabilities ``[N_val, K]`` of each candidate.
        labels: validation labels.
        n: largest ensemble size (``1 <= n <= len(val_probas)``).

    Returns:
        The best ensemble on the greedy path (accuracy, then lower log loss, then the
        larger ensemble).

    Raises:
        ConfigError: ``n`` out of range.
    """
    if not 1 <= n <= len(val_probas):
        raise ConfigError(
            f"ensemble size n={n} must be between 1 and the number of candidates N={len(val_probas)}", "n"
        )
    labels = torch.as_tensor(labels).cpu()
    probas = [torch.as_tensor(p).double().cpu() for p in val_probas]
    chosen: list[int] = []
    total = torch.zeros_like(probas[0])
    path = []
    for _ in range(n):
        best = None
        for i in range(len(probas)):
            if i in chosen:
                continue
            acc, nll = _score((total + probas[i]) / (len(chosen) + 1), labels)
            key = (acc, -nll)
            if best is None or key > best[0]:
                best = (key, i)
        chosen.append(best[1])
        total = total + probas[best[1]]
        path.append((list(chosen), best[0][0], -best[0][1]))
    top = max(range(len(path)), key=lambda k: (path[k][1], -path[k][2], k))
    return Selection(path[top][0], path[top][1], path[top][2], path)


def pairwise_shared(genotypes: Sequence[Genotype]) -> np.ndarray:
    """Symmetric matrix of shared edges between every pair of genotypes (diagonal: own size)."""
    k = len(genotypes)
    out = np.zeros((k, k), dtype=int)
    for i in range(k):
        out[i, i] = len(genotypes[i].edge_set())
    for i, j in combinations(range(k), 2):
        out[i, j] = out[j, i] = shared_edges(genotypes[i], genotypes[j])
    return out


def mean_pairwise_shared(genotypes: Sequence[Genotype]) -> float:
    """Mean shared edges over distinct pairs (NaN for fewer than two genotypes)."""
    if len(genotypes) < 2:
        return float("nan")
    m = pairwise_shared(genotypes)
    return float(m[np.triu_indices(len(genotypes), 1)].mean())


__all__ = ["Selection", "ensemble_proba", "greedy_select", "mean_pairwise_shared", "pairwise_shared"]

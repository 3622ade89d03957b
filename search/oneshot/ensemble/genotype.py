"""Discrete cell architectures (genotypes), DARTS discretization and shared-edge counts.

A :class:`Genotype` lists, per cell kind, the kept edges as ``(node, input, op)``. The
standard DARTS discretization keeps, for each intermediate node, the two incoming edges
whose strongest operation other than ``none`` has the highest weight, each with that
operation. Two genotypes *share* an edge when both keep the same edge of the same cell
kind with the same operation; :func:`shared_edges` counts them, and with the DARTS result
``alpha*`` that count is the ``<alpha*, .>`` of the diversity penalty.

Architecture weights are tensors ``[T, E, O]``: cell kinds (``space.cell_types``),
edges (``space.edges()`` order) and operations (``space.ops`` order).

Example:
    >>> space = CellSpace(nodes=2, ops=("none", "skip_connect", "sep_conv_3x3"),
    ...                   layout=("normal",))
    >>> a = Genotype(normal=(Edge(0, 0, "skip_connect"), Edge(0, 1, "sep_conv_3x3"),
    ...                      Edge(1, 0, "skip_connect"), Edge(1, 2, "skip_connect")))
    >>> b = Genotype(normal=(Edge(0, 0, "skip_connect"), Edge(0, 1, "skip_connect"),
    ...                      Edge(1, 0, "skip_connect"), Edge(1, 1, "skip_connect")))
    >>> shared_edges(a, b)
    2
    >>> int(genotype_mask(a, space).sum())
    4
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from ....errors import SpaceError
from .space import CELL_TYPES, CellSpace


class Edge(NamedTuple):
    """One kept edge: ``input -> node`` carrying ``op`` (inputs 0, 1: cell inputs)."""

    node: int
    input: int
    op: str


@dataclass(frozen=True)
class Genotype:
    """A discrete architecture: the kept edges of the normal and the reduction cell."""

    normal: tuple[Edge, ...] = field(default_factory=tuple)
    reduction: tuple[Edge, ...] = field(default_factory=tuple)

    def cell(self, kind: str) -> tuple[Edge, ...]:
        """Kept edges of cell kind ``kind``."""
        return getattr(self, kind)

    def edge_set(self) -> set[tuple[str, int, int, str]]:
        """``{(kind, node, input, op)}`` of every kept edge."""
        return {(kind, *e) for kind in CELL_TYPES for e in self.cell(kind)}

    def to_dict(self) -> dict[str, list[list[Any]]]:
        """Plain mapping ``{kind: [[node, input, op], ...]}`` for YAML."""
        return {kind: [list(e) for e in self.cell(kind)] for kind in CELL_TYPES if self.cell(kind)}

    @classmethod
    def from_dict(cls, data: Any, space: CellSpace | None = None) -> "Genotype":
        """Inverse of :meth:`to_dict`; checked against ``space`` when given.

        Raises:
            SpaceError: malformed entries, an unknown cell kind, operation or edge.
        """
        if not isinstance(data, dict):
            raise SpaceError("a genotype must be a mapping {normal: [[node, input, op], ...]}")
        unknown = sorted(set(data) - set(CELL_TYPES))
        if unknown:
            raise SpaceError(
                f"unknown cell kind(s) {', '.join(map(str, unknown))} (allowed: {', '.join(CELL_TYPES)})"
            )
        cells = {}
        for kind, edges in data.items():
            try:
                cells[kind] = tuple(Edge(int(n), int(i), str(o)) for n, i, o in edges)
            except (TypeError, ValueError):
                raise SpaceError(f"genotype.{kind} must be a list of [node, input, op]") from None
        geno = cls(**cells)
        if space is not None:
            check_genotype(geno, space)
        return geno


def check_genotype(geno: Genotype, space: CellSpace) -> None:
    """Check that every edge of ``geno`` exists in ``space`` with a non-``none`` op.

    Raises:
        SpaceError: naming the bad edge and what is allowed.
    """
    for kind in CELL_TYPES:
        if geno.cell(kind) and kind not in space.cell_types:
            raise SpaceError(f"genotype has a {kind} cell but the layout has none")
        for e in geno.cell(kind):
            space.edge_index(e.node, e.input)
            if e.op not in space.real_ops:
                raise SpaceError(
                    f"edge {tuple(e)} of the {kind} cell: operation {e.op!r} not "
                    f"allowed (allowed: {', '.join(space.real_ops)})"
                )


def shared_edges(a: Genotype, b: Genotype) -> int:
    """Number of edges (same cell kind, node, input and operation) kept by both."""
    return len(a.edge_set() & b.edge_set())


def genotype_mask(geno: Genotype, space: CellSpace) -> torch.Tensor:
    """One-hot ``[T, E, O]`` float tensor of the kept (edge, op) pairs of ``geno``."""
    mask = torch.zeros(len(space.cell_types), space.num_edges, len(space.ops))
    for t, kind in enumerate(space.cell_types):
        for e in geno.cell(kind):
            mask[t, space.edge_index(e.node, e.input), space.op_index(e.op)] = 1.0
    return mask


def keep_mask(weights: torch.Tensor, space: CellSpace) -> torch.Tensor:
    """DARTS discretization of op weights ``[T, E, O]`` as a one-hot ``[T, E, O]`` mask.

    Each node keeps its two incoming edges whose largest non-``none`` weight is highest
    (ties to the lower index), each with its largest non-``none`` operation. ``weights``
    are probabilities (softmax over ops) or any per-edge scores; no gradient flows.
    """
    w = weights.detach()
    real = torch.tensor([op != "none" for op in space.ops], device=w.device)
    scores = w.masked_fill(~real, float("-inf"))
    best, best_op = scores.max(dim=-1)  # [T, E]
    mask = torch.zeros_like(w)
    for j in range(space.nodes):
        start = space.edge_index(j, 0)
        keep = min(2, j + 2)
        top = best[:, start : start + j + 2].topk(keep, dim=-1).indices + start  # [T, keep]
        for t in range(w.shape[0]):
            for e in top[t].tolist():
                mask[t, e, best_op[t, e]] = 1.0
    return mask


def mask_to_genotype(mask: torch.Tensor, space: CellSpace) -> Genotype:
    """Turn a one-hot ``[T, E, O]`` mask into a :class:`Genotype`."""
    cells: dict[str, tuple[Edge, ...]] = {}
    pairs = space.edges()
    for t, kind in enumerate(space.cell_types):
        idx = torch.nonzero(mask[t] > 0.5).tolist()
        cells[kind] = tuple(sorted(Edge(*pairs[e], space.ops[o]) for e, o in idx))
    return Genotype(**cells)


def discretize(alpha: torch.Tensor, space: CellSpace) -> Genotype:
    """Standard DARTS discretization of architecture logits ``alpha [T, E, O]``."""
    return mask_to_genotype(keep_mask(torch.softmax(alpha.detach(), dim=-1), space), space)


def random_genotype(space: CellSpace, rng: np.random.Generator) -> Genotype:
    """A uniformly random discrete architecture: per node 2 distinct inputs, random ops."""
    cells = {}
    for kind in space.cell_types:
        edges = []
        for j in range(space.nodes):
            inputs = rng.choice(j + 2, size=min(2, j + 2), replace=False)
            for i in sorted(int(v) for v in inputs):
                edges.append(Edge(j, i, space.real_ops[int(rng.integers(len(space.real_ops)))]))
        cells[kind] = tuple(edges)
    return Genotype(**cells)


__all__ = [
    "Edge",
    "Genotype",
    "check_genotype",
    "discretize",
    "genotype_mask",
    "keep_mask",
    "mask_to_genotype",
    "random_genotype",
    "shared_edges",
]

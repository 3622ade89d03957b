"""Cell networks: the DARTS supernet (every operation on every edge) and discrete nets.

One :class:`CellNetwork` class serves both. Without a genotype each cell edge holds all
non-``none`` operations and ``forward(x, weights)`` mixes them with the architecture
weights ``[T, E, O]`` (softmax of the logits; ``none`` contributes zero). With a genotype
each cell keeps only its two incoming edges per node, one operation each, and
``forward(x)`` needs no weights. Modules carry the same names in both
(``cells.<k>.edges.<e>.ops.<op>``), so a discrete net can inherit the supernet's
weights with :func:`inherit_weights`.

Example:
    >>> space = CellSpace(nodes=2, ops=("none", "skip_connect", "sep_conv_3x3"), channels=4)
    >>> net = CellNetwork(space)
    >>> weights = torch.softmax(torch.zeros(2, space.num_edges, 3), dim=-1)
    >>> net(torch.zeros(3, 1, 8, 8), weights).shape
    torch.Size([3, 10])
"""

from __future__ import annotations

import torch
from torch import nn

from .genotype import Genotype, check_genotype
from .ops import FactorizedReduce, conv_bn, create_op, relu_conv_bn
from .space import CellSpace


class MixedEdge(nn.Module):
    """The operations of one edge; their weighted sum (or the single op's output)."""

    def __init__(self, ops: tuple[str, ...], channels: int, stride: int, affine: bool, dims: int = 2) -> None:
        super().__init__()
        self.ops = nn.ModuleDict({name: create_op(name, channels, stride, affine, dims) for name in ops})

    def forward(self, x: torch.Tensor, weights: dict[str, torch.Tensor] | None) -> torch.Tensor:
        if weights is None:
            return sum(op(x) for op in self.ops.values())
        return sum(weights[name] * op(x) for name, op in self.ops.items())


class Cell(nn.Module):
    """One cell: preprocess the two inputs, compute the nodes, concatenate them.

    Args:
        space: the cell space.
        reduction: halve the resolution (edges from the cell inputs have stride 2).
        c_pp: channels of the input from two cells back.
        c_p: channels of the input from the previous cell.
        channels: channels of every node.
        reduction_prev: the previous cell halved the resolution.
        keep: ``{edge index: op}`` of a discrete cell; ``None`` for the supernet.
        affine: learnable batch-norm scale and shift.
    """

    def __init__(
        self,
        space: CellSpace,
        reduction: bool,
        c_pp: int,
        c_p: int,
        channels: int,
        reduction_prev: bool,
        keep: dict[int, str] | None,
        affine: bool,
    ) -> None:
        super().__init__()
        self.space = space
        dims = space.spatial_dims
        self.pre0 = (
            FactorizedReduce(c_pp, channels, affine, dims)
            if reduction_prev
            else relu_conv_bn(c_pp, channels, affine, dims)
        )
        self.pre1 = relu_conv_bn(c_p, channels, affine, dims)
        self.edges = nn.ModuleDict()
        for e, (_, i) in enumerate(space.edges()):
            if keep is not None and e not in keep:
                continue
            ops = space.real_ops if keep is None else (keep[e],)
            stride = 2 if reduction and i < 2 else 1
            self.edges[str(e)] = MixedEdge(ops, channels, stride, affine, dims)

    def forward(
        self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        ops = self.space.ops
        for j in range(self.space.nodes):
            total = 0
            for i in range(j + 2):
                e = self.space.edge_index(j, i)
                edge = self.edges[str(e)] if str(e) in self.edges else None
                if edge is None:
                    continue
                w = None if weights is None else {name: weights[e, k] for k, name in enumerate(ops)}
                total = total + edge(states[i], w)
            states.append(total)
        return torch.cat(states[2:], dim=1)


class CellNetwork(nn.Module):
    """Stem, a sequence of cells (``space.layout``), global pooling and a linear classifier.

    Args:
        space: the cell space (channels, layout, input shape, classes).
        genotype: a discrete architecture, or ``None`` for the supernet.
        affine: learnable batch-norm scale and shift (DARTS: off in the supernet).

    Raises:
        SpaceError: a genotype that does not fit the space.
    """

    def __init__(
        self, space: CellSpace, genotype: Genotype | None = None, affine: bool | None = None
    ) -> None:
        super().__init__()
        if genotype is not None:
            check_genotype(genotype, space)
        affine = genotype is not None if affine is None else affine
        self.space, self.genotype = space, genotype
        c_stem = space.stem_multiplier * space.channels
        self.stem = conv_bn(space.in_shape[0], c_stem, 3, 1, affine=True, dims=space.spatial_dims)
        self.cells = nn.ModuleList()
        c_pp, c_p, c = c_stem, c_stem, space.channels
        reduction_prev = False
        for kind in space.layout:
            reduction = kind == "reduction"
            c = 2 * c if reduction else c
            keep = (
                None
                if genotype is None
                else {space.edge_index(e.node, e.input): e.op for e in genotype.cell(kind)}
            )
            self.cells.append(Cell(space, reduction, c_pp, c_p, c, reduction_prev, keep, affine))
            c_pp, c_p, reduction_prev = c_p, space.nodes * c, reduction
        self.classifier = nn.Linear(c_p, space.num_classes)
        self._kind_index = [space.cell_types.index(kind) for kind in space.layout]

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Logits for ``x``; the supernet needs op weights ``[T, E, O]``."""
        s0 = s1 = self.stem(x)
        for cell, t in zip(self.cells, self._kind_index):
            s0, s1 = s1, cell(s0, s1, None if weights is None else weights[t])
        return self.classifier(s1.flatten(2).mean(-1))


def inherit_weights(target: nn.Module, source: nn.Module) -> int:
    """Copy every parameter and buffer of ``source`` that ``target`` has with the same shape.

    Returns:
        The number of tensors copied.
    """
    theirs = source.state_dict()
    ours = target.state_dict()
    common = {k: v for k, v in theirs.items() if k in ours and ours[k].shape == v.shape}
    target.load_state_dict(common, strict=False)
    return len(common)


__all__ = ["Cell", "CellNetwork", "MixedEdge", "inherit_weights"]

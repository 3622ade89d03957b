"""The DARTS cell space: nodes, candidate operations and the layout of cells.

A cell has two inputs (the outputs of the two previous cells) and ``nodes``
intermediate nodes; node ``j`` may take input from the two cell inputs and from every
earlier node, so it has ``j + 2`` incoming edges. Every edge carries a mixture of the
candidate operations during search; a discrete cell keeps two incoming edges per node,
each with one operation other than ``none``. Normal and reduction cells have their own
architecture (the layout says where each kind sits), so a discrete architecture has
``Lambda = 2 * nodes * len(cell_types)`` edges: the largest possible number of edges
two architectures share, and the top of the diversity knob ``lambda``.

Example:
    >>> space = CellSpace(nodes=4, ops=("none", "skip_connect", "sep_conv_3x3"),
    ...                   layout=("normal", "reduction", "normal"), channels=8)
    >>> space.num_edges, space.cell_types, space.max_shared
    (14, ('normal', 'reduction'), 16)
    >>> space.edge_index(2, 3)  # node 2, input 3 (= node 1)
    8
"""

from __future__ import annotations

from dataclasses import dataclass

from ....errors import SpaceError

OPERATIONS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
    "max_pool_3x3",
    "avg_pool_3x3",
)
"""Operation names a cell space may use (see :mod:`.ops`)."""

CELL_TYPES: tuple[str, ...] = ("normal", "reduction")
"""Kinds of cells: a reduction cell halves the resolution and doubles the channels."""


@dataclass(frozen=True)
class CellSpace:
    """A differentiable cell space (DARTS), validated when created.

    Args:
        nodes: intermediate nodes per cell (>= 1).
        ops: candidate operations, names from :data:`OPERATIONS`, no repeats, at least
            one other than ``none``.
        layout: the cell sequence of the network, each ``normal`` or ``reduction``.
        channels: channels of the first cell (doubled by each reduction cell).
        stem_multiplier: the stem convolution has ``stem_multiplier * channels`` channels.
        in_shape: shape of one input, ``(C, H, W)`` or ``(C, L)`` (:class:`~.edgenes.EdgeNES` takes it
            from the dataset).
        num_classes: number of classes (likewise taken from the dataset).

    Raises:
        SpaceError: a field out of range, an unknown operation or cell kind (naming the
            field, the value and the allowed values).
    """

    nodes: int = 4
    ops: tuple[str, ...] = (
        "none",
        "skip_connect",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "max_pool_3x3",
        "avg_pool_3x3",
    )
    layout: tuple[str, ...] = ("normal", "reduction", "normal")
    channels: int = 8
    stem_multiplier: int = 2
    in_shape: tuple[int, ...] = (1, 8, 8)
    num_classes: int = 10

    def __post_init__(self) -> None:
        for name in ("ops", "layout", "in_shape"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise SpaceError(f"{name} must be a list, got {value!r}", name)
            object.__setattr__(self, name, tuple(value))
        for name in ("nodes", "channels", "stem_multiplier", "num_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpaceError(f"{name} must be an integer >= 1, got {value!r}", name)
        if self.num_classes < 2:
            raise SpaceError(f"num_classes must be >= 2, got {self.num_classes}", "num_classes")
        for op in self.ops:
            if op not in OPERATIONS:
                raise SpaceError(f"unknown operation {op!r} (allowed: {', '.join(OPERATIONS)})", "ops")
        if len(set(self.ops)) != len(self.ops):
            raise SpaceError(f"operations repeat: {', '.join(self.ops)}", "ops")
        if not any(op != "none" for op in self.ops):
            raise SpaceError(
                f"ops needs at least one operation other than 'none' (allowed: {', '.join(OPERATIONS)})",
                "ops",
            )
        if not self.layout:
            raise SpaceError(
                f"layout needs at least one cell (allowed kinds: {', '.join(CELL_TYPES)})", "layout"
            )
        for kind in self.layout:
            if kind not in CELL_TYPES:
                raise SpaceError(f"unknown cell kind {kind!r} (allowed: {', '.join(CELL_TYPES)})", "layout")
        if (
            len(self.in_shape) not in (2, 3)
            or not all(isinstance(d, int) and not isinstance(d, bool) for d in self.in_shape)
            or min(self.in_shape) < 1
        ):
            raise SpaceError(
                f"in_shape must be (C, H, W) for images or (C, L) for sequences, of positive "
                f"sizes, got {self.in_shape}",
                "in_shape",
            )

    # -- structure -----------------------------------------------------------------------
    @property
    def spatial_dims(self) -> int:
        """Spatial axes of an input: 2 for images ``(C, H, W)``, 1 for sequences ``(C, L)``."""
        return len(self.in_shape) - 1

    @property
    def cell_types(self) -> tuple[str, ...]:
        """Cell kinds present in the layout, in :data:`CELL_TYPES` order."""
        return tuple(kind for kind in CELL_TYPES if kind in self.layout)

    @property
    def num_edges(self) -> int:
        """Edges of one cell in the search space: ``sum(j + 2 for j < nodes)``."""
        return self.nodes * (self.nodes + 3) // 2

    @property
    def max_shared(self) -> int:
        """``Lambda``: edges of a discrete architecture (2 per node per cell kind)."""
        return 2 * self.nodes * len(self.cell_types)

    @property
    def real_ops(self) -> tuple[str, ...]:
        """Operations other than ``none`` (those a discrete edge may carry)."""
        return tuple(op for op in self.ops if op != "none")

    def edge_index(self, node: int, input: int) -> int:
        """Position of the edge ``input -> node`` among a cell's edges.

        Inputs 0 and 1 are the cell inputs, input ``k >= 2`` is node ``k - 2``.
        """
        if not 0 <= node < self.nodes or not 0 <= input < node + 2:
            raise SpaceError(
                f"no edge from input {input} to node {node} "
                f"(nodes 0..{self.nodes - 1}; node j takes inputs 0..j+1)"
            )
        return node * (node + 3) // 2 + input

    def edges(self) -> list[tuple[int, int]]:
        """All ``(node, input)`` pairs in edge-index order."""
        return [(j, i) for j in range(self.nodes) for i in range(j + 2)]

    def op_index(self, op: str) -> int:
        """Position of ``op`` in :attr:`ops`."""
        if op not in self.ops:
            raise SpaceError(f"operation {op!r} is not in this space (allowed: {', '.join(self.ops)})")
        return self.ops.index(op)

    def to_dict(self) -> dict:
        """Plain mapping of the fields (the ``cell`` section of a config file)."""
        return {
            "nodes": self.nodes,
            "ops": list(self.ops),
            "layout": list(self.layout),
            "channels": self.channels,
            "stem_multiplier": self.stem_multiplier,
            "in_shape": list(self.in_shape),
            "num_classes": self.num_classes,
        }


__all__ = ["CELL_TYPES", "OPERATIONS", "CellSpace"]

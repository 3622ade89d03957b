"""Supernet specs: typed block slots and paths of a weight-sharing supernet.

A weight-sharing supernet is a stem, a sequence of block *slots* and a pooled linear
classifier. A slot is a fixed block, or a position whose block an arch variable chooses
(including ``None``: skipped). A *path* is a tuple with, for each arch variable in space
order, the index of its value; :class:`SupernetSpec` maps paths to arch dicts, to the
active choice of every slot and to the :class:`~jointnas.recipes.specs.NetworkSpec` of the standalone
network. Spaces are decoded into specs in :mod:`.decode`.

Example:
    >>> from jointnas.data.variables import Integer
    >>> from jointnas.recipes.supernet.decode import depth_supernet_spec
    >>> spec = depth_supernet_spec([Integer("b1_depth", 1, 3)], num_classes=10,
    ...                            in_shape=(1, 8, 8), widths=(16,), strides=(1,))
    >>> spec.num_choices, spec.arch((2,)), len(spec.network_spec((2,)).blocks)
    ((3,), {'b1_depth': 3}, 4)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from numbers import Integral
from typing import Any, Mapping, Sequence

from ...data.variables import Variable
from ...errors import SpaceError
from ..spec_cost import spec_costs
from ..specs import BlockSpec, NetworkSpec, check_in_shape

Path = tuple[int, ...]
"""For each arch variable (space order), the index of its value."""


class SupernetError(SpaceError):
    """A space or an arch that the weight-sharing supernet cannot express."""


@dataclass(frozen=True, kw_only=True)
class Slot:
    """One block position of a supernet.

    Args:
        choices: the blocks this position can run; ``None`` means skipped (identity).
        variable: index of the arch variable that chooses; ``None`` for a fixed block.
        select: for each value of that variable (in order), the index into ``choices``.
    """

    choices: tuple[BlockSpec | None, ...]
    variable: int | None = None
    select: tuple[int, ...] = (0,)


@dataclass(frozen=True, kw_only=True)
class SupernetSpec:
    """A decoded supernet: stem, slots, classifier, and the arch variables choosing paths.

    Args:
        in_channels: channels of the input images.
        stem_width: output channels of the stem convolution.
        activation: activation name, one of ``specs.ACTIVATIONS``.
        num_classes: classifier outputs.
        variables: the arch variables (``Integer`` or ``Categorical``), in space order.
        values: the allowed values of each variable, in order.
        slots: the block positions, first to last.
        dropout: dropout probability before the classifier.
        spatial_dims: 2 for images, 1 for sequences.
    """

    in_channels: int
    stem_width: int
    activation: str
    num_classes: int
    variables: tuple[Variable, ...]
    values: tuple[tuple[Any, ...], ...]
    slots: tuple[Slot, ...]
    dropout: float = 0.0
    spatial_dims: int = 2

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the arch variables."""
        return tuple(v.name for v in self.variables)

    @property
    def num_choices(self) -> tuple[int, ...]:
        """Number of values of each arch variable (what path samplers draw from)."""
        return tuple(len(v) for v in self.values)

    @property
    def num_paths(self) -> int:
        """Number of distinct paths (architectures)."""
        return math.prod(self.num_choices)

    def paths(self) -> list[Path]:
        """Every path, in lexicographic order of value indices."""
        return list(itertools.product(*(range(n) for n in self.num_choices)))

    def path(self, arch: Mapping[str, Any]) -> Path:
        """The path of an arch dict.

        Raises:
            SupernetError: a missing or unknown variable, or a value not allowed.
        """
        if isinstance(arch, tuple):
            return self._check_path(arch)
        unknown = [str(k) for k in arch if k not in self.names]
        if unknown:
            raise SupernetError(
                f"arch variable '{unknown[0]}' is not a variable of this supernet "
                f"(variables: {', '.join(self.names)})"
            )
        out = []
        for var, values in zip(self.variables, self.values):
            if var.name not in arch:
                raise SupernetError(f"arch is missing variable '{var.name}'")
            try:
                value = var.check(arch[var.name])
            except SpaceError as exc:
                raise SupernetError(exc.message) from None
            out.append(values.index(value))
        return tuple(out)

    def arch(self, path: Path) -> dict[str, Any]:
        """The arch dict of a path."""
        path = self._check_path(path)
        return {v.name: values[i] for v, values, i in zip(self.variables, self.values, path)}

    def active(self, path: Path) -> tuple[int | None, ...]:
        """For each slot, the index of the choice the path runs (``None`` when skipped)."""
        path = self._check_path(path)
        out: list[int | None] = []
        for slot in self.slots:
            c = 0 if slot.variable is None else slot.select[path[slot.variable]]
            out.append(None if slot.choices[c] is None else c)
        return tuple(out)

    def network_spec(self, path: Path) -> NetworkSpec:
        """The standalone network of a path: the stem, the blocks it runs, the classifier."""
        blocks = tuple(slot.choices[c] for slot, c in zip(self.slots, self.active(path)) if c is not None)
        return NetworkSpec(
            in_channels=self.in_channels,
            stem_width=self.stem_width,
            activation=self.activation,
            blocks=blocks,
            num_classes=self.num_classes,
            dropout=self.dropout,
            spatial_dims=self.spatial_dims,
        )

    def costs(self, path: Path, in_shape: Sequence[int]) -> tuple[int, int]:
        """``(flops, params)`` of the standalone network of a path (fvcore convention)."""
        _, *spatial = check_in_shape(tuple(in_shape))
        return spec_costs(self.network_spec(path), *spatial)

    def _check_path(self, path: Any) -> Path:
        ok = (
            isinstance(path, (tuple, list))
            and len(path) == len(self.values)
            and all(isinstance(i, Integral) and 0 <= i < n for i, n in zip(path, self.num_choices))
        )
        if not ok:
            raise SupernetError(
                f"path {path!r} is not a tuple of value indices with sizes "
                f"{self.num_choices} ({', '.join(self.names)})"
            )
        return tuple(int(i) for i in path)


__all__ = ["Path", "Slot", "SupernetError", "SupernetSpec"]

"""Fine-grained evolution (FBNetV3's second stage) as an ask/tell strategy.

The population starts from given pairs (typically the coarse search's best), filled
with Sobol points. Afterwards each child takes a parent drawn from the ``population``
best results so far, optionally mixes in a second parent (uniform crossover over
variables), and has ``mutations`` of its variables (architecture and recipe alike)
changed. Children that break the constraints or were proposed before are dropped.

:func:`breed` is the vectorized variation step, shared with the predictor-only
:func:`jointnas.search.fine.fine_search`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ...data.space import Config, SearchSpace
from ...errors import ConfigError
from ..candidates import CandidateSet, row_keys
from .base import Strategy
from .qmc import SobolStream
from .registry import register


def breed(
    space: SearchSpace,
    parents: np.ndarray,
    rng: np.random.Generator,
    n: int,
    k: int = 1,
    crossover: float = 0.0,
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """``n`` children of unit-cube parents: uniform parent choice, crossover, ``k`` mutations.

    Args:
        space: the joint space.
        parents: parent rows in the unit cube (:meth:`SearchSpace.to_unit`), shape ``(m, d)``.
        rng: the caller's generator.
        n: children to make.
        k: variables changed per child (:meth:`SearchSpace.mutate_unit`).
        crossover: probability that a child mixes two parents, each variable taken from
            either with equal chance, before mutation.
        names: variables allowed to mutate (default: all that can change).

    Returns:
        Children in the unit cube, shape ``(n, d)``.
    """
    first = parents[rng.integers(len(parents), size=n)]
    if crossover > 0 and len(parents) > 1:
        second = parents[rng.integers(len(parents), size=n)]
        mix = (rng.random(n) < crossover)[:, None] & (rng.random(first.shape) < 0.5)
        first = np.where(mix, second, first)
    return space.mutate_unit(first, rng, k=k, names=names)


def check_variation(population: int, mutations: int, crossover: float) -> None:
    """Validate evolution settings.

    Raises:
        ConfigError: naming the setting and the allowed values.
    """
    if not isinstance(population, (int, np.integer)) or population < 2:
        raise ConfigError(f"population={population!r} must be an integer >= 2")
    if not isinstance(mutations, (int, np.integer)) or mutations < 1:
        raise ConfigError(f"mutations={mutations!r} must be an integer >= 1")
    if not 0.0 <= float(crossover) <= 1.0:
        raise ConfigError(f"crossover={crossover!r} must be a probability in [0, 1]")


@register
class FineEvolution(Strategy):
    """Keep the best ``population`` results; each child mutates (and may cross) them.

    Args:
        candidates: what may be proposed (on a finite pool, each child snaps to the
            nearest unused pool row).
        seed: generator and Sobol seed.
        population: survivors kept as parents; proposals stay space-filling until this
            many results are in.
        mutations: variables changed per child.
        crossover: probability of uniform crossover between two parents.
        init: starting pairs (configs or a frame), proposed first.
        tries: rounds of breeding per ``ask`` before giving up on a full batch.

    Example:
        >>> s = create_strategy("fine", CandidateSet(space), seed=0, init=best_pairs)  # doctest: +SKIP
    """

    name = "fine"

    def __init__(
        self,
        candidates: CandidateSet,
        *,
        seed: int | None = None,
        population: int = 16,
        mutations: int = 1,
        crossover: float = 0.0,
        init: Sequence[Config] | pd.DataFrame | None = None,
        tries: int = 10,
    ) -> None:
        super().__init__(candidates, seed=seed)
        check_variation(population, mutations, crossover)
        self.population, self.mutations, self.crossover = population, mutations, float(crossover)
        self.tries = tries
        self.init = self.space.frame(init) if init is not None and len(init) else None
        if self.init is not None:
            for i, config in enumerate(self.space.configs(self.init)):
                self.space.validate(config, where=f"init pair {i}")
        self.stream = SobolStream(candidates, seed)

    def propose(self, n: int) -> pd.DataFrame:
        scored = [(c, s) for c, s in self.history if np.isfinite(s)]
        if len(self.history) < self.population or len(scored) < 2:
            return self._initial(n)
        scored.sort(key=lambda cs: -cs[1])  # stable: earlier results first among ties
        parents = self.space.to_unit(self.space.frame([c for c, _ in scored[: self.population]]))
        chunks, taken = [], set(self.proposed)
        for _ in range(self.tries):
            children = breed(self.space, parents, self.rng, 2 * n, self.mutations, self.crossover)
            frame = self.space.from_unit(children, frame=True)
            if self.candidates.pool is not None:
                frame = self.stream.nearest_rows(frame, taken)
            else:
                frame = frame[self.candidates.feasible(frame)]
            frame, keys = _fresh(self.space, frame, taken)
            taken |= keys
            chunks.append(frame)
            if sum(len(c) for c in chunks) >= n:
                break
        return pd.concat(chunks, ignore_index=True).iloc[:n]

    def _initial(self, n: int) -> pd.DataFrame:
        """Unproposed feasible init pairs first, then Sobol points."""
        first = pd.DataFrame(columns=list(self.space.names))
        if self.init is not None:
            pending = self.init[self.candidates.feasible(self.init)]
            first, _ = _fresh(self.space, pending, self.proposed)
            first = first.iloc[:n]
        if len(first) >= n:
            return first
        keys = set(map(int, row_keys(self.space, first))) if len(first) else set()
        rest = self.stream.next(n - len(first), self.proposed | keys)
        return pd.concat([first, rest], ignore_index=True) if len(first) else rest

    def extra_state(self) -> dict[str, Any]:
        return {"position": self.stream.position}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.stream = SobolStream(self.candidates, self.seed)
        self.stream.position = int(state.get("position", 0))


def _fresh(space: SearchSpace, frame: pd.DataFrame, taken: set[int]) -> tuple[pd.DataFrame, set[int]]:
    """Rows of ``frame`` not in ``taken`` and not repeated, with their keys."""
    if frame.empty:
        return frame.reset_index(drop=True), set()
    keys = row_keys(space, frame)
    keep = ~pd.Series(keys).duplicated().to_numpy()
    keep &= np.array([int(k) not in taken for k in keys], dtype=bool)
    return frame[keep].reset_index(drop=True), {int(k) for k in keys[keep]}

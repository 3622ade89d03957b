"""Regularized (aging) evolution: tournament selection, one mutation, oldest member dies."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..candidates import CandidateSet, row_keys
from .base import Strategy
from .registry import register


def mutate_feasible(strategy: Strategy, parents: list[dict], k: int = 1, tries: int = 10) -> pd.DataFrame:
    """One feasible, never-proposed child per parent where one is found within ``tries``."""
    space, out = strategy.space, []
    todo = list(range(len(parents)))
    for _ in range(tries):
        if not todo:
            break
        children = [space.mutate(parents[i], strategy.rng, k=k) for i in todo]
        frame = space.frame(children)
        keys = row_keys(space, frame)
        ok = strategy.candidates.feasible(frame)
        ok &= np.array([int(key) not in strategy.proposed for key in keys], dtype=bool)
        out.extend(children[j] for j in np.flatnonzero(ok))
        todo = [i for i, good in zip(todo, ok) if not good]
    return space.frame(out) if out else pd.DataFrame(columns=list(space.names))


@register
class RegularizedEvolution(Strategy):
    """Aging evolution (Real et al.): the population is the last ``population`` results.

    Args:
        candidates: what may be proposed.
        seed: generator seed.
        population: population size; the first ``population`` proposals are random.
        tournament: how many members compete to be the parent.
        mutations: variables changed per child.
    """

    name = "evolution"

    def __init__(
        self,
        candidates: CandidateSet,
        *,
        seed: int | None = None,
        population: int = 20,
        tournament: int = 5,
        mutations: int = 1,
    ) -> None:
        super().__init__(candidates, seed=seed)
        if population < 2 or not 1 <= tournament <= population:
            raise ValueError("need population >= 2 and 1 <= tournament <= population")
        self.population, self.tournament, self.mutations = population, tournament, mutations

    def propose(self, n: int) -> pd.DataFrame:
        alive = [(c, s) for c, s in self.history[-self.population :] if np.isfinite(s)]
        if len(self.history) < self.population or len(alive) < 2:
            return self.random(n)
        parents = []
        for _ in range(n):
            picks = self.rng.choice(len(alive), size=min(self.tournament, len(alive)), replace=False)
            parents.append(max((alive[i] for i in picks), key=lambda cs: cs[1])[0])
        return mutate_feasible(self, parents, k=self.mutations)

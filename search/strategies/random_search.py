"""Random search: feasible configs drawn uniformly, the reference every method must beat."""

from __future__ import annotations

import pandas as pd

from .base import Strategy
from .registry import register


@register
class RandomSearch(Strategy):
    """Uniform draws from the space (or the pool), rejecting infeasible configs."""

    name = "random"

    def propose(self, n: int) -> pd.DataFrame:
        return self.random(n)

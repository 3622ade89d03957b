"""The strategy interface: propose pairs, learn from their measured scores.

Call order::

    strategy = create_strategy("evolution", candidates, seed=0)
    while budget:
        configs = strategy.ask(n)          # n distinct feasible, never-proposed configs
        scores = evaluate(configs)         # accuracy, higher is better; NaN if it failed
        strategy.tell(configs, scores)

``ask`` may return fewer than ``n`` configs only when the candidates are exhausted.
``state_dict()`` returns plain Python data (JSON-serializable); a fresh strategy built
with the same arguments and given ``load_state_dict(state)`` continues exactly as the
original would, so its next ``ask`` is identical. A new strategy is one short file that
subclasses :class:`Strategy`, implements :meth:`Strategy.propose` and registers itself.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from ...data.space import Config
from ..candidates import CandidateSet, row_keys


class Strategy(abc.ABC):
    """Base class: keeps the history, the proposed set and an owned random generator.

    Args:
        candidates: what may be proposed (space, pool, limits).
        seed: seed of the strategy's own generator.
    """

    name: ClassVar[str] = ""

    def __init__(self, candidates: CandidateSet, *, seed: int | None = None) -> None:
        self.candidates = candidates
        self.space = candidates.space
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.history: list[tuple[Config, float]] = []
        self.proposed: set[int] = set()

    # -- public interface ----------------------------------------------------------------
    def ask(self, n: int) -> list[Config]:
        """Propose up to ``n`` distinct feasible configs never proposed before."""
        if n < 1:
            return []
        frame = self.propose(n)
        frame = frame[list(self.space.names)].reset_index(drop=True)
        keys = row_keys(self.space, frame)
        fresh = ~pd.Series(keys).duplicated().to_numpy()
        fresh &= np.array([int(k) not in self.proposed for k in keys], dtype=bool)
        frame, keys = frame[fresh].iloc[:n], keys[fresh][:n]
        if len(frame) < n:
            extra = self.candidates.sample(
                n - len(frame), self.rng, exclude=self.proposed | set(map(int, keys))
            )
            frame = pd.concat([frame, extra], ignore_index=True)
            keys = row_keys(self.space, frame)
        self.proposed.update(int(k) for k in keys)
        return self.space.configs(frame)

    def tell(self, configs: Sequence[Config], scores: Sequence[float]) -> None:
        """Record measured scores (higher is better; NaN for failed evaluations)."""
        if len(configs) != len(scores):
            raise ValueError(f"{len(configs)} configs but {len(scores)} scores")
        keys = row_keys(self.space, self.space.frame(list(configs))) if len(configs) else []
        self.proposed.update(int(k) for k in keys)
        self.history.extend((dict(c), float(s)) for c, s in zip(configs, scores))
        self.observe(list(configs), np.asarray(scores, dtype=np.float64))

    def state_dict(self) -> dict[str, Any]:
        """Plain-data state: generator, history, proposed set and strategy extras."""
        return {
            "name": self.name,
            "seed": self.seed,
            "rng": self.rng.bit_generator.state,
            "history": [[c, s] for c, s in self.history],
            "proposed": sorted(self.proposed),
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`."""
        if state.get("name") != self.name:
            raise ValueError(f"state of strategy {state.get('name')!r} given to {self.name!r}")
        self.seed = state.get("seed", self.seed)
        self.rng.bit_generator.state = state["rng"]
        self.history = [(dict(c), float(s)) for c, s in state["history"]]
        self.proposed = set(int(k) for k in state["proposed"])
        self.load_extra_state(state.get("extra") or {})

    # -- hooks for subclasses --------------------------------------------------------------
    @abc.abstractmethod
    def propose(self, n: int) -> pd.DataFrame:
        """Return about ``n`` feasible candidate configs as a frame (duplicates are dropped)."""

    def observe(self, configs: list[Config], scores: np.ndarray) -> None:  # noqa: B027 (optional hook)
        """React to new results (the history is already updated)."""

    def extra_state(self) -> dict[str, Any]:
        """Strategy-specific plain-data state."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Restore :meth:`extra_state`."""

    # -- helpers -------------------------------------------------------------------------
    def history_frame(self) -> pd.DataFrame:
        """History as a frame with a ``score`` column (NaN for failed evaluations)."""
        if not self.history:
            return pd.DataFrame(columns=[*self.space.names, "score"])
        frame = self.space.frame([c for c, _ in self.history])
        frame["score"] = [s for _, s in self.history]
        return frame

    def random(self, n: int) -> pd.DataFrame:
        """``n`` feasible never-proposed configs drawn at random."""
        return self.candidates.sample(n, self.rng, exclude=self.proposed)

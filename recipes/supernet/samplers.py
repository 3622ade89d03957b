"""Path samplers: which architecture(s) of a supernet each training step trains.

Call order::

    sampler = create_sampler("epsilon_greedy", num_choices=(3, 3), seed=0)
    for step in range(steps):
        paths = sampler.ask()              # the paths of this step (one, or a fair set)
        ...forward/backward every path, one optimizer step...
        if sampler.wants_feedback:
            for path in paths:
                sampler.tell(path, val_acc)  # validation accuracy of the path, now

A path is a tuple holding, for each arch variable, the index of its value (see
:mod:`.slots`); a sampler sees only ``num_choices``, the number of values of each
variable. Every sampler owns a ``numpy`` generator seeded by ``seed``. A new sampler is one
short class implementing :meth:`PathSampler.ask`, added to :data:`SAMPLERS`.
"""

from __future__ import annotations

import abc
import inspect
import math
from typing import Any, ClassVar, Sequence

import numpy as np

from ...errors import ConfigError

Path = tuple[int, ...]


class PathSampler(abc.ABC):
    """Base class: the variables' sizes and an owned random generator.

    Args:
        num_choices: number of values of each arch variable (each >= 1).
        seed: seed of the sampler's generator.

    Raises:
        ConfigError: an empty or non-positive ``num_choices``.
    """

    name: ClassVar[str] = ""
    wants_feedback: ClassVar[bool] = False
    """Whether :meth:`tell` uses the scores (the trainer skips measuring them otherwise)."""

    def __init__(self, num_choices: Sequence[int], *, seed: int | None = None) -> None:
        sizes = tuple(int(n) for n in num_choices)
        if not sizes or min(sizes) < 1:
            raise ConfigError(f"num_choices={list(num_choices)!r} must list positive sizes")
        self.num_choices = sizes
        self.num_paths = math.prod(sizes)
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    @abc.abstractmethod
    def ask(self) -> list[Path]:
        """The paths one training step trains."""

    def tell(self, path: Path, score: float) -> None:  # noqa: B027 (an optional hook)
        """Report a path's current validation accuracy (ignored unless ``wants_feedback``)."""

    def uniform(self) -> Path:
        """One path drawn uniformly (each variable's value independently)."""
        return tuple(int(self.rng.integers(n)) for n in self.num_choices)


class UniformSampler(PathSampler):
    """Single-path one-shot (SPOS): every step trains one uniformly drawn path."""

    name = "uniform"

    def ask(self) -> list[Path]:
        return [self.uniform()]


class EpsilonGreedySampler(PathSampler):
    """Uniform for the first ``warmup`` steps, then mostly the leading path.

    The leader is the path with the best running mean of the validation accuracies
    told so far (ties: the smallest path). After the warmup a step draws a uniform path
    with probability ``epsilon`` and the leader otherwise, so the leader is trained with
    probability ``1 - epsilon + epsilon / num_paths``.

    Args:
        num_choices: number of values of each arch variable.
        seed: seed of the sampler's generator.
        epsilon: exploration probability in ``[0, 1]``.
        warmup: uniform steps (rounds of :meth:`ask`) before exploiting.

    Raises:
        ConfigError: ``epsilon`` outside ``[0, 1]`` or a negative ``warmup``.
    """

    name = "epsilon_greedy"
    wants_feedback = True

    def __init__(
        self, num_choices: Sequence[int], *, seed: int | None = None, epsilon: float = 0.2, warmup: int = 100
    ) -> None:
        super().__init__(num_choices, seed=seed)
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not 0 <= epsilon <= 1:
            raise ConfigError(f"epsilon={epsilon!r} must be a probability in [0, 1]")
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ConfigError(f"warmup={warmup!r} must be an integer >= 0 (uniform rounds)")
        self.epsilon, self.warmup = float(epsilon), warmup
        self.rounds = 0
        self.counts: dict[Path, int] = {}
        self.means: dict[Path, float] = {}

    def ask(self) -> list[Path]:
        self.rounds += 1
        if self.rounds <= self.warmup or not self.means or self.rng.random() < self.epsilon:
            return [self.uniform()]
        return [self.leader()]

    def tell(self, path: Path, score: float) -> None:
        if not math.isfinite(score):
            return
        path = tuple(int(i) for i in path)
        n = self.counts.get(path, 0) + 1
        self.counts[path] = n
        self.means[path] = self.means.get(path, 0.0) + (float(score) - self.means.get(path, 0.0)) / n

    def leader(self) -> Path:
        """The path with the best running validation accuracy.

        Raises:
            ConfigError: nothing told yet.
        """
        if not self.means:
            raise ConfigError("epsilon_greedy has no scores yet: tell() before asking a leader")
        return min(self.means, key=lambda p: (-self.means[p], p))


class FairSampler(PathSampler):
    """FairNAS strict fairness: a step trains ``m = max(num_choices)`` paths together.

    For every variable the step's paths take each of its values exactly once (a random
    permutation); a variable with fewer than ``m`` values takes each at least once and
    fills the rest uniformly. The trainer accumulates the gradients of all ``m`` paths
    before one optimizer step.
    """

    name = "fair"

    def ask(self) -> list[Path]:
        m = max(self.num_choices)
        columns = []
        for n in self.num_choices:
            values = np.concatenate([np.arange(n), self.rng.integers(n, size=m - n)])
            columns.append(self.rng.permutation(values))
        return [tuple(int(col[j]) for col in columns) for j in range(m)]


SAMPLERS: dict[str, type[PathSampler]] = {
    cls.name: cls for cls in (UniformSampler, EpsilonGreedySampler, FairSampler)
}
"""Path samplers by name."""


def create_sampler(
    name: str, num_choices: Sequence[int], *, seed: int | None = None, **options: Any
) -> PathSampler:
    """Build a registered path sampler.

    Args:
        name: one of :data:`SAMPLERS` (``uniform``, ``epsilon_greedy``, ``fair``).
        num_choices: number of values of each arch variable.
        seed: seed of the sampler's generator.
        **options: the sampler's own keyword arguments (``epsilon``, ``warmup``).

    Raises:
        ConfigError: an unknown name (listing the known ones), option or option value.
    """
    cls = SAMPLERS.get(name)
    if cls is None:
        raise ConfigError(f"unknown path sampler {name!r} (one of {', '.join(SAMPLERS)})")
    allowed = [p for p in inspect.signature(cls).parameters if p not in ("num_choices", "seed")]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(
            f"path sampler {name!r} has no option {unknown[0]!r} (options: {', '.join(allowed) or 'none'})"
        )
    return cls(num_choices, seed=seed, **options)


__all__ = [
    "SAMPLERS",
    "EpsilonGreedySampler",
    "FairSampler",
    "PathSampler",
    "UniformSampler",
    "create_sampler",
]

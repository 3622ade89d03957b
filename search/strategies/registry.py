"""Create strategies by name for configs and the command line."""

from __future__ import annotations

import importlib
from typing import Any

from ...errors import ConfigError
from ..candidates import CandidateSet

STRATEGIES: dict[str, type] = {}
_MODULES = ("random_search", "qmc", "evolution", "predictor_guided", "tpe", "fine_evolution", "reinforce")


def load_all() -> None:
    """Import every strategy module so its registration runs."""
    for module in _MODULES:
        importlib.import_module(f"{__package__}.{module}")


def register(cls: type) -> type:
    """Class decorator: make a strategy available to :func:`create_strategy` by its ``name``."""
    STRATEGIES[cls.name] = cls
    return cls


def create_strategy(name: str, candidates: CandidateSet, *, seed: int | None = None, **kwargs: Any):
    """Build the strategy registered as ``name``.

    Raises:
        ConfigError: unknown name (listing the registered ones).
    """
    load_all()
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r} (allowed: {', '.join(sorted(STRATEGIES))})")
    return STRATEGIES[name](candidates, seed=seed, **kwargs)

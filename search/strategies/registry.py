"""Create strategies by name for configs and the command line."""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError
from ..candidates import CandidateSet

STRATEGIES: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make a strategy available to :func:`create_strategy` by its ``name``."""
    STRATEGIES[cls.name] = cls
    return cls


def create_strategy(name: str, candidates: CandidateSet, *, seed: int | None = None, **kwargs: Any):
    """Build the strategy registered as ``name``.

    Raises:
        ConfigError: unknown name (listing the registered ones).
    """
    from . import load_all

    load_all()
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r} (allowed: {', '.join(sorted(STRATEGIES))})")
    return STRATEGIES[name](candidates, seed=seed, **kwargs)

"""Search strategies behind one ask/tell interface, created by name.

Each strategy is one file that subclasses :class:`Strategy` and registers itself.
"""

from __future__ import annotations

import importlib

from .base import Strategy
from .registry import STRATEGIES, create_strategy, register

_MODULES = ("random_search", "qmc", "evolution", "predictor_guided", "tpe", "fine_evolution", "reinforce")


def load_all() -> None:
    """Import every strategy module so its registration runs."""
    for module in _MODULES:
        importlib.import_module(f"{__name__}.{module}")


__all__ = ["STRATEGIES", "Strategy", "create_strategy", "load_all", "register"]

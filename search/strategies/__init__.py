"""Search strategies behind one ask/tell interface, created by name.

Each strategy is one file that subclasses :class:`Strategy` and registers itself.
"""

from __future__ import annotations

from .base import Strategy
from .registry import STRATEGIES, create_strategy, load_all, register

__all__ = ["STRATEGIES", "Strategy", "create_strategy", "load_all", "register"]

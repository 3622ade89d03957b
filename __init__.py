"""jointnas: search neural architectures and their training recipes together.

Names are imported on first use (PEP 562), so a command starts before scipy and torch
load, and a Ctrl-C while they load ends it cleanly.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .errors import JointNASError

_FROM_DATA = ("Categorical", "Float", "Integer", "ModelSpec", "SearchSpace")

__all__ = [*_FROM_DATA, "JointNASError", "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _FROM_DATA:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(".data", __name__), name)

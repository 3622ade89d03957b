"""Which pairs to train or return: strategies, coarse and fine search, evaluators, CLIs.

Names are imported on first use, so ``import jointnas.search`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CandidateSet": ".candidates",
    "CoarseSearch": ".coarse",
    "EvalResult": ".evaluators",
    "FineResult": ".fine",
    "RunStore": ".study",
    "SearchSettings": ".settings",
    "Strategy": ".strategies",
    "SupernetEvaluator": ".evaluators",
    "TableEvaluator": ".evaluators",
    "TrainEvaluator": ".evaluators",
    "create_strategy": ".strategies",
    "draw_feasible": ".pool",
    "draw_pool": ".pool",
    "enas_search": ".oneshot.enas",
    "fine_search": ".fine",
    "load_settings": ".settings",
    "make_evaluator": ".evaluators",
    "run_worker": ".workers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)

"""WHAT accuracy a pair will reach, without training it.

Public names are loaded lazily (PEP 562), so ``import jointnas.predictor.metrics`` does
not import torch, and ``from jointnas.predictor import AccuracyPredictor`` loads only
what it needs.

Example:
    >>> from jointnas.predictor import AccuracyPredictor, kendall_tau  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AccuracyPredictor": "estimator",
    "Encoder": "networks",
    "ProxyHead": "networks",
    "AccuracyHead": "networks",
    "TargetTransform": "training",
    "kendall_tau": "metrics",
    "spearman": "metrics",
    "rmse": "metrics",
    "precision_at_k": "metrics",
    "top_n_rank": "metrics",
    "s_tau": "metrics",
    "gt_tau": "metrics",
    "regression_report": "metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

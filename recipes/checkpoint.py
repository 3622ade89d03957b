"""Saving and loading trained models: a state dict plus plain metadata, loaded safely.

The file is one ``torch.save`` of a plain dict (``format``, ``state_dict``, ``arch``,
``recipe``, ``meta``), so :func:`load_model` reads it with ``torch.load(weights_only=True)``
(no pickled code) and rebuilds the network with the builder named in ``meta``.

Example:
    >>> save_model("model.pt", model, arch, recipe, model_spec=space.model)  # doctest: +SKIP
    >>> model, info = load_model("model.pt")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ..data.atomic import write_bytes
from ..data.model_spec import ModelSpec
from ..errors import ConfigError, JointNASError, load_failure
from .recipe import TrainingRecipe

FORMAT = "jointnas-model/1"
REQUIRED_META = ("in_shape", "num_classes")


def save_model(
    path: str | os.PathLike,
    model: nn.Module,
    arch: Mapping[str, Any],
    recipe: TrainingRecipe | Mapping[str, Any],
    meta: Mapping[str, Any] | None = None,
    *,
    model_spec: ModelSpec | None = None,
) -> None:
    """Write a trained model and what is needed to rebuild it, atomically.

    Args:
        path: output file (``.pt``).
        model: the trained network (moved to CPU in the file).
        arch: the arch part of its config.
        recipe: its training recipe (dataclass or recipe dict).
        meta: plain metadata; must hold ``in_shape`` and ``num_classes`` unless
            ``model_spec`` gives them; ``builder`` defaults to ``mbconv`` and ``options``
            (the model spec's fixed builder arguments) to none. Anything else (dataset,
            accuracies, seed) is kept.
        model_spec: the space's model (``space.model``): fills ``builder``,
            ``in_shape``, ``num_classes`` and ``options``.

    Raises:
        ConfigError: ``meta`` lacks a required key or holds a non-plain value.
    """
    meta = dict(meta or {})
    if model_spec is not None:
        meta = {
            "builder": model_spec.builder,
            "in_shape": list(model_spec.in_shape),
            "num_classes": model_spec.num_classes,
            "options": dict(model_spec.options),
            **meta,
        }
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise ConfigError(
            f"save_model meta is missing {', '.join(missing)} (required: {', '.join(REQUIRED_META)})",
            str(path),
        )
    meta.setdefault("builder", "mbconv")
    recipe = TrainingRecipe.from_config(recipe)
    payload = {
        "format": FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "arch": _plain(dict(arch), "arch", path),
        "recipe": recipe.to_dict(),
        "meta": _plain(meta, "meta", path),
    }
    buffer = io.BytesIO()  # serialize first: a full disk is then a plain OSError
    torch.save(payload, buffer)
    write_bytes(path, buffer.getvalue())


def load_model(path: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model written by :func:`save_model`, in eval mode on the CPU.

    Args:
        path: file written by :func:`save_model`.

    Returns:
        ``(model, info)`` where ``info`` holds ``arch``, ``recipe`` (dict) and ``meta``.

    Raises:
        ConfigError: missing file, not a jointnas model file, or weights that do not fit
            the rebuilt network.
    """
    from .model import create_model

    where = str(path)
    if not Path(path).is_file():
        raise ConfigError("model file not found", where)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors have many types
        raise ConfigError(load_failure(exc, "model"), where) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(f"not a jointnas model file (expected format {FORMAT!r})", where)
    meta, recipe = payload["meta"], payload["recipe"]
    try:
        spec = ModelSpec(
            builder=meta.get("builder", "mbconv"),
            in_shape=tuple(meta["in_shape"]),
            num_classes=meta["num_classes"],
            options=meta.get("options") or {},
        )
        model = create_model(spec, payload["arch"], dropout=float(recipe.get("dropout", 0.0)))
        model.load_state_dict(payload["state_dict"])
    except JointNASError as exc:
        raise exc.at(where) from None
    except RuntimeError as exc:
        raise ConfigError(
            f"weights do not fit the rebuilt model: {str(exc).splitlines()[0]}", where
        ) from None
    model.eval()
    return model, {"arch": payload["arch"], "recipe": recipe, "meta": meta}


def _plain(value: Any, name: str, path: Any) -> Any:
    """Recursively convert to types ``torch.load(weights_only=True)`` accepts."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v, name, path) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, name, path) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if hasattr(value, "item") and callable(value.item):
        return _plain(value.item(), name, path)
    raise ConfigError(
        f"save_model {name} holds a {type(value).__name__}; only plain values "
        f"(numbers, strings, lists, dicts) are stored",
        str(path),
    )


__all__ = ["FORMAT", "load_model", "save_model"]

"""Reading and writing search spaces and other YAML files, with one-line errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, JointNASError, SpaceError
from .atomic import atomic_path
from .model_spec import ModelSpec
from .space import SearchSpace
from .variables import variable_from_dict

SPACE_KEYS = ("name", "model", "arch", "recipe", "constraints", "default")
MODEL_KEYS = ("builder", "in_shape", "num_classes", "options")
OPTIONAL_MODEL_KEYS = ("options",)


def load_yaml(path: str | os.PathLike) -> Any:
    """Parse a YAML file with ``yaml.safe_load``.

    Raises:
        ConfigError: the file is missing or is not valid YAML (naming line and problem).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError("file not found", str(path))
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"malformed YAML: {problem}{line}", str(path)) from None


def write_yaml(data: Any, path: str | os.PathLike) -> None:
    """Write ``data`` as YAML atomically (a temp file renamed into place)."""
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(_plain(data), sort_keys=False, default_flow_style=None))


def read_space(path: str | os.PathLike) -> SearchSpace:
    """Read a :class:`SearchSpace` from a YAML file.

    Raises:
        ConfigError: missing file or malformed YAML.
        SpaceError: an invalid definition, located at the file.
    """
    return space_from_dict(load_yaml(path), str(path), source=str(path))


def space_from_dict(data: Any, where: str | None = None, source: str | None = None) -> SearchSpace:
    """Build a space from its YAML mapping (``source``: the file it was read from, if any).

    Raises:
        SpaceError: unknown keys, invalid variables, constraints, model or default.
    """
    try:
        if not isinstance(data, dict):
            raise SpaceError("a space file must be a mapping with 'arch' and optional 'recipe'")
        unknown = sorted(set(data) - set(SPACE_KEYS))
        if unknown:
            raise SpaceError(f"unknown key(s) {', '.join(map(str, unknown))} "
                             f"(allowed: {', '.join(SPACE_KEYS)})")
        arch = [variable_from_dict(_numbers(e)) for e in _entries(data, "arch")]
        recipe = [variable_from_dict(_numbers(e)) for e in _entries(data, "recipe")]
        return SearchSpace(arch, recipe, constraints=data.get("constraints"),
                           name=data.get("name", Path(where).stem if where else "space"),
                           model=_model(data.get("model")), default=data.get("default"),
                           source=source)
    except JointNASError as exc:
        raise exc.at(where) if where else exc


def _entries(data: dict, key: str) -> list:
    entries = data.get(key) or []
    if not isinstance(entries, list):
        raise SpaceError(f"'{key}' must be a list of variables, got {type(entries).__name__}")
    return entries


def _model(data: Any) -> ModelSpec | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise SpaceError(f"'model' must be a mapping with keys {', '.join(MODEL_KEYS)}")
    unknown = sorted(set(data) - set(MODEL_KEYS))
    missing = [k for k in MODEL_KEYS if k not in data and k not in OPTIONAL_MODEL_KEYS]
    if unknown or missing:
        required = [k for k in MODEL_KEYS if k not in OPTIONAL_MODEL_KEYS]
        raise SpaceError(f"'model' needs the keys {', '.join(required)} and optionally "
                         f"{', '.join(OPTIONAL_MODEL_KEYS)} "
                         f"(unknown: {', '.join(unknown) or '-'}; missing: {', '.join(missing) or '-'})")
    return ModelSpec(**data)


def _numbers(entry: Any) -> Any:
    """YAML 1.1 reads ``1e-3`` as a string: turn numeric strings in bounds into floats."""
    if not isinstance(entry, dict) or entry.get("type") != "float":
        return entry
    out = dict(entry)
    for key in ("low", "high"):
        if isinstance(out.get(key), str):
            try:
                out[key] = float(out[key])
            except ValueError:
                pass
    return out


def _plain(data: Any) -> Any:
    """Convert numpy scalars and tuples to plain YAML types."""
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    if hasattr(data, "item") and callable(data.item):
        return data.item()
    return data

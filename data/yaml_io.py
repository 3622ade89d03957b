"""YAML files: ``yaml.safe_load`` with one-line errors, atomic writes of plain data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .atomic import atomic_path


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


def _plain(data: Any) -> Any:
    """Convert numpy scalars and tuples to plain YAML types."""
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    if hasattr(data, "item") and callable(data.item):
        return data.item()
    return data

"""Space files: :func:`read_space` and :func:`space_from_dict`, and the YAML helpers
(:mod:`.yaml_io`) the CLIs use for other files."""

from __future__ import annotations

import os
from typing import Any

from .space import SPACE_KEYS, SearchSpace
from .yaml_io import load_yaml, write_yaml

__all__ = ["SPACE_KEYS", "load_yaml", "read_space", "space_from_dict", "write_yaml"]


def read_space(path: str | os.PathLike) -> SearchSpace:
    """Read a :class:`SearchSpace` from a YAML file (:meth:`SearchSpace.from_yaml`).

    Raises:
        ConfigError: missing file or malformed YAML.
        SpaceError: an invalid definition, located at the file.
    """
    return SearchSpace.from_yaml(path)


def space_from_dict(data: Any, where: str | None = None, source: str | None = None) -> SearchSpace:
    """Build a space from its YAML mapping (:meth:`SearchSpace.from_dict`)."""
    return SearchSpace.from_dict(data, where, source)

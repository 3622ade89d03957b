"""The ensemble-search config file: a cell space and the settings of every phase.

Format (every section but ``cell`` optional; unknown keys are refused)::

    name: darts-digits
    dataset: digits                       # load_dataset name (the CLI's --dataset wins)
    cell:                                 # CellSpace fields
      nodes: 4
      ops: [none, skip_connect, sep_conv_3x3, sep_conv_5x5, max_pool_3x3, avg_pool_3x3]
      layout: [normal, reduction, normal]
      channels: 8
    search:   {epochs: 6, alpha_lr: 6.0e-3}       # DartsSettings fields
    hypernet: {epochs: 4, penalty: 0.05, lambda_range: [0, 16]}   # HyperSettings
    members:  {epochs: 8, inherit: false}        # MemberSettings fields
    ensemble: {n: 3, N: 10, lambda_range: [1, 16]}

Errors name the file and the field: ``unknown operation 'conv_9x9' (allowed: ...)
(configs/x.yaml: cell.ops)``.

Example:
    >>> config = read_config(CONFIGS / "darts_digits.yaml")  # doctest: +SKIP
    >>> config.space.max_shared, config.n, config.N  # doctest: +SKIP
    (16, 3, 10)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ....data.space_io import load_yaml
from ....errors import ConfigError, JointNASError
from .edgenes import check_lambda_ranges, check_sizes
from .settings import DartsSettings, HyperSettings, MemberSettings, lambda_pair
from .space import CellSpace

TOP_KEYS = ("name", "dataset", "cell", "search", "hypernet", "members", "ensemble")
ENSEMBLE_KEYS = ("n", "N", "lambda_range")
_SECTIONS = {"cell": CellSpace, "search": DartsSettings, "hypernet": HyperSettings, "members": MemberSettings}


@dataclass(frozen=True)
class EnsembleConfig:
    """A parsed, validated config file.

    Attributes:
        name: config name (default: the file stem).
        dataset: dataset name.
        space: the cell space.
        darts, hyper, members: settings of the three phases.
        n: largest ensemble size; N: candidates to sample and train.
        sample_range: ``p(Lambda)`` range, ``None`` for ``(1, Lambda)``.
    """

    name: str
    dataset: str
    space: CellSpace
    darts: DartsSettings
    hyper: HyperSettings
    members: MemberSettings
    n: int = 3
    N: int = 10
    sample_range: tuple[int, int] | None = None


def read_config(path: str | os.PathLike, **overrides: Any) -> EnsembleConfig:
    """Read and validate an ensemble-search config.

    Args:
        path: the YAML file.
        overrides: values replacing the file's, as ``section__field=value`` (e.g.
            ``members__epochs=2``) or ``n``, ``N``, ``dataset``; ``None`` values are ignored.

    Raises:
        ConfigError: missing file, malformed YAML, unknown keys, bad values, ``n > N``, a
            ``lambda`` range outside ``[0, Lambda]``, negative ``C`` (located at the file).
        SpaceError: an invalid cell space (unknown operation, ...).
    """
    where = str(path)
    try:
        return _parse(load_yaml(path), Path(path).stem, overrides)
    except JointNASError as exc:
        raise exc.at(where) if exc.where != where else exc from None


def _parse(data: Any, stem: str, overrides: dict[str, Any]) -> EnsembleConfig:
    if not isinstance(data, dict):
        raise ConfigError("an ensemble config must be a mapping with a 'cell' section")
    _known(data, TOP_KEYS, "")
    if "cell" not in data:
        raise ConfigError("missing the 'cell' section (nodes, ops, layout, channels)", "cell")
    sections = {}
    for key, cls in _SECTIONS.items():
        values = _section(data, key)
        values.update(
            {
                k.split("__", 1)[1]: v
                for k, v in overrides.items()
                if k.startswith(f"{key}__") and v is not None
            }
        )
        sections[key] = _build(cls, key, values)
    ensemble = _section(data, "ensemble")
    _known(ensemble, ENSEMBLE_KEYS, "ensemble.")
    n = overrides.get("n") or ensemble.get("n", 3)
    N = overrides.get("N") or ensemble.get("N", 10)
    check_sizes(n, N)
    sample_range = ensemble.get("lambda_range")
    if sample_range is not None:
        sample_range = lambda_pair(sample_range, "ensemble.lambda_range")
    check_lambda_ranges(sections["cell"], sections["hypernet"].lambda_range, sample_range)
    dataset = overrides.get("dataset") or data.get("dataset", "digits")
    if not isinstance(dataset, str):
        raise ConfigError(f"dataset must be a name, got {dataset!r}", "dataset")
    return EnsembleConfig(
        str(data.get("name", stem)),
        dataset,
        sections["cell"],
        sections["search"],
        sections["hypernet"],
        sections["members"],
        n,
        N,
        None if sample_range is None else tuple(int(v) for v in sample_range),
    )


def _known(data: dict, allowed: tuple[str, ...], prefix: str) -> None:
    unknown = sorted(str(k) for k in set(data) - set(allowed))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(allowed)})", f"{prefix}{unknown[0]}"
        )


def _section(data: dict, key: str) -> dict:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"'{key}' must be a mapping, got {type(value).__name__}", key)
    return dict(value)


def _build(cls: type, key: str, values: dict) -> Any:
    """``cls(**values)`` with unknown keys refused and YAML's ``1e-3`` strings as floats."""
    names = [f.name for f in fields(cls)]
    _known(values, tuple(names), f"{key}.")
    defaults = {f.name: f.default for f in fields(cls)}
    for name, value in list(values.items()):
        if isinstance(defaults.get(name), float) and isinstance(value, str):
            try:
                values[name] = float(value)
            except ValueError:
                raise ConfigError(f"{name} must be a number, got {value!r}", f"{key}.{name}") from None
    try:
        return cls(**values)
    except JointNASError as exc:
        if exc.where and not exc.where.startswith(f"{key}."):
            exc.where = f"{key}.{exc.where}"
        raise
    except TypeError as exc:  # a list where a scalar belongs, ...
        raise ConfigError(f"bad value in section '{key}': {exc}", key) from None


__all__ = ["EnsembleConfig", "read_config"]

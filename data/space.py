"""The joint architecture x recipe search space.

A :class:`SearchSpace` is two ordered lists of variables (``arch`` and ``recipe``),
optional upper limits on named costs (``constraints``), an optional model spec saying
which builder turns the arch part into a network, and an optional documented default
pair. Configs are plain dicts ``{variable name: value}``; batches of configs are lists
of dicts or pandas DataFrames with one column per variable.

Example:
    >>> space = SearchSpace(arch=[Categorical("k", (3, 5))], recipe=[Float("lr", 1e-3, 1.0, log=True)])
    >>> pool = space.sample_qmc(8, seed=0)
    >>> space.encode(pool).shape
    (8, 3)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence, Union

import numpy as np
import pandas as pd
from scipy.stats import qmc

from ..errors import JointNASError, SpaceError
from .model_spec import ModelSpec
from .variables import Categorical, Float, Integer, Variable, variable_from_dict
from .yaml_io import load_yaml, write_yaml

SPACE_KEYS = ("name", "model", "arch", "recipe", "constraints", "default")

Config = dict[str, Any]
Configs = Union[Sequence[Config], pd.DataFrame]
Seed = Union[int, np.random.Generator, None]


def as_rng(seed: Seed) -> np.random.Generator:
    """A numpy Generator from a seed, or the Generator itself."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


class SearchSpace:
    """Architecture and recipe variables searched together.

    Args:
        arch: variables that define the network.
        recipe: variables that define how it is trained.
        constraints: upper limits on named costs, e.g. ``{"flops": 5e6}``.
        name: a label for reports.
        model: the builder and data shape for the arch part; ``None`` for tabular spaces.
        default: a documented reference pair (a full config), validated.
        source: the file the space was read from, if any: errors found later (when the
            space is trained, or decoded as a supernet) name it. Not part of the
            fingerprint.

    Raises:
        SpaceError: duplicate names, empty space, invalid constraints or default.
    """

    def __init__(
        self,
        arch: Iterable[Variable],
        recipe: Iterable[Variable] = (),
        constraints: dict[str, float] | None = None,
        name: str = "space",
        model: ModelSpec | None = None,
        default: Config | None = None,
        source: str | None = None,
    ) -> None:
        self.source = source
        self.arch: tuple[Variable, ...] = tuple(arch)
        self.recipe: tuple[Variable, ...] = tuple(recipe)
        self.variables: tuple[Variable, ...] = self.arch + self.recipe
        if not self.variables:
            raise SpaceError("the space has no variables")
        for v in self.variables:
            if not isinstance(v, (Categorical, Integer, Float)):
                raise SpaceError(f"{v!r} is not a Categorical, Integer or Float variable")
        names = [v.name for v in self.variables]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SpaceError(f"duplicate variable name(s): {', '.join(dupes)}")
        self.names: tuple[str, ...] = tuple(names)
        self.arch_names: tuple[str, ...] = tuple(v.name for v in self.arch)
        self.recipe_names: tuple[str, ...] = tuple(v.name for v in self.recipe)
        self._by_name = {v.name: v for v in self.variables}
        self.constraints: dict[str, float] = _check_constraints(constraints or {})
        self.name = str(name)
        self.model = model
        self.default: Config | None = self.validate(default, where="default") if default else None
        self.arch_width = sum(v.width for v in self.arch)
        self.width = self.arch_width + sum(v.width for v in self.recipe)

    # -- introspection -----------------------------------------------------------------
    def __getitem__(self, name: str) -> Variable:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self.variables)

    def __repr__(self) -> str:
        return (
            f"SearchSpace(name={self.name!r}, arch={len(self.arch)} variables, "
            f"recipe={len(self.recipe)} variables, constraints={self.constraints})"
        )

    def size(self) -> float:
        """Number of distinct configs (``inf`` when a float variable has a range)."""
        total = 1.0
        for v in self.variables:
            total *= v.levels if v.levels is not None else (1 if v.low == v.high else math.inf)
        return total

    def fingerprint(self) -> str:
        """Stable hash of the variables and model spec (not name, constraints or default).

        Two spaces with the same fingerprint encode configs identically, so a predictor
        trained on one can score the other.
        """
        body = {
            "arch": [v.to_dict() for v in self.arch],
            "recipe": [v.to_dict() for v in self.recipe],
            "model": self.model.to_dict() if self.model else None,
        }
        blob = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    # -- validation --------------------------------------------------------------------
    def validate(self, config: Any, where: str | None = None, part: str = "all") -> Config:
        """Check a config and return it with values normalized to the space's types.

        Args:
            config: mapping of variable name to value.
            where: location for error messages (file, row).
            part: ``all``, ``arch`` or ``recipe``: which variables the config must hold.

        Raises:
            SpaceError: unknown or missing variable, or a value not allowed.
        """
        if not isinstance(config, dict):
            raise SpaceError(f"a config must be a mapping of variable names to values, got {config!r}", where)
        names = self._part_names(part)
        unknown = [k for k in config if k not in names]
        if unknown:
            raise SpaceError(
                f"unknown variable(s) {', '.join(map(str, unknown))} (space variables: {', '.join(names)})",
                where,
            )
        missing = [n for n in names if n not in config]
        if missing:
            raise SpaceError(f"missing variable(s) {', '.join(missing)}", where)
        try:
            return {n: self._by_name[n].check(config[n]) for n in names}
        except SpaceError as exc:
            raise exc.at(where) if where else exc from None

    def is_valid(self, config: Any) -> bool:
        """True when :meth:`validate` would accept the config."""
        try:
            self.validate(config)
        except SpaceError:
            return False
        return True

    def split(self, config: Config) -> tuple[Config, Config]:
        """Split a config into its arch and recipe parts."""
        return ({n: config[n] for n in self.arch_names}, {n: config[n] for n in self.recipe_names})

    # -- encoding ----------------------------------------------------------------------
    def columns(self, configs: Configs, names: Sequence[str] | None = None) -> dict[str, Any]:
        """Column per variable from a list of configs or a DataFrame.

        Raises:
            SpaceError: a config lacks a variable.
        """
        names = self.names if names is None else names
        if isinstance(configs, pd.DataFrame):
            missing = [n for n in names if n not in configs.columns]
            if missing:
                raise SpaceError(f"missing variable column(s) {', '.join(missing)}")
            return {n: configs[n] for n in names}
        try:
            return {n: pd.Series([c[n] for c in configs], dtype=object).infer_objects() for n in names}
        except KeyError as exc:
            raise SpaceError(f"a config is missing variable {exc.args[0]!r}") from None

    def encode(self, configs: Configs) -> np.ndarray:
        """Encode configs as a float32 matrix (one-hot categoricals, [0, 1]-scaled numbers).

        Columns follow the arch variables, then the recipe variables, in space order.

        Raises:
            SpaceError: a config is missing a variable or holds a value outside the space.
        """
        return self._encode(configs, self.variables, self.width)

    def encode_arch(self, configs: Configs) -> np.ndarray:
        """Encode only the arch part (the first :attr:`arch_width` columns of :meth:`encode`)."""
        return self._encode(configs, self.arch, self.arch_width)

    def encode_recipe(self, configs: Configs) -> np.ndarray:
        """Encode only the recipe part (the last columns of :meth:`encode`)."""
        return self._encode(configs, self.recipe, self.width - self.arch_width)

    def _encode(self, configs: Configs, variables: Sequence[Variable], width: int) -> np.ndarray:
        cols = self.columns(configs, [v.name for v in variables])
        n = len(configs)
        out = np.empty((n, width), dtype=np.float32)
        start = 0
        for v in variables:
            out[:, start : start + v.width] = v.encode(cols[v.name])
            start += v.width
        return out

    def decode(self, matrix: np.ndarray, frame: bool = False) -> list[Config] | pd.DataFrame:
        """Inverse of :meth:`encode` (argmax for one-hot blocks, rounding for integers)."""
        matrix = np.asarray(matrix)
        if matrix.ndim != 2 or matrix.shape[1] != self.width:
            raise SpaceError(f"cannot decode a matrix of shape {matrix.shape}: expected (n, {self.width})")
        cols, start = {}, 0
        for v in self.variables:
            cols[v.name] = v.decode(matrix[:, start : start + v.width])
            start += v.width
        return self._output(cols, frame)

    # -- sampling ----------------------------------------------------------------------
    def from_unit(self, unit: np.ndarray, frame: bool = False) -> list[Config] | pd.DataFrame:
        """Map points of the unit cube (one column per variable) to configs."""
        unit = np.asarray(unit, dtype=np.float64)
        if unit.ndim != 2 or unit.shape[1] != len(self.variables):
            raise SpaceError(f"unit points must have shape (n, {len(self.variables)}), got {unit.shape}")
        cols = {v.name: v.from_unit(unit[:, j]) for j, v in enumerate(self.variables)}
        return self._output(cols, frame)

    def to_unit(self, configs: Configs) -> np.ndarray:
        """Map configs to the unit cube (cell centres for discrete variables)."""
        cols = self.columns(configs)
        return np.column_stack([v.to_unit(cols[v.name]) for v in self.variables])

    def sample(self, n: int, seed: Seed = None, frame: bool = False) -> list[Config] | pd.DataFrame:
        """Draw ``n`` configs uniformly at random (log-uniform for log-scaled floats)."""
        return self.from_unit(as_rng(seed).random((n, len(self.variables))), frame)

    def sample_qmc(
        self, n: int, seed: int | None = None, frame: bool = False, skip: int = 0
    ) -> list[Config] | pd.DataFrame:
        """Draw ``n`` configs from a scrambled Sobol sequence (space-filling).

        Args:
            n: number of configs; powers of two keep Sobol's balance properties.
            seed: scramble seed; the same seed gives the same pool.
            frame: return a DataFrame instead of a list of dicts.
            skip: drop the first ``skip`` points (continue an earlier pool).
        """
        sobol = qmc.Sobol(d=len(self.variables), scramble=True, seed=seed)
        if skip:
            sobol.fast_forward(skip)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # balance warning for n not 2**m
            points = sobol.random(n)
        return self.from_unit(points, frame)

    def mutate(
        self, config: Config, seed: Seed = None, k: int = 1, names: Sequence[str] | None = None
    ) -> Config:
        """Return a copy of ``config`` with exactly ``k`` variables changed to new valid values.

        Args:
            config: a valid config.
            seed: an int or a numpy Generator.
            k: how many variables to change.
            names: variables allowed to change (default: all with more than one value).

        Raises:
            SpaceError: fewer than ``k`` variables can change.
        """
        rng = as_rng(seed)
        pool = [
            n
            for n in (names or self.names)
            if self._by_name[n].levels != 1 and not _fixed_float(self._by_name[n])
        ]
        if k > len(pool):
            raise SpaceError(f"cannot change {k} variables: only {len(pool)} can take another value")
        child = dict(config)
        for j in rng.choice(len(pool), size=k, replace=False):
            name = pool[int(j)]
            child[name] = self._by_name[name].mutate(config[name], rng)
        return child

    def mutate_unit(
        self, unit: np.ndarray, seed: Seed = None, k: int = 1, names: Sequence[str] | None = None
    ) -> np.ndarray:
        """Vectorized :meth:`mutate` on unit-cube rows (see :meth:`to_unit`): no per-row Python.

        Each row gets exactly ``k`` distinct variables changed: a discrete one moves to
        the centre of another cell (uniform over the other values), a float one is drawn
        anew. Returns a new array; discrete columns of the result are cell centres.

        Raises:
            SpaceError: fewer than ``k`` variables can change.
        """
        rng, unit = as_rng(seed), np.array(unit, dtype=np.float64)
        cols = np.array(
            [
                j
                for j, v in enumerate(self.variables)
                if (names is None or v.name in names) and v.levels != 1 and not _fixed_float(v)
            ],
            dtype=np.int64,
        )
        if k > len(cols):
            raise SpaceError(f"cannot change {k} variables: only {len(cols)} can take another value")
        n = len(unit)
        which = cols[np.argsort(rng.random((n, len(cols))), axis=1)[:, :k]].ravel()
        rows = np.repeat(np.arange(n), k)
        levels = np.array([v.levels or 0 for v in self.variables], dtype=np.int64)[which]
        draw = rng.random(len(rows))
        old = np.minimum((unit[rows, which] * levels).astype(np.int64), np.maximum(levels - 1, 0))
        new = (old + 1 + (draw * (levels - 1)).astype(np.int64)) % np.maximum(levels, 1)
        unit[rows, which] = np.where(levels > 0, (new + 0.5) / np.maximum(levels, 1), draw)
        return unit

    def mutate_frame(
        self, frame: pd.DataFrame, seed: Seed = None, k: int = 1, names: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """:meth:`mutate` applied to every row of a frame at once (unchanged cells kept as is)."""
        unit = self.to_unit(frame)
        mutated = self.mutate_unit(unit, seed, k, names)
        new = self.from_unit(mutated, frame=True)
        out = frame[list(self.names)].reset_index(drop=True)
        for j, name in enumerate(self.names):
            changed = mutated[:, j] != unit[:, j]
            if changed.any():
                out[name] = new[name].where(changed, out[name])
        return out

    # -- frames ------------------------------------------------------------------------
    def frame(self, configs: Configs) -> pd.DataFrame:
        """Configs as a DataFrame with one column per variable, in space order."""
        return pd.DataFrame(self.columns(configs)).reset_index(drop=True)

    def configs(self, table: pd.DataFrame) -> list[Config]:
        """Rows of a table as configs with plain Python values."""
        cols = {n: table[n].to_numpy(dtype=object).tolist() for n in self.names}
        return [dict(zip(cols, row)) for row in zip(*cols.values())]

    def _output(self, cols: dict[str, np.ndarray], frame: bool) -> list[Config] | pd.DataFrame:
        if frame:
            return pd.DataFrame({n: pd.Series(c).infer_objects() for n, c in cols.items()})
        lists = [np.asarray(cols[n]).tolist() for n in self.names]
        return [dict(zip(self.names, row)) for row in zip(*lists)]

    def _part_names(self, part: str) -> tuple[str, ...]:
        parts = {"all": self.names, "arch": self.arch_names, "recipe": self.recipe_names}
        if part not in parts:
            raise ValueError(f"part must be one of {', '.join(parts)}")
        return parts[part]

    # -- files -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Definition as a YAML-ready mapping."""
        out: dict[str, Any] = {"name": self.name}
        if self.model:
            out["model"] = self.model.to_dict()
        out["arch"] = [v.to_dict() for v in self.arch]
        out["recipe"] = [v.to_dict() for v in self.recipe]
        if self.constraints:
            out["constraints"] = dict(self.constraints)
        if self.default:
            out["default"] = dict(self.default)
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str | None = None, source: str | None = None) -> "SearchSpace":
        """Build a space from its YAML mapping (``source``: the file it was read from, if
        any); errors name ``where``.

        Raises:
            SpaceError: unknown keys, invalid variables, constraints, model or default.
        """
        try:
            if not isinstance(data, dict):
                raise SpaceError("a space file must be a mapping with 'arch' and optional 'recipe'")
            unknown = sorted(set(data) - set(SPACE_KEYS))
            if unknown:
                raise SpaceError(
                    f"unknown key(s) {', '.join(map(str, unknown))} (allowed: {', '.join(SPACE_KEYS)})"
                )
            arch = [variable_from_dict(e) for e in _entries(data, "arch")]
            recipe = [variable_from_dict(e) for e in _entries(data, "recipe")]
            return cls(
                arch,
                recipe,
                constraints=data.get("constraints"),
                name=data.get("name", Path(where).stem if where else "space"),
                model=ModelSpec.from_dict(data.get("model")),
                default=data.get("default"),
                source=source,
            )
        except JointNASError as exc:
            raise exc.at(where) if where else exc from None

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "SearchSpace":
        """Read a space from a YAML file (see ``configs/digits.yaml``).

        Raises:
            ConfigError: missing file or malformed YAML.
            SpaceError: an invalid definition, located at the file.
        """
        return cls.from_dict(load_yaml(path), str(path), source=str(path))

    def to_yaml(self, path: str | os.PathLike) -> None:
        """Write the space to a YAML file that :meth:`from_yaml` reads back."""
        write_yaml(self.to_dict(), path)


def _entries(data: dict, key: str) -> list:
    entries = data.get(key) or []
    if not isinstance(entries, list):
        raise SpaceError(f"'{key}' must be a list of variables, got {type(entries).__name__}")
    return entries


def _fixed_float(v: Variable) -> bool:
    return isinstance(v, Float) and v.low == v.high


def _check_constraints(constraints: Any) -> dict[str, float]:
    if not isinstance(constraints, dict):
        raise SpaceError(f"constraints must be a mapping of cost name to upper limit, got {constraints!r}")
    out = {}
    for key, limit in constraints.items():
        if isinstance(limit, str):
            try:
                limit = float(limit)
            except ValueError:
                pass
        if not isinstance(limit, (int, float)) or isinstance(limit, bool) or not limit > 0:
            raise SpaceError(f"constraint '{key}': limit {limit!r} must be a positive number")
        out[str(key)] = float(limit)
    return out

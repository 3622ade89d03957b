"""Search-space variables: frozen dataclasses that validate themselves and own their encoding.

Each variable maps between four representations:

* a *value* (what a config holds: ``3``, ``"relu"``, ``0.01``),
* a *unit* coordinate in ``[0, 1)`` (what random and Sobol samplers draw),
* an *encoding* block of ``width`` float columns (what predictors read),
* a boolean *validity* mask over a column of raw values (what table checks use).

All conversions work on whole numpy columns at once.

Example:
    >>> lr = Float("lr", 1e-3, 1.0, log=True)
    >>> float(lr.encode(np.array([0.1]))[0, 0])  # doctest: +ELLIPSIS
    0.666...
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from numbers import Integral, Real
from typing import Any, Union

import numpy as np
import pandas as pd

from ..errors import SpaceError

Value = Union[str, int, float, bool]


def _fmt(values: Any) -> str:
    return ", ".join(str(v) for v in values)


def show_value(value: Any) -> str:
    """``repr`` of a value with numpy scalars shown as plain Python values."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


class _Checked:
    """Scalar validation shared by all variable types (each defines ``invalid``)."""

    def check(self, value: Any) -> Value:
        """Return ``value`` in the variable's own type; raise :class:`SpaceError` if not allowed."""
        if self.invalid(np.array([value], dtype=object))[0]:
            raise SpaceError(
                f"variable '{self.name}': value {show_value(value)} not allowed ({self.allowed()})"
            )
        return self._normalize(value)


@dataclass(frozen=True)
class Categorical(_Checked):
    """A choice among a fixed list of values, one-hot encoded.

    Args:
        name: variable name, unique within a space.
        choices: allowed values (strings, numbers or booleans), at least one, no repeats.
    """

    name: str
    choices: tuple[Value, ...]
    kind: str = field(default="categorical", init=False, repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        choices = tuple(self.choices) if isinstance(self.choices, (list, tuple)) else None
        if not choices:
            raise SpaceError(f"variable '{self.name}': choices must be a non-empty list")
        for c in choices:
            if not isinstance(c, (str, int, float, bool)):
                raise SpaceError(
                    f"variable '{self.name}': choice {c!r} is a {type(c).__name__}; "
                    "allowed: strings, numbers, booleans"
                )
        keys = [(type(c) is bool, c) for c in choices]
        if len(set(keys)) != len(keys):
            raise SpaceError(f"variable '{self.name}': repeated choices in [{_fmt(choices)}]")
        object.__setattr__(self, "choices", choices)

    @property
    def width(self) -> int:
        """Number of encoding columns."""
        return len(self.choices)

    @property
    def levels(self) -> int:
        """Number of distinct values."""
        return len(self.choices)

    def allowed(self) -> str:
        """Human-readable list of allowed values."""
        return f"one of {_fmt(self.choices)}"

    def index(self, values: np.ndarray) -> np.ndarray:
        """Index of each value in ``choices`` (-1 where it is not a choice).

        Booleans match only boolean choices and numbers only numeric ones, so ``True``
        is not the choice ``1``.
        """
        series, family = _typed(values)
        codes = np.full(len(series), -1, dtype=np.int64)
        if family == "mixed":
            lookup = {(_family(c), c): i for i, c in enumerate(self.choices)}
            return np.fromiter((lookup.get((_family(v), v), -1) for v in series), np.int64, len(series))
        if family in self._lookup:
            members, index = self._lookup[family]
            found = index.get_indexer(series)
            codes = np.where(found >= 0, members[found], -1)
        return codes

    @cached_property
    def _lookup(self) -> dict[str, tuple[np.ndarray, pd.Index]]:
        """Per type family: positions of its choices and an index to find them (built once)."""
        out = {}
        for family in ("bool", "str", "number"):
            members = [i for i, c in enumerate(self.choices) if _family(c) == family]
            if members:
                out[family] = (np.asarray(members), pd.Index([self.choices[i] for i in members]))
        return out

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map unit coordinates to values (object array)."""
        idx = np.minimum((np.asarray(u) * self.levels).astype(np.int64), self.levels - 1)
        return np.array(self.choices, dtype=object)[idx]

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """Map values to the centre of their unit cell."""
        return (self.index(values) + 0.5) / self.levels

    def encode(self, values: np.ndarray) -> np.ndarray:
        """One-hot encode values; raises on a value that is not a choice."""
        idx = self.index(values)
        _raise_invalid(self, values, idx < 0)
        out = np.zeros((len(idx), self.width), dtype=np.float32)
        out[np.arange(len(idx)), idx] = 1.0
        return out

    def decode(self, block: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`encode` (argmax of each row)."""
        return np.array(self.choices, dtype=object)[np.argmax(block, axis=1)]

    def invalid(self, values: np.ndarray) -> np.ndarray:
        """Boolean mask of values that are not choices."""
        return self.index(values) < 0

    def _normalize(self, value: Any) -> Value:
        return self.choices[self.index(np.array([value], dtype=object))[0]]

    def mutate(self, value: Value, rng: np.random.Generator) -> Value:
        """Return a different choice, drawn uniformly."""
        others = [c for c in self.choices if not (c == value and type(c) is type(value))]
        return others[rng.integers(len(others))]

    def to_dict(self) -> dict[str, Any]:
        """Definition as written in a space YAML file."""
        return {"name": self.name, "type": "categorical", "choices": list(self.choices)}


@dataclass(frozen=True)
class Integer(_Checked):
    """An integer on the grid ``low, low + step, ..., high``, scaled to [0, 1].

    Args:
        name: variable name.
        low: smallest value.
        high: largest value; ``high - low`` must be a multiple of ``step``.
        step: grid spacing, at least 1.
    """

    name: str
    low: int
    high: int
    step: int = 1
    kind: str = field(default="int", init=False, repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        for key in ("low", "high", "step"):
            v = getattr(self, key)
            if not isinstance(v, Integral) or isinstance(v, bool):
                raise SpaceError(f"variable '{self.name}': {key}={v!r} must be an integer")
            object.__setattr__(self, key, int(v))
        if self.low > self.high:
            raise SpaceError(f"variable '{self.name}': low={self.low} > high={self.high}")
        if self.step < 1:
            raise SpaceError(f"variable '{self.name}': step={self.step} must be >= 1")
        if (self.high - self.low) % self.step:
            raise SpaceError(
                f"variable '{self.name}': high={self.high} is not low={self.low} plus a multiple "
                f"of step={self.step}"
            )

    width = 1

    @property
    def levels(self) -> int:
        """Number of grid values."""
        return (self.high - self.low) // self.step + 1

    def allowed(self) -> str:
        """Human-readable range."""
        step = f" step {self.step}" if self.step != 1 else ""
        return f"integers {self.low}..{self.high}{step}"

    def _numeric(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Float view of values and a mask of the ones that are not on the grid."""
        x, bad = _as_float(values)
        off = np.isnan(x) | (x < self.low) | (x > self.high)
        off |= np.where(off, False, np.mod(np.nan_to_num(x) - self.low, self.step) != 0)
        return x, bad | off

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map unit coordinates to grid values."""
        idx = np.minimum((np.asarray(u) * self.levels).astype(np.int64), self.levels - 1)
        return self.low + self.step * idx

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """Map values to the centre of their unit cell."""
        x, _ = _as_float(values)
        return ((x - self.low) / self.step + 0.5) / self.levels

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Scale to [0, 1]; raises on values off the grid."""
        x, bad = self._numeric(values)
        _raise_invalid(self, values, bad)
        span = self.high - self.low
        scaled = (x - self.low) / span if span else np.zeros_like(x)
        return scaled.astype(np.float32)[:, None]

    def decode(self, block: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`encode`, rounded to the grid."""
        idx = np.rint(np.clip(block[:, 0], 0, 1) * (self.levels - 1)).astype(np.int64)
        return self.low + self.step * idx

    def invalid(self, values: np.ndarray) -> np.ndarray:
        """Boolean mask of values off the grid or not integers."""
        return self._numeric(values)[1]

    def _normalize(self, value: Any) -> int:
        return int(value)

    def mutate(self, value: int, rng: np.random.Generator) -> int:
        """Return a different grid value, drawn uniformly."""
        idx = (int(value) - self.low) // self.step
        new = rng.integers(self.levels - 1)
        return self.low + self.step * int(new + (new >= idx))

    def to_dict(self) -> dict[str, Any]:
        """Definition as written in a space YAML file."""
        return {"name": self.name, "type": "int", "low": self.low, "high": self.high, "step": self.step}


@dataclass(frozen=True)
class Float(_Checked):
    """A real number in ``[low, high]``, scaled to [0, 1] (in log space when ``log``).

    Args:
        name: variable name.
        low: smallest value (> 0 when ``log``).
        high: largest value.
        log: sample and encode on a log scale.
    """

    name: str
    low: float
    high: float
    log: bool = False
    kind: str = field(default="float", init=False, repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        for key in ("low", "high"):
            v = getattr(self, key)
            if not _is_number(v) or not math.isfinite(v):
                raise SpaceError(f"variable '{self.name}': {key}={v!r} must be a finite number")
            object.__setattr__(self, key, float(v))
        if not isinstance(self.log, bool):
            raise SpaceError(f"variable '{self.name}': log={self.log!r} must be true or false")
        if self.low > self.high:
            raise SpaceError(f"variable '{self.name}': low={self.low} > high={self.high}")
        if self.log and self.low <= 0:
            raise SpaceError(f"variable '{self.name}': log scale needs low > 0, got low={self.low}")

    width = 1
    levels = None

    def allowed(self) -> str:
        """Human-readable range."""
        return f"numbers in [{self.low:g}, {self.high:g}]" + (" (log scale)" if self.log else "")

    def _bounds(self) -> tuple[float, float]:
        return (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map unit coordinates to values."""
        lo, hi = self._bounds()
        x = lo + np.asarray(u, dtype=np.float64) * (hi - lo)
        return np.clip(np.exp(x) if self.log else x, self.low, self.high)

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """Map values to [0, 1]."""
        x, _ = _as_float(values)
        lo, hi = self._bounds()
        if hi == lo:
            return np.full_like(x, 0.5)
        with np.errstate(divide="ignore", invalid="ignore"):
            return ((np.log(x) if self.log else x) - lo) / (hi - lo)

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Scale to [0, 1]; raises on values out of range."""
        bad = self.invalid(values)
        _raise_invalid(self, values, bad)
        lo, hi = self._bounds()
        if hi == lo:
            return np.zeros((len(bad), 1), dtype=np.float32)
        return self.to_unit(values).astype(np.float32)[:, None]

    def decode(self, block: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`encode`."""
        return self.from_unit(np.clip(block[:, 0].astype(np.float64), 0.0, 1.0))

    def invalid(self, values: np.ndarray) -> np.ndarray:
        """Boolean mask of values that are not numbers in range."""
        x, bad = _as_float(values)
        with np.errstate(invalid="ignore"):
            return bad | ~((x >= self.low) & (x <= self.high))

    def _normalize(self, value: Any) -> float:
        return float(value)

    def mutate(self, value: float, rng: np.random.Generator) -> float:
        """Return a new value drawn uniformly (in log space when ``log``)."""
        return float(self.from_unit(rng.random(1))[0])

    def to_dict(self) -> dict[str, Any]:
        """Definition as written in a space YAML file."""
        return {"name": self.name, "type": "float", "low": self.low, "high": self.high, "log": self.log}


Variable = Union[Categorical, Integer, Float]

#: YAML ``type`` names and the keyword arguments each accepts.
VARIABLE_TYPES: dict[str, tuple[type, tuple[str, ...]]] = {
    "categorical": (Categorical, ("choices",)),
    "int": (Integer, ("low", "high", "step")),
    "float": (Float, ("low", "high", "log")),
}


def variable_from_dict(entry: Any) -> Variable:
    """Build a variable from its YAML mapping (``{name, type, ...}``).

    Raises:
        SpaceError: unknown type, unknown or missing keys, or invalid bounds.
    """
    if not isinstance(entry, dict):
        raise SpaceError(f"a variable must be a mapping with name and type, got {entry!r}")
    entry = _numbers(entry)
    name = entry.get("name", "?")
    kind = entry.get("type")
    if kind not in VARIABLE_TYPES:
        raise SpaceError(f"variable '{name}': unknown type {kind!r} (allowed: {_fmt(VARIABLE_TYPES)})")
    cls, keys = VARIABLE_TYPES[kind]
    extra = set(entry) - {"name", "type", *keys}
    if extra:
        raise SpaceError(
            f"variable '{name}': unknown key(s) {_fmt(sorted(extra))} for type {kind} (allowed: {_fmt(keys)})"
        )
    if "name" not in entry:
        raise SpaceError(f"a variable of type {kind} has no name")
    try:
        return cls(**{k: v for k, v in entry.items() if k != "type"})
    except TypeError as exc:
        raise SpaceError(f"variable '{name}': missing keys (needs {_fmt(keys)}): {exc}") from None


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


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise SpaceError(f"variable name {name!r} must be an identifier (letters, digits, _)")


def _family(value: Any) -> str:
    """Type family used for matching: ``bool``, ``number`` or ``str``."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, str):
        return "str"
    return "number" if _is_number(value) else "other"


_INFERRED = {
    "boolean": "bool",
    "string": "str",
    "integer": "number",
    "floating": "number",
    "mixed-integer-float": "number",
    "decimal": "number",
}


def _typed(values: Any) -> tuple[pd.Series, str]:
    """A column as a pandas Series and its type family (``mixed`` when it has several)."""
    series = (
        values
        if isinstance(values, pd.Series)
        else pd.Series(np.asarray(values, dtype=object) if isinstance(values, list) else values)
    )
    kind = series.dtype.kind
    if kind == "b":
        return series, "bool"
    if kind in "iuf":
        return series, "number"
    if kind in "OUS":
        family = _INFERRED.get(pd.api.types.infer_dtype(series, skipna=False), "mixed")
        if family == "number":
            series = series.astype(np.float64)
        return series, family
    return series, "mixed"


def _as_float(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Numeric float view of a column and a mask of entries that were not numbers."""
    series, family = _typed(values)
    if family == "number":
        return series.to_numpy(dtype=np.float64), np.zeros(len(series), dtype=bool)
    if family != "mixed":
        return np.full(len(series), np.nan), np.ones(len(series), dtype=bool)
    not_number = np.fromiter((not _is_number(v) for v in series), bool, len(series))
    x = pd.to_numeric(series.where(~not_number), errors="coerce").to_numpy(dtype=np.float64)
    return x, not_number


def _raise_invalid(var: Variable, values: np.ndarray, bad: np.ndarray) -> None:
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise SpaceError(
            f"variable '{var.name}': value {show_value(np.asarray(values, dtype=object)[i])} not allowed "
            f"({var.allowed()})",
            where=f"config {i}",
        )

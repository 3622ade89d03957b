"""Sample tables: one row per evaluated (arch, recipe) pair.

A table is a pandas DataFrame with one column per space variable and metric columns
such as ``acc``, ``val_acc``, ``test_acc``, ``flops``, ``params``, ``seconds``,
``status`` and per-epoch validation accuracies ``acc_e1 .. acc_eK``. Tables are read
and written as CSV (optionally gzipped) or parquet, chosen by the file suffix.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import TableError
from .atomic import atomic_path
from .space import SearchSpace
from .variables import show_value

SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
ACCURACY_COLUMNS = ("acc", "val_acc", "valid_acc")
"""Accuracy columns a predictor learns by default, in order of preference: ``acc`` (what
``search coarse`` writes: accuracy at the early-stop epoch), then ``val_acc`` (a fully
trained pair's validation accuracy, e.g. the development tables)."""
_EPOCH = re.compile(r"^acc_e(\d+)$")


def _format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    raise TableError(f"unknown table format (allowed suffixes: {', '.join(SUFFIXES)})", str(path))


def read_table(path: str | os.PathLike, as_text: bool = False) -> pd.DataFrame:
    """Read a sample table from CSV or parquet.

    Args:
        path: a ``.csv`` or ``.parquet`` file.
        as_text: CSV only: every cell as the string in the file (``00000001`` stays
            ``00000001``, an empty cell stays empty), to pass columns through unchanged.

    Raises:
        TableError: the file is missing, has an unknown suffix or cannot be parsed.
    """
    path = Path(path)
    fmt = _format(path)
    if not path.is_file():
        raise TableError("table file not found", str(path))
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        if as_text:
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        return pd.read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TableError(f"cannot read table: {first}", str(path)) from None


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a table atomically (complete or not at all) as CSV or parquet by suffix."""
    path = Path(path)
    fmt = _format(path)
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False, compression="gzip" if path.name.endswith(".gz") else None)


def validate_table(
    table: pd.DataFrame,
    space: SearchSpace,
    where: str | None = None,
    require: Sequence[str] = (),
    part: str = "all",
) -> pd.DataFrame:
    """Check that a table holds every variable of the space with allowed values.

    Args:
        table: the sample table.
        space: the space its variable columns must fit.
        where: file name for error messages.
        require: other columns that must exist (e.g. the target ``acc``).
        part: which variables must be present: ``all``, ``arch`` or ``recipe``.

    Returns:
        The table itself, for chaining.

    Raises:
        TableError: a missing variable or required column, or a value outside the space
            (naming the row, the column and the allowed values).
    """
    names = space._part_names(part)
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise TableError(f"missing variable column(s) {', '.join(missing)}", where)
    absent = [c for c in require if c not in table.columns]
    if absent:
        raise TableError(
            f"missing column(s) {', '.join(absent)} (columns: {', '.join(map(str, table.columns))})", where
        )
    for name in names:
        var = space[name]
        bad = var.invalid(table[name])
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise TableError(
                f"row {i + 1}, column '{name}': value {show_value(table[name].iloc[i])} not allowed "
                f"({var.allowed()}; {int(bad.sum())} bad row(s) in all)",
                where,
            )
    return table


def accuracy_column(table: pd.DataFrame) -> str:
    """The table's first column among :data:`ACCURACY_COLUMNS`.

    Raises:
        TableError: the table has none of them (naming the columns it has).
    """
    found = next((c for c in ACCURACY_COLUMNS if c in table.columns), None)
    if found is None:
        cols = ", ".join(map(str, table.columns[:12])) + (", ..." if len(table.columns) > 12 else "")
        raise TableError(
            f"no accuracy column ({', '.join(ACCURACY_COLUMNS)}): give the target "
            f"column explicitly (--target); the table has {cols or 'no columns'}"
        )
    return found


def epoch_columns(table: pd.DataFrame) -> list[str]:
    """Per-epoch accuracy columns ``acc_e1 .. acc_eK`` sorted by epoch."""
    found = [(int(m.group(1)), c) for c in table.columns if (m := _EPOCH.match(str(c)))]
    return [c for _, c in sorted(found)]


def usable_rows(table: pd.DataFrame, target: str) -> np.ndarray:
    """Rows that finished (``status`` is ``ok`` when the column exists) with a finite target."""
    values = pd.to_numeric(table[target], errors="coerce").to_numpy(dtype=np.float64)
    mask = np.isfinite(values)
    if "status" in table.columns:
        mask &= (table["status"].astype(str) == "ok").to_numpy()
    return mask

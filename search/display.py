"""Plain-text tables and numbers for the terminal."""

from __future__ import annotations

import numbers
from typing import Sequence

import pandas as pd


def format_number(value: float, digits: int = 4) -> str:
    """A number the one way every table and message prints it: ``2.5e5``, ``0.9812``, ``500``.

    ``digits`` significant digits; exponents without ``+`` or leading zeros (``2.5e5``,
    ``1e-5``, not ``2.5e+05``); NaN as ``-``.
    """
    value = float(value)
    if value != value:
        return "-"
    mantissa, e, exponent = f"{value:.{digits}g}".partition("e")
    return f"{mantissa}e{int(exponent)}" if e else mantissa


def _cell(value: object) -> str:
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return format_number(float(value))  # floats (numpy's too); NaN as "-"
    return str(value)


def format_table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """Format a frame as an aligned markdown table (floats by :func:`format_number`, NaN as ``-``)."""
    columns = list(frame.columns if columns is None else columns)
    rows = [[_cell(v) for v in row] for row in frame[columns].itertuples(index=False)]
    widths = [max([len(str(c))] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |"

    out = [line([str(c) for c in columns]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)

"""Plain-text tables for the terminal."""

from __future__ import annotations

from typing import Sequence

import pandas as pd


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.4g}"  # NaN: no value
    return str(value)


def format_table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """Format a frame as an aligned markdown table (floats to 4 significant digits, NaN as ``-``)."""
    columns = list(frame.columns if columns is None else columns)
    rows = [[_cell(v) for v in row] for row in frame[columns].itertuples(index=False)]
    widths = [max([len(str(c))] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    line = lambda cells: "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |"
    out = [line([str(c) for c in columns]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)

"""From tables and configs to the arrays the predictor trains on.

:func:`cost_targets` gathers architectures and their costs for pretraining;
:func:`usable_targets` picks the rows of a measured table that a fit can use. Both raise
:class:`~jointnas.errors.JointNASError` subclasses that name what is wrong, and warn
(counting them) about rows they skip.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..data.space import Configs, SearchSpace
from ..data.tables import usable_rows, validate_table
from ..errors import PredictorError

CostsFn = Callable[[SearchSpace, pd.DataFrame], pd.DataFrame]


def cost_targets(
    space: SearchSpace,
    data: Configs | None,
    n: int,
    targets: Sequence[str],
    costs: CostsFn | pd.DataFrame | None,
    seed: int,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Architectures and their free label values (costs, proxies) for pretraining.

    Args:
        space: the search space.
        data: architectures (configs or a table with the arch columns); ``None`` draws
            ``n`` from a scrambled Sobol sequence seeded with ``seed``.
        n: pool size when ``data`` is ``None``.
        targets: cost columns.
        costs: a callable ``costs(space, frame)``, a DataFrame aligned with the
            architectures, or ``None``: a table's own columns.
        seed: Sobol scramble seed.

    Returns:
        ``(frame, values)``: the architectures with at least one finite label and a
        ``(rows, len(targets))`` array, NaN where a label is missing.

    Raises:
        TableError: a table lacks an arch variable or holds a value outside the space.
        PredictorError: no target, a missing target column, or a target all missing.
    """
    targets = list(targets)
    if not targets:
        raise PredictorError("pretraining needs at least one cost target")
    if data is None:
        frame = space.sample_qmc(n, seed=seed, frame=True)
    elif isinstance(data, pd.DataFrame):
        frame = validate_table(data, space, part="arch").reset_index(drop=True)
    else:
        frame = pd.DataFrame(space.columns(data, space.arch_names))
    if isinstance(costs, pd.DataFrame):
        table = costs.reset_index(drop=True)
        if len(table) != len(frame):
            raise PredictorError(f"costs has {len(table)} rows for {len(frame)} architectures")
    elif costs is not None:
        table = costs(space, frame)
    elif isinstance(data, pd.DataFrame):
        table = frame
    else:
        raise PredictorError(
            f"pretraining targets {', '.join(targets)} need their values: pass a table holding "
            "them, or costs= a function costs(space, frame) (for model spaces "
            "jointnas.recipes.space_costs; the predictor builds no network itself)"
        )
    missing = [t for t in targets if t not in table.columns]
    if missing:
        raise PredictorError(
            f"pretraining target column(s) {', '.join(missing)} not found "
            f"(columns: {', '.join(map(str, table.columns))})"
        )
    values = table.loc[:, targets].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    values[~np.isfinite(values)] = np.nan  # missing: masked out of the pretraining loss
    empty = [t for t, col in zip(targets, values.T) if np.isnan(col).all()]
    if empty:
        raise PredictorError(
            f"every value of pretraining target {', '.join(empty)} is missing (NaN or infinite)"
        )
    keep = ~np.isnan(values).all(axis=1)
    if not keep.all():
        warnings.warn(
            f"pretraining skips {int((~keep).sum())} of {len(keep)} rows with no "
            f"finite value of {', '.join(targets)}",
            stacklevel=3,
        )
    return frame.loc[keep].reset_index(drop=True), values[keep]


def usable_targets(
    space: SearchSpace, table: pd.DataFrame, target: str, minimum: int = 2, warn: bool = True
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Rows of a measured table a fit (or a score) can use, and their target values.

    Args:
        space: the space the variable columns must fit.
        table: the measured table.
        target: the accuracy column.
        minimum: fewest usable rows accepted.
        warn: warn, counting them, when rows are skipped.

    Returns:
        ``(rows, y, skipped)``: rows with status ok and a finite target, their values,
        and how many rows were skipped.

    Raises:
        TableError: a missing variable or target column, or a value outside the space.
        PredictorError: fewer than ``minimum`` usable rows.
    """
    validate_table(table, space, require=(target,))
    mask = usable_rows(table, target)
    skipped = int((~mask).sum())
    if mask.sum() < minimum:
        raise PredictorError(
            f"{int(mask.sum())} usable row(s) of {len(table)} for target "
            f"'{target}': need at least {minimum} with status ok and a value"
        )
    if skipped and warn:
        warnings.warn(
            f"fit skips {skipped} of {len(table)} rows (status not ok or missing '{target}')", stacklevel=3
        )
    rows = table.loc[mask]
    return rows, pd.to_numeric(rows[target]).to_numpy(dtype=np.float64), skipped


__all__ = ["CostsFn", "cost_targets", "usable_targets"]

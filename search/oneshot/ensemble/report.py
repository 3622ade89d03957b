"""Run-folder outputs of an ensemble search: member YAMLs, a summary, a member table.

``write_run(result, out, info)`` writes, atomically:

* ``members/member_XX.yaml`` -- one per trained candidate: its genotype, the ``lambda``
  it came from, its shared edges with ``alpha*``, accuracies, time, ``selected``;
* ``alpha_star.yaml`` -- the DARTS architecture;
* ``summary.yaml`` -- chosen members, ensemble and member accuracies (val, test),
  diversity (mean pairwise shared edges, the ``lambda`` values, shared edges with
  ``alpha*``), time per phase (wall and CPU) and ``info`` (config, seed, device);
* ``members.csv`` -- the member table printed by the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ....data.atomic import atomic_path
from ....data.space_io import write_yaml
from .edgenes import EnsembleResult
from .selection import pairwise_shared


def members_frame(result: EnsembleResult) -> pd.DataFrame:
    """One row per candidate: lambda, shared edges with alpha*, accuracies, selection."""
    chosen = set(result.selection.indices)
    rows = [
        {
            "member": i,
            "source": m.source,
            "lambda": m.lam,
            "shared_star": m.shared_with_star,
            "val_acc": m.val_acc,
            "test_acc": m.test_acc,
            "seconds": m.seconds,
            "selected": "yes" if i in chosen else "",
        }
        for i, m in enumerate(result.members)
    ]
    return pd.DataFrame(rows)


def ensemble_frame(result: EnsembleResult) -> pd.DataFrame:
    """Rows comparing the chosen ensemble with the best single member (the greedy first pick)."""
    best = result.members[result.selection.path[0][0][0]]
    return pd.DataFrame(
        [
            {
                "model": "best single member (val)",
                "members": 1,
                "val_acc": best.val_acc,
                "test_acc": best.test_acc,
            },
            {
                "model": "ensemble",
                "members": len(result.selection.indices),
                "val_acc": result.val_acc,
                "test_acc": result.test_acc,
            },
        ]
    )


def summary(result: EnsembleResult, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``summary.yaml`` mapping."""
    chosen = result.selection.indices
    return {
        **(info or {}),
        "selected": [f"member_{i:02d}" for i in chosen],
        "ensemble": {
            "size": len(chosen),
            "val_acc": result.val_acc,
            "test_acc": result.test_acc,
            "greedy_path": [
                {"members": [f"member_{i:02d}" for i in idx], "val_acc": acc, "val_nll": nll}
                for idx, acc, nll in result.selection.path
            ],
        },
        "members": [
            {
                "name": f"member_{i:02d}",
                "lambda": m.lam,
                "shared_with_alpha_star": m.shared_with_star,
                "val_acc": m.val_acc,
                "test_acc": m.test_acc,
                "selected": i in chosen,
            }
            for i, m in enumerate(result.members)
        ],
        "diversity": {
            **result.diversity,
            "lambdas_chosen": [result.members[i].lam for i in chosen],
            "pairwise_shared_chosen": pairwise_shared([result.members[i].genotype for i in chosen]).tolist(),
        },
        "seconds": result.seconds,
        "cpu_seconds": result.cpu_seconds,
        "alpha_star": result.alpha_star.to_dict(),
    }


def write_run(result: EnsembleResult, out: str | Path, info: dict[str, Any] | None = None) -> list[Path]:
    """Write the run folder; returns the paths written."""
    out = Path(out)
    written = []
    chosen = set(result.selection.indices)
    for i, m in enumerate(result.members):
        path = out / "members" / f"member_{i:02d}.yaml"
        write_yaml({"name": f"member_{i:02d}", "selected": i in chosen, **m.describe()}, path)
        written.append(path)
    write_yaml({"alpha_star": result.alpha_star.to_dict()}, out / "alpha_star.yaml")
    write_yaml(summary(result, info), out / "summary.yaml")
    with atomic_path(out / "members.csv") as tmp:
        members_frame(result).to_csv(tmp, index=False)
    return written + [out / "alpha_star.yaml", out / "summary.yaml", out / "members.csv"]


__all__ = ["ensemble_frame", "members_frame", "summary", "write_run"]

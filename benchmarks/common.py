"""Pieces the benchmark scripts share: paths, NAS-Bench-Graph tables and small helpers.

The scripts put ``benchmarks/`` on ``sys.path`` and import this module as ``common``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jointnas.data import Categorical, Float, SearchSpace

ROOT = Path(__file__).resolve().parents[1]
NBG = Path(os.environ.get("NASBENCH_GRAPH", "/work/shared/benchmarks/nasbench-graph/nasbench_graph.csv.gz"))
NBG_OPS = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
NBG_TARGET = "valid_acc"
NBG_COSTS = ("params_m", "latency_s")  # free architecture costs of every NAS-Bench-Graph row
DIGITS = ROOT / "benchmarks" / "data" / "digits_joint.csv"
DIGITS_SPACE = ROOT / "configs" / "digits.yaml"
JOINT_TABLES = {  # trained development tables: name -> (table, space)
    "digits": (DIGITS, DIGITS_SPACE),
    "mnist1d": (ROOT / "benchmarks" / "data" / "mnist1d_joint.csv", ROOT / "configs" / "mnist1d.yaml"),
}


def seed_noise(table: pd.DataFrame, target: str = "val_acc") -> tuple[int, float]:
    """Rows trained with a second seed (``<target>_2``) and the Kendall tau between the two
    seeds over them: the noise ceiling of any predictor of ``target``."""
    from scipy.stats import kendalltau

    second = f"{target}_2"
    if second not in table.columns:
        return 0, float("nan")
    both = table[[target, second]].apply(pd.to_numeric, errors="coerce").dropna()
    if len(both) < 3:
        return len(both), float("nan")
    return len(both), float(kendalltau(both[target], both[second]).statistic)


def nasbench_graph_table(name: str) -> tuple[pd.DataFrame, SearchSpace]:
    """The rows of one NAS-Bench-Graph dataset and its tabular space (topology, four node ops)."""
    frame = pd.read_csv(NBG)
    table = frame[frame["dataset"] == name].reset_index(drop=True)
    if table.empty:
        raise SystemExit(f"unknown NAS-Bench-Graph dataset {name!r}")
    arch = [Categorical("topology_id", tuple(range(9)))]
    arch += [Categorical(f"op_node{i}", NBG_OPS) for i in range(1, 5)]
    return table, SearchSpace(arch, name=f"nasbench-graph-{name}")


def recipe_effect(frame: pd.DataFrame, scale: float) -> np.ndarray:
    """The synthetic recipe effect of ``<dataset>+recipe`` tables, added to the measured accuracy.

    ``-scale * (log10(lr) - best)^2 / 2``, ``best`` = -1 for sgd and -2.5 for adam: an lr x
    optimizer interaction like the digits table's; 0 at the best lr.
    """
    best = np.where(frame["optimizer"] == "adam", -2.5, -1.0)
    return -scale * (np.log10(frame["lr"].to_numpy(dtype=np.float64)) - best) ** 2 / 2


def with_recipe(space: SearchSpace) -> SearchSpace:
    """``space``'s architecture with the recipe of :func:`recipe_effect` (lr, optimizer)."""
    recipe = [Float("lr", 1e-3, 1.0, log=True), Categorical("optimizer", ("sgd", "adam"))]
    return SearchSpace(list(space.arch), recipe, name=f"{space.name}+recipe")


def parse_value(text: str) -> Any:
    """An override value: int, float, bool, None or string."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def quartiles(values: list[float]) -> str:
    """``median [25th, 75th percentile]`` of ``values``."""
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return f"{q2:.4g} [{q1:.4g}, {q3:.4g}]"


def report_path(parser: argparse.ArgumentParser, args: argparse.Namespace, default: Path) -> Path | None:
    """``--out`` if given; else ``default`` for a run with every option at its default
    (``--jobs`` and ``--no-cache`` aside: they change only the speed), which refreshes the
    committed results;
    else ``None`` (a partial run only prints)."""
    if args.out is not None:
        return args.out
    full = all(
        getattr(args, k) == parser.get_default(k) for k in vars(args) if k not in ("out", "jobs", "no_cache")
    )
    return default if full else None


def write_report(lines: list[str], out: Path | None, started: float) -> None:
    """Append and print the total time since ``started``, then write ``lines`` to ``out``
    (when given)."""
    lines.append(f"Total time {time.perf_counter() - started:.0f} s.")
    print(lines[-1])
    if out is None:
        print("partial run: report not written (pass --out FILE to keep it)")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


_CACHES: dict[Path, tuple[int, dict[str, dict]]] = {}  # path -> (size read, entries), per process


def read_cache(cache: Path) -> dict[str, dict]:
    """The entries of a JSON-lines cache by their ``key`` (re-read when the file grew; a
    line cut by a kill is skipped)."""
    size = cache.stat().st_size if cache.is_file() else 0
    if cache not in _CACHES or _CACHES[cache][0] != size:
        entries = {}
        for line in cache.read_text().splitlines() if size else []:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            entries[entry["key"]] = entry
        _CACHES[cache] = (size, entries)
    return _CACHES[cache][1]


def append_cache(cache: Path, entry: dict[str, Any]) -> None:
    """Append one entry (with a ``key``) as one line: appends from parallel jobs stay whole."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("a") as f:
        f.write(json.dumps(entry) + "\n")

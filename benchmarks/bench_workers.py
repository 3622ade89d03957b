"""Coarse search throughput with 1 and 2 local workers: does anyone wait for a batch?

Each row is one coarse run on a measured table whose evaluator sleeps ``--sleep``
seconds per pair (a stand-in for training), with the predictor at its defaults. Rows:
the asynchronous default and batch mode, each with 1 and 2 workers. Per row: pairs per
minute (from the first pair's start to the last pair's end), the ratio to the same mode
with 1 worker, refits and the coordinator's fitting time as a share of the wall time.
Target: the asynchronous default with 2 workers reaches >= 1.8x the pairs per minute of
1 worker. All rows run in one invocation, one after another (compare ratios, not times).

Usage:
    python benchmarks/bench_workers.py               # mnist1d table, 48 pairs, 1 s per pair
    python benchmarks/bench_workers.py --pairs 24 --sleep 0.5 --out /tmp/w.md
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from jointnas.search.coarse import CoarseSearch
from jointnas.search.settings import SearchSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import JOINT_TABLES, ROOT, report_path, write_report  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "workers.md"


def run(
    table: Path, space: Path, mode: str, workers: int, pairs: int, sleep: float, folder: Path, predictor: dict
) -> dict:
    """One coarse run; its pairs per minute, refits and fitting share."""
    schedule = {"batch": pairs // 4, "iterations": 4} if mode == "batch" else {"budget_trials": pairs}
    settings = SearchSettings(
        space=str(space),
        name=f"{mode}{workers}",
        runs_dir=str(folder),
        evaluator={"type": "table", "table": str(table), "sleep": sleep},
        workers=workers,
        predictor=predictor,
        **schedule,
    )
    started = time.perf_counter()
    result = CoarseSearch(settings, progress=False).run()
    total = time.perf_counter() - started
    n = len(result.samples)
    wall = result.wall_seconds or total
    return {
        "mode": mode,
        "workers": workers,
        "pairs": n,
        "wall": wall,
        "total": total,
        "per_min": 60 * n / wall,
        "refits": result.refits,
        "fit": result.fit_seconds,
        "space_filling": int((result.samples["iteration"] == 1).sum()),
        "schedule": settings.schedule.describe(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist1d", choices=sorted(JOINT_TABLES))
    parser.add_argument("--pairs", type=int, default=48, help="pairs per run")
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds per pair")
    parser.add_argument(
        "--n-models", type=int, default=None, help="predictor ensemble size (default: the predictor's)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"markdown file (default {OUT.relative_to(ROOT)} for a default run)",
    )
    args = parser.parse_args(argv)
    out = report_path(parser, args, OUT)
    started = time.perf_counter()
    table, space = JOINT_TABLES[args.dataset]
    predictor = {"n_models": args.n_models} if args.n_models else {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("async", "batch"):
            for workers in (1, 2):
                rows.append(run(table, space, mode, workers, args.pairs, args.sleep, Path(tmp), predictor))
                print(rows[-1], flush=True)
    base = {r["mode"]: r["per_min"] for r in rows if r["workers"] == 1}
    lines = [
        "# Coarse search throughput with local workers",
        "",
        f"Table {args.dataset} ({table.name}), {args.pairs} pairs per run, evaluator sleeping "
        f"{args.sleep:g} s per pair, predictor at its defaults"
        + (f" but n_models={args.n_models}" if args.n_models else "")
        + ". Wall = first pair's "
        "start to last pair's end; fitting share = refit seconds / wall (asynchronous mode only: "
        "batch mode fits between rounds while nobody trains); space-filling = pairs of round 1 "
        "(the start set, and in asynchronous mode the Sobol pairs idle workers took while the "
        "first fit ran).",
        "",
        "| mode | workers | schedule | pairs | space-filling | wall s | pairs/min | vs 1 worker "
        "| refits | fitting share |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        share = f"{r['fit'] / r['wall']:.0%}" if r["refits"] else "-"
        lines.append(
            f"| {r['mode']} | {r['workers']} | {r['schedule']} | {r['pairs']} | {r['space_filling']} | "
            f"{r['wall']:.1f} | "
            f"{r['per_min']:.1f} | {r['per_min'] / base[r['mode']]:.2f}x | {r['refits'] or '-'} | "
            f"{share} |"
        )
    ratio = next(r["per_min"] for r in rows if r["mode"] == "async" and r["workers"] == 2) / base["async"]
    lines += [
        "",
        f"Asynchronous default, 2 workers vs 1: {ratio:.2f}x the pairs per minute "
        f"(target >= 1.8x: {'met' if ratio >= 1.8 else 'MISSED'}).",
        "",
    ]
    print("\n".join(lines))
    write_report(lines, out, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``search report``: plots, tables and a ``report.md`` summary of a run folder."""

from __future__ import annotations

import argparse

from ...cli_base import Command
from ..report import RunFolder, write_report


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="run folder (runs/NAME)")
    p.add_argument("--space", help="space YAML (default: the one stored with the run)")
    p.add_argument("--storage", help="the run's storage URL (default RUN/study.db)")
    p.add_argument("--seed", type=int, default=0, help="seed of the held-out predictor (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _run(args: argparse.Namespace) -> int:
    run = RunFolder.open(args.run, space=args.space, storage=args.storage)
    out = write_report(run, seed=args.seed, progress=not args.quiet)
    if "heldout_tau" in out:
        print(f"predictor on held-out trials ({out['heldout_method']}): Kendall tau {out['heldout_tau']:.3f}")
    for line in out.get("verify_failures", []):
        print(line)
    if "verify_tau" in out:
        print(out["verify_tau"].line())
    print("wrote: " + ", ".join(str(p) for p in out["files"]))
    return 0


REPORT = Command(
    "report",
    "plots and a report.md summary of a run (Pareto front, predicted vs "
    "true accuracy, tau by epoch, accuracy over trials)",
    _add_arguments,
    _run,
)

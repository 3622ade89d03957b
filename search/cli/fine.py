"""``search fine``: predictor-only evolution from a coarse run's best pairs.

Reads the run folder (space and settings from its study, ``predictor.pt``,
``samples.csv``), runs :func:`~jointnas.search.fine.fine_search` and writes
``fine.csv``, ``best_<budget>.yaml`` and ``pareto.png`` into the folder; ``--verify K``
then trains the top K pairs with the run's evaluator, writes ``verify.csv``, redraws
``pareto.png`` with their measured accuracy and prints them with why any failed and the
predicted-vs-measured Kendall tau (:func:`~jointnas.search.verify.verified_tau`). Bad
input is refused before anything is written.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from ...cli_base import Command
from ...data.tables import read_table, write_table
from ...errors import ConfigError
from ..display import format_number, format_table
from ..fine import FineResult, budget_label, fine_search
from ..pool import CostFn
from ..report import BEST_COLUMNS, RunFolder, plot_pareto, write_fine
from ..verify import compare_with_default, failure_lines, verified_tau, verify_pairs, verify_view


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="folder of a coarse run (runs/NAME)")
    p.add_argument("--predictor", help="predictor file (default RUN/predictor.pt)")
    p.add_argument("--space", help="space YAML (default: the one stored with the run)")
    p.add_argument("--storage", help="the run's storage URL (default RUN/study.db)")
    p.add_argument(
        "--table",
        help="start from this table's best pairs instead of the run's samples "
        "(its arch costs also serve tabular spaces)",
    )
    p.add_argument("--population", type=int, default=128, help="population size (default 128)")
    p.add_argument("--children", type=int, help="children per generation (default: population)")
    p.add_argument("--mutations", type=int, default=1, help="variables changed per child (default 1)")
    p.add_argument("--crossover", type=float, default=0.0, help="crossover probability (default 0)")
    p.add_argument("--tol", type=float, default=1e-4, help="least gain that counts (default 1e-4)")
    p.add_argument(
        "--patience", type=int, default=5, help="generations without gain before stopping (default 5)"
    )
    p.add_argument("--max-generations", type=int, default=1000, help="generation cap (default 1000)")
    p.add_argument("--max-flops", type=float, help="upper limit on FLOPs for every pair")
    p.add_argument("--max-params", type=float, help="upper limit on parameters for every pair")
    p.add_argument("--budgets", help="FLOPs budgets answered in one run, e.g. 1e6,2e6,4e6")
    p.add_argument(
        "--risk",
        type=float,
        default=0.0,
        help="score by predicted mean - RISK * ensemble std (default 0: the mean)",
    )
    p.add_argument(
        "--predicted-only",
        action="store_true",
        help="rank the run's trained pairs by their prediction too (default: by their "
        "measured accuracy at the early-stop epoch, the predictor's target, so a "
        "pair is returned over them only when predicted to beat them)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument(
        "--verify",
        type=int,
        default=0,
        metavar="K",
        help="train the top K pairs with the run's evaluator and compare",
    )
    p.add_argument(
        "--verify-seeds",
        type=int,
        default=1,
        metavar="S",
        help="train each verified pair with S training seeds (the run's, +1, ...) and report "
        "the mean and standard deviation (default 1; needs the train evaluator for S > 1)",
    )
    p.add_argument(
        "--compare-default",
        action="store_true",
        help="with --verify: also train the space's default pair, for reference",
    )
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads while scoring (default 1: batches are small)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def parse_budgets(text: str | None) -> list[float] | None:
    """``"1e6,2e6"`` -> ``[1e6, 2e6]``.

    Raises:
        ConfigError: a budget that is not a positive number.
    """
    if not text:
        return None
    out = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            value = float("nan")
        if not value > 0 or not np.isfinite(value):
            raise ConfigError(
                f"--budgets: {part.strip()!r} is not a positive number of FLOPs (give e.g. 1e6,2e6,4e6)"
            )
        out.append(value)
    return out


def _check(args: argparse.Namespace) -> None:
    if not args.tol > 0:
        raise ConfigError(f"--tol must be > 0, got {args.tol:g}")
    for flag, value in (("--patience", args.patience), ("--max-generations", args.max_generations)):
        if value < 1:
            raise ConfigError(f"{flag} must be >= 1, got {value}")
    for flag, value in (("--max-flops", args.max_flops), ("--max-params", args.max_params)):
        if value is not None and not value > 0:
            raise ConfigError(f"{flag} must be > 0, got {value:g}")
    if args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    if args.verify < 0:
        raise ConfigError(f"--verify must be >= 0, got {args.verify}")
    if args.verify_seeds < 1:
        raise ConfigError(f"--verify-seeds must be >= 1, got {args.verify_seeds}")


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Use ``n`` torch threads inside the block (oversubscribed threads slow small batches)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def print_summary(result: FineResult, run: RunFolder, written: list[Path]) -> None:
    """Per budget: predicted and measured accuracy, FLOPs, params; then generations, candidates, seconds."""
    best = result.best.assign(budget=[budget_label(b) for b in result.best["budget"]])
    cols = [c for c in BEST_COLUMNS if c in best.columns]
    print(
        f"\nfine search on {run.path}: {result.generations} generations ({result.stopped}), "
        f"{result.scored:,} candidates scored in {result.seconds:.1f} s; "
        f"Pareto front {len(result.pareto)} pairs"
    )
    print(format_table(best, cols))
    print("\noutputs: " + ", ".join(str(p) for p in written))


def _run(args: argparse.Namespace) -> int:
    from ...predictor.estimator import AccuracyPredictor

    _check(args)
    budgets = parse_budgets(args.budgets)
    run = RunFolder.open(args.run, space=args.space, storage=args.storage)
    path = Path(args.predictor) if args.predictor else run.path / "predictor.pt"
    if not args.predictor and not path.is_file():
        raise ConfigError(
            "no predictor.pt in the run folder: let the coarse run finish (it needs "
            "2 ok pairs) or pass --predictor",
            str(run.path),
        )
    predictor = AccuracyPredictor.load(path, space=run.space)
    evaluators = run.evaluators(args.verify_seeds) if args.verify else None
    table = read_table(args.table) if args.table else None
    limits = run.limits()
    limits.update({k: v for k, v in (("flops", args.max_flops), ("params", args.max_params)) if v})
    cost_fn = run.cost_fn(table, args.table)
    with torch_threads(args.threads):
        result = fine_search(
            run.space,
            predictor,
            init=run.best_pairs(args.population, table, args.table),
            population=args.population,
            children=args.children,
            mutations=args.mutations,
            crossover=args.crossover,
            budgets=budgets,
            limits=limits,
            tol=args.tol,
            patience=args.patience,
            max_generations=args.max_generations,
            seed=args.seed,
            cost_fn=cost_fn,
            risk=args.risk,
            measured=None if args.predicted_only else run.measured_pairs(),
            progress=not args.quiet,
        )
    written = write_fine(result, run)
    print_summary(result, run, written)
    if evaluators is not None:
        verified = _verify(args, run, predictor, result, cost_fn, evaluators)
        write_table(verified, run.path / "verify.csv")
        wrote = [run.path / "verify.csv"]
        if plot_pareto(result.table(), run.path / "pareto.png", run.samples, verified):
            wrote.append(run.path / "pareto.png")  # now with the verified accuracies
        print_verified(verified, args.verify_seeds)
        _print_comparison(compare_with_default(verified))
        print("wrote " + ", ".join(str(p) for p in wrote))
    return 0


def _verify(
    args: argparse.Namespace,
    run: RunFolder,
    predictor: Any,
    result: FineResult,
    cost_fn: CostFn,
    evaluators: list[Any],
) -> pd.DataFrame:
    """Train the top ``--verify`` pairs (and the default pair with ``--compare-default``)."""
    verified = verify_pairs(
        run.space, evaluators, result.top(args.verify, run.space), progress=not args.quiet
    )
    if args.compare_default and run.space.default:
        default = run.space.frame([run.space.default])
        default = pd.concat(
            [
                default.assign(kind="default", pred_acc=predictor.predict(default)),
                cost_fn(run.space, default),
            ],
            axis=1,
        )
        reference = verify_pairs(run.space, evaluators, default, progress=not args.quiet, desc="default pair")
        verified = pd.concat([verified, reference], ignore_index=True)
    return verified


def print_verified(verified: pd.DataFrame, seeds: int) -> None:
    """The verified pairs' table, why any is not ok, and the predicted-vs-measured Kendall tau."""
    mean = f", mean of {seeds} training seeds" if seeds > 1 else ""
    print(
        f"\nverified pairs ({len(verified)}, full schedules{mean}): pred_acc is predicted, "
        "val_acc and test_acc are measured"
    )
    print(format_table(verify_view(verified)))
    for line in failure_lines(verified):
        print(line)
    print(verified_tau(verified).line())


def _print_comparison(comparison: pd.DataFrame) -> None:
    """One line per found pair at most as costly as the default: gains in pooled stds."""
    if comparison.empty or comparison["val_acc_beats"].isna().all():
        return
    print(
        "\nfound pairs at <= the default's FLOPs vs the default (gain in points; beats: "
        "gain > 2 pooled std of the seeds' runs):"
    )
    for _, row in comparison.iterrows():
        parts = [
            f"{m.split('_')[0]} {100 * row[f'{m}_gain']:+.2f} "
            f"(2 pooled std {200 * row[f'{m}_pooled_std']:.2f}: "
            f"{'beats' if row[f'{m}_beats'] else 'does not beat'})"
            for m in ("val_acc", "test_acc")
        ]
        budget = pd.to_numeric(pd.Series([row["budget"]]), errors="coerce").iloc[0]
        label = f"budget {format_number(budget)}" if np.isfinite(budget) else f"{row['kind']} pair"
        print(f"  {label}, {format_number(row['flops'])} FLOPs: " + "; ".join(parts))


FINE = Command(
    "fine", "fine search: evolve pairs by predicted accuracy under FLOPs budgets", _add_arguments, _run
)

"""``search coarse`` and ``search worker``."""

from __future__ import annotations

import argparse
from typing import Any

from ...cli_base import DEVICE_DEFAULT, Command, add_device_argument, positive_float, positive_int
from ...data.datasets import DATASETS
from ...data.tables import read_table
from ...errors import ConfigError
from ..coarse import TARGET, CoarseResult, CoarseSearch
from ..display import format_table
from ..settings import SearchSettings, load_settings, parse_budget
from ..workers import run_worker


def _add_coarse_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="search config YAML (e.g. configs/demo.yaml); flags override it")
    p.add_argument("--space", help="space YAML (instead of, or overriding, the config's)")
    p.add_argument("--name", help="run name: outputs go to RUNS_DIR/NAME (default 'run')")
    p.add_argument("--runs-dir", help="parent folder of runs (default 'runs')")
    p.add_argument(
        "--storage",
        help="Optuna storage URL: sqlite:///F.db, postgresql://..., "
        "journal:F.log (default RUNS_DIR/NAME/study.db)",
    )
    p.add_argument("--evaluator", choices=["train", "table"], help="train pairs or look them up")
    p.add_argument("--table", help="results table for the table evaluator (CSV/parquet)")
    p.add_argument("--target", help="accuracy column of the table evaluator")
    p.add_argument(
        "--dataset", help=f"dataset of the train evaluator: one of {', '.join(DATASETS)} (default digits)"
    )
    p.add_argument("--root", help="dataset root folder")
    add_device_argument(p, default=None, note=f"the config's evaluator device, else {DEVICE_DEFAULT}")
    p.add_argument(
        "--pool", type=positive_int, help="Sobol pool size (default: 100 per pair of the budget, 20k to 200k)"
    )
    p.add_argument(
        "--start",
        type=positive_int,
        help="space-filling pairs trained in full first (default: by the budget)",
    )
    p.add_argument(
        "--refit-every",
        type=positive_int,
        help="finished pairs between predictor refits (default: by the budget)",
    )
    p.add_argument(
        "--batch", type=positive_int, help="batch mode (FBNetV3's rounds): pairs per iteration (default 48)"
    )
    p.add_argument("--iterations", type=positive_int, help="batch mode: iterations (default 4)")
    p.add_argument("--threshold", type=float, help="early-stop Kendall tau threshold (default 0.9)")
    p.add_argument("--no-early-stop", action="store_true", help="train every pair in full")
    p.add_argument("--max-flops", type=positive_float, help="upper limit on FLOPs")
    p.add_argument("--max-params", type=positive_float, help="upper limit on parameters")
    p.add_argument("--seed", type=int, help="seed (default 0)")
    p.add_argument("--explore", type=float, help="weight of the predictor ensemble's std (default 0)")
    p.add_argument(
        "--selection",
        choices=("thompson", "mean"),
        help="batch picking: members take turns (thompson, default) or top ensemble mean",
    )
    p.add_argument("--budget", help="stop after N pairs (200) or a time (2h, 30m)")
    p.add_argument("--workers", type=int, help="local worker processes (default 0: in process)")
    p.add_argument(
        "--resume", action="store_true", help="re-queue pairs left running by a killed run at once"
    )
    p.add_argument("--retry-failed", action="store_true", help="evaluate failed pairs again")
    p.add_argument("--warm-start", help="import earlier results from a sample table")
    p.add_argument(
        "--final-eval",
        action="store_true",
        help="train the found pair and the default pair in full at the end",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def settings_from_args(args: argparse.Namespace) -> SearchSettings:
    """Merge a search config file with command-line overrides."""
    over: dict[str, Any] = {
        "space": args.space,
        "name": args.name,
        "runs_dir": args.runs_dir,
        "storage": args.storage,
        "pool": args.pool,
        "batch": args.batch,
        "iterations": args.iterations,
        "start": args.start,
        "refit_every": args.refit_every,
        "threshold": args.threshold,
        "seed": args.seed,
        "explore": args.explore,
        "selection": args.selection,
        "workers": args.workers,
    }
    if args.no_early_stop:
        over["early_stop"] = False
    if args.final_eval:
        over["final_eval"] = True
    if args.budget:
        over["budget_trials"], over["budget_hours"] = parse_budget(args.budget)
    limits = {k: v for k, v in (("flops", args.max_flops), ("params", args.max_params)) if v}
    if args.config:
        settings = load_settings(args.config, **over)
    elif args.space:
        settings = SearchSettings(**{k: v for k, v in over.items() if v is not None})
    else:
        raise ConfigError("give --config or --space")
    settings.constraints = {**settings.constraints, **limits}
    ev = dict(settings.evaluator)
    kind = args.evaluator or ("table" if args.table else None)
    if kind and kind != ev.get("type"):
        ev = {"type": kind}
    for key, value in (
        ("table", args.table),
        ("target", args.target),
        ("dataset", args.dataset),
        ("root", args.root),
        ("device", args.device),
    ):
        if value is not None:
            ev[key] = value
    settings.evaluator = ev
    settings.check()
    return settings


def print_summary(result: CoarseResult) -> None:
    """Print the run's summary table and output paths."""
    s = result.samples
    ok = s[s["status"] == "ok"] if len(s) else s
    print(f"\ncoarse search: {len(s)} pairs evaluated ({len(ok)} ok) in {result.run_dir}")
    if result.queued:
        print(
            f"time budget spent: {result.queued} queued pair(s) left; run the same command again to continue"
        )
    if result.refits:
        share = result.fit_seconds / result.wall_seconds if result.wall_seconds else 0.0
        print(
            f"predictor refits: {result.refits}, {result.fit_seconds:.1f} s of fitting "
            f"({share:.0%} of the {result.wall_seconds:.0f} s from first to last pair)"
        )
    if result.early_stop:
        e = result.early_stop
        print(
            f"early stop at epoch {e.epoch} (Kendall tau >= {e.threshold:g} over {e.runs} full runs; "
            f"mean full schedule {e.full_epochs_mean:.1f} epochs)"
        )
    if len(ok):
        cols = [
            c
            for c in (
                "trial",
                "iteration",
                TARGET,
                "val_acc",
                "test_acc",
                "flops",
                "params",
                "epochs_run",
                "seconds",
            )
            if c in ok.columns
        ]
        print("\nbest pairs (by accuracy at the early-stop epoch):")
        print(format_table(ok.sort_values(TARGET, ascending=False).head(5), cols))
    if result.final is not None:
        print("\nfound pair vs default pair, trained in full:")
        print(format_table(result.final))
    outputs = ["samples.csv", "predictor.pt", "best.yaml", "early_stop.json", "tau_by_epoch.png"]
    print(
        "\noutputs: " + ", ".join(str(result.run_dir / o) for o in outputs if (result.run_dir / o).exists())
    )


def _run_coarse(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    warm = read_table(args.warm_start) if args.warm_start else None
    search = CoarseSearch(settings, progress=not args.quiet)
    result = search.run(
        resume=args.resume, retry_failed=args.retry_failed, warm_start=warm, warm_start_where=args.warm_start
    )
    print_summary(result)
    return 0


def _add_worker_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", required=True, help="the coordinator's storage URL")
    p.add_argument("--study", required=True, help="the run name (study name)")
    p.add_argument("--poll", type=positive_float, default=0.5, help="seconds between queue checks")
    p.add_argument("--quiet", action="store_true", help="no progress bar (shown on a terminal only)")


def _run_worker(args: argparse.Namespace) -> int:
    done = run_worker(args.storage, args.study, poll=args.poll, progress=not args.quiet)
    print(f"worker evaluated {done} pair(s)")
    return 0


COARSE = Command(
    "coarse",
    "coarse search: Sobol pool, predictor-ranked batches, early stop",
    _add_coarse_arguments,
    _run_coarse,
)
WORKER = Command(
    "worker", "join a coarse run and evaluate its queued pairs", _add_worker_arguments, _run_worker
)

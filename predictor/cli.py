"""The ``predictor`` console script: pretrain, train, score and evaluate accuracy predictors.

Each subcommand parses its flags and calls library functions; this module is the edge
where costs and zero-cost proxies (:mod:`jointnas.recipes.zero_cost`) are plugged into
pretraining. Results are written atomically: after a failure the ``--out`` file does not
exist (or keeps its earlier content).

Example:
    predictor pretrain --space configs/digits.yaml --n 20000 --out enc.pt
    predictor pretrain --space configs/mnist1d.yaml --n 4096 --dataset mnist1d \\
        --targets flops,params,synflow,nwot --workers 2 --out enc.pt
    predictor train --space configs/digits.yaml --table samples.csv \\
        --encoder enc.pt --n-models 5 --out pred.pt   # target: acc, else val_acc
    predictor score --predictor pred.pt --table pool.csv --out scores.csv
    predictor evaluate --predictor pred.pt --table test.csv  # target: the trained one
"""

from __future__ import annotations

import argparse
import contextlib
import os
from typing import TYPE_CHECKING, Iterator, Sequence

from ..cli_base import Command, positive_int, run_cli
from ..data.space_io import read_space
from ..data.tables import ACCURACY_COLUMNS, accuracy_column, read_table, validate_table, write_table
from ..errors import ConfigError, JointNASError
from .metrics import METRIC_HELP, explain

if TYPE_CHECKING:
    import pandas as pd

    from .estimator import AccuracyPredictor

_DEFAULTS = {"pretrain_epochs": 30, "n_models": 5, "target_transform": "standard"}
""":class:`~.estimator.AccuracyPredictor` defaults that ``--help`` shows (the estimator,
which imports torch, is imported only when a command runs; a test keeps these equal)."""


@contextlib.contextmanager
def _at(where: str | os.PathLike) -> Iterator[None]:
    """Locate user errors raised inside the block at ``where`` (a file)."""
    try:
        yield
    except JointNASError as exc:
        raise exc.at(str(where)) from None


def _names(text: str, flag: str = "--targets") -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise ConfigError(f"{flag} {text!r} names no column")
    return names


def _load(path: str, space=None):
    from .estimator import AccuracyPredictor

    return AccuracyPredictor.load(path, space=space)


def _fitted_and_table(args: argparse.Namespace) -> tuple[AccuracyPredictor, pd.DataFrame]:
    """The fitted predictor of ``--predictor`` and ``--table`` validated against its space.

    Errors are located at the file they come from.
    """
    with _at(args.predictor):
        est = _load(args.predictor)
        est.check_fitted()
    with _at(args.table):
        table = validate_table(read_table(args.table), est.space)
    return est, table


# -- pretrain ------------------------------------------------------------------------------
MIN_PRETRAIN_ARCHS = 16


def _pretrain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", required=True, help="search space YAML")
    p.add_argument(
        "--table",
        help="architectures with free label columns (default: a Sobol pool whose labels are computed)",
    )
    p.add_argument(
        "--targets",
        default="flops,params",
        help="comma list of free labels to predict: columns of --table, or, computed "
        "for a Sobol pool of a space with a model, flops, params and the "
        "zero-cost proxies synflow, nwot, snip, grad_norm, jacov",
    )
    p.add_argument(
        "--n",
        type=int,
        default=20000,
        help=f"Sobol pool size without --table (at least {MIN_PRETRAIN_ARCHS})",
    )
    p.add_argument(
        "--dataset",
        help="dataset of the data-based proxies (nwot, snip, grad_norm, "
        "jacov): one minibatch of its training split",
    )
    p.add_argument("--workers", type=positive_int, default=1, help="processes computing zero-cost proxies")
    p.add_argument(
        "--epochs", type=positive_int, default=_DEFAULTS["pretrain_epochs"], help="pretraining epochs"
    )
    _common_args(p)
    p.add_argument("--out", required=True, help="encoder file to write (.pt)")


def _common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--quiet", action="store_true", help="no progress bar (shown on a terminal only)")


def _pretrain(args: argparse.Namespace) -> int:
    from .estimator import AccuracyPredictor

    space = read_space(args.space)
    targets = _names(args.targets)
    est = AccuracyPredictor(space, seed=args.seed, progress=not args.quiet, pretrain_epochs=args.epochs)
    if args.table:
        with _at(args.table):
            est.pretrain(read_table(args.table), targets=targets)
    else:
        if args.n < MIN_PRETRAIN_ARCHS:
            raise ConfigError(f"--n {args.n}: pretraining needs at least {MIN_PRETRAIN_ARCHS} architectures")
        labels = _label_fn(space, targets, args)
        with _at(args.space):
            est.pretrain(n=args.n, targets=targets, costs=labels)
    est.save(args.out)
    print(f"pretrained encoder on {', '.join(targets)} written to {args.out}")
    return 0


def _label_fn(space, targets: Sequence[str], args: argparse.Namespace):
    """``costs(space, frame)`` computing ``targets`` for sampled architectures: analytic
    costs and zero-cost proxies (the CLI is the edge that plugs recipes in)."""
    from ..recipes.zero_cost import NETWORK_PROXIES, check_proxies, zero_cost_scores

    if space.model is None:
        raise ConfigError(
            f"space {space.name!r} has no model builder, so {', '.join(targets)} "
            "cannot be computed: give a table of them (--table)",
            args.space,
        )
    check_proxies(targets, "--targets")
    data_based = [t for t in targets if t in NETWORK_PROXIES and t != "synflow"]
    bundle = None
    if data_based:
        from ..data.datasets import DATASETS, load_dataset

        if not args.dataset:
            raise ConfigError(
                f"--dataset is needed for {', '.join(data_based)} (one of {', '.join(DATASETS)})"
            )
        bundle = load_dataset(args.dataset)

    def labels(space, frame):
        return zero_cost_scores(
            space,
            frame,
            bundle,
            proxies=targets,
            seed=args.seed,
            workers=args.workers,
            progress=not args.quiet,
        )

    return labels


# -- train ---------------------------------------------------------------------------------
def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", required=True, help="search space YAML")
    p.add_argument("--table", required=True, help="measured sample table (csv or parquet)")
    p.add_argument(
        "--target", help=f"accuracy column (default: the table's first of {', '.join(ACCURACY_COLUMNS)})"
    )
    p.add_argument("--encoder", help="pretrained encoder file from `predictor pretrain`")
    p.add_argument(
        "--n-models",
        type=positive_int,
        default=None,
        help=f"ensemble size (default: the encoder file's, else {_DEFAULTS['n_models']})",
    )
    p.add_argument(
        "--transform",
        choices=("rank", "standard"),
        default=None,
        help=f"target transform (default: the encoder file's, else {_DEFAULTS['target_transform']})",
    )
    p.add_argument(
        "--features",
        help="comma list of extra numeric columns fed to the head "
        "(e.g. zero-cost proxies); tables scored later need them",
    )
    _common_args(p)
    p.add_argument("--out", required=True, help="predictor file to write (.pt)")


def _train(args: argparse.Namespace) -> int:
    from .estimator import AccuracyPredictor

    space = read_space(args.space)
    est = _load(args.encoder, space) if args.encoder else AccuracyPredictor(space)
    overrides = {
        "seed": args.seed,
        "progress": not args.quiet,
        "n_models": args.n_models,
        "target_transform": args.transform,
        "features": _names(args.features, "--features") if args.features else None,
    }
    est.set_params(**{k: v for k, v in overrides.items() if v is not None})
    with _at(args.table):
        table = read_table(args.table)
        target = args.target or accuracy_column(table)
        est.fit(table, target=target)
    est.save(args.out)
    chosen = "" if args.target else f", the first of {', '.join(ACCURACY_COLUMNS)} in the table"
    print(
        f"predictor ({est.n_models} model(s), {est.n_train_} rows, target {target}{chosen}) "
        f"written to {args.out}"
    )
    return 0


# -- score ---------------------------------------------------------------------------------
def _score_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--predictor", required=True, help="predictor file from `predictor train`")
    p.add_argument("--table", required=True, help="candidates (one column per variable)")
    p.add_argument("--out", required=True, help="table to write: the input plus score columns")


def _score(args: argparse.Namespace) -> int:
    est, table = _fitted_and_table(args)
    with _at(args.table):
        pred, std = est.predict(table, return_std=True)
    out = read_table(args.table, as_text=True).assign(score=pred)  # the user's cells, unchanged
    if est.n_models > 1:
        out = out.assign(score_std=std)
    write_table(out, args.out)
    target = f" (predicted {est.target_})" if est.target_ else ""
    print(f"{len(out)} candidates scored{target}, written to {args.out}")
    return 0


# -- evaluate ------------------------------------------------------------------------------
REPORT_METRICS = ("n", "kendall_tau", "spearman", "rmse", "mae", "precision_at_k", "k", "top_n_rank", "n_top")
"""The rows ``predictor evaluate`` prints (:func:`~.metrics.regression_report`'s keys)."""


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--predictor", required=True, help="predictor file from `predictor train`")
    p.add_argument("--table", required=True, help="measured table with the target column")
    p.add_argument("--target", help="true accuracy column (default: the one the predictor was trained on)")
    p.add_argument(
        "--k", type=positive_int, default=None, help="top-k size for precision (default 10%% of the rows)"
    )
    p.add_argument("--n-top", type=positive_int, default=10, help="predicted-best rows top_n_rank looks at")


def _target_note(given: str | None, fitted: str | None) -> str:
    """Where ``evaluate``'s target came from, when the user did not name it."""
    if given:
        return ""
    return " (the predictor's)" if fitted else f" (the table's first of {', '.join(ACCURACY_COLUMNS)})"


def _evaluate(args: argparse.Namespace) -> int:
    est, table = _fitted_and_table(args)
    with _at(args.table):
        target = args.target or est.default_target(table)
        report = est.score(table, target=target, k=args.k, n_top=args.n_top)
    print(f"target: {target}{_target_note(args.target, est.target_)}")
    width = max(len(k) for k in report)
    print(f"{'metric':<{width}}  {'value':<8}  meaning")
    for key, value in report.items():
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {text:<8}  {METRIC_HELP.get(key, '')}".rstrip())
    return 0


COMMANDS = [
    Command(
        "pretrain",
        "pretrain the encoder on free labels: architecture costs and zero-cost proxies",
        _pretrain_args,
        _pretrain,
    ),
    Command("train", "fit the accuracy predictor on a measured table", _train_args, _train),
    Command("score", "score candidates with a trained predictor", _score_args, _score),
    Command(
        "evaluate",
        "print ranking metrics of a predictor on a measured table",
        _evaluate_args,
        _evaluate,
        epilog="printed metrics:\n" + explain(REPORT_METRICS),
    ),
]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``predictor``."""
    return run_cli(
        "predictor", "Accuracy predictors for joint architecture and recipe search.", COMMANDS, argv
    )


if __name__ == "__main__":
    raise SystemExit(main())

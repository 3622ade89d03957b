"""``search sample``: draw Sobol pairs, with costs, until ``--n`` satisfy the constraints."""

from __future__ import annotations

import argparse
import sys

from ...cli_base import Command, positive_float, positive_int
from ...data.space_io import read_space
from ...data.tables import write_table
from ..display import format_table
from ..pool import DRAWS_PER_PAIR, MIN_DRAWS, draw_feasible


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", required=True, help="search space YAML (e.g. configs/digits.yaml)")
    p.add_argument(
        "--n",
        type=positive_int,
        default=16,
        help="feasible pairs to return (pairs are drawn until this many satisfy the constraints)",
    )
    p.add_argument(
        "--max-draws",
        type=positive_int,
        help=f"stop after drawing this many pairs (default: {DRAWS_PER_PAIR} x --n, at least {MIN_DRAWS})",
    )
    p.add_argument("--seed", type=int, default=0, help="Sobol scramble seed")
    p.add_argument("--random", action="store_true", help="uniform random instead of Sobol")
    p.add_argument("--max-flops", type=positive_float, help="upper limit on FLOPs")
    p.add_argument("--max-params", type=positive_float, help="upper limit on parameters")
    p.add_argument("--out", help="write the pairs to this CSV or parquet file (instead of printing them)")


def _run(args: argparse.Namespace) -> int:
    space = read_space(args.space)
    limits = dict(space.constraints)
    if args.max_flops:
        limits["flops"] = args.max_flops
    if args.max_params:
        limits["params"] = args.max_params
    pool, drawn = draw_feasible(
        space, args.n, seed=args.seed, limits=limits, qmc=not args.random, max_draws=args.max_draws
    )
    print(
        f"{space.name}: {len(pool)} pairs within {limits or 'no constraints'}, {drawn} drawn "
        f"(seed {args.seed}, fingerprint {space.fingerprint()})"
    )
    if len(pool) < args.n:
        print(
            f"warning: only {len(pool)} of the {args.n} pairs asked for satisfy the constraints "
            f"in {drawn} draws: relax the limits or raise --max-draws",
            file=sys.stderr,
        )
    if args.out:
        write_table(pool.drop(columns="pool_index"), args.out)
        print(f"wrote {args.out}")
    else:
        print(format_table(pool, [c for c in pool.columns if c != "pool_index"]))
    return 0


SAMPLE = Command(
    "sample",
    "draw (arch, recipe) pairs from a Sobol sequence, with FLOPs/params, until --n satisfy the constraints",
    _add_arguments,
    _run,
)

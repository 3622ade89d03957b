"""``search sample``: draw a Sobol pool of pairs, with costs, cut to the constraints."""

from __future__ import annotations

import argparse

from ..cli_base import Command, positive_float, positive_int
from ..data.space_io import read_space
from ..data.tables import write_table
from .display import format_table
from .pool import draw_pool


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", required=True, help="search space YAML (e.g. configs/digits.yaml)")
    p.add_argument("--n", type=positive_int, default=16, help="pairs to draw (default 16)")
    p.add_argument("--seed", type=int, default=0, help="Sobol scramble seed (default 0)")
    p.add_argument("--random", action="store_true", help="uniform random instead of Sobol")
    p.add_argument("--max-flops", type=positive_float, help="upper limit on FLOPs")
    p.add_argument("--max-params", type=positive_float, help="upper limit on parameters")
    p.add_argument("--out", help="write the pool to this CSV or parquet file")


def _run(args: argparse.Namespace) -> int:
    space = read_space(args.space)
    limits = dict(space.constraints)
    if args.max_flops:
        limits["flops"] = args.max_flops
    if args.max_params:
        limits["params"] = args.max_params
    pool = draw_pool(space, args.n, seed=args.seed, limits=limits, qmc=not args.random)
    if args.out:
        write_table(pool.drop(columns="pool_index"), args.out)
    shown = [c for c in pool.columns if c not in ("pool_index",)]
    print(f"{space.name}: {len(pool)} of {args.n} drawn pairs within "
          f"{limits or 'no constraints'} (seed {args.seed}, fingerprint {space.fingerprint()})")
    print(format_table(pool, shown))
    if args.out:
        print(f"wrote {args.out}")
    return 0


SAMPLE = Command("sample", "draw a Sobol pool of (arch, recipe) pairs with FLOPs/params",
                 _add_arguments, _run)

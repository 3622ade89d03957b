"""Speed and exactness of the analytic costs against fvcore, and encoding throughput.

Prints two markdown tables:

1. on random archs of the digits and cifar spaces: how many analytic (FLOPs, params)
   pairs equal fvcore's, and the mean time per arch of fvcore (model build + trace),
   of the scalar ``flops`` + ``params`` functions and of the vectorized ``costs``
   (on the same archs and on a large pool);
2. ``SearchSpace.encode`` throughput on configs as a list of dicts and as a DataFrame.

Usage::

    python benchmarks/bench_cost.py [--archs 200] [--pool 1000000] [--encode 100000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Callable

import torch

from jointnas.data import SearchSpace, read_space
from jointnas.recipes import arch_costs, costs, create_model, flops, fvcore_costs, params

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SPACES = ("digits", "cifar")


def best_time(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Smallest wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def cost_rows(space: SearchSpace, n: int, pool: int, seed: int) -> dict[str, Any]:
    """Exactness and per-arch timings of the cost functions on one space."""
    spec = space.model
    shape, classes = spec.in_shape, spec.num_classes
    frame = space.sample(n, seed=seed, frame=True)
    archs = [space.split(c)[0] for c in space.configs(frame)]

    start = time.perf_counter()
    measured = [fvcore_costs(create_model(spec, a), shape) for a in archs]
    t_fvcore = (time.perf_counter() - start) / n

    def scalar() -> list[tuple[int, int]]:
        return [arch_costs(a, in_shape=shape, num_classes=classes) for a in archs]

    def scalar_two_calls() -> list[tuple[int, int]]:
        return [
            (flops(a, in_shape=shape, num_classes=classes), params(a, in_shape=shape, num_classes=classes))
            for a in archs
        ]

    analytic = scalar()
    t_scalar = best_time(scalar) / n
    t_two = best_time(scalar_two_calls) / n
    vectorized = costs(frame, spec)
    t_vector = best_time(lambda: costs(frame, spec)) / n
    exact = sum(m == a for m, a in zip(measured, analytic))
    exact_vec = sum(m == (f, p) for m, f, p in zip(measured, vectorized["flops"], vectorized["params"]))
    big = space.sample(pool, seed=seed + 1, frame=True)
    t_pool = best_time(lambda: costs(big, spec), repeat=2) / pool
    return {
        "space": space.name,
        "n": n,
        "exact": exact,
        "exact_vec": exact_vec,
        "fvcore": t_fvcore,
        "scalar": t_scalar,
        "two": t_two,
        "vector": t_vector,
        "pool": t_pool,
    }


def encode_rows(space: SearchSpace, n: int) -> list[tuple[str, float]]:
    """``encode`` throughput (configs/s) from a list of dicts and from a DataFrame."""
    as_list = space.sample(n, seed=0)
    as_frame = space.sample(n, seed=0, frame=True)
    return [
        ("list of dicts", n / best_time(lambda: space.encode(as_list), repeat=2)),
        ("DataFrame", n / best_time(lambda: space.encode(as_frame), repeat=2)),
    ]


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.2f} us"


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--archs", type=int, default=200, help="random archs compared with fvcore, split over the spaces"
    )
    parser.add_argument("--pool", type=int, default=1_000_000, help="pool size for the vectorized throughput")
    parser.add_argument("--encode", type=int, default=100_000, help="configs encoded")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for fvcore")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    spaces = [read_space(CONFIGS / f"{name}.yaml") for name in SPACES]

    rows = [cost_rows(s, args.archs // len(spaces), args.pool, seed) for seed, s in enumerate(spaces)]
    print(f"## analytic costs vs fvcore (torch threads: {args.threads})\n")
    print(
        "| space | archs | exact scalar | exact vectorized | fvcore (build+trace) "
        "| arch_costs | flops+params | costs (same archs) "
        f"| costs ({args.pool:,} pool) | speedup arch_costs | speedup flops+params "
        "| speedup costs (pool) | costs archs/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['space']} | {r['n']} | {r['exact']}/{r['n']} | {r['exact_vec']}/{r['n']} "
            f"| {_us(r['fvcore'])} | {_us(r['scalar'])} | {_us(r['two'])} "
            f"| {_us(r['vector'])} | {_us(r['pool'])} | {r['fvcore'] / r['scalar']:,.0f}x "
            f"| {r['fvcore'] / r['two']:,.0f}x | {r['fvcore'] / r['pool']:,.0f}x "
            f"| {1 / r['pool']:,.0f} |"
        )
    print("\n(times are means per arch)")
    total = sum(r["n"] for r in rows)
    print(
        f"\nexact: {sum(r['exact'] for r in rows)}/{total} scalar, "
        f"{sum(r['exact_vec'] for r in rows)}/{total} vectorized"
    )

    print(f"\n## SearchSpace.encode throughput ({args.encode:,} configs)\n")
    print("| space | input | configs/s |")
    print("|---|---|---|")
    for space in spaces:
        for kind, rate in encode_rows(space, args.encode):
            print(f"| {space.name} | {kind} | {rate:,.0f} |")


if __name__ == "__main__":
    main()

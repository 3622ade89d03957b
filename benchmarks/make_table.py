"""Train a Sobol pool of (arch, recipe) pairs on an embedded dataset and write the measured table.

Writes ``benchmarks/data/<dataset>_joint.csv``: one row per pair with every space
variable, ``acc_e1 .. acc_eK`` (validation accuracy after each epoch, NaN past a run's
epochs), ``val_acc``, ``test_acc``, ``flops``, ``params``, ``seconds`` and ``status``.
With ``--repeat R`` the first ``R`` pairs of the pool are also trained with a second
seed (``--train-seed`` + 1), in the columns ``val_acc_2``, ``test_acc_2``, ``seconds_2``
and ``status_2`` (empty for the other rows): the seed-to-seed noise of the table.

Rows are appended one by one (flushed and fsynced), so a killed run loses at most the
pairs in progress; running the script again skips the pairs already in the file. Pairs
are trained in pool order, the repeated ones first.

Usage::

    python benchmarks/make_table.py --dataset digits --n 320
    nohup .venv/bin/python benchmarks/make_table.py --dataset mnist1d --n 600 --repeat 120 \
        > table.log 2>&1 &
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parent / "configs"
METRICS = ("val_acc", "test_acc", "flops", "params", "seconds", "status")
REPEAT_METRICS = ("val_acc_2", "test_acc_2", "seconds_2", "status_2")

_WORKER: dict[str, Any] = {}


def cell(value: Any) -> str:
    """A value as written in the CSV (floats round-trip exactly)."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)


def columns(space: Any, epochs: int, repeat: bool = False) -> list[str]:
    """Header of the table (with the second seed's columns when ``repeat``)."""
    return (
        list(space.names)
        + [f"acc_e{k}" for k in range(1, epochs + 1)]
        + list(METRICS)
        + (list(REPEAT_METRICS) if repeat else [])
    )


def existing_keys(path: Path, header: list[str], n_vars: int) -> set[tuple[str, ...]]:
    """Variable cells of the rows already written (a torn last line is cut off first)."""
    if not path.exists() or path.stat().st_size == 0:
        return set()
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with open(path, "r+b") as fh:
            fh.truncate(cut)
        print(f"cut a partial last line from {path}", file=sys.stderr)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return set()
    if rows[0] != header:
        raise SystemExit(
            f"error: {path} has other columns than this space and pool "
            f"(expected {len(header)} columns); use another --out"
        )
    return {tuple(r[:n_vars]) for r in rows[1:] if len(r) == len(header)}


def row_of(
    config: dict[str, Any], result: Any, epochs: int, second: Any = None, repeat: bool = False
) -> list[str]:
    """One CSV row from a config, its :class:`TrainResult` and the second seed's, if any."""
    curve = list(result.curve) + [math.nan] * (epochs - len(result.curve))
    values = (
        list(config.values())
        + curve[:epochs]
        + [
            float(result.val_acc),
            float(result.test_acc),
            float(result.flops),
            int(result.params),
            round(float(result.seconds), 3),
            result.status,
        ]
    )
    if repeat:
        values += (
            [float(second.val_acc), float(second.test_acc), round(float(second.seconds), 3), second.status]
            if second is not None
            else [""] * len(REPEAT_METRICS)
        )
    return [cell(v) for v in values]


def _init_worker(space_path: str, device: str, dataset: str) -> None:
    import torch

    from jointnas.data.datasets import load_dataset
    from jointnas.data.space_io import read_space

    torch.set_num_threads(1)
    _WORKER.update(space=read_space(space_path), bundle=load_dataset(dataset), device=device)


def _train(config: dict[str, Any], seed: int, twice: bool) -> tuple[dict[str, Any], Any, Any]:
    from jointnas.recipes.train import train_and_evaluate

    space = _WORKER["space"]
    arch, recipe = space.split(config)
    runs = [
        train_and_evaluate(
            arch,
            recipe,
            _WORKER["bundle"],
            device=_WORKER["device"],
            seed=s,
            model_spec=space.model,
            num_threads=1,
        )
        for s in ((seed, seed + 1) if twice else (seed,))
    ]
    return config, runs[0], (runs[1] if twice else None)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, train the pairs not yet in the table, append their rows."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="digits", help="embedded dataset (default digits)")
    p.add_argument("--space", default=None, help="space YAML (default configs/<dataset>.yaml)")
    p.add_argument("--n", type=int, default=320, help="Sobol pool size (default 320)")
    p.add_argument(
        "--repeat", type=int, default=0, help="train the first R pairs with a second seed too (default 0)"
    )
    p.add_argument("--seed", type=int, default=0, help="Sobol scramble seed (default 0)")
    p.add_argument("--train-seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--out", default=None, help="output CSV (default data/<dataset>_joint.csv)")
    p.add_argument("--workers", type=int, default=1, help="training processes, 1 thread each")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--limit", type=int, default=None, help="train at most this many new pairs")
    args = p.parse_args(argv)
    args.space = args.space or str(CONFIGS / f"{args.dataset}.yaml")
    args.out = args.out or str(HERE / "data" / f"{args.dataset}_joint.csv")

    from tqdm import tqdm

    from jointnas.data.space_io import read_space

    space = read_space(args.space)
    pool = space.sample_qmc(args.n, seed=args.seed)
    var = space["epochs"] if "epochs" in space else None
    epochs = int(getattr(var, "high", 0) or max(int(c.get("epochs", 1)) for c in pool))
    repeat = args.repeat > 0
    header = columns(space, epochs, repeat)
    out = Path(args.out)
    done = existing_keys(out, header, len(space.names))
    twice = {id(c) for c in pool[: args.repeat]}
    todo = [c for c in pool if tuple(cell(v) for v in c.values()) not in done]
    present = len(pool) - len(todo)
    if args.limit is not None:
        todo = todo[: args.limit]
    print(
        f"{space.name} on {args.dataset}: pool of {len(pool)} (seed {args.seed}, "
        f"{args.repeat} with 2 seeds), {present} already "
        f"in {out}, {len(todo)} to train with {args.workers} worker(s)",
        flush=True,
    )
    if not todo:
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    new_file = not out.exists() or out.stat().st_size == 0
    start = time.perf_counter()
    with open(out, "a", newline="") as fh, tqdm(total=len(todo), unit="pair") as bar:
        writer = csv.writer(fh)
        if new_file:
            writer.writerow(header)

        def write(config: dict[str, Any], result: Any, second: Any) -> None:
            writer.writerow(row_of(config, result, epochs, second, repeat))
            fh.flush()
            os.fsync(fh.fileno())
            bar.set_postfix(status=result.status, val_acc=f"{result.val_acc:.3f}")
            bar.update()

        if args.workers <= 1:
            _init_worker(args.space, args.device, args.dataset)
            for config in todo:
                write(*_train(config, args.train_seed, id(config) in twice))
        else:
            with ProcessPoolExecutor(
                args.workers,
                mp_context=get_context("spawn"),
                initializer=_init_worker,
                initargs=(args.space, args.device, args.dataset),
            ) as ex:
                futures = [ex.submit(_train, c, args.train_seed, id(c) in twice) for c in todo]
                for fut in as_completed(futures):
                    write(*fut.result())
    print(f"trained {len(todo)} pairs in {time.perf_counter() - start:.0f} s -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""FBNetV3's headline claims, measured with real training on MNIST-1D.

At an equal budget of trained pairs, each search seed runs:

- ``joint``: coarse search over architecture and recipe together (its defaults);
- ``arch``: coarse search over the architecture, the recipe fixed to the space's default;
- ``recipe``: coarse search over the recipe, the architecture fixed to the default;
- ``tpe``: Optuna's TPE over the same joint space, every pair trained in full.

Every search keeps the default pair's FLOPs as its limit, so a found pair costs at most
what the reference does. Each returned pair is then re-trained with ``--retrain`` fresh
training seeds for its full schedule; the table reports their mean validation and test
accuracy next to the default pair's, the epochs each search trained and the early-stop epoch
each coarse search chose.

Recipe swap (FBNetV3 reports that swapping recipes between found models costs accuracy):
the searches over the joint space (coarse and TPE, every seed) each return a pair; each
one's architecture is trained with the next one's recipe and the reverse, with the same
training seeds, and the drop against each architecture's own recipe is reported.

Every training run (config, seed, epochs) is appended to ``benchmarks/results/cache/
joint.jsonl`` as it ends and read back on the next run: a stopped benchmark resumes
where it was (a search replays its choices from the stored results; in-process coarse
search is deterministic for a seed).

Usage::

    python benchmarks/bench_joint.py                       # budget 48, 3 seeds (results/joint.md)
    python benchmarks/bench_joint.py --budget 24 --seeds 2 --out /tmp/joint.md
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, append_cache, read_cache, report_path, write_report  # noqa: E402

SPACE = ROOT / "configs" / "mnist1d.yaml"
CACHE = ROOT / "benchmarks" / "results" / "cache" / "joint.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "joint.md"
MODES = ("joint", "arch", "recipe")  # what coarse search varies
METHODS = tuple(f"coarse-{m}" for m in MODES) + ("tpe-joint",)
JOINT = ("coarse-joint", "tpe-joint")  # searches over the joint space: their pairs swap recipes


def fixed_space(space, mode: str):
    """``space`` with the part ``mode`` does not search fixed to the default's values."""
    from jointnas.data import Categorical, SearchSpace

    def fix(variables):
        return [Categorical(v.name, [space.default[v.name]]) for v in variables]

    if mode == "joint":
        return space
    arch = space.arch if mode == "arch" else fix(space.arch)
    recipe = space.recipe if mode == "recipe" else fix(space.recipe)
    return SearchSpace(
        arch,
        recipe,
        constraints=space.constraints,
        name=f"{space.name}-{mode}",
        model=space.model,
        default=space.default,
    )


def cached_evaluator(space, dataset: str, seed: int, cache: Path):
    """A train evaluator that reads runs back from ``cache`` and appends new ones."""
    from jointnas.search.evaluators import EvalResult, TrainEvaluator

    class Cached(TrainEvaluator):
        def evaluate(self, config, max_epochs=None, on_epoch=None) -> EvalResult:
            key = run_key(config, self.seed, max_epochs)
            done = read_cache(cache)
            if key not in done:
                r = super().evaluate(config, max_epochs, on_epoch)
                append_cache(cache, {"key": key, "result": r.to_dict()})
                done[key] = {"result": r.to_dict()}
            return EvalResult(**done[key]["result"])

    return Cached(space, dataset, device="cpu", seed=seed, num_threads=1)


def run_key(config: dict[str, Any], seed: int, max_epochs: int | None) -> str:
    """The cache key of one training run."""
    return json.dumps([_plain(config), seed, max_epochs], sort_keys=True)


def search(job: tuple[str, int, int, str, str, dict]) -> dict[str, Any]:
    """One search: the pair it returns, its search score and the epochs it trained."""
    method, seed, budget, dataset, cache, coarse = job
    space = _job_space()
    limits = {"flops": default_flops(space)}
    kind, mode = method.split("-")
    sub = fixed_space(space, mode)
    if kind == "tpe":
        return _tpe(sub, seed, budget, dataset, Path(cache), limits) | {"method": method, "seed": seed}
    return _coarse(sub, seed, budget, dataset, Path(cache), limits, coarse) | {"method": method, "seed": seed}


def _job_space():
    """The space, in a job process set up to train with one CPU thread, warnings off."""
    import torch

    from jointnas.data.space_io import read_space

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    return read_space(SPACE)


def default_flops(space) -> float:
    """FLOPs of the space's default pair."""
    import pandas as pd

    from jointnas.search.pool import model_costs

    return float(model_costs(space, pd.DataFrame([space.default]))["flops"].iloc[0])


def _coarse(
    space, seed: int, budget: int, dataset: str, cache: Path, limits: dict, settings: dict[str, Any]
) -> dict[str, Any]:
    from jointnas.search.coarse import CoarseSearch
    from jointnas.search.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        space.to_yaml(Path(tmp) / "space.yaml")
        config = {
            "space": "space.yaml",
            "name": "run",
            "runs_dir": "runs",
            "seed": seed,
            "budget_trials": budget,
            "constraints": limits,
            "final_eval": False,
            "evaluator": {"type": "train", "dataset": dataset},
            **settings,
        }
        path = Path(tmp) / "search.yaml"
        path.write_text(yaml.safe_dump(config))
        run = CoarseSearch(load_settings(path), progress=False)
        run.evaluator = cached_evaluator(run.space, dataset, 0, cache)
        result = run.run()
        samples = result.samples
    return {
        "best": _plain(result.best),
        "score": float(samples["val_acc"].max()),
        "epochs": int(samples["epochs_run"].sum()),
        "pairs": len(samples),
        "stop": result.early_stop.epoch if result.early_stop else None,
    }


def _tpe(space, seed: int, budget: int, dataset: str, cache: Path, limits: dict) -> dict[str, Any]:
    from jointnas.search.candidates import CandidateSet
    from jointnas.search.strategies import create_strategy

    evaluator = cached_evaluator(space, dataset, 0, cache)
    strategy = create_strategy("tpe", CandidateSet(space, limits=limits), seed=seed)
    best, score, epochs = None, -np.inf, 0
    for _ in range(budget):
        (config,) = strategy.ask(1)
        r = evaluator.evaluate(config)
        strategy.tell([config], [r.val_acc])
        epochs += r.epochs_run
        if r.status == "ok" and r.val_acc > score:
            best, score = config, r.val_acc
    return {"best": _plain(best), "score": float(score), "epochs": epochs, "pairs": budget}


def _plain(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """``config`` with plain Python values (numpy scalars unwrapped)."""
    return None if config is None else {k: (v.item() if hasattr(v, "item") else v) for k, v in config.items()}


def retrain(job: tuple[str, dict[str, Any], int, str, str]) -> dict[str, Any]:
    """Train one pair for its full schedule with one training seed."""
    label, config, seed, dataset, cache = job
    space = _job_space()
    r = cached_evaluator(space, dataset, seed, Path(cache)).evaluate(config)
    return {
        "label": label,
        "seed": seed,
        "val_acc": r.val_acc,
        "test_acc": r.test_acc,
        "flops": r.flops,
        "params": r.params,
    }


def swaps(labels: list[str]) -> list[tuple[str, str]]:
    """Ordered pairs of searches whose returned pairs swap recipes: each with the next one
    in the list (a ring), both ways; all pairs of two."""
    if len(labels) < 2:
        return []
    ring = {(labels[i], labels[(i + 1) % len(labels)]) for i in range(len(labels))}
    return sorted(ring | {(b, a) for a, b in ring})


def swapped(a: dict[str, Any], b: dict[str, Any], space) -> dict[str, Any]:
    """``a``'s architecture with ``b``'s recipe."""
    return {**{v.name: a[v.name] for v in space.arch}, **{v.name: b[v.name] for v in space.recipe}}


def mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


class _InProcess:
    """``ProcessPoolExecutor``'s ``map`` in this process (``--jobs 0``)."""

    def __enter__(self) -> "_InProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @staticmethod
    def map(fn, jobs):
        return map(fn, jobs)


def _pool(jobs: int) -> ProcessPoolExecutor | _InProcess:
    return ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) if jobs else _InProcess()


def main(argv: list[str] | None = None) -> int:
    """Run the searches, re-train what they return, print and write the tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=int, default=48, help="trained pairs per search")
    p.add_argument("--seeds", type=int, default=3, help="search seeds")
    p.add_argument("--retrain", type=int, default=3, help="training seeds of each returned pair")
    p.add_argument("--dataset", default="mnist1d")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument(
        "--jobs", type=int, default=2, help="parallel processes (one CPU thread each); 0 runs in this process"
    )
    p.add_argument(
        "--n-models",
        type=int,
        default=None,
        help="predictor ensemble size of coarse search (default: coarse's)",
    )
    p.add_argument("--pool", type=int, default=None, help="coarse's pool size (default: its budget rule)")
    p.add_argument("--cache", type=Path, default=CACHE)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    started = time.perf_counter()
    from jointnas.data.space_io import read_space

    space = read_space(SPACE)
    methods = args.methods.split(",")
    coarse = {
        k: v
        for k, v in (("pool", args.pool), ("predictor", args.n_models and {"n_models": args.n_models}))
        if v
    }
    jobs = [
        (m, s, args.budget, args.dataset, str(args.cache), coarse) for s in range(args.seeds) for m in methods
    ]
    with _pool(args.jobs) as pool:
        found = list(pool.map(search, jobs))
        pairs = {f"{r['method']}/s{r['seed']}": r["best"] for r in found if r["best"] is not None}
        pairs["default"] = dict(space.default)
        for a, b in swaps([label for label in pairs if label.split("/")[0] in JOINT]):
            pairs[f"{a} arch + {b} recipe"] = swapped(pairs[a], pairs[b], space)
        seeds = range(1, args.retrain + 1)  # the searches trained with seed 0
        runs = list(
            pool.map(
                retrain,
                [(label, c, s, args.dataset, str(args.cache)) for label, c in pairs.items() for s in seeds],
            )
        )
    lines = report(args, found, runs)
    print("\n".join(lines))
    write_report(lines, report_path(p, args, RESULTS), started)
    return 0


def report(args: argparse.Namespace, found: list[dict], runs: list[dict]) -> list[str]:
    """The markdown tables."""
    by = {}
    for r in runs:
        by.setdefault(r["label"], []).append(r)
    default = by["default"]
    base_val = np.mean([r["val_acc"] for r in default])
    lines = [
        f"# Joint vs architecture-only vs recipe-only search, real training ({args.dataset})",
        "",
        f"Budget {args.budget} trained pairs per search, {args.seeds} search seeds, every returned "
        f"pair re-trained with {args.retrain} training seeds (1..{args.retrain}; searches trained "
        "with seed 0). FLOPs limit: the default pair's. Mean ± std over the re-training runs "
        "of all search seeds.",
        "",
        "| method | search val_acc (median) | re-trained val_acc | re-trained test_acc | "
        "vs default (val) | seeds beating default | FLOPs (median) | epochs trained (median) | "
        "early-stop epoch |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| default pair | - | {mean_std([r['val_acc'] for r in default])} | "
        f"{mean_std([r['test_acc'] for r in default])} | - | - | {default[0]['flops']:.3g} | - | - |",
    ]
    for method in args.methods.split(","):
        rows = [f for f in found if f["method"] == method]
        rt = [r for f in rows for r in by.get(f"{method}/s{f['seed']}", [])]
        if not rt:
            continue
        wins = sum(
            np.mean([r["val_acc"] for r in by[f"{method}/s{f['seed']}"]]) > base_val
            for f in rows
            if f"{method}/s{f['seed']}" in by
        )
        val = [r["val_acc"] for r in rt]
        lines.append(
            f"| {method} | {np.median([f['score'] for f in rows]):.4f} | {mean_std(val)} | "
            f"{mean_std([r['test_acc'] for r in rt])} | {np.mean(val) - base_val:+.4f} | "
            f"{wins}/{len(rows)} | {np.median([r['flops'] for r in rt]):.3g} | "
            f"{np.median([f['epochs'] for f in rows]):.0f} | "
            f"{', '.join(str(f.get('stop') or '-') for f in rows)} |"
        )
    lines += [
        "",
        "## Recipe swap between the pairs the joint-space searches returned",
        "",
        "| architecture | own recipe val_acc | swapped recipe | val_acc | drop |",
        "|---|---|---|---|---|",
    ]
    drops = []
    for label, rs in by.items():
        if not label.endswith(" recipe"):
            continue
        a, _, _, b, _ = label.split()
        own = np.mean([r["val_acc"] for r in by[a]])
        swap = np.mean([r["val_acc"] for r in rs])
        drops.append(own - swap)
        lines.append(f"| {a}'s | {own:.4f} | {b}'s | {swap:.4f} | {own - swap:+.4f} |")
    if drops:
        lines += [
            "",
            f"Mean drop from swapping recipes: {np.mean(drops):+.4f} over {len(drops)} swaps "
            f"({sum(d > 0 for d in drops)} of {len(drops)} lost accuracy).",
        ]
    return lines


if __name__ == "__main__":
    sys.exit(main())

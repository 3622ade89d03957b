"""Search efficiency benchmark: how fast each strategy finds the best pairs of a measured table.

Every registered strategy searches each development table through the table evaluator,
the table's rows being the finite pool, for the same seeds and budgets. Per table and
strategy: the true rank (1 = best target in the table) of the best pair found after 50,
100 and 200 queries (median and interquartile range over seeds), the fraction of seeds
that found the table's best pair, the median number of queries until a pair of the true
top 0.1% is found (``> cap`` when most seeds did not find one within the cap) and how
many times fewer queries than random search that is. Random's reference is its exact
median for sampling without replacement (its measured median is shown too).

Rows: ``random``, ``qmc``, ``evolution``, ``tpe`` (batches of 10), ``predictor`` (the
predictor-guided strategy, batches of 20, no pretraining: its default on tabular pools)
and ``coarse`` (the predictor-guided strategy as coarse search runs it: coarse's default
batch, first batch Sobol, encoder pretrained on the table's free costs), again with a
batch of 16 (``--coarse-batches``). Other registered strategies get batches of 10 and
their defaults. Every predictor uses the small settings of ``PREDICTOR`` (printed with
the results) so the default run fits in about 30 minutes on 2 shared cores. A pool
smaller than twice the largest budget (the digits table while it is being generated)
is searched with budgets of 10, 20 and 40% of its size instead.

Strategies see one training run per pair; on tables with a second seed (``val_acc_2``,
MNIST-1D) ranks are judged by the mean of the two seeds where a row has both.

Tables with learning curves (digits, mnist1d) also get the early-stop check: ``choose_epoch`` on
a Sobol batch, epochs saved on the rest of the pool, Kendall tau between full and
early-stop accuracy there, and the final ranking quality of coarse search run with and
without early stopping.

Usage:
    python benchmarks/bench_search.py                        # arxiv, cs, citeseer, cora, digits, mnist1d
    python benchmarks/bench_search.py --quick                # 3 seeds, arxiv and cora
    python benchmarks/bench_search.py --datasets pubmed --seeds 5 --strategies random,tpe
    python benchmarks/bench_search.py --table my.csv --space my.yaml   # any measured table
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import kendalltau

from jointnas.data import SearchSpace
from jointnas.data.tables import epoch_columns, read_table, usable_rows
from jointnas.search.candidates import CandidateSet
from jointnas.search.early_stop import accuracy_at, choose_epoch
from jointnas.search.evaluators import TableEvaluator
from jointnas.search.schedule import PAPER_BATCH, budget_rule
from jointnas.search.settings import SearchSettings
from jointnas.search.strategies import STRATEGIES, create_strategy, load_all

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    JOINT_TABLES,
    NBG_COSTS,
    NBG_TARGET,
    ROOT,
    append_cache,  # noqa: E402
    nasbench_graph_table,
    parse_value,
    quartiles,
    read_cache,
    report_path,
    write_report,
)

OUT = ROOT / "benchmarks" / "results" / "search.md"
DATASETS = "arxiv,cs,citeseer,cora,digits,mnist1d"
ORDER = ("random", "qmc", "evolution", "tpe", "predictor", "coarse")
# Cheapest honest predictor for a 2-core benchmark (the strategy's defaults are larger).
PREDICTOR = {
    "n_models": 2,
    "hidden": 64,
    "embed": 16,
    "epochs": 60,
    "frozen_epochs": 20,
    "pretrain_epochs": 5,
}
TOP = 0.001


@dataclass
class Bench:
    """One development table: its space, usable rows, target and free cost columns."""

    name: str
    space: SearchSpace
    evaluator: TableEvaluator
    costs: tuple[str, ...]

    @property
    def pool(self) -> pd.DataFrame:
        return self.evaluator.pool()

    @property
    def scores(self) -> np.ndarray:
        """What a search measures: the table's target (one training run)."""
        return pd.to_numeric(self.pool[self.evaluator.target]).to_numpy(dtype=np.float64)

    @property
    def truth(self) -> np.ndarray:
        """What ranks are judged by: the mean of the two seeds where a row has a second
        (``<target>_2``), else the target."""
        second = f"{self.evaluator.target}_2"
        if second not in self.pool.columns:
            return self.scores
        both = np.column_stack([self.scores, pd.to_numeric(self.pool[second], errors="coerce")])
        return np.nanmean(both, axis=1)


@dataclass(frozen=True)
class Spec:
    """One row of the results: a registered strategy with its batch size and arguments."""

    label: str
    strategy: str
    batch: int
    kwargs: dict[str, Any] = field(default_factory=dict, hash=False)
    by_budget: bool = False  # coarse's asynchronous defaults: one run per budget, sized by it

    def at(self, budget: int) -> "Spec":
        """The spec coarse's budget rule gives a run of ``budget`` pairs (itself if not by budget)."""
        if not self.by_budget:
            return self
        rule = budget_rule(budget)
        return Spec(self.label, self.strategy, rule["refit_every"], {**self.kwargs, "n_init": rule["start"]})

    def describe(self, budgets: list[int]) -> str:
        """The batch column: refit cadence (and start set) per budget for a by-budget row."""
        if not self.by_budget:
            return str(self.batch)
        return ", ".join(f"{self.at(b).kwargs['n_init']}+{self.at(b).batch}" for b in budgets)


def nasbench_graph(name: str) -> Bench:
    """A NAS-Bench-Graph dataset as a tabular space (topology and four node operations)."""
    table, space = nasbench_graph_table(name)
    return Bench(name, space, TableEvaluator(space, table, target=NBG_TARGET), NBG_COSTS)


def table_bench(name: str, table_path: Path, space_path: Path) -> Bench | None:
    """A measured sample table (status ok rows only) on its space; costs ``flops, params``."""
    if not table_path.is_file():
        print(f"{name}: no table at {table_path}, skipped")
        return None
    space = SearchSpace.from_yaml(str(space_path))
    table = read_table(table_path)
    target = next(t for t in TableEvaluator.TARGETS if t in table.columns)
    table = table.loc[usable_rows(table, target)].reset_index(drop=True)
    if len(table) < 10:
        print(f"{name}: only {len(table)} usable rows in {table_path}, skipped")
        return None
    costs = tuple(c for c in ("flops", "params") if c in table.columns)
    return Bench(name, space, TableEvaluator(space, table, target=target, where=str(table_path)), costs)


def coarse_spec(
    label: str, bench: Bench, predictor: dict[str, Any], batch: int, by_budget: bool = False
) -> Spec:
    """Coarse search as a strategy: Sobol start of ``batch`` pairs, then batches of ``batch``
    (``by_budget``: the start set and refit cadence coarse's budget rule gives each budget)."""
    coarse = SearchSettings(space="")
    return Spec(
        label,
        "predictor",
        batch,
        {
            "n_init": batch,
            "explore": coarse.explore,
            "selection": coarse.selection,
            "pretrain_targets": bench.costs,
            "predictor_params": {**coarse.predictor, **predictor},
        },
        by_budget=by_budget,
    )


def make_specs(
    names: list[str], bench: Bench, predictor: dict[str, Any], coarse_batches: list[int]
) -> list[Spec]:
    """The rows to run on one table: ``coarse`` at its asynchronous defaults (start set and
    refit cadence by budget), then in batch mode once per batch size (48: FBNetV3's)."""
    specs = []
    for name in names:
        if name == "predictor":
            specs.append(Spec(name, name, 20, {"predictor_params": dict(predictor)}))
        elif name == "coarse":
            specs.append(coarse_spec("coarse", bench, predictor, 0, by_budget=True))
            specs += [coarse_spec(f"coarse, batch mode {b}", bench, predictor, b) for b in coarse_batches]
        else:
            specs.append(Spec(name, name, 10))
    return specs


def fit_budgets(budgets: list[int], cap: int, n: int) -> tuple[list[int], int, str]:
    """Budgets for a pool of ``n`` pairs: the given ones, or 10/20/40% of a pool below 2x the largest."""
    if n >= 2 * budgets[-1]:
        return budgets, cap, ""
    small = sorted({max(2, round(n * f)) for f in (0.1, 0.2, 0.4)})
    return (
        small,
        small[-1],
        (f" (pool below 2x the largest budget: budgets {small} = 10/20/40% of it, cap {small[-1]})"),
    )


CACHE = ROOT / "benchmarks" / "results" / "cache" / "search.jsonl"  # finished runs, for a resume
SPENT = [0.0]  # search seconds of the runs made or read back so far (the s/run column)


def run_search(
    bench: Bench, spec: Spec, seed: int, cap: int, scores: np.ndarray, cache: Path | None = None
) -> np.ndarray:
    """Pool rows in the order the strategy queried them (at most ``cap``), scored by ``scores``.

    With ``cache`` (a JSON-lines file), a run already stored there under the same table,
    strategy, arguments, seed and cap is read back instead of repeated, and a new run is
    appended as soon as it ends: a stopped benchmark resumes where it was.
    """
    if cache is None:
        started = time.perf_counter()
        rows = search(bench, spec, seed, cap, scores)[0]
        SPENT[0] += time.perf_counter() - started
        return rows
    key = json.dumps(
        [
            bench.name,
            len(scores),
            float(np.nansum(scores)),
            spec.label,
            spec.strategy,
            spec.batch,
            spec.kwargs,
            seed,
            cap,
        ],
        sort_keys=True,
        default=str,
    )
    done = read_cache(cache)
    if key not in done:
        started = time.perf_counter()
        rows = search(bench, spec, seed, cap, scores)[0]
        entry = {"key": key, "rows": rows.tolist(), "seconds": time.perf_counter() - started}
        append_cache(cache, entry)
        done[key] = entry
    SPENT[0] += done[key]["seconds"]  # a read-back run counts the time it took when it ran
    return np.asarray(done[key]["rows"], dtype=np.int64)


def search(bench: Bench, spec: Spec, seed: int, cap: int, scores: np.ndarray) -> tuple[np.ndarray, Any]:
    """Run one strategy for up to ``cap`` queries; the rows it queried and the strategy itself."""
    candidates = CandidateSet(bench.space, pool=bench.pool)
    strategy = create_strategy(spec.strategy, candidates, seed=seed, **spec.kwargs)
    rows: list[int] = []
    while len(rows) < cap:
        configs = strategy.ask(min(spec.batch, cap - len(rows)))
        if not configs:
            break
        pos = candidates.positions(bench.space.frame(configs))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rows of failed evaluations in predictor fits
            strategy.tell(configs, scores[pos])
        rows.extend(int(p) for p in pos)
    return np.asarray(rows, dtype=np.int64), strategy


def random_median(n: int, m: int) -> int:
    """Exact median of the queries random sampling without replacement needs to hit one of ``m`` in ``n``."""
    t = np.arange(n - m + 1)
    log_miss = np.concatenate([[0.0], np.cumsum(np.log(n - m - t[:-1]) - np.log(n - t[:-1]))])
    return int(np.argmax(log_miss <= math.log(0.5)))


def run_table(
    bench: Bench, specs: list[Spec], seeds: list[int], budgets: list[int], cap: int, cache: Path | None = None
) -> list[str]:
    """Run every spec on one table and return its markdown lines.

    Strategies see ``bench.scores`` (one run); ranks and the top 0.1% come from
    ``bench.truth`` (the seeds' mean where a table has a second seed).
    """
    scores, truth = bench.scores, bench.truth
    budgets, cap, note = fit_budgets(budgets, cap, len(scores))
    rank = pd.Series(-truth).rank(method="min").to_numpy()
    n, k = len(scores), max(1, math.ceil(TOP * len(scores)))
    top = rank <= k
    rand = random_median(n, int(top.sum()))
    twice = _repeated(bench)
    judged = f"; truth = mean of 2 seeds on the {twice} rows trained twice" if twice else ""
    lines = [
        f"### {bench.name}: {n} pairs, target `{bench.evaluator.target}` (best {truth.max():.4f}){judged}; "
        f"top 0.1% = {int(top.sum())} pair(s) (>= {np.sort(truth)[::-1][k - 1]:.4f}); "
        f"random needs {rand} queries (exact median); cap {cap}{note}",
        "",
        "| strategy | batch | "
        + " | ".join(f"rank@{b}" for b in budgets)
        + f" | found best @{budgets[-1]} | queries to top 0.1% | random / strategy | s/run |",
        "|---" * (len(budgets) + 6) + "|",
    ]
    found: dict[str, tuple[float, float]] = {}
    for spec in specs:
        t0 = SPENT[0]
        best = {b: [] for b in budgets}
        hits = []
        try:
            for seed in seeds:
                rows = run_search(bench, spec.at(cap), seed, cap, scores, cache)
                for b in budgets:  # a by-budget row runs again for each smaller budget
                    seen = (
                        rows
                        if b == cap or not spec.by_budget
                        else run_search(bench, spec.at(b), seed, b, scores, cache)
                    )
                    best[b].append(float(rank[seen[:b]].min()))
                hit = np.flatnonzero(top[rows])
                hits.append(float(hit[0] + 1) if len(hit) else math.inf)
        except Exception as exc:  # a strategy that cannot run here is reported, not fatal
            lines.append(f"| {spec.label} | {spec.describe(budgets)} | error: {type(exc).__name__}: {exc} |")
            continue
        secs = (SPENT[0] - t0) / len(seeds)
        med = float(np.median(hits))  # seeds that missed count as inf
        q = f"> {cap}" if not np.isfinite(med) else f"{med:g}"
        ratio = f"< {rand / cap:.1f}" if not np.isfinite(med) else f"{rand / med:.1f}"
        frac = np.mean([v == 1 for v in best[budgets[-1]]])
        found[spec.label] = (med, float(np.median(best[budgets[-1]])), float(np.median(best[budgets[0]])))
        lines.append(
            f"| {spec.label} | {spec.describe(budgets)} | "
            + " | ".join(quartiles(best[b]) for b in budgets)
            + f" | {frac:.2f} | {q} | {ratio} | {secs:.1f} |"
        )
        if spec.label == "random":
            lines[-1] = lines[-1].replace(f"| {ratio} |", f"| 1 (measured {q}) |")
        print(f"  [{bench.name}] {spec.label}: {lines[-1]}", file=sys.stderr, flush=True)
    lines += [""] + verdict(found, rand, cap, budgets) + [""]
    return lines


def _repeated(bench: Bench) -> int:
    """Rows of the table with a second seed (0 without a ``<target>_2`` column)."""
    second = f"{bench.evaluator.target}_2"
    if second not in bench.pool.columns:
        return 0
    return int(pd.to_numeric(bench.pool[second], errors="coerce").notna().sum())


def verdict(
    found: dict[str, tuple[float, float, float]], rand: int, cap: int, budgets: list[int]
) -> list[str]:
    """The coarse targets: >= 5x fewer queries than random, fewer than TPE (ties broken by
    the rank at the largest budget), and a better median rank than TPE's at the smallest."""
    fmt = lambda v: f"> {cap}" if not np.isfinite(v) else f"{v:g}"  # noqa: E731
    ok = lambda flag: "met" if flag else "MISSED"  # noqa: E731
    out = []
    for label in (k for k in found if k.startswith("coarse")):
        c, c_rank, c_small = found[label]
        ratio = f"{rand / c:.1f}x" if np.isfinite(c) else f"< {rand / cap:.1f}x"
        line = f"{label} vs random: {ratio} fewer queries to the top 0.1% (target >= 5x: {ok(rand / c >= 5)})"
        if "tpe" in found:
            t, t_rank, t_small = found["tpe"]
            better = c < t or (c == t and c_rank < t_rank)
            line += (
                f"; vs tpe: {fmt(c)} vs {fmt(t)} median queries to the top 0.1%, median rank "
                f"@{budgets[-1]} {c_rank:g} vs {t_rank:g} ({ok(better)}: fewer queries); median rank "
                f"@{budgets[0]} {c_small:g} vs {t_small:g} ({ok(c_small < t_small)}: better)"
            )
        out.append(line + "  ")
    return out


def early_stop_section(
    bench: Bench, spec: Spec, seeds: list[int], batch: int, thresholds: list[float], budget: int
) -> list[str]:
    """Early stop on a table with curves, one column per threshold: epoch chosen, epochs
    saved, held-out tau, coarse search with vs without early stop."""
    ev, pool = bench.evaluator, bench.pool
    configs = bench.space.configs(pool)
    curves = [ev.evaluate(c).curve for c in configs]
    full, truth = bench.scores, bench.truth
    lengths = np.array([len(c) for c in curves])
    budget = min(budget, len(pool) - 10)
    rows = []
    for seed in seeds:
        first = run_search(bench, Spec("qmc", "qmc", batch), seed, batch, full)
        rest = np.setdiff1d(np.arange(len(pool)), first)
        base_rank, base = final_ranking(bench, spec, seed, budget, full, truth)
        for threshold in thresholds:
            stop = choose_epoch([curves[i] for i in first], threshold)
            if stop is None:  # too few full runs in the batch: no early stop to measure
                continue
            early = np.array([accuracy_at(c, stop.epoch) for c in curves])
            rank, tau = final_ranking(bench, spec, seed, budget, early, truth)
            spent = lengths[first].sum() + np.minimum(lengths[rest], stop.epoch).sum()
            rows.append(
                {
                    "threshold": threshold,
                    "epoch": stop.epoch,
                    "saved": stop.saved_fraction(lengths[rest]),
                    "saved_all": 1 - spent / lengths.sum(),
                    "held": kendalltau(full[rest], early[rest]).statistic,
                    "full": base,
                    "early": tau,
                    "diff": tau - base,
                    "full_rank": base_rank,
                    "early_rank": rank,
                }
            )
    r = pd.DataFrame(rows)
    if r.empty:
        return [
            f"### early stop on {bench.name}: no epoch chosen (a batch of {batch} is below "
            "the full runs the rule needs)",
            "",
        ]
    by = {t: g for t, g in r.groupby("threshold", sort=False)}

    def cell(col: str, scale: float = 1.0, digits: int = 3) -> list[str]:
        return [quartiles(np.round(scale * g[col], digits).tolist()) for g in by.values()]

    table = [
        ("chosen epoch", cell("epoch")),
        ("epochs saved on the rest of the pool (%)", cell("saved", 100, 1)),
        ("epochs saved, whole table incl. the full first batch (%)", cell("saved_all", 100, 1)),
        ("Kendall tau, held-out pairs: full vs early-stop accuracy", cell("held")),
        ("coarse final ranking tau vs truth, no early stop", cell("full")),
        ("coarse final ranking tau vs truth, early stop", cell("early")),
        ("difference early - full", cell("diff")),
        ("true rank of the pair coarse returns, no early stop", cell("full_rank")),
        ("true rank of the pair coarse returns, early stop", cell("early_rank")),
    ]
    verdicts = [
        f"threshold {t:g}: >= 50% saved {'met' if g['saved'].median() >= 0.5 else 'MISSED'}, "
        f"tau within 0.02 {'met' if abs(g['diff'].median()) <= 0.02 else 'MISSED'}"
        for t, g in by.items()
    ]
    return [
        f"### early stop on {bench.name} ({len(pool)} pairs with curves, {len(seeds)} seeds, "
        f"Sobol batch {batch}; schedules {lengths.min()}-{lengths.max()} epochs, mean {lengths.mean():.1f})",
        "",
        "| quantity, median [IQR] over seeds | " + " | ".join(f"threshold {t:g}" for t in by) + " |",
        "|---|" + "---|" * len(by),
        *[f"| {name} | " + " | ".join(values) + " |" for name, values in table],
        "",
        f"coarse budget {budget} queries; final ranking = predictor refit on the search's results, "
        "scored on the pairs it did not query, vs their full accuracy. The returned pair is the best "
        "by the accuracy the search measured. Targets (on the medians): " + "; ".join(verdicts) + ".",
        "",
    ]


def final_ranking(
    bench: Bench, spec: Spec, seed: int, budget: int, scores: np.ndarray, truth: np.ndarray
) -> tuple[float, float]:
    """Run coarse on ``scores``; true rank of the pair it returns and tau of its final ranking."""
    seen, strategy = search(bench, spec, seed, budget, scores)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictor = strategy.refit()
    rest = np.setdiff1d(np.arange(len(truth)), seen)
    tau = kendalltau(truth[rest], predictor.predict(bench.pool.iloc[rest])).statistic
    rank = pd.Series(-truth).rank(method="min").to_numpy()
    returned = seen[int(np.argmax(scores[seen]))]
    return float(rank[returned]), float(tau)


def table_block(
    name: str,
    args: argparse.Namespace,
    strategies: list[str],
    predictor: dict[str, Any],
    coarse_batches: list[int],
    seeds: list[int],
    budgets: list[int],
    cap: int,
    thresholds: list[float],
) -> list[str]:
    """Every row of one table, and its early-stop section when it has curves."""
    torch.set_num_threads(args.threads)
    load_all()
    if args.table is not None and name == args.table.stem:
        bench = table_bench(name, args.table, args.space)
    elif name in JOINT_TABLES:
        bench = table_bench(name, *JOINT_TABLES[name])
    else:
        bench = nasbench_graph(name)
    if bench is None:
        return []
    cache = None if args.no_cache else CACHE
    block = run_table(
        bench, make_specs(strategies, bench, predictor, coarse_batches), seeds, budgets, cap, cache
    )
    es_batch = args.es_batch or min(budget_rule(cap)["start"], len(bench.pool) // 2)
    if epoch_columns(bench.pool) and len(bench.pool) >= es_batch + 10:
        spec = coarse_spec("coarse", bench, predictor, es_batch)
        block += early_stop_section(bench, spec, seeds, es_batch, thresholds, 2 * es_batch)
    if args.jobs <= 1:
        print("\n".join(block), flush=True)
    return block


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print markdown tables and write them to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        default=None,
        help=f"comma list (default {DATASETS}; "
        "NAS-Bench-Graph names, 'digits', 'mnist1d' or the stem of --table)",
    )
    parser.add_argument("--seeds", type=int, default=20, help="seeds per strategy")
    parser.add_argument("--budgets", default="50,100,200", help="query budgets reported")
    parser.add_argument(
        "--cap",
        type=int,
        default=None,
        help="queries per run for the top-0.1%% metric (default: the largest budget)",
    )
    parser.add_argument("--strategies", default=None, help="comma list (default: all registered + coarse)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a predictor hyperparameter of predictor and coarse (repeatable)",
    )
    parser.add_argument("--table", type=Path, help="an extra measured table to benchmark")
    parser.add_argument("--space", type=Path, help="the space YAML of --table")
    parser.add_argument(
        "--coarse-batches",
        default=str(PAPER_BATCH),
        help="batch sizes of the batch-mode coarse rows (default 48, FBNetV3's)",
    )
    parser.add_argument(
        "--es-batch",
        type=int,
        default=None,
        help="Sobol batch for the early-stop epoch (default: coarse's start set at the "
        "largest budget, at most half the pool)",
    )
    parser.add_argument(
        "--thresholds",
        default="0.9,0.8,0.7",
        help="early-stop Kendall tau thresholds compared (coarse's default 0.9 first)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"markdown file written at the end (default: {OUT.relative_to(ROOT)}, "
        "and only for a run with every other option at its default)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared box)")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help=f"run everything again (default: reuse the runs in {CACHE.relative_to(ROOT)}, "
        "which every finished run is appended to, so a stopped benchmark resumes)",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="tables run in parallel processes (the results are the same)"
    )
    parser.add_argument("--quick", action="store_true", help="3 seeds, 2 datasets (smoke run)")
    args = parser.parse_args(argv)
    out = report_path(parser, args, OUT)
    torch.set_num_threads(args.threads)
    load_all()
    started = time.perf_counter()
    default = args.table.stem if args.table else "arxiv,cora" if args.quick else DATASETS
    names = (args.datasets or default).split(",")[: 2 if args.quick else None]
    seeds = list(range(3 if args.quick else args.seeds))
    budgets = sorted(int(b) for b in args.budgets.split(","))
    cap = args.cap or budgets[-1]
    registered = [s for s in ORDER if s in STRATEGIES or s == "coarse"]
    registered += sorted(set(STRATEGIES) - set(ORDER))
    strategies = args.strategies.split(",") if args.strategies else registered
    predictor = {**PREDICTOR, **{k: parse_value(v) for k, v in (s.split("=", 1) for s in args.set)}}
    coarse = SearchSettings(space="")
    coarse_batches = [int(b) for b in args.coarse_batches.split(",") if b]
    thresholds = [float(t) for t in args.thresholds.split(",")]
    settings = ", ".join(f"{k}={v}" for k, v in predictor.items())
    lines = [
        "# Search efficiency on development tables",
        "",
        f"Seeds 0-{len(seeds) - 1}; budgets {budgets}; cap {cap} queries per run; torch threads "
        f"{args.threads}. Ranks: median [25th, 75th percentile] over seeds, 1 = best in the table.",
        "Batches: predictor-guided 20 (n_init 20 Sobol, no pretraining: the strategy's defaults); "
        "coarse at its asynchronous defaults, one run per budget (batch column: Sobol start set + "
        "pairs per refit that coarse's budget rule gives each budget; the queries to the top 0.1% "
        f"come from the run of the largest budget); coarse in batch mode {coarse_batches} (n_init = "
        f"batch, Sobol); both with selection {coarse.selection} and the encoder pretrained on the "
        "table's free costs; others 10 (tpe: Optuna's TPESampler defaults, multivariate with constant "
        "liar, proposals projected onto the pool).",
        f"Predictor (predictor and coarse rows): AccuracyPredictor({settings}), other arguments at "
        "their defaults.",
        "",
    ]
    print("\n".join(lines), flush=True)
    jobs = [
        (name, args, strategies, predictor, coarse_batches, seeds, budgets, cap, thresholds) for name in names
    ]
    if args.jobs > 1:  # tables in parallel processes, reported in the order asked
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            blocks = list(pool.map(table_block, *zip(*jobs)))
    else:
        blocks = [table_block(*job) for job in jobs]
    for block in blocks:
        if args.jobs > 1:
            print("\n".join(block), flush=True)
        lines += block
    write_report(lines, out, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Does a weight-sharing supernet rank architectures like standalone training does?

:func:`rank_supernet` trains the supernet of a space once per (path sampler, seed), scores
every architecture (or a sample of a large space) with its inherited weights after each
epoch, trains the same architectures standalone from scratch, and compares the rankings
with the metrics of :mod:`jointnas.predictor.metrics`:

* GT-Tau: Kendall tau between supernet and standalone accuracies (mean over seeds),
* S-Tau: mean pairwise Kendall tau between the rankings of different seeds,
* TnR: the best standalone rank among the supernet's top ``n`` (n = 1, 3; mean over seeds),
* tau by epoch: GT-Tau after every supernet epoch.

:mod:`.supernet_report` writes the tables and plots.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ...data.space import SearchSpace
from ...errors import ConfigError
from ...predictor.metrics import gt_tau, kendall_tau, s_tau, top_n_rank, true_ranks

Progress = Callable[[str], None]
TNR = (1, 3)
"""The ``n`` of the TnR columns."""
DEFAULT_SAMPLE = 32
"""Architectures ranked in a space of more than :data:`FULL_SPACE` when no sample is given."""
FULL_SPACE = 64


@dataclass
class SupernetRanking:
    """Supernet vs standalone rankings of the architectures of one space.

    Attributes:
        architectures: one row per architecture: its variables, ``flops``, ``params``,
            ``standalone`` accuracy (mean over standalone seeds), ``standalone_std`` and
            ``standalone_rank``, then per sampler ``acc_<s>``
            (mean over seeds), ``std_<s>`` and ``rank_<s>``.
        samplers: one row per sampler: ``gt_tau``, ``gt_tau_of_mean`` (tau of the
            seed-mean accuracies), ``s_tau``, ``t1r``, ``t3r``, ``best`` (the architecture
            the seed-mean accuracies pick), ``train_seconds`` (one supernet training,
            without the per-epoch scoring) and ``eval_seconds`` (one scoring of all
            ranked architectures), both means over seeds.
        tau_by_epoch: ``sampler``, ``seed``, ``epoch``, ``loss``, ``gt_tau``.
        scores: per sampler, an array ``(seeds, architectures)`` of supernet accuracies.
        standalone_seconds: wall time of all standalone trainings.
        settings: the arguments of the run.
        standalone_runs: standalone accuracies ``(standalone seeds, architectures)``.
    """

    architectures: pd.DataFrame
    samplers: pd.DataFrame
    tau_by_epoch: pd.DataFrame
    scores: dict[str, np.ndarray]
    standalone_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)
    standalone_runs: np.ndarray | None = None

    def standalone_s_tau(self) -> float:
        """S-Tau of standalone training across its seeds: the ranking noise of the ground
        truth itself (NaN with one standalone seed)."""
        runs = self.standalone_runs
        return s_tau(runs) if runs is not None and len(runs) > 1 else math.nan


def rank_supernet(
    space: SearchSpace,
    dataset: Any = "digits",
    *,
    samplers: Sequence[str] = ("uniform", "epsilon_greedy", "fair"),
    seeds: int = 3,
    epochs: int = 10,
    standalone_epochs: int | None = None,
    standalone_seeds: int = 1,
    share_first: int | None = None,
    recalibrate_bn: int = 4,
    sample: int | None = None,
    recipe: Mapping[str, Any] | None = None,
    sampler_options: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    device: str = "cpu",
    progress: Progress | None = None,
) -> SupernetRanking:
    """Train the supernet per sampler and seed, train the architectures standalone, compare.

    Args:
        space: a supernet space (``model.builder`` ``depth_supernet`` or ``layer_supernet``).
        dataset: a dataset name or a loaded bundle.
        samplers: path sampler names.
        seeds: supernet runs per sampler (seeds ``seed .. seed + seeds - 1``).
        epochs: supernet epochs.
        standalone_epochs: epochs of each standalone training (default ``epochs``).
        standalone_seeds: standalone runs per architecture (accuracies averaged).
        share_first: share only the stem and the first ``k`` block slots.
        recalibrate_bn: batch-norm recalibration batches before scoring each path.
        sample: architectures to rank (default: all when the space has at most
            :data:`FULL_SPACE`, else :data:`DEFAULT_SAMPLE`), drawn with ``seed``.
        recipe: training recipe fields shared by the supernet and standalone runs.
        sampler_options: per sampler name, its options (``{"epsilon_greedy": {...}}``).
        seed: base seed.
        device: ``cpu``, ``cuda`` or ``auto``.
        progress: called with a short message before each training: the step, its
            count, the time elapsed and an estimate of the time left.

    Returns:
        A :class:`SupernetRanking`.

    Raises:
        ConfigError: bad counts or sampler names; SupernetError: a space the supernet
            cannot express.
    """
    from ...data.datasets import load_dataset
    from ...recipes.supernet.decode import supernet_spec
    from ...recipes.supernet.model import Supernet
    from ...recipes.supernet.samplers import create_sampler
    from ...recipes.supernet.training import supernet_recipe

    for name, value in (("seeds", seeds), ("epochs", epochs), ("standalone_seeds", standalone_seeds)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name}={value!r} must be a positive integer")
    spec = supernet_spec(space)
    options = {k: dict(v) for k, v in (sampler_options or {}).items()}
    samplers = list(dict.fromkeys(samplers))
    for name in samplers:  # fail before any training
        create_sampler(name, spec.num_choices, seed=0, **options.get(name, {}))
    Supernet(spec, share_first=share_first)  # checks share_first
    bundle = load_dataset(dataset) if isinstance(dataset, str) else dataset
    paths = choose_paths(spec, sample, seed)
    say = _StepClock(progress, len(paths) + len(samplers) * seeds)
    sn_recipe = supernet_recipe(recipe, epochs)
    sa_recipe = supernet_recipe(recipe, standalone_epochs or epochs)

    sa_runs, sa_seconds = _standalone(
        space, spec, paths, bundle, sa_recipe, standalone_seeds, seed, device, say
    )
    truth = sa_runs.mean(axis=0)
    scores: dict[str, np.ndarray] = {}
    curves, timing = [], []
    for name in samplers:
        runs = []
        for s in range(seed, seed + seeds):
            say(f"supernet {name} seed {s}")
            accs, rows, train_s, eval_s = _supernet_run(
                spec,
                paths,
                bundle,
                name,
                options.get(name, {}),
                sn_recipe,
                share_first,
                recalibrate_bn,
                s,
                device,
                truth,
            )
            runs.append(accs)
            curves += [{"sampler": name, "seed": s, **r} for r in rows]
            timing.append({"sampler": name, "seed": s, "train_seconds": train_s, "eval_seconds": eval_s})
        scores[name] = np.asarray(runs, dtype=np.float64)
    table = architecture_table(spec, paths, truth, scores, space.model.in_shape)
    table.insert(table.columns.get_loc("standalone") + 1, "standalone_std", _seed_std(sa_runs))
    summary = sampler_table(table, scores, truth, pd.DataFrame(timing))
    settings = {
        "space": space.name,
        "samplers": samplers,
        "seeds": seeds,
        "epochs": epochs,
        "standalone_epochs": standalone_epochs or epochs,
        "standalone_seeds": standalone_seeds,
        "share_first": share_first,
        "recalibrate_bn": recalibrate_bn,
        "architectures": len(paths),
        "space_size": spec.num_paths,
        "recipe": sn_recipe.to_dict(),
        "seed": seed,
        "sampler_options": options,
    }
    return SupernetRanking(
        architectures=table,
        samplers=summary,
        tau_by_epoch=pd.DataFrame(curves),
        scores=scores,
        standalone_seconds=sa_seconds,
        settings=settings,
        standalone_runs=sa_runs,
    )


class _StepClock:
    """Progress lines ``[k/n] message, 12 s elapsed, about 30 s left`` (left: the mean
    step so far times the steps to go; steps are one standalone architecture or one
    supernet run)."""

    def __init__(self, progress: Progress | None, steps: int) -> None:
        self.progress, self.steps, self.done = progress, steps, 0
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.started
        left = f", about {elapsed / self.done * (self.steps - self.done):.0f} s left" if self.done else ""
        self.done += 1
        self.progress(f"[{self.done}/{self.steps}] {message}, {elapsed:.0f} s elapsed{left}")


def _seed_std(runs: np.ndarray) -> np.ndarray:
    """Standard deviation over seeds (rows), NaN with one seed: one run measures no spread."""
    if len(runs) < 2:
        return np.full(runs.shape[1], np.nan)
    return runs.std(axis=0, ddof=1)


def choose_paths(spec: Any, sample: int | None, seed: int) -> list[tuple[int, ...]]:
    """All paths of a small space, else ``sample`` distinct paths drawn with ``seed``."""
    total = spec.num_paths
    if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int) or sample < 2):
        raise ConfigError(f"sample={sample!r} must be an integer >= 2 (architectures to rank)")
    n = min(total, sample if sample is not None else (total if total <= FULL_SPACE else DEFAULT_SAMPLE))
    if n == total:
        return spec.paths()
    rng = np.random.default_rng(seed)
    chosen: set[tuple[int, ...]] = set()
    while len(chosen) < n:
        chosen.add(tuple(int(rng.integers(k)) for k in spec.num_choices))
    return sorted(chosen)


def architecture_table(
    spec: Any,
    paths: Sequence[tuple[int, ...]],
    truth: np.ndarray,
    scores: Mapping[str, np.ndarray],
    in_shape: Sequence[int],
) -> pd.DataFrame:
    """The per-architecture table (see :attr:`SupernetRanking.architectures`)."""
    rows = []
    for path in paths:
        flops, params = spec.costs(path, in_shape)
        rows.append({**spec.arch(path), "flops": flops, "params": params})
    table = pd.DataFrame(rows)
    table["standalone"] = truth
    table["standalone_rank"] = _ranks(truth)
    for name, runs in scores.items():
        mean = runs.mean(axis=0)
        table[f"acc_{name}"] = mean
        table[f"std_{name}"] = runs.std(axis=0)
        table[f"rank_{name}"] = _ranks(mean)
    return table


def sampler_table(
    table: pd.DataFrame,
    scores: Mapping[str, np.ndarray],
    truth: np.ndarray,
    timing: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The per-sampler metrics (see :attr:`SupernetRanking.samplers`)."""
    rows = []
    labels = arch_labels(table)
    for name, runs in scores.items():
        row = {"sampler": name, **ranking_metrics(runs, truth)}
        row["best"] = labels[int(np.nanargmax(runs.mean(axis=0)))]
        if timing is not None and len(timing):
            mine = timing[timing["sampler"] == name]
            row["train_seconds"] = float(mine["train_seconds"].mean())
            row["eval_seconds"] = float(mine["eval_seconds"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def ranking_metrics(runs: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """GT-Tau, GT-Tau of the seed mean, S-Tau and TnR of supernet scores against the truth.

    Args:
        runs: supernet accuracies, one row per seed, one column per architecture.
        truth: standalone accuracies per architecture (NaN where training failed: those
            columns are left out).

    Returns:
        ``{"gt_tau", "gt_tau_of_mean", "s_tau", "t1r", "t3r"}`` (``s_tau`` is NaN for
        a single seed).
    """
    runs = np.atleast_2d(np.asarray(runs, dtype=np.float64))
    truth = np.asarray(truth, dtype=np.float64)
    keep = np.isfinite(truth) & np.isfinite(runs).all(axis=0)
    runs, truth = runs[:, keep], truth[keep]
    out = {
        "gt_tau": gt_tau(runs, truth),
        "gt_tau_of_mean": kendall_tau(truth, runs.mean(axis=0)),
        "s_tau": s_tau(runs) if len(runs) > 1 else math.nan,
    }
    for n in TNR:
        out[f"t{n}r"] = (
            float(np.mean([top_n_rank(truth, run, n) for run in runs])) if truth.size else math.nan
        )
    return out


def discordant_pairs(ranking: SupernetRanking, sampler: str) -> pd.DataFrame:
    """Pairs of architectures the sampler's seed-mean accuracies order against standalone.

    Returns:
        ``a``, ``b``, ``standalone_a``, ``standalone_b``, ``supernet_a``, ``supernet_b``,
        ``gap`` (standalone ``a - b``, > 0), sorted by gap (the closest pairs first).
    """
    table = ranking.architectures
    labels = arch_labels(table)
    truth, acc = table["standalone"].to_numpy(), table[f"acc_{sampler}"].to_numpy()
    rows = []
    for i, j in itertools.permutations(range(len(table)), 2):
        if truth[i] > truth[j] and acc[i] < acc[j]:
            rows.append(
                {
                    "a": labels[i],
                    "b": labels[j],
                    "standalone_a": truth[i],
                    "standalone_b": truth[j],
                    "supernet_a": acc[i],
                    "supernet_b": acc[j],
                    "gap": truth[i] - truth[j],
                }
            )
    frame = pd.DataFrame(
        rows, columns=["a", "b", "standalone_a", "standalone_b", "supernet_a", "supernet_b", "gap"]
    )
    return frame.sort_values("gap", kind="stable").reset_index(drop=True)


def arch_labels(table: pd.DataFrame) -> list[str]:
    """Short labels of the table's architectures: the variable values joined, e.g. ``(1,3)``."""
    names = [
        c
        for c in table.columns
        if c not in ("flops", "params", "standalone", "standalone_std", "standalone_rank")
        and not c.startswith(("acc_", "std_", "rank_"))
    ]
    return ["(" + ",".join(str(v) for v in row) + ")" for row in table[names].itertuples(index=False)]


# -- runs ------------------------------------------------------------------------------------
def _standalone(
    space: SearchSpace,
    spec: Any,
    paths: Sequence[tuple[int, ...]],
    bundle: Any,
    recipe: Any,
    n_seeds: int,
    seed: int,
    device: str,
    say: Progress,
) -> tuple[np.ndarray, float]:
    from ...recipes.train import train_and_evaluate

    runs, start = [], time.perf_counter()
    for k, path in enumerate(paths, start=1):
        arch = spec.arch(path)
        say(f"standalone {k}/{len(paths)} {arch}")
        runs.append(
            [
                train_and_evaluate(
                    arch, recipe, bundle, device=device, seed=s, model_spec=space.model, space=space
                ).val_acc
                for s in range(seed, seed + n_seeds)
            ]
        )
    return np.asarray(runs, dtype=np.float64).T, time.perf_counter() - start


def _supernet_run(
    spec: Any,
    paths: Sequence[tuple[int, ...]],
    bundle: Any,
    sampler: str,
    options: Mapping[str, Any],
    recipe: Any,
    share_first: int | None,
    recalibrate_bn: int,
    seed: int,
    device: str,
    truth: np.ndarray,
) -> tuple[list[float], list[dict[str, Any]], float, float]:
    from ...recipes.supernet.model import Supernet
    from ...recipes.supernet.training import evaluate_paths, train_supernet

    net = Supernet(spec, share_first=share_first, seed=seed)
    rows: list[dict[str, Any]] = []
    latest: list[float] = []
    eval_seconds = 0.0

    def on_epoch(epoch: int, loss: float) -> None:
        nonlocal latest, eval_seconds
        start = time.perf_counter()
        latest = evaluate_paths(net, paths, bundle, recalibrate_bn=recalibrate_bn, seed=seed)
        eval_seconds += time.perf_counter() - start
        rows.append({"epoch": epoch, "loss": loss, "gt_tau": _tau(truth, latest)})

    result = train_supernet(
        net,
        bundle,
        sampler,
        recipe=recipe,
        seed=seed,
        device=device,
        sampler_options=options,
        on_epoch=on_epoch,
    )
    if result.status != "ok" or not latest:
        latest = [math.nan] * len(paths)
    return latest, rows, result.seconds - eval_seconds, eval_seconds / max(len(rows), 1)


def _tau(truth: np.ndarray, accs: Sequence[float]) -> float:
    a, b = np.asarray(truth, dtype=np.float64), np.asarray(accs, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    return kendall_tau(a[keep], b[keep])


def _ranks(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return true_ranks(np.where(np.isfinite(values), values, -np.inf))


__all__ = [
    "SupernetRanking",
    "arch_labels",
    "architecture_table",
    "choose_paths",
    "discordant_pairs",
    "rank_supernet",
    "ranking_metrics",
    "sampler_table",
]

"""EdgeNES: diversity-controlled ensemble search with a DARTS hypernetwork.

Call order: ``EdgeNES(space, ...)`` stores settings only; :meth:`EdgeNES.search` runs
DARTS (giving ``alpha*``) and trains the hypernetwork ``alpha(lambda, a)`` with the
shared supernet weights; :meth:`EdgeNES.sample` turns ``lambda`` values into discrete
architectures that share about ``lambda`` edges with ``alpha*`` (small ``lambda``: more
diverse); :meth:`EdgeNES.build_ensemble` samples ``N`` architectures for
``lambda ~ U{low..high}`` (default ``1..Lambda``), trains each (from scratch or from the
supernet's weights) and picks at most ``n`` of them by greedy forward selection on
validation accuracy of the averaged softmax.

Example:
    >>> space = CellSpace(nodes=2, channels=4, layout=("normal", "reduction"))
    >>> nes = EdgeNES(space, darts=DartsSettings(epochs=1, warmup_epochs=0),
    ...               hyper=HyperSettings(epochs=1), members=MemberSettings(epochs=1),
    ...               max_train=128, seed=0).search()
    >>> len(nes.sample([0, space.max_shared]))
    2
    >>> result = nes.build_ensemble(n=2, N=3)
    >>> len(result.selection.indices) <= 2, len(result.members)
    (True, 3)
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ....data.datasets import DatasetBundle, load_dataset
from ....errors import ConfigError, NotFittedError
from .darts import DartsResult, darts_search
from .genotype import Genotype
from .hypernet import HyperResult, sample_architectures, train_hypernet
from .members import Member, spawn_seeds, train_member
from .selection import Selection, ensemble_proba, greedy_select, mean_pairwise_shared
from .settings import DartsSettings, HyperSettings, MemberSettings, lambda_pair
from .space import CellSpace
from .training import Splits, accuracy


@dataclass
class EnsembleResult:
    """A built ensemble, its candidate pool and the budget it took.

    Attributes:
        members: every trained candidate (``N``), in sampling order.
        selection: the greedy selection (indices into ``members``).
        alpha_star: the DARTS architecture.
        val_acc: validation accuracy of the chosen ensemble.
        test_acc: its test accuracy (NaN without a test split).
        diversity: mean pairwise shared edges of the chosen members and of the pool, mean
            shared edges with ``alpha*`` of both.
        seconds: wall time per phase (``darts``, ``hypernet``, ``members``, ``total``).
        cpu_seconds: process CPU time per phase.
    """

    members: list[Member]
    selection: Selection
    alpha_star: Genotype
    val_acc: float
    test_acc: float
    diversity: dict[str, float]
    seconds: dict[str, float]
    cpu_seconds: dict[str, float]

    @property
    def chosen(self) -> list[Member]:
        """The selected members."""
        return [self.members[i] for i in self.selection.indices]


def ensemble_scores(members: Sequence[Member], splits: Splits) -> tuple[float, float]:
    """Validation and test accuracy of the averaged softmax of ``members``."""
    val = accuracy(ensemble_proba([m.val_proba for m in members]), splits.y_val)
    if splits.y_test is None or any(m.test_proba is None for m in members):
        return val, float("nan")
    return val, accuracy(ensemble_proba([m.test_proba for m in members]), splits.y_test)


class EdgeNES:
    """Diversity-controlled neural ensemble search (DARTS + hypernetwork + greedy selection).

    Args:
        space: the cell space; its ``in_shape`` and ``num_classes`` are taken from the
            dataset (the fitted space is ``space_``).
        dataset: a dataset name for :func:`~jointnas.data.datasets.load_dataset` or a
            loaded :class:`~jointnas.data.datasets.DatasetBundle`.
        root: dataset folder (datasets other than ``digits``).
        darts: DARTS settings.
        hyper: hypernetwork settings (``C`` is ``hyper.penalty``).
        members: member-training settings.
        sample_range: ``(low, high)`` integers of ``p(Lambda)``, uniform; default
            ``(1, Lambda)``.
        seed: the one seed every phase derives its own from.
        device: ``auto``, ``cpu``, ``cuda``, ...
        max_train: keep only this many training examples (tiny runs and tests).
        progress: show tqdm bars.

    Raises:
        ConfigError: a ``lambda`` range outside ``[0, Lambda]``.
    """

    def __init__(
        self,
        space: CellSpace,
        *,
        dataset: str | DatasetBundle = "digits",
        root: str | None = None,
        darts: DartsSettings | None = None,
        hyper: HyperSettings | None = None,
        members: MemberSettings | None = None,
        sample_range: tuple[int, int] | None = None,
        seed: int = 0,
        device: str = "auto",
        max_train: int | None = None,
        progress: bool = False,
    ) -> None:
        self.space, self.dataset, self.root = space, dataset, root
        self.darts = darts or DartsSettings()
        self.hyper = hyper or HyperSettings()
        self.members = members or MemberSettings()
        self.sample_range = sample_range
        self.seed, self.device, self.max_train, self.progress = seed, device, max_train, progress
        check_lambda_ranges(space, self.hyper.lambda_range, sample_range)

    # -- fitting ---------------------------------------------------------------------------
    def search(self) -> "EdgeNES":
        """Run DARTS, then train the hypernetwork; returns ``self``.

        Sets ``splits_``, ``space_``, ``darts_`` (:class:`~.darts.DartsResult`),
        ``alpha_star_``, ``hyper_`` (:class:`~.hypernet.HyperResult`) and ``hypernet_``.
        The supernet (``darts_.supernet``) keeps training during the hypernetwork phase;
        inheriting members start from its final weights.
        """
        self._load()
        s_darts, s_hyper, s_sample = spawn_seeds(self.seed, 3)
        self.darts_: DartsResult = darts_search(self.space_, self.splits_, self.darts, s_darts, self.progress)
        self.alpha_star_: Genotype = self.darts_.alpha_star
        self.hyper_: HyperResult = train_hypernet(
            self.space_,
            self.splits_,
            self.darts_.supernet,
            self.darts_.alpha,
            self.alpha_star_,
            self.hyper,
            s_hyper,
            self.progress,
        )
        self.hypernet_ = self.hyper_.hypernet
        self.generator_ = torch.Generator().manual_seed(s_sample)
        return self

    def _load(self) -> None:
        from ....recipes.train import resolve_device

        device = resolve_device(self.device)
        bundle = (
            self.dataset
            if isinstance(self.dataset, DatasetBundle)
            else load_dataset(self.dataset, root=self.root)
        )
        self.splits_ = Splits.from_bundle(bundle, device, self.max_train)
        self.space_ = dataclasses.replace(
            self.space, in_shape=tuple(self.splits_.in_shape), num_classes=self.splits_.num_classes
        )

    def _fitted(self) -> None:
        if not hasattr(self, "hypernet_"):
            raise NotFittedError("EdgeNES is not searched yet: call search() first")

    # -- sampling --------------------------------------------------------------------------
    def draw_lambdas(self, count: int) -> list[int]:
        """``count`` values of ``lambda ~ U{low..high}`` (the sampling range)."""
        self._fitted()
        low, high = self.sample_range or (1, self.space_.max_shared)
        draws = torch.randint(int(low), int(high) + 1, (count,), generator=self.generator_)
        return [int(v) for v in draws]

    def sample(self, lambdas: Sequence[float], stochastic: bool = True) -> list[Genotype]:
        """One discrete architecture per ``lambda`` (see :func:`~.hypernet.sample_architectures`).

        Raises:
            NotFittedError: before :meth:`search`.
            ConfigError: a ``lambda`` outside ``[0, Lambda]``.
        """
        self._fitted()
        top = self.space_.max_shared
        for lam in lambdas:
            if not 0 <= float(lam) <= top:
                raise ConfigError(f"lambda={lam} is outside [0, Lambda={top}]", "lambda")
        return sample_architectures(
            self.hypernet_, self.space_, list(lambdas), self.hyper.tau, self.generator_, stochastic
        )

    # -- ensembles -------------------------------------------------------------------------
    def build_ensemble(self, n: int, N: int, lambdas: Sequence[float] | None = None) -> EnsembleResult:
        """Sample ``N`` architectures, train them and select at most ``n`` greedily.

        Args:
            n: largest ensemble size.
            N: candidates to sample and train.
            lambdas: explicit ``lambda`` per candidate (default: ``N`` draws of ``p``).

        Returns:
            An :class:`EnsembleResult`.

        Raises:
            ConfigError: ``n > N``, ``n < 1`` or ``len(lambdas) != N``.
            NotFittedError: before :meth:`search`.
        """
        check_sizes(n, N)
        self._fitted()
        lambdas = self.draw_lambdas(N) if lambdas is None else list(lambdas)
        if len(lambdas) != N:
            raise ConfigError(f"got {len(lambdas)} lambda values for N={N} candidates", "lambdas")
        genotypes = self.sample(lambdas)
        seeds = spawn_seeds(self.seed + 1, N)
        start, cpu_start = time.perf_counter(), time.process_time()
        pool = []
        from tqdm.auto import tqdm

        for geno, lam, s in tqdm(
            list(zip(genotypes, lambdas, seeds)), desc="members", disable=not self.progress, leave=False
        ):
            pool.append(
                train_member(
                    self.space_,
                    geno,
                    self.splits_,
                    self.members,
                    s,
                    self.darts_.supernet,
                    lam,
                    "edgenes",
                    self.alpha_star_,
                )
            )
        member_s, member_cpu = time.perf_counter() - start, time.process_time() - cpu_start
        return assemble(
            pool,
            n,
            self.splits_,
            self.alpha_star_,
            seconds={"darts": self.darts_.seconds, "hypernet": self.hyper_.seconds, "members": member_s},
            cpu_seconds={
                "darts": self.darts_.cpu_seconds,
                "hypernet": self.hyper_.cpu_seconds,
                "members": member_cpu,
            },
        )


def assemble(
    pool: list[Member],
    n: int,
    splits: Splits,
    alpha_star: Genotype,
    seconds: dict[str, float],
    cpu_seconds: dict[str, float],
) -> EnsembleResult:
    """Greedy selection of at most ``n`` of ``pool`` and the ensemble's measurements."""
    selection = greedy_select([m.val_proba for m in pool], splits.y_val, n)
    chosen = [pool[i] for i in selection.indices]
    val_acc, test_acc = ensemble_scores(chosen, splits)

    def star(ms: list) -> float:
        shared = [m.shared_with_star for m in ms if m.shared_with_star is not None]
        return float(np.mean(shared or [math.nan]))

    diversity = {
        "mean_pairwise_shared_chosen": mean_pairwise_shared([m.genotype for m in chosen]),
        "mean_pairwise_shared_pool": mean_pairwise_shared([m.genotype for m in pool]),
        "mean_shared_with_alpha_star_chosen": star(chosen),
        "mean_shared_with_alpha_star_pool": star(pool),
    }
    seconds = {**seconds, "total": sum(seconds.values())}
    cpu_seconds = {**cpu_seconds, "total": sum(cpu_seconds.values())}
    return EnsembleResult(pool, selection, alpha_star, val_acc, test_acc, diversity, seconds, cpu_seconds)


def check_sizes(n: int, N: int) -> None:
    """Check ``1 <= n <= N``.

    Raises:
        ConfigError: naming ``n`` and ``N``.
    """
    for name, value in (("n", n), ("N", N)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}", f"ensemble.{name}")
    if n > N:
        raise ConfigError(
            f"ensemble size n={n} is larger than the number of candidates N={N} (need n <= N)", "ensemble.n"
        )


def check_lambda_ranges(
    space: CellSpace, train_range: tuple[float, float] | None, sample_range: tuple[float, float] | None
) -> None:
    """Check that both ``lambda`` ranges lie in ``[0, Lambda]``.

    Raises:
        ConfigError: naming the range, its value and ``Lambda``.
    """
    top = space.max_shared
    for where, value in (("hypernet.lambda_range", train_range), ("ensemble.lambda_range", sample_range)):
        if value is None:
            continue
        low, high = lambda_pair(value, where)
        if low < 0 or high > top:
            raise ConfigError(
                f"lambda range [{low:g}, {high:g}] is outside [0, Lambda={top}] "
                f"(Lambda = 2 edges x {space.nodes} nodes x "
                f"{len(space.cell_types)} cell kinds)",
                where,
            )
        if where == "ensemble.lambda_range" and (low != int(low) or high != int(high)):
            raise ConfigError(f"the sampling range holds integers, got [{low:g}, {high:g}]", where)


__all__ = ["EdgeNES", "EnsembleResult", "assemble", "check_lambda_ranges", "check_sizes", "ensemble_scores"]

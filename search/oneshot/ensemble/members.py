"""Ensemble members: train a discrete architecture and keep its predicted probabilities.

A member trains from scratch with a short SGD schedule, or inherits the supernet's
weights (every module of its kept edges, the stem, the cell preprocessing and the
classifier) and then fine-tunes; with zero fine-tuning epochs only the batch-norm
statistics are re-estimated on the training split.

Example:
    >>> space = CellSpace(nodes=2, channels=4)
    >>> splits = Splits.from_bundle(load_dataset("digits"), max_train=128)
    >>> geno = random_genotype(space, np.random.default_rng(0))
    >>> member = train_member(space, geno, splits, MemberSettings(epochs=1), seed=0)
    >>> member.val_proba.shape
    torch.Size([359, 10])
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ....data.datasets import load_dataset  # noqa: F401 (doctest)
from ....errors import ConfigError
from .genotype import Genotype, random_genotype, shared_edges  # noqa: F401 (doctest)
from .network import CellNetwork, inherit_weights
from .settings import MemberSettings
from .space import CellSpace
from .training import Splits, accuracy, predict_proba, recalibrate_bn, seeded, train_epochs


@dataclass
class Member:
    """One trained member of a candidate pool.

    Attributes:
        genotype: its architecture.
        val_proba: softmax probabilities on the validation split ``[N_val, K]``.
        test_proba: the same on the test split (``None`` without a test split).
        val_acc: validation accuracy.
        test_acc: test accuracy (NaN without a test split).
        seconds: wall time of building, training and evaluating it.
        cpu_seconds: process CPU time of the same.
        seed: its training seed.
        lam: the ``lambda`` it was sampled for (EdgeNES members), else ``None``.
        source: ``edgenes``, ``darts`` or ``random``.
        shared_with_star: edges it shares with ``alpha*`` (``None`` when unknown).
    """

    genotype: Genotype
    val_proba: torch.Tensor
    test_proba: torch.Tensor | None
    val_acc: float
    test_acc: float
    seconds: float
    cpu_seconds: float
    seed: int
    lam: float | None = None
    source: str = "edgenes"
    shared_with_star: int | None = None

    def describe(self) -> dict:
        """Plain mapping for YAML: architecture, origin, accuracies, time (no probabilities)."""
        return {
            "source": self.source,
            "lambda": self.lam,
            "shared_with_alpha_star": self.shared_with_star,
            "seed": self.seed,
            "val_acc": self.val_acc,
            "test_acc": self.test_acc,
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
            "genotype": self.genotype.to_dict(),
        }


def train_member(
    space: CellSpace,
    genotype: Genotype,
    splits: Splits,
    settings: MemberSettings | None = None,
    seed: int = 0,
    supernet: CellNetwork | None = None,
    lam: float | None = None,
    source: str = "edgenes",
    alpha_star: Genotype | None = None,
) -> Member:
    """Train one discrete architecture and measure it.

    Args:
        space: the cell space.
        genotype: the architecture.
        splits: data (all on the device to use).
        settings: schedule; ``settings.inherit`` needs ``supernet``.
        seed: initialization and batch-order seed.
        supernet: the weight-sharing supernet to inherit from.
        lam: the ``lambda`` the architecture came from (recorded only).
        source: where the architecture came from (recorded only).
        alpha_star: when given, the member records its shared edges with it.

    Returns:
        A :class:`Member`.

    Raises:
        ConfigError: ``inherit`` without a supernet, or a diverged schedule.
    """
    settings = settings or MemberSettings()
    if settings.inherit and supernet is None:
        raise ConfigError("members.inherit needs the supernet: run the search first", "members.inherit")
    start, cpu_start = time.perf_counter(), time.process_time()
    with seeded(seed):
        model = CellNetwork(space, genotype).to(splits.x_train.device)
    if settings.inherit:
        inherit_weights(model, supernet)
        recalibrate_bn(model, splits.x_train)
    if settings.epochs:
        train_epochs(
            model,
            splits,
            epochs=settings.epochs,
            lr=settings.lr,
            momentum=settings.momentum,
            weight_decay=settings.weight_decay,
            batch_size=settings.batch_size,
            seed=seed,
        )
    val_proba = predict_proba(model, splits.x_val)
    test_proba = predict_proba(model, splits.x_test) if splits.x_test is not None else None
    test_acc = accuracy(test_proba, splits.y_test) if test_proba is not None else float("nan")
    return Member(
        genotype,
        val_proba,
        test_proba,
        accuracy(val_proba, splits.y_val),
        test_acc,
        time.perf_counter() - start,
        time.process_time() - cpu_start,
        seed,
        lam,
        source,
        None if alpha_star is None else shared_edges(genotype, alpha_star),
    )


def spawn_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent 31-bit seeds derived from ``seed`` (numpy ``SeedSequence``)."""
    return [int(s.generate_state(1)[0] >> 1) for s in np.random.SeedSequence(seed).spawn(n)]


__all__ = ["Member", "spawn_seeds", "train_member"]

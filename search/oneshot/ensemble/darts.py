"""First-order DARTS on a :class:`~.space.CellSpace`: the supernet and ``alpha*``.

Bilevel alternating updates: for each training batch, one Adam step of the
architecture logits ``alpha`` on a validation batch (first-order: the weights are held
fixed), then one SGD step of the supernet weights on the training batch under
``softmax(alpha)``. The discretized result (:func:`~.genotype.discretize`: each node keeps
its two strongest incoming edges, each with its strongest non-``none`` op) is ``alpha*``.

Example:
    >>> space = CellSpace(nodes=2, channels=4, layout=("normal", "reduction"))
    >>> splits = Splits.from_bundle(load_dataset("digits"), max_train=128)
    >>> result = darts_search(space, splits, DartsSettings(epochs=1, warmup_epochs=0), seed=0)
    >>> sum(len(result.alpha_star.cell(k)) for k in space.cell_types) == space.max_shared
    True
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from itertools import cycle

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ....data.datasets import load_dataset  # noqa: F401 (doctest)
from .genotype import Genotype, discretize
from .network import CellNetwork
from .settings import DartsSettings
from .space import CellSpace
from .training import Splits, accuracy, batches, cosine, predict_proba, seeded, sgd


@dataclass
class DartsResult:
    """What a DARTS search produced.

    Attributes:
        alpha: the final architecture logits ``[T, E, O]`` (CPU).
        alpha_star: their discretization.
        supernet: the trained supernet (shared weights).
        val_acc: validation accuracy of the supernet under ``softmax(alpha)``.
        seconds: wall time.
        cpu_seconds: process CPU time.
        history: per-epoch ``{"epoch", "train_loss", "val_loss"}``.
    """

    alpha: torch.Tensor
    alpha_star: Genotype
    supernet: CellNetwork
    val_acc: float
    seconds: float
    cpu_seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def init_alpha(space: CellSpace, generator: torch.Generator) -> torch.Tensor:
    """DARTS initialization of the logits: ``1e-3 * N(0, 1)``, shape ``[T, E, O]``."""
    shape = (len(space.cell_types), space.num_edges, len(space.ops))
    return 1e-3 * torch.randn(shape, generator=generator)


def darts_search(
    space: CellSpace,
    splits: Splits,
    settings: DartsSettings | None = None,
    seed: int = 0,
    progress: bool = False,
) -> DartsResult:
    """Run first-order DARTS and discretize the result.

    Args:
        space: the cell space (its ``in_shape`` and ``num_classes`` must fit ``splits``).
        splits: train / validation tensors (all on the device to use).
        settings: DARTS hyperparameters (defaults when ``None``).
        seed: seeds the supernet initialization, ``alpha`` and the batch order.
        progress: show a tqdm bar over epochs.

    Returns:
        A :class:`DartsResult`; ``result.alpha_star`` is ``alpha*``.
    """
    settings = settings or DartsSettings()
    start, cpu_start = time.perf_counter(), time.process_time()
    device = splits.x_train.device
    gen = torch.Generator().manual_seed(seed)
    with seeded(seed):
        net = CellNetwork(space).to(device)
    alpha = nn.Parameter(init_alpha(space, gen).to(device))
    w_opt = sgd(net.parameters(), settings.w_lr, settings.w_momentum, settings.w_weight_decay)
    per_epoch = math.ceil(len(splits.y_train) / settings.batch_size)
    sched = cosine(w_opt, settings.epochs * per_epoch)
    a_opt = torch.optim.Adam(
        [alpha], lr=settings.alpha_lr, betas=(0.5, 0.999), weight_decay=settings.alpha_weight_decay
    )
    history = []
    net.train()
    for epoch in tqdm(range(settings.epochs), desc="darts", disable=not progress, leave=False):
        val_batches = cycle(list(batches(len(splits.y_val), settings.batch_size, gen)))
        search_alpha = epoch >= settings.warmup_epochs
        sums = {"train_loss": 0.0, "val_loss": 0.0}
        for idx in batches(len(splits.y_train), settings.batch_size, gen):
            if search_alpha:
                vidx = next(val_batches).to(device)
                val_loss = F.cross_entropy(
                    net(splits.x_val[vidx], torch.softmax(alpha, -1)), splits.y_val[vidx]
                )
                a_opt.zero_grad(set_to_none=True)
                (grad,) = torch.autograd.grad(val_loss, [alpha])
                alpha.grad = grad
                a_opt.step()
                sums["val_loss"] += float(val_loss.detach()) / per_epoch
            idx = idx.to(device)
            loss = F.cross_entropy(
                net(splits.x_train[idx], torch.softmax(alpha, -1).detach()), splits.y_train[idx]
            )
            w_opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), settings.grad_clip)
            w_opt.step()
            sched.step()
            sums["train_loss"] += float(loss.detach()) / per_epoch
        history.append({"epoch": epoch + 1, **sums})
    alpha_final = alpha.detach().cpu()
    val_acc = accuracy(predict_proba(net, splits.x_val, torch.softmax(alpha.detach(), -1)), splits.y_val)
    return DartsResult(
        alpha_final,
        discretize(alpha_final, space),
        net,
        val_acc,
        time.perf_counter() - start,
        time.process_time() - cpu_start,
        history,
    )


__all__ = ["DartsResult", "darts_search", "init_alpha"]

"""The hypernetwork alpha(lambda, a): architecture logits with a given overlap with alpha*.

``lambda`` in ``[0, Lambda]`` is the number of edges (edge and operation) a sampled
architecture should share with the DARTS result ``alpha*``; ``Lambda`` is the number of
edges of a discrete architecture. The hypernetwork is the DARTS logits plus a small MLP
of ``lambda / Lambda`` (its output layer starts at zero, so training starts from DARTS's
logits for every ``lambda``). :func:`train_hypernet` minimizes

``E_{lambda ~ U(range)} [ L_val(w, alpha(lambda, a)) + C (lambda - <alpha*, GS(alpha(lambda, a))>)^2 ]``

over ``a`` on validation batches, with ``GS`` the straight-through Gumbel-softmax
architecture sample (:func:`~.gumbel.gumbel_architecture`), alternating with SGD steps of
the shared supernet weights ``w`` on the training loss under a sampled ``lambda``.

Example:
    >>> space = CellSpace(nodes=2, ops=("none", "skip_connect", "sep_conv_3x3"))
    >>> hyper = HyperNet(torch.zeros(2, space.num_edges, 3), space.max_shared, hidden=8)
    >>> hyper(torch.tensor([0.0, 8.0])).shape
    torch.Size([2, 2, 5, 3])
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

from .genotype import Genotype, discretize, genotype_mask, mask_to_genotype
from .gumbel import edge_count, gumbel_architecture
from .network import CellNetwork
from .settings import HyperSettings
from .space import CellSpace
from .training import Splits, batches, cosine, seeded, sgd


class HyperNet(nn.Module):
    """``alpha(lambda) = base + MLP(lambda / Lambda)``, logits shaped ``[T, E, O]``.

    Args:
        base: initial logits ``[T, E, O]`` (DARTS's alpha), a trainable parameter.
        max_shared: ``Lambda``, used to scale ``lambda`` to ``[0, 1]``.
        hidden: hidden units of the MLP.
    """

    def __init__(self, base: torch.Tensor, max_shared: int, hidden: int = 32) -> None:
        super().__init__()
        self.max_shared = max_shared
        self.base = nn.Parameter(base.detach().clone().float())
        self.mlp = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, base.numel()))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def forward(self, lambdas: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, T, E, O]`` for ``lambdas [B]`` (or ``[T, E, O]`` for a scalar)."""
        lam = torch.as_tensor(lambdas, dtype=torch.float32, device=self.base.device)
        scalar = lam.dim() == 0
        x = (2.0 * lam.reshape(-1, 1) / self.max_shared) - 1.0
        out = self.base + self.mlp(x).reshape(-1, *self.base.shape)
        return out[0] if scalar else out


@dataclass
class HyperResult:
    """A trained hypernetwork and what its training measured.

    Attributes:
        hypernet: the trained :class:`HyperNet`.
        seconds: wall time; cpu_seconds: process CPU time.
        history: per-epoch ``{"epoch", "val_loss", "penalty", "train_loss"}``.
    """

    hypernet: HyperNet
    seconds: float
    cpu_seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def train_hypernet(
    space: CellSpace,
    splits: Splits,
    supernet: CellNetwork,
    alpha: torch.Tensor,
    alpha_star: Genotype,
    settings: HyperSettings | None = None,
    seed: int = 0,
    progress: bool = False,
) -> HyperResult:
    """Train ``alpha(lambda, a)`` together with the shared supernet weights (in place).

    Args:
        space: the cell space.
        splits: data (validation batches train ``a``, training batches train ``w``).
        supernet: the DARTS supernet; its weights keep training here.
        alpha: DARTS logits ``[T, E, O]``: the hypernetwork's starting point.
        alpha_star: the discretized DARTS result.
        settings: hyperparameters; ``lambda_range=None`` means ``(0, Lambda)``.
        seed: seeds the MLP initialization, ``lambda`` draws, Gumbel noise and batches.
        progress: show a tqdm bar over epochs.

    Returns:
        A :class:`HyperResult`.
    """
    settings = settings or HyperSettings()
    start, cpu_start = time.perf_counter(), time.process_time()
    device = splits.x_train.device
    low, high = settings.lambda_range or (0.0, float(space.max_shared))
    gen = torch.Generator().manual_seed(seed)
    with seeded(seed):
        hyper = HyperNet(alpha, space.max_shared, settings.hidden).to(device)
    star = genotype_mask(alpha_star, space).to(device)
    h_opt = torch.optim.Adam(hyper.parameters(), lr=settings.lr)
    w_opt = sgd(supernet.parameters(), settings.w_lr, settings.w_momentum, settings.w_weight_decay)
    per_epoch = math.ceil(len(splits.y_train) / settings.batch_size)
    sched = cosine(w_opt, settings.epochs * per_epoch)

    def draw(k: int) -> torch.Tensor:
        return (low + (high - low) * torch.rand(k, generator=gen)).to(device)

    history = []
    supernet.train()
    for epoch in tqdm(range(settings.epochs), desc="hypernet", disable=not progress, leave=False):
        val_batches = cycle(list(batches(len(splits.y_val), settings.batch_size, gen)))
        sums = {"val_loss": 0.0, "penalty": 0.0, "train_loss": 0.0}
        for idx in batches(len(splits.y_train), settings.batch_size, gen):
            # a-step: validation loss at one lambda + penalty over penalty_samples lambdas
            lams = draw(1 + settings.penalty_samples)
            logits = hyper(lams)
            vidx = next(val_batches).to(device)
            val_loss = F.cross_entropy(
                supernet(splits.x_val[vidx], torch.softmax(logits[0], -1)), splits.y_val[vidx]
            )
            sample = gumbel_architecture(logits[1:], space, settings.tau, gen)
            penalty = ((lams[1:] - edge_count(star, sample)) ** 2).mean()
            loss = val_loss + settings.penalty * penalty
            h_opt.zero_grad(set_to_none=True)
            grads = torch.autograd.grad(loss, list(hyper.parameters()))
            for p, g in zip(hyper.parameters(), grads):
                p.grad = g
            h_opt.step()
            # w-step: training loss under a freshly sampled lambda
            with torch.no_grad():
                weights = torch.softmax(hyper(draw(1))[0], -1)
            idx = idx.to(device)
            train_loss = F.cross_entropy(supernet(splits.x_train[idx], weights), splits.y_train[idx])
            w_opt.zero_grad(set_to_none=True)
            train_loss.backward()
            nn.utils.clip_grad_norm_(supernet.parameters(), 5.0)
            w_opt.step()
            sched.step()
            for key, value in (("val_loss", val_loss), ("penalty", penalty), ("train_loss", train_loss)):
                sums[key] += float(value.detach()) / per_epoch
        history.append({"epoch": epoch + 1, **sums})
    hyper.eval()
    return HyperResult(hyper, time.perf_counter() - start, time.process_time() - cpu_start, history)


@torch.no_grad()
def sample_architectures(
    hyper: HyperNet,
    space: CellSpace,
    lambdas: torch.Tensor | list[float],
    tau: float = 1.0,
    generator: torch.Generator | None = None,
    stochastic: bool = True,
) -> list[Genotype]:
    """Discrete architectures for the given ``lambda`` values.

    Args:
        hyper: a trained hypernetwork.
        space: the cell space.
        lambdas: target numbers of edges shared with ``alpha*``.
        tau: Gumbel-softmax temperature (only the edge ranking depends on it).
        generator: Gumbel noise source.
        stochastic: discretize a Gumbel-softmax sample of ``alpha(lambda)`` (the sample the
            penalty was trained on); ``False``: discretize ``alpha(lambda)`` itself, the same
            architecture for the same ``lambda``.

    Returns:
        One :class:`~.genotype.Genotype` per ``lambda``.
    """
    logits = hyper(torch.as_tensor(lambdas, dtype=torch.float32).reshape(-1)).cpu()
    if not stochastic:
        return [discretize(a, space) for a in logits]
    hard = gumbel_architecture(logits, space, tau, generator)
    return [mask_to_genotype(h, space) for h in hard]


__all__ = ["HyperNet", "HyperResult", "sample_architectures", "train_hypernet"]

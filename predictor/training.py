"""Training helpers of :class:`~jointnas.predictor.estimator.AccuracyPredictor`.

Kept apart from the estimator, whose module holds only its contract: target transforms
(:class:`TargetTransform`), the cost scaler, one minibatch AdamW loop
(:func:`train_loop`), encoder pretraining (:func:`pretrain_encoder`) and the two-phase
fit of one ensemble member (:func:`fit_member`).
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable, Sequence

import numpy as np
import torch
from scipy import special, stats
from torch import nn
from torch.nn import functional as F

from .networks import AccuracyHead, Encoder, Member, ProxyHead

TRANSFORMS = ("rank", "standard")

RANGE_MARGIN = 0.05
"""Predictions stay within the training targets' range widened by this share of its span."""
MAX_STEPS_PER_EPOCH = 8


class TargetTransform:
    """Map accuracies to a training scale and back.

    ``standard``: ``(y - mean) / std``. ``rank``: the van der Waerden normal score of
    each value's rank within the training set, ``Phi^-1((rank - 0.5) / n)`` (ties at
    their average rank), so a long low tail of diverged runs counts only by its order.
    The inverse of ``rank`` interpolates the sorted training values (made strictly
    increasing by a ramp of ``1e-6`` of their range so that distinct scores stay
    distinct) and extrapolates linearly past the ends: scores come back on the accuracy
    scale and their order is exactly the order of the network outputs.

    Predictions stay accuracies: past the observed targets' range widened by
    :data:`RANGE_MARGIN` of its span (and never past ``[0, 1]`` when every target lies
    there), the inverse saturates smoothly (``hi - m exp(-(y - y_max) / m)`` style), so it
    stays strictly increasing but bounded, and a search cannot chase an extrapolation.

    Args:
        kind: ``rank`` or ``standard``.
    """

    def __init__(self, kind: str) -> None:
        if kind not in TRANSFORMS:
            raise ValueError(f"target_transform={kind!r} (allowed: {', '.join(TRANSFORMS)})")
        self.kind = kind
        self.mean = 0.0
        self.std = 1.0
        self.knots_z = np.zeros(0)
        self.knots_y = np.zeros(0)
        self.low, self.high = -np.inf, np.inf
        self.margin_low = self.margin_high = np.inf

    def fit(self, y: np.ndarray) -> np.ndarray:
        """Learn the transform from training targets and return the transformed targets."""
        y = np.asarray(y, dtype=np.float64)
        self.low, self.high = float(y.min()), float(y.max())
        margin = RANGE_MARGIN * ((self.high - self.low) or 1.0)
        unit = self.low >= 0.0 and self.high <= 1.0  # accuracies: never past [0, 1]
        self.margin_low = min(margin, self.low) if unit else margin
        self.margin_high = min(margin, 1.0 - self.high) if unit else margin
        self.mean = float(y.mean())
        self.std = float(y.std()) or 1.0
        if self.kind == "rank":
            n = y.size
            span = float(np.ptp(y)) or 1.0
            self.knots_z = special.ndtri((np.arange(n) + 0.5) / n)
            self.knots_y = np.sort(y) + 1e-6 * span * np.arange(n) / max(n - 1, 1)
        return self.transform(y)

    def transform(self, y: np.ndarray) -> np.ndarray:
        """Transformed targets (for ``rank``, ranks within ``y`` itself)."""
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "standard":
            return (y - self.mean) / self.std
        return special.ndtri((stats.rankdata(y) - 0.5) / y.size)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Map network outputs back to the accuracy scale (monotone increasing)."""
        z = np.asarray(z, dtype=np.float64)
        kz, ky = self.knots_z, self.knots_y
        if self.kind == "standard" or kz.size < 2:
            return self._bounded(z * self.std + self.mean)
        slope = (ky[-1] - ky[0]) / (kz[-1] - kz[0])
        out = np.interp(z, kz, ky)
        out = np.where(z < kz[0], ky[0] + (z - kz[0]) * slope, out)
        return self._bounded(np.where(z > kz[-1], ky[-1] + (z - kz[-1]) * slope, out))

    def _bounded(self, y: np.ndarray) -> np.ndarray:
        """Inside the observed range: ``y``; outside: a smooth saturation within the margins."""
        out = y
        for edge, margin, sign in ((self.high, self.margin_high, 1.0), (self.low, self.margin_low, -1.0)):
            if not np.isfinite(edge):
                continue
            past = sign * (y - edge)  # > 0 beyond this edge
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                squashed = edge + sign * (margin * -np.expm1(-past / margin) if margin > 0 else 0.0)
            out = np.where(past > 0, squashed, out)
        return out

    def state_dict(self) -> dict[str, Any]:
        """Plain-python and tensor state for saving."""
        return {
            "kind": self.kind,
            "mean": self.mean,
            "std": self.std,
            "bounds": torch.tensor(
                [self.low, self.high, self.margin_low, self.margin_high], dtype=torch.float64
            ),
            "knots_z": torch.from_numpy(self.knots_z.copy()),
            "knots_y": torch.from_numpy(self.knots_y.copy()),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "TargetTransform":
        """Rebuild a transform saved by :meth:`state_dict`."""
        out = cls(state["kind"])
        out.mean, out.std = float(state["mean"]), float(state["std"])
        out.knots_z = state["knots_z"].numpy().astype(np.float64)
        out.knots_y = state["knots_y"].numpy().astype(np.float64)
        if "bounds" in state:  # files written before predictions were bounded have none
            out.low, out.high, out.margin_low, out.margin_high = (float(v) for v in state["bounds"].numpy())
        return out


LABEL_TRANSFORMS = ("log", "signed_log")
"""How a free label is scaled before standardizing: ``log`` for labels that are all
positive (costs spanning orders of magnitude), ``signed_log`` = ``sign(v) log(1 + |v|)``
for labels of any sign (e.g. jacov, which is negative)."""


def label_transform(values: np.ndarray) -> str:
    """The transform of one label column (its finite values): ``log`` when all > 0."""
    finite = values[np.isfinite(values)]
    return "log" if finite.size and (finite > 0).all() else "signed_log"


def apply_transform(values: np.ndarray, transform: str) -> np.ndarray:
    """One label column moved by ``transform`` (:data:`LABEL_TRANSFORMS`) before z-scoring."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform == "log":
            return np.log(values)
        return np.sign(values) * np.log1p(np.abs(values))


def _inverse(values: np.ndarray, transform: str) -> np.ndarray:
    if transform == "log":
        return np.exp(values)
    return np.sign(values) * np.expm1(np.abs(values))


def standardize_labels(
    values: np.ndarray, transforms: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Free labels transformed per column (see :data:`LABEL_TRANSFORMS`), then standardized.

    Missing values (NaN) stay NaN: the pretraining loss masks them out.

    Returns:
        ``(scaled, transforms, mean, std)``.
    """
    values = np.asarray(values, dtype=np.float64)
    transforms = list(transforms or [label_transform(values[:, j]) for j in range(values.shape[1])])
    moved = np.column_stack([apply_transform(values[:, j], t) for j, t in enumerate(transforms)])
    moved[~np.isfinite(moved)] = np.nan
    mean = np.nanmean(moved, axis=0)
    std = np.nanstd(moved, axis=0)
    std = np.where(std > 0, std, 1.0)
    return (moved - mean) / std, transforms, mean, std


def unstandardize_labels(
    scaled: np.ndarray, transforms: Sequence[str], mean: np.ndarray, std: np.ndarray
) -> np.ndarray:
    """Labels in their original units from :func:`standardize_labels`' scale."""
    moved = np.asarray(scaled, dtype=np.float64) * std + mean
    return np.column_stack([_inverse(moved[:, j], t) for j, t in enumerate(transforms)])


def batch_size_for(n: int, batch_size: int) -> int:
    """Rows per step: at least ``batch_size``, and at most 8 steps per epoch."""
    return max(1, min(n, max(batch_size, math.ceil(n / MAX_STEPS_PER_EPOCH))))


def train_loop(
    params: list[Any],
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    generator: torch.Generator,
    valid_fn: Callable[[], float] | None = None,
    module: nn.Module | None = None,
    patience: int = 0,
    tick: Callable[[int], None] | None = None,
) -> float:
    """Minibatch AdamW with a cosine learning-rate decay to zero.

    Args:
        params: parameters (or AdamW parameter groups) to update; others stay frozen.
        loss_fn: loss of a batch given its row indices (a LongTensor on the CPU).
        n: number of training rows.
        epochs: passes over the rows; one full batch per epoch when ``n <= batch_size``.
        batch_size: rows per step.
        lr: peak learning rate.
        weight_decay: AdamW's decoupled weight decay.
        generator: owned generator for the shuffles.
        valid_fn: validation loss, checked after every epoch; with ``module`` the best
            weights are restored at the end (early stopping after ``patience`` epochs
            without improvement, when ``patience > 0``).
        module: the module whose weights early stopping snapshots.
        patience: epochs without improvement before stopping (0: never stop early).
        tick: called with the number of steps done, for progress bars.

    Returns:
        The best validation loss, or the last epoch's mean training loss.
    """
    if not params or epochs <= 0:
        return float("nan")
    steps = max(1, math.ceil(n / batch_size))
    total = epochs * steps
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, total) / total))
    )
    best, best_state, stale, last = math.inf, None, 0, float("nan")
    full = torch.arange(n)
    for _ in range(epochs):
        order = full if n <= batch_size else torch.randperm(n, generator=generator)
        running = 0.0
        for start in range(0, n, batch_size):
            loss = loss_fn(order[start : start + batch_size])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += float(loss.detach())
        last = running / steps
        if tick is not None:
            tick(steps)
        if valid_fn is not None:
            score = valid_fn()
            if score < best - 1e-6:
                best, stale = score, 0
                if module is not None:
                    best_state = copy.deepcopy(module.state_dict())
            else:
                stale += 1
                if patience and stale >= patience:
                    break
    if best_state is not None:
        module.load_state_dict(best_state)
    return best if valid_fn is not None else last


def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the finite entries of ``target`` (missing labels are NaN
    and add nothing, not even a gradient)."""
    known = torch.isfinite(target)
    diff = torch.where(known, pred - torch.nan_to_num(target), torch.zeros_like(pred))
    return (diff**2).sum() / known.sum().clamp(min=1)


def pretrain_encoder(
    encoder: Encoder,
    proxy: ProxyHead,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    generator: torch.Generator,
    **loop: Any,
) -> float:
    """Fit ``encoder`` and ``proxy`` to predict standardized free labels ``y`` from ``x``.

    ``y`` may hold NaN where a label is missing; those entries add nothing to the loss.

    The embedding can collapse onto the few directions that carry the costs; the
    estimator's scratch encoder beside the pretrained one keeps fine-tuning from
    depending on it alone.

    Args:
        encoder, proxy: freshly initialized modules, trained in place.
        x: arch encodings ``(n, arch_width)``; y: targets ``(n, n_costs)``.
        generator: owned generator (shuffles).
        **loop: :func:`train_loop` keywords (epochs, batch_size, lr, weight_decay, tick).

    Returns:
        The last epoch's mean loss.
    """
    params = [*encoder.parameters(), *proxy.parameters()]

    def loss_fn(idx: torch.Tensor) -> torch.Tensor:
        idx = idx.to(x.device)
        return masked_mse(proxy(encoder(x[idx])), y[idx])

    encoder.train()
    return train_loop(params, loss_fn, len(x), generator=generator, **loop)


def fit_member(
    encoders: list[Encoder],
    head: AccuracyHead,
    xa: torch.Tensor,
    xr: torch.Tensor,
    y: torch.Tensor,
    *,
    pretrained: bool,
    frozen_epochs: int,
    epochs: int,
    huber_delta: float,
    valid_fraction: float,
    patience: int,
    generator: torch.Generator,
    **loop: Any,
) -> Member:
    """Train one ensemble member in two phases.

    Phase 1 (only when ``pretrained``): the first encoder (the pretrained one) is frozen
    and the others and the head train for ``frozen_epochs``. Phase 2: all parameters for
    ``epochs``, with early stopping on a held-out fold when ``valid_fraction > 0``.

    Args:
        encoders: the member's encoders (pretrained first, if any).
        head: its accuracy head.
        xa, xr, y: arch encodings, recipe encodings and transformed targets.
        pretrained: whether ``encoders[0]`` comes from pretraining.
        frozen_epochs, epochs: epochs of phases 1 and 2.
        huber_delta: Huber threshold on the transformed scale.
        valid_fraction, patience: early-stopping fold and patience.
        generator: owned generator (fold, shuffles).
        **loop: :func:`train_loop` keywords (batch_size, lr, weight_decay, tick).

    Returns:
        The trained member, in eval mode.
    """
    member = Member(encoders, head).to(xa.device).train()
    n = len(y)
    n_valid = int(round(valid_fraction * n))
    perm = torch.randperm(n, generator=generator).to(xa.device)
    if n_valid < 1 or n - n_valid < 2:
        train_idx, valid_idx = torch.arange(n, device=xa.device), None
    else:
        train_idx, valid_idx = perm[n_valid:], perm[:n_valid]

    drop = head.arch_dropout

    def loss_fn(idx: torch.Tensor) -> torch.Tensor:
        rows = train_idx[idx.to(xa.device)]
        keep = None
        if drop:
            keep = (torch.rand((len(rows), 1), generator=generator) >= drop).to(xa)
        return F.huber_loss(member(xa[rows], xr[rows], keep), y[rows], delta=huber_delta)

    valid_fn = None
    if valid_idx is not None:

        def valid_fn() -> float:
            with torch.no_grad():
                pred = member(xa[valid_idx], xr[valid_idx])
            return float(F.huber_loss(pred, y[valid_idx], delta=huber_delta))

    loop["batch_size"] = min(loop["batch_size"], len(train_idx))
    if pretrained and frozen_epochs > 0:
        free = [p for enc in encoders[1:] for p in enc.parameters()] + list(head.parameters())
        train_loop(free, loss_fn, len(train_idx), epochs=frozen_epochs, generator=generator, **loop)
    train_loop(
        list(member.parameters()),
        loss_fn,
        len(train_idx),
        epochs=epochs,
        generator=generator,
        valid_fn=valid_fn,
        module=member,
        patience=patience,
        **loop,
    )
    return member.eval()


__all__ = [
    "LABEL_TRANSFORMS",
    "TRANSFORMS",
    "TargetTransform",
    "apply_transform",
    "batch_size_for",
    "fit_member",
    "label_transform",
    "masked_mse",
    "pretrain_encoder",
    "standardize_labels",
    "train_loop",
    "unstandardize_labels",
]

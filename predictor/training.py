"""Training helpers of :class:`~jointnas.predictor.estimator.AccuracyPredictor`.

Kept apart from the estimator so that the estimator module holds only its contract:
target transforms (:class:`TargetTransform`), the cost scaler used by pretraining, and
one minibatch AdamW loop (:func:`train_loop`) used for both pretraining and fitting.
"""

from __future__ import annotations

import copy
import math
from typing import Callable

import numpy as np
import torch
from scipy import special, stats
from torch import nn

TRANSFORMS = ("rank", "standard")


class TargetTransform:
    """Map accuracies to a training scale and back.

    ``standard``: ``(y - mean) / std``. ``rank``: the van der Waerden normal score of
    each value's rank within the training set, ``Phi^-1((rank - 0.5) / n)`` (ties at
    their average rank), so a long low tail of diverged runs counts only by its order.
    The inverse of ``rank`` interpolates the sorted training values (made strictly
    increasing by a ramp of ``1e-6`` of their range so that distinct scores stay
    distinct) and extrapolates linearly past the ends with the slope of the outermost
    tenth of the knots: scores come back on the accuracy scale and their order is exactly
    the order of the network outputs.

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

    def fit(self, y: np.ndarray) -> np.ndarray:
        """Learn the transform from training targets and return the transformed targets."""
        y = np.asarray(y, dtype=np.float64)
        self.mean = float(y.mean())
        self.std = float(y.std()) or 1.0
        if self.kind == "rank":
            n = y.size
            z_sorted = special.ndtri((np.arange(n) + 0.5) / n)
            span = float(np.ptp(y)) or 1.0
            self.knots_z = z_sorted
            self.knots_y = np.sort(y) + 1e-6 * span * np.arange(n) / max(n - 1, 1)
        return self.transform(y)

    def transform(self, y: np.ndarray) -> np.ndarray:
        """Transformed targets (ranks are within ``y`` itself for ``rank``)."""
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "standard":
            return (y - self.mean) / self.std
        return special.ndtri((stats.rankdata(y) - 0.5) / y.size)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Map network outputs back to the accuracy scale (monotone increasing)."""
        z = np.asarray(z, dtype=np.float64)
        if self.kind == "standard":
            return z * self.std + self.mean
        kz, ky = self.knots_z, self.knots_y
        if kz.size < 2:
            return z * self.std + self.mean
        # Past the ends, continue with the slope of the outermost tenth of the knots: a
        # saturated top (many runs near the best accuracy) then stays near it instead of
        # being extended with the slope of the whole range (which predicted accuracies > 1).
        k = min(max(2, kz.size // 10 + 1), kz.size)
        low = (ky[k - 1] - ky[0]) / (kz[k - 1] - kz[0])
        high = (ky[-1] - ky[-k]) / (kz[-1] - kz[-k])
        out = np.interp(z, kz, ky)
        out = np.where(z < kz[0], ky[0] + (z - kz[0]) * low, out)
        return np.where(z > kz[-1], ky[-1] + (z - kz[-1]) * high, out)

    def state_dict(self) -> dict:
        """Plain-python and tensor state for saving."""
        return {"kind": self.kind, "mean": self.mean, "std": self.std,
                "knots_z": torch.from_numpy(self.knots_z.copy()),
                "knots_y": torch.from_numpy(self.knots_y.copy())}

    @classmethod
    def from_state(cls, state: dict) -> "TargetTransform":
        """Rebuild a transform saved by :meth:`state_dict`."""
        out = cls(state["kind"])
        out.mean, out.std = float(state["mean"]), float(state["std"])
        out.knots_z = state["knots_z"].numpy().astype(np.float64)
        out.knots_y = state["knots_y"].numpy().astype(np.float64)
        return out


def log_standardize(costs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``log`` of positive costs, standardized per column.

    Returns:
        ``(scaled, mean, std)`` with ``scaled = (log(costs) - mean) / std``.
    """
    logs = np.log(np.maximum(np.asarray(costs, dtype=np.float64), 1e-30))
    mean = logs.mean(axis=0)
    std = logs.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (logs - mean) / std, mean, std


def train_loop(
    params: list[nn.Parameter],
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    generator: torch.Generator,
    device: torch.device,
    valid_fn: Callable[[], float] | None = None,
    modules: nn.Module | None = None,
    patience: int = 0,
    tick: Callable[[int], None] | None = None,
) -> float:
    """Minibatch AdamW with a cosine learning-rate decay to zero.

    Args:
        params: parameters to update (the others stay frozen).
        loss_fn: loss of a batch given its row indices (a LongTensor on ``device``).
        n: number of training rows.
        epochs: passes over the rows; one full batch per epoch when ``n <= batch_size``.
        batch_size: rows per step.
        lr: peak learning rate.
        weight_decay: AdamW's decoupled weight decay.
        generator: owned generator for the shuffles.
        device: where the indices live.
        valid_fn: validation loss, checked after every epoch; with ``modules`` and
            ``patience`` the best weights are restored at the end (early stopping).
        modules: the module(s) whose weights early stopping snapshots.
        patience: epochs without improvement before stopping (0: never stop early).
        tick: called with the number of steps done, for progress bars.

    Returns:
        The best validation loss, or the last epoch's mean training loss.
    """
    if not params or epochs <= 0:
        return float("nan")
    steps_per_epoch = max(1, math.ceil(n / batch_size))
    total = epochs * steps_per_epoch
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, total) / total)))
    best, best_state, stale, last = math.inf, None, 0, float("nan")
    full = torch.arange(n, device=device)
    for _ in range(epochs):
        order = full if n <= batch_size else torch.randperm(n, generator=generator).to(device)
        running = 0.0
        for start in range(0, n, batch_size):
            loss = loss_fn(order[start:start + batch_size])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += float(loss.detach())
        last = running / steps_per_epoch
        if tick is not None:
            tick(steps_per_epoch)
        if valid_fn is not None:
            score = valid_fn()
            if score < best - 1e-6:
                best, stale = score, 0
                if modules is not None:
                    best_state = copy.deepcopy(modules.state_dict())
            else:
                stale += 1
                if patience and stale >= patience:
                    break
    if best_state is not None:
        modules.load_state_dict(best_state)
    return best if valid_fn is not None else last


__all__ = ["TRANSFORMS", "TargetTransform", "log_standardize", "train_loop"]

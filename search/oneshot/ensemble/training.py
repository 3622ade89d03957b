"""Data splits as tensors, seeded batching, and training / evaluation of cell networks.

Everything here is deterministic given a seed: batches come from a seeded
``torch.Generator`` and model initialization runs inside ``torch.random.fork_rng`` with
its own seed, so the caller's global random state is neither used nor changed.

Example:
    >>> splits = Splits.from_bundle(load_dataset("digits"))
    >>> splits.x_train.shape, splits.num_classes
    (torch.Size([1078, 1, 8, 8]), 10)
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ....data.datasets import DatasetBundle, load_dataset  # noqa: F401 (doctest)
from ....errors import ConfigError, DatasetError

EVAL_BATCH = 512


@dataclass
class Splits:
    """Train / validation / test tensors on one device.

    Attributes:
        x_train, y_train, x_val, y_val: inputs ``[N, C, H, W]`` or ``[N, C, L]`` and labels ``[N]``.
        x_test, y_test: the test split, or ``None`` when the dataset has none.
        in_shape: shape of one input.
        num_classes: number of classes.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor | None
    y_test: torch.Tensor | None
    in_shape: tuple[int, ...]
    num_classes: int

    @classmethod
    def from_bundle(
        cls, bundle: DatasetBundle, device: torch.device | str = "cpu", max_train: int | None = None
    ) -> "Splits":
        """Materialize a :class:`~jointnas.data.datasets.DatasetBundle` as tensors.

        Args:
            bundle: the dataset (lazy image folders are read once, image by image).
            device: where the tensors live.
            max_train: keep only the first ``max_train`` training examples (tiny runs).

        Raises:
            DatasetError: an empty split.
        """
        parts = [_tensors(s, name) for s, name in ((bundle.train, "train"), (bundle.val, "val"))]
        test = _tensors(bundle.test, "test") if bundle.test is not None else (None, None)
        (xt, yt), (xv, yv) = parts
        if max_train is not None:
            xt, yt = xt[:max_train], yt[:max_train]

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return cls(
            move(xt),
            move(yt),
            move(xv),
            move(yv),
            move(test[0]),
            move(test[1]),
            tuple(bundle.in_shape),
            int(bundle.num_classes),
        )


def _tensors(dataset: object, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None:
        x, y = tensors[0], tensors[1]
    else:
        items = [dataset[i] for i in range(len(dataset))]  # type: ignore[arg-type]
        if not items:
            raise DatasetError(f"the {name} split is empty")
        x = torch.stack([torch.as_tensor(a) for a, _ in items])
        y = torch.as_tensor([int(b) for _, b in items])
    if len(y) == 0:
        raise DatasetError(f"the {name} split is empty")
    return x.float(), y.long()


def batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Shuffled index batches covering ``range(n)`` once (the last one may be smaller)."""
    order = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the body with the global torch RNG seeded, restoring it afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@torch.no_grad()
def predict_proba(model: nn.Module, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax probabilities ``[N, K]`` (float64, CPU) of ``model`` in eval mode."""
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(x), EVAL_BATCH):
        chunk = x[start : start + EVAL_BATCH]
        logits = model(chunk) if weights is None else model(chunk, weights)
        out.append(torch.softmax(logits.double(), dim=-1).cpu())
    model.train(was_training)
    return torch.cat(out)


def accuracy(proba: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose most probable class is the label."""
    return float((proba.argmax(dim=-1) == labels.cpu()).double().mean())


def sgd(params: object, lr: float, momentum: float, weight_decay: float) -> torch.optim.SGD:
    """SGD with Nesterov-free momentum (the DARTS weight optimizer)."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def cosine(optimizer: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """Cosine decay to zero over ``steps`` scheduler steps."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, steps) / max(steps, 1)))
    )


def train_epochs(
    model: nn.Module,
    splits: Splits,
    *,
    epochs: int,
    lr: float,
    momentum: float,
    weight_decay: float,
    batch_size: int,
    seed: int,
    grad_clip: float = 5.0,
) -> nn.Module:
    """Train a discrete network with SGD and a cosine schedule on the training split.

    Raises:
        ConfigError: a non-finite loss (the schedule diverged), naming the epoch.
    """
    gen = torch.Generator().manual_seed(seed)
    opt = sgd(model.parameters(), lr, momentum, weight_decay)
    steps = epochs * math.ceil(len(splits.y_train) / batch_size)
    sched = cosine(opt, steps)
    model.train()
    for epoch in range(epochs):
        for idx in batches(len(splits.y_train), batch_size, gen):
            idx = idx.to(splits.x_train.device)
            loss = F.cross_entropy(model(splits.x_train[idx]), splits.y_train[idx])
            if not torch.isfinite(loss):
                raise ConfigError(
                    f"training diverged (loss {float(loss)}) in epoch {epoch + 1}; "
                    f"lower the learning rate (lr={lr:g})"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            opt.step()
            sched.step()
    return model


@torch.no_grad()
def recalibrate_bn(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> None:
    """Re-estimate batch-norm running statistics on ``x`` (cumulative average)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for start in range(0, len(x), batch_size):
        model(x[start : start + batch_size])
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.eval()


__all__ = [
    "Splits",
    "accuracy",
    "batches",
    "cosine",
    "predict_proba",
    "recalibrate_bn",
    "seeded",
    "sgd",
    "train_epochs",
]

"""Feeding batches to the trainer: in-memory tensors by index, other datasets by DataLoader."""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any, Iterator

import torch

if TYPE_CHECKING:  # pragma: no cover
    from torch.utils.data import Dataset


class TensorBatches:
    """Batches of an in-memory ``TensorDataset`` held on the device, indexed by permutation.

    A final batch of one sample is dropped when shuffling (batch norm cannot train on it).
    """

    def __init__(
        self, x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator | None
    ) -> None:
        self.x, self.y, self.batch_size, self.generator = x, y, batch_size, generator
        n = len(y)
        self.steps = math.ceil(n / batch_size)
        if generator is not None and self.steps > 1 and n % batch_size == 1:
            self.steps -= 1

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, bs = len(self.y), self.batch_size
        if self.generator is None:
            for i in range(self.steps):
                yield self.x[i * bs : (i + 1) * bs], self.y[i * bs : (i + 1) * bs]
            return
        order = torch.randperm(n, generator=self.generator).to(self.x.device)
        for i in range(self.steps):
            idx = order[i * bs : (i + 1) * bs]
            yield self.x[idx], self.y[idx]


class DeviceLoader:
    """A DataLoader whose batches are moved to the device."""

    def __init__(self, loader: Any, device: torch.device) -> None:
        self.loader, self.device = loader, device

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in self.loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)


def make_batches(
    dataset: Dataset,
    batch_size: int,
    device: torch.device,
    generator: torch.Generator,
    shuffle: bool,
    num_workers: int | None,
) -> Any:
    """Batches of ``dataset`` on ``device``, reshuffled by ``generator`` each epoch.

    Args:
        dataset: a ``TensorDataset`` (moved to the device once, indexed by permutation)
            or any map-style dataset (read by a ``DataLoader``).
        batch_size: samples per batch.
        device: where batches are delivered.
        generator: seeded CPU generator of the batch order.
        shuffle: reshuffle each epoch (training) or keep the order (evaluation).
        num_workers: DataLoader workers (default: up to 4, leaving one core free).

    Returns:
        An iterable of ``(x, y)`` with ``len()`` = batches per epoch.
    """
    from torch.utils.data import DataLoader, TensorDataset

    if isinstance(dataset, TensorDataset):
        x, y = (t.to(device) for t in dataset.tensors[:2])
        return TensorBatches(x, y, batch_size, generator if shuffle else None)
    workers = num_workers if num_workers is not None else min(4, max(0, (os.cpu_count() or 1) - 1))
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator if shuffle else None,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        drop_last=shuffle and len(dataset) > batch_size,
    )
    return DeviceLoader(loader, device)


__all__ = ["DeviceLoader", "TensorBatches", "make_batches"]

"""Datasets as fixed train / validation / test splits, ready for :mod:`jointnas.recipes.train`.

``digits`` (scikit-learn's bundled 8x8 digits) needs no files and no network. ``mnist``,
``fashion-mnist`` and ``cifar10`` are read through torchvision from a local ``root`` and
kept in memory as normalized float tensors; ``imagefolder`` reads class folders under
``root/train`` and ``root/val`` (and ``root/test`` when present) lazily, image by image.
Nothing is downloaded unless ``download=True`` (the CLIs' ``--download``).

This module imports no torch at import time (``jointnas.data`` stays torch-free); torch,
torchvision and scikit-learn are imported inside the loaders.

Example:
    >>> bundle = load_dataset("digits")
    >>> bundle.in_shape, bundle.num_classes, len(bundle.train)
    ((1, 8, 8), 10, 1078)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import DatasetError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from torch.utils.data import Dataset

DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion-mnist", "cifar10", "imagefolder")
"""Names accepted by :func:`load_dataset`."""

# torchvision class, validation size carved from the train split
_TORCHVISION = {
    "mnist": ("MNIST", 5000),
    "fashion-mnist": ("FashionMNIST", 5000),
    "cifar10": ("CIFAR10", 5000),
}


@dataclass(frozen=True)
class DatasetBundle:
    """Train, validation and test splits of one dataset.

    Small datasets are ``torch.utils.data.TensorDataset`` objects holding the whole
    split as ``(images float32 [N, C, H, W], labels int64 [N])``; ``imagefolder`` splits
    are ``torchvision.datasets.ImageFolder`` objects yielding ``(tensor, label)``.

    Args:
        name: dataset name (one of :data:`DATASETS`).
        train: training split.
        val: validation split (model selection, per-epoch curves).
        test: held-out test split, or ``None`` when the dataset has none.
        num_classes: number of classes.
        in_shape: shape of one input, ``(C, H, W)``.
    """

    name: str
    train: Dataset
    val: Dataset
    test: Dataset | None
    num_classes: int
    in_shape: tuple[int, int, int]

    def in_memory(self) -> bool:
        """True when every split is a ``TensorDataset`` (batched by index, no DataLoader)."""
        from torch.utils.data import TensorDataset

        return all(isinstance(s, TensorDataset) for s in (self.train, self.val, self.test)
                   if s is not None)


def load_dataset(name: str, root: str | Path | None = None, download: bool = False,
                 seed: int = 0, image_size: int | None = None) -> DatasetBundle:
    """Load a dataset as fixed, normalized train / validation / test splits.

    Args:
        name: one of :data:`DATASETS`.
        root: folder holding the files (ignored by ``digits``; required by the others).
        download: let torchvision download ``mnist``, ``fashion-mnist`` or ``cifar10``
            into ``root`` when missing. Never downloads otherwise.
        seed: split seed (the same seed always gives the same split).
        image_size: ``imagefolder`` only: resize images to ``image_size`` x
            ``image_size`` (needed when images differ in size).

    Returns:
        A :class:`DatasetBundle`.

    Raises:
        DatasetError: unknown name (listing the allowed ones), missing root or files
            (naming the path and suggesting ``--download``), an unreadable folder.
    """
    if name not in _LOADERS:
        raise DatasetError(f"unknown dataset {name!r} (allowed: {', '.join(DATASETS)})")
    if name == "imagefolder":
        return _imagefolder(root, image_size)
    if image_size is not None:
        raise DatasetError(f"image_size applies to 'imagefolder' only, not {name!r}")
    return _LOADERS[name](root, download, seed)


# -- in-memory datasets ------------------------------------------------------------------
def _digits(root: Any, download: bool, seed: int) -> DatasetBundle:
    """scikit-learn's 8x8 digits: stratified 60/20/20 split, standardized with train stats."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    idx = np.arange(len(y))
    train, rest = train_test_split(idx, train_size=0.6, stratify=y, random_state=seed)
    val, test = train_test_split(rest, train_size=0.5, stratify=y[rest], random_state=seed)
    images = x.reshape(-1, 1, 8, 8)
    return _tensor_bundle("digits", images, y, train, val, test, 10)


def _torchvision(name: str) -> Callable[[Any, bool, int], DatasetBundle]:
    cls_name, n_val = _TORCHVISION[name]

    def load(root: Any, download: bool, seed: int) -> DatasetBundle:
        import numpy as np
        import torchvision.datasets as tvd

        path = _root(root, name, download)
        cls = getattr(tvd, cls_name)
        try:
            train_set = cls(str(path), train=True, download=download)
            test_set = cls(str(path), train=False, download=download)
        except RuntimeError as exc:  # torchvision: "Dataset not found or corrupted..."
            raise DatasetError(f"{name} files not found or corrupted in the root folder; "
                               f"pass --download to fetch them", str(path)) from None
        except OSError as exc:
            raise DatasetError(f"cannot read or download {name}: {_first(exc)}",
                               str(path)) from None
        x_train, y_train = _arrays(train_set)
        x_test, y_test = _arrays(test_set)
        order = np.random.default_rng(seed).permutation(len(y_train))
        n = min(n_val, len(y_train) // 10)  # 5000 for the real sets; tiny fixtures stay usable
        val, train = order[:n], np.sort(order[n:])
        images = np.concatenate([x_train, x_test])
        labels = np.concatenate([y_train, y_test])
        test = np.arange(len(y_train), len(labels))
        return _tensor_bundle(name, images, labels, train, np.sort(val), test,
                              len(train_set.classes))

    return load


def _arrays(dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, C, H, W]`` uint8 and labels int64 straight from ``.data``/``.targets``."""
    import numpy as np

    data = dataset.data
    data = data.numpy() if hasattr(data, "numpy") else np.asarray(data)
    if data.ndim == 3:  # MNIST-like [N, H, W]
        data = data[:, None]
    else:  # CIFAR [N, H, W, C]
        data = data.transpose(0, 3, 1, 2)
    targets = dataset.targets
    targets = targets.numpy() if hasattr(targets, "numpy") else np.asarray(targets)
    return data, targets.astype(np.int64)


def _channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (float64, shape [1, C, 1, 1]); exact and light for uint8."""
    import numpy as np

    channels = x.shape[1]
    if x.dtype == np.uint8:  # value histograms: no float copy of the whole split
        levels = np.arange(256, dtype=np.float64)
        hist = [np.bincount(x[:, c].ravel(), minlength=256) for c in range(channels)]
        mean = np.array([(h * levels).sum() / h.sum() for h in hist])
        var = np.array([(h * (levels - m) ** 2).sum() / h.sum() for h, m in zip(hist, mean)])
    else:
        mean = x.mean(axis=(0, 2, 3), dtype=np.float64)
        var = x.var(axis=(0, 2, 3), dtype=np.float64)
    std = np.sqrt(var)
    std[std == 0] = 1.0
    shape = (1, channels, 1, 1)
    return mean.reshape(shape), std.reshape(shape)


def _tensor_bundle(name: str, images: np.ndarray, labels: np.ndarray, train: np.ndarray,
                   val: np.ndarray, test: np.ndarray, num_classes: int) -> DatasetBundle:
    """Standardize per channel with train statistics and wrap each split in a TensorDataset."""
    import numpy as np
    import torch
    from torch.utils.data import TensorDataset

    mean, std = _channel_stats(images[train])
    big = images.dtype == np.uint8  # large image sets: float32 in place, no float64 copies

    def split(idx: np.ndarray) -> TensorDataset:
        x = images[idx].astype(np.float32)
        if big:
            x -= mean.astype(np.float32)
            x /= std.astype(np.float32)
        else:
            x = ((x - mean) / std).astype(np.float32)
        return TensorDataset(torch.from_numpy(np.ascontiguousarray(x)),
                             torch.from_numpy(labels[idx].astype(np.int64)))

    in_shape = tuple(int(d) for d in images.shape[1:])
    return DatasetBundle(name, split(train), split(val), split(test), num_classes, in_shape)


# -- image folders -----------------------------------------------------------------------
def _imagefolder(root: Any, image_size: int | None) -> DatasetBundle:
    """``root/train``, ``root/val`` and optional ``root/test`` class folders, read lazily."""
    import torch
    from torchvision import datasets, transforms

    path = _root(root, "imagefolder", download=False)
    steps: list[Any] = []
    if image_size is not None:
        if not isinstance(image_size, int) or image_size < 1:
            raise DatasetError(f"image_size={image_size!r} must be a positive integer")
        steps.append(transforms.Resize((image_size, image_size), antialias=True))
    steps += [transforms.PILToTensor(), transforms.ConvertImageDtype(torch.float32)]
    transform = transforms.Compose(steps)

    splits: dict[str, Any] = {}
    for part in ("train", "val", "test"):
        folder = path / part
        if not folder.is_dir():
            if part == "test":
                continue
            raise DatasetError(f"imagefolder needs class folders under {folder} "
                               f"(layout: root/train/<class>/*.png, root/val/<class>/*.png, "
                               f"optional root/test)", str(path))
        try:
            splits[part] = datasets.ImageFolder(str(folder), transform=transform)
        except (FileNotFoundError, OSError) as exc:
            raise DatasetError(f"cannot read image folder: {_first(exc)}", str(folder)) from None
    classes = splits["train"].classes
    for part, ds in splits.items():
        if ds.classes != classes:
            raise DatasetError(f"classes of '{part}' ({', '.join(ds.classes)}) differ from "
                               f"'train' ({', '.join(classes)})", str(path / part))
    if len(classes) < 2:
        raise DatasetError(f"imagefolder needs at least 2 classes, found {len(classes)}",
                           str(path / "train"))
    in_shape = tuple(int(d) for d in splits["train"][0][0].shape)
    return DatasetBundle("imagefolder", splits["train"], splits["val"], splits.get("test"),
                         len(classes), in_shape)


# -- helpers -----------------------------------------------------------------------------
def _root(root: Any, name: str, download: bool) -> Path:
    if root is None:
        raise DatasetError(f"dataset {name!r} needs a root folder (--root DIR)"
                           + ("; pass --download to fetch it there" if name != "imagefolder" else ""))
    path = Path(root).expanduser()
    if not path.is_dir() and not download:
        hint = f"pass --download to fetch {name} there" if name != "imagefolder" else "check the path"
        raise DatasetError(f"dataset root folder does not exist; {hint}", str(path))
    return path


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_LOADERS: dict[str, Callable[..., DatasetBundle]] = {
    "digits": _digits,
    **{name: _torchvision(name) for name in _TORCHVISION},
    "imagefolder": _imagefolder,
}

__all__ = ["DATASETS", "DatasetBundle", "load_dataset"]

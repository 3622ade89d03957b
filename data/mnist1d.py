"""MNIST-1D (Greydanus 2020), generated procedurally and cached; never downloaded.

MNIST-1D turns the ten digit templates of the ``mnist1d`` package into 1D signals of
length 40 by padding, shearing, translating and adding correlated and i.i.d. noise
(``mnist1d.data.make_dataset`` with the package's documented arguments,
``mnist1d.data.get_dataset_args``). Model classes separate clearly on it (published
test accuracies: logistic regression ~32%, MLP ~68%, CNN ~94%), which is what a
search needs and scikit-learn's 8x8 digits (saturated near 99%) cannot give.

Generation is seeded and deterministic. The arrays are cached as an ``.npz`` file in
:func:`cache_dir` (``$JOINTNAS_CACHE``, default ``~/.cache/jointnas``), one file per
set of generation arguments; a missing, unreadable or mismatched cache file is
regenerated with a warning, and a cache folder that cannot be written only costs the
regeneration next time. The package's global ``random`` / ``numpy.random`` seeding is
undone afterwards, so loading the data leaves the caller's global random state alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputError
from .atomic import atomic_path

SEQUENCE_LENGTH = 40
"""Length of every MNIST-1D signal (the package's ``final_seq_length``)."""

NUM_CLASSES = 10


def cache_dir() -> Path:
    """Folder of generated dataset files: ``$JOINTNAS_CACHE`` or ``~/.cache/jointnas``."""
    return Path(os.environ.get("JOINTNAS_CACHE") or Path.home() / ".cache" / "jointnas")


def generation_args(num_samples: int, train_split: float, seed: int) -> dict[str, Any]:
    """The package's documented arguments with ``num_samples``, ``train_split`` and ``seed`` set.

    The ``url`` entry (used only by the package's downloader) is dropped.
    """
    from mnist1d.data import get_dataset_args

    args = get_dataset_args(as_dict=True)
    args.pop("url", None)
    args.update(num_samples=int(num_samples), train_split=float(train_split), seed=int(seed))
    return args


def load_arrays(num_samples: int, train_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-1D signals ``float32 [N, 40]`` and labels ``int64 [N]``, cached.

    The package's train part comes first, its test part last (``train_split`` sets
    where one ends); ``N`` is ``num_samples`` rounded down to a multiple of 10.
    """
    args = generation_args(num_samples, train_split, seed)
    key = hashlib.sha256(json.dumps(args, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"mnist1d-{key}.npz"
    expected = NUM_CLASSES * (int(num_samples) // NUM_CLASSES)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as cached:
                x, y = cached["x"], cached["y"]
            if x.shape == (expected, SEQUENCE_LENGTH) and y.shape == (expected,):
                return x, y
            problem = f"arrays of shape {x.shape} instead of ({expected}, {SEQUENCE_LENGTH})"
        except Exception as exc:  # a torn or foreign file: any reader error means regenerate
            problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        warnings.warn(f"mnist1d cache file {path} is unreadable ({problem}); regenerating it",
                      stacklevel=2)
    x, y = _generate(args)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, x=x, y=y)
    except OutputError as exc:  # a read-only or full cache folder costs only the regeneration
        warnings.warn(f"mnist1d: cannot write the cache file {path} ({exc.message}); "
                      "the data will be generated again next time", stacklevel=2)
    return x, y


def _generate(args: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Run ``mnist1d.data.make_dataset``, restoring the global random states it reseeds."""
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(ObjectView(dict(args)))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    x = np.concatenate([data["x"], data["x_test"]]).astype(np.float32)
    y = np.concatenate([data["y"], data["y_test"]]).astype(np.int64)
    return x, y


__all__ = ["NUM_CLASSES", "SEQUENCE_LENGTH", "cache_dir", "generation_args", "load_arrays"]

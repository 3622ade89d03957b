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

CACHE_FORMAT = 2
"""Version of the cache file's layout (part of its name: another layout is another file)."""


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


Split = tuple[np.ndarray, np.ndarray]


def load_arrays(num_samples: int, train_split: float, seed: int) -> tuple[Split, Split]:
    """MNIST-1D as the package splits it: ``(x, y)`` of its train part and of its test part.

    Signals are ``float32 [n, 40]``, labels ``int64 [n]``; ``num_samples`` is rounded down
    to a multiple of 10 and ``train_split`` says where the package's test part begins.
    """
    args = generation_args(num_samples, train_split, seed)
    key = hashlib.sha256(
        json.dumps({**args, "cache_format": CACHE_FORMAT}, sort_keys=True).encode()
    ).hexdigest()[:16]
    path = cache_dir() / f"mnist1d-{key}.npz"
    expected = NUM_CLASSES * (int(num_samples) // NUM_CLASSES)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as cached:
                parts = ((cached["x"], cached["y"]), (cached["x_test"], cached["y_test"]))
            shapes = [x.shape[1:] for x, _ in parts] + [(len(parts[0][0]) + len(parts[1][0]),)]
            if shapes == [(SEQUENCE_LENGTH,), (SEQUENCE_LENGTH,), (expected,)]:
                return parts
            problem = f"arrays of shapes {shapes}, expected {expected} signals of length 40"
        except Exception as exc:  # a torn or foreign file: any reader error means regenerate
            problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        warnings.warn(f"mnist1d cache file {path} is unreadable ({problem}); regenerating it", stacklevel=2)
    parts = _generate(args)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            (x, y), (x_test, y_test) = parts
            np.savez(fh, x=x, y=y, x_test=x_test, y_test=y_test)
    except OutputError as exc:  # a read-only or full cache folder costs only the regeneration
        warnings.warn(
            f"mnist1d: cannot write the cache file {path} ({exc.message}); "
            "the data will be generated again next time",
            stacklevel=2,
        )
    return parts


def _generate(args: dict[str, Any]) -> tuple[Split, Split]:
    """Run ``mnist1d.data.make_dataset``, restoring the global random states it reseeds."""
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(ObjectView(dict(args)))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return (
        (data["x"].astype(np.float32), data["y"].astype(np.int64)),
        (data["x_test"].astype(np.float32), data["y_test"].astype(np.int64)),
    )


__all__ = ["NUM_CLASSES", "SEQUENCE_LENGTH", "Split", "cache_dir", "generation_args", "load_arrays"]

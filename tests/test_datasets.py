"""Behaviour of dataset loading: digits splits, image folders, clear errors, no torch at import."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from jointnas.data.datasets import DATASETS, DatasetBundle, load_dataset
from jointnas.errors import DatasetError


@pytest.fixture(scope="module")
def digits() -> DatasetBundle:
    return load_dataset("digits")


def _rows(ds) -> set[bytes]:
    return {row.numpy().tobytes() for row in ds.tensors[0]}


def test_digits_shapes_and_types(digits):
    assert digits.in_shape == (1, 8, 8) and digits.num_classes == 10
    assert digits.in_memory()
    for split in (digits.train, digits.val, digits.test):
        x, y = split.tensors
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert x.shape[1:] == (1, 8, 8) and len(x) == len(y)
    sizes = [len(digits.train), len(digits.val), len(digits.test)]
    assert sum(sizes) == 1797 and sizes[0] == pytest.approx(0.6 * 1797, abs=2)
    assert sizes[1] == pytest.approx(0.2 * 1797, abs=2)


def test_digits_splits_disjoint_and_stratified(digits):
    # the 1797 digit images are all distinct, so rows identify samples
    train, val, test = (_rows(s) for s in (digits.train, digits.val, digits.test))
    assert not (train & val) and not (train & test) and not (val & test)
    for split in (digits.train, digits.val, digits.test):
        counts = Counter(split.tensors[1].tolist())
        share = np.array([counts[c] for c in range(10)]) / len(split)
        assert set(counts) == set(range(10))
        assert np.abs(share - 0.1).max() < 0.015


def test_digits_standardized_with_train_statistics(digits):
    x = digits.train.tensors[0]
    assert abs(float(x.mean())) < 1e-4 and float(x.std()) == pytest.approx(1.0, abs=1e-3)
    assert abs(float(digits.val.tensors[0].mean())) < 0.1


def test_digits_split_is_fixed_by_seed(digits):
    again = load_dataset("digits")
    assert torch.equal(again.val.tensors[0], digits.val.tensors[0])
    other = load_dataset("digits", seed=1)
    assert _rows(other.val) != _rows(digits.val)


def test_data_package_imports_without_torch():
    code = ("import sys, jointnas.data, jointnas.data.datasets; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def _make_folder(root, split: str, classes: dict[str, tuple[int, int, int]], n: int,
                 size=(6, 6)) -> None:
    for name, color in classes.items():
        folder = root / split / name
        folder.mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", size, tuple(min(255, c + 10 * i) for c in color)).save(folder / f"{i}.png")


def test_imagefolder_loads_train_val_and_optional_test(tmp_path):
    classes = {"black": (0, 0, 0), "red": (200, 0, 0)}
    _make_folder(tmp_path, "train", classes, 3)
    _make_folder(tmp_path, "val", classes, 2)
    bundle = load_dataset("imagefolder", root=tmp_path)
    assert bundle.num_classes == 2 and bundle.in_shape == (3, 6, 6)
    assert bundle.test is None and not bundle.in_memory()
    assert len(bundle.train) == 6 and len(bundle.val) == 4
    x, y = bundle.train[3]
    assert x.dtype == torch.float32 and 0.0 <= float(x.min()) <= float(x.max()) <= 1.0 and y == 1
    _make_folder(tmp_path, "test", classes, 1, size=(9, 9))
    resized = load_dataset("imagefolder", root=tmp_path, image_size=4)
    assert resized.in_shape == (3, 4, 4) and resized.test[0][0].shape == (3, 4, 4)


def test_imagefolder_without_val_names_the_folder(tmp_path):
    _make_folder(tmp_path, "train", {"a": (0, 0, 0), "b": (9, 9, 9)}, 1)
    with pytest.raises(DatasetError, match="val"):
        load_dataset("imagefolder", root=tmp_path)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar10"])
def test_missing_root_names_path_and_download(tmp_path, name):
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError) as info:
        load_dataset(name, root=missing)
    assert str(missing) in str(info.value) and "--download" in str(info.value)
    with pytest.raises(DatasetError) as info:  # the folder exists but holds no files
        load_dataset(name, root=tmp_path)
    assert str(tmp_path) in str(info.value) and "--download" in str(info.value)
    assert not any(tmp_path.iterdir())  # nothing downloaded


def test_no_root_and_unknown_name():
    with pytest.raises(DatasetError, match="--root"):
        load_dataset("mnist")
    with pytest.raises(DatasetError) as info:
        load_dataset("imagenet")
    assert all(name in str(info.value) for name in DATASETS)


def _write_idx(path, array: np.ndarray) -> None:
    """An MNIST idx file (big-endian header, uint8 payload)."""
    header = np.array([(8 << 8) | array.ndim, *array.shape], dtype=">u4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_from_local_files_is_normalized_in_memory(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 60), ("t10k", 20)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    bundle = load_dataset("mnist", root=tmp_path)
    assert bundle.in_shape == (1, 28, 28) and bundle.num_classes == 10 and bundle.in_memory()
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (54, 6, 20)
    x = bundle.train.tensors[0]
    assert x.dtype == torch.float32 and abs(float(x.mean())) < 1e-4
    assert float(x.std()) == pytest.approx(1.0, abs=1e-3)
    assert not (_rows(bundle.train) & _rows(bundle.val))

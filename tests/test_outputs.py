"""Write failures and file modes: one-line errors naming the file, nothing lost, umask kept."""

from __future__ import annotations

import errno
import os
import stat

import pytest
import torch
from test_predictor_cli import files, make_space, one_line_error  # noqa: F401  (fixture)

from jointnas.cli_base import environment_error
from jointnas.data.atomic import atomic_path, write_bytes
from jointnas.errors import ConfigError, OutputError, PredictorError
from jointnas.predictor.cli import main as predictor_main
from jointnas.recipes import build_model, load_model, save_model

ARCH = {
    "stem_width": 8,
    "activation": "relu",
    "s1_width": 8,
    "s1_depth": 1,
    "s1_kernel": 3,
    "s1_expand": 1,
    "s1_se": False,
}


def test_a_path_under_a_file_names_the_file_that_is_not_a_folder(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(OutputError, match=r"plain is not a folder.*\(.*plain/sub/out.csv\)"):
        with atomic_path(tmp_path / "plain" / "sub" / "out.csv") as tmp:
            tmp.write_text("never")


def test_a_full_disk_keeps_the_earlier_file_and_says_why(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(b"earlier")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("jointnas.data.atomic.os.replace", full)
    with pytest.raises(OutputError, match=r"no space left on the device \(.*out.bin\)"):
        write_bytes(target, b"new")
    assert target.read_bytes() == b"earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temporary file left


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_respect_the_umask_like_open(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        write_bytes(tmp_path / "f.bin", b"x")
        with open(tmp_path / "plain.bin", "wb"):
            pass
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "f.bin").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "plain.bin").stat().st_mode) == mode


def test_predictor_train_to_an_unwritable_path_is_one_line_exit_2(files, tmp_path, capsys):  # noqa: F811
    (tmp_path / "plain").write_text("x")
    out = tmp_path / "plain" / "pred.pt"
    assert (
        predictor_main(
            [
                "train",
                "--space",
                str(files / "space.yaml"),
                "--table",
                str(files / "train.csv"),
                "--target",
                "acc",
                "--n-models",
                "1",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    one_line_error(capsys, "cannot write the file", "is not a folder", "pred.pt")


def test_predictor_train_on_a_full_disk_is_one_line_exit_2(
    files,
    tmp_path,
    capsys,  # noqa: F811
    monkeypatch,
):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("jointnas.data.atomic.os.replace", full)
    assert (
        predictor_main(
            [
                "train",
                "--space",
                str(files / "space.yaml"),
                "--table",
                str(files / "train.csv"),
                "--target",
                "acc",
                "--n-models",
                "1",
                "--out",
                str(tmp_path / "pred.pt"),
            ]
        )
        == 2
    )
    one_line_error(capsys, "no space left on the device", "pred.pt")


class _Payload:  # a class torch's safe loader refuses to unpickle
    pass


def test_an_unsafe_pickle_is_refused_without_advising_the_unsafe_load(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "jointnas-model", "meta": _Payload()}, path)
    with pytest.raises(ConfigError) as info:
        load_model(path)
    text = str(info.value)
    assert "unsafe to load" in text and "weights_only=False" not in text and "\n" not in text
    from jointnas.predictor import AccuracyPredictor

    with pytest.raises(PredictorError, match="unsafe to load") as info:
        AccuracyPredictor.load(path)
    assert "weights_only=False" not in str(info.value)


def test_model_files_still_round_trip(tmp_path):
    model = build_model(ARCH, 10, (1, 8, 8))
    save_model(tmp_path / "m.pt", model, ARCH, {"lr": 0.1}, {"in_shape": [1, 8, 8], "num_classes": 10})
    loaded, _ = load_model(tmp_path / "m.pt")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_storage_errors_name_the_database_error_underneath():
    from optuna.exceptions import StorageInternalError

    try:
        try:
            raise RuntimeError("(sqlite3.OperationalError) database or disk is full")
        except RuntimeError as cause:
            raise StorageInternalError("An exception is raised during the commit.") from cause
    except StorageInternalError as exc:
        message = environment_error(exc)
    assert message == "the run's storage failed: (sqlite3.OperationalError) database or disk is full"
    assert environment_error(ValueError("a bug")) is None  # bugs keep their traceback
    assert environment_error(PermissionError(errno.EACCES, "denied", "/x")) == "permission denied (/x)"

"""The ``predictor`` CLI: happy paths and every bad input (one line, exit 2, no --out file)."""

from __future__ import annotations

import io
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import CONFIGS

from jointnas.data import Categorical, Float, Integer, SearchSpace
from jointnas.data.tables import read_table, write_table
from jointnas.predictor.cli import main


def make_space() -> SearchSpace:
    return SearchSpace(
        arch=[Integer("width", 8, 64, step=8), Categorical("op", ("conv", "pool", "skip"))],
        recipe=[Float("lr", 1e-3, 1.0, log=True)],
        name="cli-small",
    )


def make_table(space: SearchSpace, n: int, seed: int) -> pd.DataFrame:
    frame = space.sample(n, seed=seed, frame=True)
    op = frame["op"].map({"conv": 0.2, "pool": 0.1, "skip": 0.0}).to_numpy(dtype=float)
    acc = 0.4 + 0.005 * frame["width"] + op - 0.02 * np.abs(np.log10(frame["lr"]) + 1.5)
    return frame.assign(acc=acc, flops=frame["width"] ** 2.0, params=frame["width"] * 10.0, status="ok")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A space, train and test tables, an encoder and an ensemble predictor."""
    root = tmp_path_factory.mktemp("cli")
    space = make_space()
    space.to_yaml(str(root / "space.yaml"))
    write_table(make_table(space, 40, 0), root / "train.csv")
    write_table(make_table(space, 60, 1), root / "test.csv")
    args = ["--space", str(root / "space.yaml")]
    assert (
        main(
            [
                "pretrain",
                *args,
                "--table",
                str(root / "train.csv"),
                "--targets",
                "flops,params",
                "--epochs",
                "5",
                "--out",
                str(root / "enc.pt"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "train",
                *args,
                "--table",
                str(root / "train.csv"),
                "--target",
                "acc",
                "--encoder",
                str(root / "enc.pt"),
                "--n-models",
                "2",
                "--out",
                str(root / "pred.pt"),
            ]
        )
        == 0
    )
    return root


def one_line_error(capsys, *fragments: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.mark.parametrize("command", [None, "pretrain", "train", "score", "evaluate"])
def test_help_everywhere(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"] if command else ["--help"])
    assert info.value.code == 0 and "usage:" in capsys.readouterr().out


def test_score_adds_score_and_std_columns(files, capsys):
    out = files / "scores.csv"
    assert (
        main(
            [
                "score",
                "--predictor",
                str(files / "pred.pt"),
                "--table",
                str(files / "test.csv"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    scores = read_table(out)
    assert len(scores) == 60 and {"score", "score_std", "width", "acc"} <= set(scores.columns)
    assert (scores["score_std"] > 0).all()
    assert scores["score"].corr(scores["acc"], method="kendall") > 0.6


def test_evaluate_prints_a_metric_table(files, capsys):
    assert (
        main(
            [
                "evaluate",
                "--predictor",
                str(files / "pred.pt"),
                "--table",
                str(files / "test.csv"),
                "--target",
                "acc",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "target: acc"
    assert out.splitlines()[1].split() == ["metric", "value", "meaning"]
    tau = float(next(line.split()[1] for line in out.splitlines() if line.startswith("kendall_tau")))
    assert tau > 0.6 and "precision_at_k" in out and "top_n_rank" in out
    assert "the best true rank (1 = best) among the n_top rows predicted best" in out


def test_train_and_evaluate_default_to_the_tables_then_the_trained_target(files, tmp_path, capsys):
    for name in ("train", "test"):  # like the development tables: val_acc, no acc
        write_table(
            read_table(files / f"{name}.csv").rename(columns={"acc": "val_acc"}), tmp_path / f"{name}.csv"
        )
    out = tmp_path / "pred.pt"
    assert (
        main(
            [
                "train",
                "--space",
                str(files / "space.yaml"),
                "--table",
                str(tmp_path / "train.csv"),
                "--n-models",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "target val_acc, the first of acc, val_acc, valid_acc in the table" in capsys.readouterr().out
    assert main(["evaluate", "--predictor", str(out), "--table", str(tmp_path / "test.csv")]) == 0
    assert capsys.readouterr().out.startswith("target: val_acc (the predictor's)\n")
    write_table(read_table(tmp_path / "test.csv").drop(columns="val_acc"), tmp_path / "bare.csv")
    assert (
        main(
            [
                "train",
                "--space",
                str(files / "space.yaml"),
                "--table",
                str(tmp_path / "bare.csv"),
                "--out",
                str(tmp_path / "x.pt"),
            ]
        )
        == 2
    )
    one_line_error(capsys, "no accuracy column (acc, val_acc, valid_acc)", "--target", "bare.csv")


def test_evaluate_a_file_that_does_not_store_its_target(files, tmp_path, capsys):
    blob = torch.load(files / "pred.pt", weights_only=True)
    del blob["members"]["target"]
    torch.save(blob, tmp_path / "old.pt")
    assert (
        main(["evaluate", "--predictor", str(tmp_path / "old.pt"), "--table", str(files / "test.csv")]) == 0
    )
    assert capsys.readouterr().out.startswith("target: acc (the table's first of acc, val_acc")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_on_a_terminal_unless_quiet(files, tmp_path, monkeypatch, quiet):
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    flag = ["--quiet"] if quiet else []
    assert (
        main(
            [
                "pretrain",
                "--space",
                str(files / "space.yaml"),
                "--table",
                str(files / "train.csv"),
                "--epochs",
                "2",
                "--out",
                str(tmp_path / "enc.pt"),
                *flag,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "train",
                "--space",
                str(files / "space.yaml"),
                "--table",
                str(files / "train.csv"),
                "--n-models",
                "1",
                "--out",
                str(tmp_path / "pred.pt"),
                *flag,
            ]
        )
        == 0
    )
    shown = err.getvalue()
    assert ("pretrain:" in shown and "fit:" in shown) is not quiet, shown


def test_pretrain_from_a_sobol_pool_with_analytic_costs(tmp_path):
    out = tmp_path / "enc.pt"
    assert (
        main(
            [
                "pretrain",
                "--space",
                str(CONFIGS / "digits.yaml"),
                "--n",
                "256",
                "--epochs",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.is_file()


def test_pretrain_on_zero_cost_proxies_of_a_sobol_pool(tmp_path):
    from jointnas.predictor import AccuracyPredictor

    out = tmp_path / "enc.pt"
    assert (
        main(
            [
                "pretrain",
                "--space",
                str(CONFIGS / "mnist1d.yaml"),
                "--n",
                "32",
                "--epochs",
                "2",
                "--targets",
                "params,synflow,jacov",
                "--dataset",
                "mnist1d",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    est = AccuracyPredictor.load(out)
    assert est.proxy_targets_ == ("params", "synflow", "jacov")
    assert est.proxy_transforms_ == ("log", "log", "signed_log")


@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["--targets", "flops,zen"], ("unknown zero-cost proxy 'zen'", "allowed: synflow, nwot")),
        (["--targets", "nwot"], ("--dataset is needed for nwot", "mnist1d")),
        (["--n", "8"], ("--n 8", "at least 16")),
    ],
)
def test_pretrain_bad_proxy_requests(tmp_path, capsys, extra, fragments):
    out = tmp_path / "enc.pt"
    assert (
        main(["pretrain", "--space", str(CONFIGS / "mnist1d.yaml"), "--n", "32", *extra, "--out", str(out)])
        == 2
    )
    one_line_error(capsys, *fragments)
    assert not out.exists()


def test_pretrain_proxies_on_a_tabular_space(files, tmp_path, capsys):
    out = tmp_path / "enc.pt"
    space = ["--space", str(files / "space.yaml")]
    assert main(["pretrain", *space, "--targets", "synflow", "--out", str(out)]) == 2
    one_line_error(capsys, "has no model builder", "--table", "space.yaml")
    assert (
        main(
            ["pretrain", *space, "--table", str(files / "train.csv"), "--targets", "nwot", "--out", str(out)]
        )
        == 2
    )
    one_line_error(capsys, "nwot not found", "train.csv")
    table = read_table(files / "train.csv").assign(nwot=np.nan)
    write_table(table, tmp_path / "nan.csv")
    assert (
        main(
            [
                "pretrain",
                *space,
                "--table",
                str(tmp_path / "nan.csv"),
                "--targets",
                "flops,nwot",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    one_line_error(capsys, "every value of pretraining target nwot is missing", "nan.csv")
    assert not out.exists()


def test_pretrain_targets_naming_a_missing_column(files, tmp_path, capsys):
    out = tmp_path / "enc.pt"
    assert (
        main(
            [
                "pretrain",
                "--space",
                str(files / "space.yaml"),
                "--table",
                str(files / "train.csv"),
                "--targets",
                "flops,latency",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    one_line_error(capsys, "latency", "train.csv")
    assert not out.exists()


@pytest.mark.parametrize(
    "case, fragments",
    [
        ("missing_variable", ("missing variable column(s) width",)),
        ("missing_target", ("missing column(s) acc",)),
        ("outside_space", ("row 3, column 'op'", "'dense'")),
        ("all_nan", ("0 usable row(s)",)),
    ],
)
def test_train_bad_tables(files, tmp_path, capsys, case, fragments):
    table = make_table(make_space(), 20, 3)
    if case == "missing_variable":
        table = table.drop(columns="width")
    elif case == "missing_target":
        table = table.drop(columns="acc")
    elif case == "outside_space":
        table["op"] = table["op"].astype(object)
        table.loc[2, "op"] = "dense"
    else:
        table["acc"] = np.nan
    write_table(table, tmp_path / "bad.csv")
    out = tmp_path / "pred.pt"
    assert (
        main(
            [
                "train",
                "--space",
                str(files / "space.yaml"),
                "--table",
                str(tmp_path / "bad.csv"),
                "--target",
                "acc",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    one_line_error(capsys, "bad.csv", *fragments)
    assert not out.exists()


def test_train_with_an_encoder_from_another_space(files, tmp_path, capsys):
    out = tmp_path / "pred.pt"
    assert (
        main(
            [
                "train",
                "--space",
                str(CONFIGS / "digits.yaml"),
                "--table",
                str(files / "train.csv"),
                "--encoder",
                str(files / "enc.pt"),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    digits = SearchSpace.from_yaml(str(CONFIGS / "digits.yaml"))
    one_line_error(capsys, "enc.pt", make_space().fingerprint(), digits.fingerprint())
    assert not out.exists()


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_score_with_a_corrupt_predictor_file(files, tmp_path, capsys, damage):
    data = (files / "pred.pt").read_bytes()
    bad = tmp_path / "pred.pt"
    bad.write_bytes(data[: len(data) // 3] if damage == "truncated" else b"\x00garbage" * 10)
    out = tmp_path / "scores.csv"
    assert (
        main(["score", "--predictor", str(bad), "--table", str(files / "test.csv"), "--out", str(out)]) == 2
    )
    one_line_error(capsys, "pred.pt", "cannot read predictor file")
    assert not out.exists()


def test_score_before_training_with_a_pretrain_only_file(files, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert (
        main(
            [
                "score",
                "--predictor",
                str(files / "enc.pt"),
                "--table",
                str(files / "test.csv"),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    one_line_error(capsys, "not fitted", "enc.pt")
    assert not out.exists()


def test_score_candidates_outside_the_space(files, tmp_path, capsys):
    table = make_table(make_space(), 10, 4)
    table["width"] = table["width"].astype(float)
    table.loc[4, "width"] = 12.0
    write_table(table, tmp_path / "cands.csv")
    out = tmp_path / "scores.csv"
    assert (
        main(
            [
                "score",
                "--predictor",
                str(files / "pred.pt"),
                "--table",
                str(tmp_path / "cands.csv"),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    one_line_error(capsys, "row 5, column 'width'", "cands.csv")
    assert not out.exists()


def test_evaluate_with_all_targets_missing(files, tmp_path, capsys):
    write_table(make_table(make_space(), 10, 5).assign(acc=np.nan), tmp_path / "t.csv")
    assert (
        main(
            [
                "evaluate",
                "--predictor",
                str(files / "pred.pt"),
                "--table",
                str(tmp_path / "t.csv"),
                "--target",
                "acc",
            ]
        )
        == 2
    )
    one_line_error(capsys, "0 usable row(s)", "t.csv")


def test_score_passes_the_users_columns_through_unchanged(files, tmp_path):
    text = (files / "test.csv").read_text().splitlines()
    keys = [f"{i:08d}" for i in range(len(text) - 1)]
    rows = [text[0] + ",key,note"] + [
        f"{line},{k},{'NA' if i % 2 else ''}" for i, (line, k) in enumerate(zip(text[1:], keys))
    ]
    (tmp_path / "cands.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "scores.csv"
    assert (
        main(
            [
                "score",
                "--predictor",
                str(files / "pred.pt"),
                "--table",
                str(tmp_path / "cands.csv"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    written = out.read_text().splitlines()
    header = written[0].split(",")
    key_col, note_col = header.index("key"), header.index("note")
    cells = [line.split(",") for line in written[1:]]
    assert [c[key_col] for c in cells] == keys  # leading zeros kept
    assert [c[note_col] for c in cells] == ["NA" if i % 2 else "" for i in range(len(keys))]
    original = [line.split(",") for line in text[1:]]
    assert [c[: len(original[0])] for c in cells] == original  # every input cell as written


def test_train_with_feature_columns_needs_them_to_score(files, tmp_path, capsys):
    table = read_table(files / "train.csv").assign(proxy=lambda t: t["width"] * 3.0)
    write_table(table, tmp_path / "train.csv")
    out = tmp_path / "pred.pt"
    assert (
        main(
            [
                "train",
                "--space",
                str(files / "space.yaml"),
                "--table",
                str(tmp_path / "train.csv"),
                "--features",
                "proxy",
                "--n-models",
                "1",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "score",
                "--predictor",
                str(out),
                "--table",
                str(files / "test.csv"),
                "--out",
                str(tmp_path / "s.csv"),
            ]
        )
        == 2
    )
    one_line_error(capsys, "feature column(s) proxy missing in the candidates", "test.csv")

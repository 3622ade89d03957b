"""Coarse search on a table evaluator: iterations, early stop, outputs, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import CONFIGS

from jointnas.data import Categorical, Float, Integer, SearchSpace, read_space, read_table
from jointnas.errors import ConfigError, SearchError
from jointnas.predictor import AccuracyPredictor
from jointnas.search.cli import main as search_main
from jointnas.search.coarse import CoarseSearch
from jointnas.search.early_stop import choose_epoch, tau_by_epoch
from jointnas.search.evaluators import TableEvaluator
from jointnas.search.settings import load_settings

TINY_PREDICTOR = {
    "n_models": 1,
    "epochs": 30,
    "frozen_epochs": 10,
    "pretrain_epochs": 3,
    "hidden": 32,
    "embed": 16,
}


def toy_space() -> SearchSpace:
    return SearchSpace(
        arch=[Categorical("op", ("a", "b", "c")), Integer("width", 1, 8)],
        recipe=[Float("lr", 1e-3, 1.0, log=True), Integer("epochs", 4, 8, step=2)],
        name="toy",
    )


def toy_table(space: SearchSpace, n: int = 256, seed: int = 0) -> pd.DataFrame:
    """Measured-looking table: curves that rise to a final accuracy set by a known quality."""
    pool = space.sample_qmc(n, seed=seed, frame=True).drop_duplicates(subset=list(space.names))
    pool = pool.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    quality = pool["width"] / 8 + (pool["op"] == "c") * 0.5 - (np.log10(pool["lr"]) + 1.5) ** 2 * 0.2
    final = 0.5 + 0.4 * (quality - quality.min()) / (quality.max() - quality.min())
    for k in range(1, 9):
        acc = final * (0.7 + 0.3 * np.minimum(k / pool["epochs"], 1.0)) + rng.normal(0, 0.003, len(pool))
        pool[f"acc_e{k}"] = np.where(k <= pool["epochs"], acc, np.nan)
    pool["val_acc"] = [row[f"acc_e{int(row['epochs'])}"] for _, row in pool.iterrows()]
    pool["test_acc"] = pool["val_acc"] - 0.01
    pool["flops"] = pool["width"] * 5e4
    pool["params"] = pool["width"] * 1e3
    pool["status"] = "ok"
    return pool


@pytest.fixture
def toy(tmp_path):
    space = toy_space()
    space.to_yaml(tmp_path / "toy.yaml")
    table = toy_table(space)
    table.to_csv(tmp_path / "toy.csv", index=False)
    config = {
        "space": "toy.yaml",
        "name": "toy",
        "runs_dir": "runs",
        "batch": 8,
        "iterations": 3,
        "evaluator": {"type": "table", "table": "toy.csv"},
        "predictor": TINY_PREDICTOR,
        "pretrain_targets": ["params"],
    }
    (tmp_path / "search.yaml").write_text(yaml.safe_dump(config))
    return tmp_path, space, table


def test_coarse_run_outputs_and_early_stop(toy):
    folder, space, table = toy
    settings = load_settings(folder / "search.yaml")
    result = CoarseSearch(settings, progress=False).run()
    run = folder / "runs" / "toy"
    for name in (
        "samples.csv",
        "predictor.pt",
        "best.yaml",
        "early_stop.json",
        "tau_by_epoch.png",
        "study.db",
    ):
        assert (run / name).exists(), name
    samples = read_table(run / "samples.csv")
    assert len(samples) == 24 and sorted(samples["iteration"].unique()) == [1, 2, 3]
    assert not samples.duplicated(subset=list(space.names)).any()
    stop = json.loads((run / "early_stop.json").read_text())
    assert 1 <= stop["epoch"] <= 8 and stop["tau_by_epoch"][stop["epoch"] - 1] >= 0.9
    later = samples[samples["iteration"] > 1]
    assert (later["epochs_run"] <= stop["epoch"]).all()
    assert (later["max_epochs"] == stop["epoch"]).all()
    # the predictor-guided iterations find better pairs than the space-filling batch
    first = samples[samples["iteration"] == 1]
    assert later["acc"].max() >= first["acc"].max()
    assert later["acc"].mean() > first["acc"].mean()
    assert space.validate(yaml.safe_load((run / "best.yaml").read_text()))
    assert result.best is not None


def test_rerun_continues_without_retraining(toy):
    folder, space, _ = toy
    CoarseSearch(load_settings(folder / "search.yaml", iterations=2), progress=False).run()
    first = read_table(folder / "runs" / "toy" / "samples.csv")
    CoarseSearch(load_settings(folder / "search.yaml", iterations=3), progress=False).run()
    second = read_table(folder / "runs" / "toy" / "samples.csv")
    assert len(first) == 16 and len(second) == 24
    pd.testing.assert_frame_equal(second.iloc[:16][first.columns], first, check_dtype=False)


def test_tau_by_epoch_and_choice():
    # run 0 leads early but finishes last; ranks settle from epoch 3 on
    curves = [[0.9, 0.9, 0.5, 0.5], [0.1, 0.2, 0.6, 0.7], [0.2, 0.3, 0.7, 0.8]]
    taus = tau_by_epoch(curves)
    assert taus[-1] == pytest.approx(1.0) and taus[0] < 0.9 and taus[2] == pytest.approx(1.0)
    stop = choose_epoch(curves, threshold=0.9, min_runs=3)
    assert stop.epoch == 3 and stop.saved_fraction([4, 4, 4]) == pytest.approx(0.25)
    assert choose_epoch([[0.5]]) is None
    assert choose_epoch(curves, threshold=0.9) is None  # 3 runs, 8 needed by default


def test_a_single_epoch_of_agreement_is_not_an_early_stop():
    final = np.linspace(0.5, 0.9, 10)  # epoch 1 agrees with the final ranking by chance,
    curves = [[f, 1.4 - f, f, f, f] for f in final]  # epoch 2 reverses it, then it holds
    assert choose_epoch(curves, threshold=0.9, hold=1).epoch == 1
    assert choose_epoch(curves, threshold=0.9, hold=3).epoch == 3


def test_coarse_with_too_few_full_runs_warns_and_trains_full_schedules(toy):
    folder, _, _ = toy
    settings = load_settings(folder / "search.yaml", iterations=2, batch=3)
    with pytest.warns(UserWarning, match="early_stop_min_runs"):
        CoarseSearch(settings, progress=False).run()
    samples = read_table(folder / "runs" / "toy" / "samples.csv")
    assert not (folder / "runs" / "toy" / "early_stop.json").exists()
    assert samples["max_epochs"].isna().all()


def test_table_evaluator_truncates_and_refuses_unknown_pairs():
    space = toy_space()
    table = toy_table(space, n=32)
    ev = TableEvaluator(space, table, where="toy.csv")
    config = space.configs(table.iloc[:1])[0]
    full = ev.evaluate(config)
    short = ev.evaluate(config, max_epochs=2)
    assert len(short.curve) == 2 and short.val_acc == pytest.approx(table.loc[0, "acc_e2"])
    assert full.val_acc == pytest.approx(table.loc[0, "val_acc"])
    other = dict(config, width=config["width"] % 8 + 1, lr=0.5)
    with pytest.raises(SearchError, match="pair not in the table.*toy.csv"):
        ev.evaluate(other)


# -- bad input: one line, exit 2, before any evaluation ---------------------------------------
def run_cli(args, capsys):
    code = search_main(args)
    err = capsys.readouterr().err
    return code, err


def test_unknown_config_key(toy, capsys):
    folder, _, _ = toy
    config = yaml.safe_load((folder / "search.yaml").read_text())
    config["batchsize"] = 4
    (folder / "bad.yaml").write_text(yaml.safe_dump(config))
    code, err = run_cli(["coarse", "--config", str(folder / "bad.yaml"), "--quiet"], capsys)
    assert code == 2 and "unknown key(s) batchsize" in err and "allowed:" in err and err.count("\n") == 1


def test_bad_selection_lists_allowed(toy, capsys):
    folder, _, _ = toy
    config = yaml.safe_load((folder / "search.yaml").read_text())
    config["selection"] = "greedy"
    (folder / "bad.yaml").write_text(yaml.safe_dump(config))
    code, err = run_cli(["coarse", "--config", str(folder / "bad.yaml"), "--quiet"], capsys)
    assert code == 2 and "selection='greedy'" in err and "allowed: thompson, mean" in err
    assert not (folder / "runs").exists()


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"hiden": 64}, "predictor: unknown parameter 'hiden' (valid: "),
        ({"arch_dropout": 1.5}, "predictor: arch_dropout=1.5 must be in [0, 1)"),
    ],
)
def test_bad_predictor_settings_fail_before_anything_is_written(toy, capsys, bad, message):
    folder, _, _ = toy
    config = yaml.safe_load((folder / "search.yaml").read_text())
    config["predictor"] = {**config.get("predictor", {}), **bad}
    (folder / "bad.yaml").write_text(yaml.safe_dump(config))
    code, err = run_cli(["coarse", "--config", str(folder / "bad.yaml"), "--quiet"], capsys)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (folder / "runs").exists()


def test_infeasible_constraints_name_smallest(tmp_path, capsys):
    code, err = run_cli(
        [
            "coarse",
            "--space",
            "configs/digits.yaml",
            "--max-flops",
            "10",
            "--pool",
            "64",
            "--runs-dir",
            str(tmp_path),
            "--quiet",
        ],
        capsys,
    )
    assert code == 2 and "smallest flops >=" in err and "limit 10" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--dataset", "digits"],
            r"sequences \[C, L\] \(in_shape \[1, 40\]\) but dataset 'digits' "
            r"holds images \[C, H, W\] \(in_shape \[1, 8, 8\]\)",
        ),
        (["--dataset", "mnist-1d"], r"unknown dataset 'mnist-1d' \(allowed: digits, mnist1d, mnist5k"),
    ],
)
def test_a_dataset_that_cannot_fit_the_space_fails_before_any_worker(tmp_path, capsys, extra, message):
    import re

    code, err = run_cli(
        [
            "coarse",
            "--space",
            "configs/mnist1d.yaml",
            "--pool",
            "64",
            "--batch",
            "2",
            "--iterations",
            "1",
            "--workers",
            "2",
            "--runs-dir",
            str(tmp_path),
            "--quiet",
            *extra,
        ],
        capsys,
    )
    assert code == 2 and re.search(message, err) and err.count("\n") == 1
    assert not any(tmp_path.iterdir())  # no study, no run folder


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("budget_hours", -1, "budget_hours=-1 must be a number of hours > 0"),
        ("budget_hours", 0, "budget_hours=0 must be a number of hours > 0"),
        ("budget_trials", 0, "budget_trials=0 must be an integer >= 1 pair"),
    ],
)
def test_config_budgets_are_checked_like_the_flag(toy, capsys, key, value, message):
    folder, _, _ = toy
    config = yaml.safe_load((folder / "search.yaml").read_text())
    config[key] = value
    (folder / "bad.yaml").write_text(yaml.safe_dump(config))
    code, err = run_cli(["coarse", "--config", str(folder / "bad.yaml"), "--quiet"], capsys)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (folder / "runs").exists()


def test_runs_dir_under_a_file_is_one_line_exit_2(toy, capsys):
    folder, _, _ = toy
    (folder / "plain").write_text("x")
    code, err = run_cli(
        [
            "coarse",
            "--config",
            str(folder / "search.yaml"),
            "--quiet",
            "--runs-dir",
            str(folder / "plain" / "runs"),
        ],
        capsys,
    )
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "plain" in err and "Traceback" not in err


def test_bad_warm_start_names_the_file_and_leaves_no_study(toy, capsys):
    folder, space, table = toy
    name = space.arch_names[0]
    bad = table.head(5).astype({name: object})
    bad.loc[bad.index[2], name] = "not-a-value"
    bad.to_csv(folder / "warm.csv", index=False)
    code, err = run_cli(
        [
            "coarse",
            "--config",
            str(folder / "search.yaml"),
            "--quiet",
            "--warm-start",
            str(folder / "warm.csv"),
        ],
        capsys,
    )
    assert code == 2 and "warm.csv" in err and name in err and err.count("\n") == 1
    assert not (folder / "runs").exists()  # no empty study left behind


def test_table_missing_columns(toy, capsys):
    folder, _, table = toy
    table.drop(columns=["lr"]).to_csv(folder / "cut.csv", index=False)
    code, err = run_cli(
        [
            "coarse",
            "--space",
            str(folder / "toy.yaml"),
            "--table",
            str(folder / "cut.csv"),
            "--runs-dir",
            str(folder / "runs"),
            "--quiet",
        ],
        capsys,
    )
    assert code == 2 and "missing variable column(s) lr" in err and "cut.csv" in err


def test_unreachable_storage(toy, capsys):
    folder, _, _ = toy
    code, err = run_cli(
        [
            "coarse",
            "--config",
            str(folder / "search.yaml"),
            "--quiet",
            "--storage",
            "postgresql://nobody:secret@127.0.0.1:1/none",
        ],
        capsys,
    )
    assert code == 2 and "cannot open storage" in err and "secret" not in err


def test_worker_unknown_study(toy, capsys):
    folder, _, _ = toy
    CoarseSearch(load_settings(folder / "search.yaml", iterations=1), progress=False).run()
    url = f"sqlite:///{folder / 'runs' / 'toy' / 'study.db'}"
    code, err = run_cli(["worker", "--storage", url, "--study", "nope"], capsys)
    assert code == 2 and "no study named 'nope'" in err and "toy" in err


def test_resume_with_another_space_is_refused(toy, capsys):
    folder, space, _ = toy
    CoarseSearch(load_settings(folder / "search.yaml", iterations=1), progress=False).run()
    other = SearchSpace(arch=space.arch, recipe=[Float("lr", 1e-4, 1.0, log=True), space["epochs"]])
    other.to_yaml(folder / "other.yaml")
    code, err = run_cli(
        ["coarse", "--config", str(folder / "search.yaml"), "--space", str(folder / "other.yaml"), "--quiet"],
        capsys,
    )
    assert code == 2 and "fingerprint" in err


def test_budget_parsing_errors(toy, capsys):
    folder, _, _ = toy
    code, err = run_cli(["coarse", "--config", str(folder / "search.yaml"), "--budget", "soon"], capsys)
    assert code == 2 and "budget 'soon'" in err
    with pytest.raises(ConfigError):
        load_settings(folder / "search.yaml", batch=0)


def test_config_paths_are_relative_to_the_config_file(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "search.yaml").write_text(
        yaml.safe_dump(
            {
                "space": "s.yaml",
                "runs_dir": "runs",
                "evaluator": {"type": "supernet", "checkpoint": "ckpt/super.pt"},
            }
        )
    )
    settings = load_settings(folder / "search.yaml")
    assert settings.space == str(folder / "s.yaml")
    assert settings.evaluator["checkpoint"] == str(folder / "ckpt" / "super.pt")


def test_zero_cost_proxies_are_computed_once_cached_and_fed_to_the_predictor(tmp_path, monkeypatch):
    """A coarse run on MNIST-1D with proxies as predictor inputs (pairs trained 1 epoch)."""
    from jointnas.recipes import zero_cost
    from jointnas.search.settings import SearchSettings

    space = read_space(CONFIGS / "mnist1d.yaml")
    small = SearchSpace.from_dict(
        {
            **{k: v for k, v in space.to_dict().items() if k != "default"},
            "recipe": [
                {"name": "lr", "type": "float", "low": 0.01, "high": 0.1, "log": True},
                {"name": "epochs", "type": "int", "low": 1, "high": 1},
            ],
        }
    )
    small.to_yaml(str(tmp_path / "s.yaml"))
    settings = SearchSettings(
        space=str(tmp_path / "s.yaml"),
        name="zc",
        runs_dir=str(tmp_path),
        evaluator={"type": "train", "dataset": "mnist1d"},
        pool=64,
        batch=4,
        iterations=2,
        early_stop=False,
        predictor=TINY_PREDICTOR,
        zero_cost=["synflow", "params"],
    )
    result = CoarseSearch(settings, progress=False).run()
    cache = read_table(tmp_path / "zc" / "zero_cost.csv")
    assert len(result.samples) == 8 and {"synflow", "params"} <= set(cache.columns)
    calls = []
    monkeypatch.setattr(zero_cost, "zero_cost_scores", lambda *a, **k: calls.append(1))
    pool = CoarseSearch(settings, progress=False).candidates().pool
    assert not calls and pool["synflow"].tolist() == cache["synflow"].tolist()
    predictor = AccuracyPredictor.load(tmp_path / "zc" / "predictor.pt")
    assert predictor.features == ("synflow", "params")
    with pytest.raises(ConfigError, match="zero-cost proxy 'zen'"):
        CoarseSearch(
            SearchSettings(**{**settings.__dict__, "zero_cost": ["zen"]}), progress=False
        ).candidates()

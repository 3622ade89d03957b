"""Fine search (predictor-only evolution), the fine strategy, ``search fine`` and ``search report``."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import CONFIGS
from test_coarse import TINY_PREDICTOR, toy_space, toy_table

from jointnas.data import SearchSpace, read_space, read_table
from jointnas.errors import ConfigError, SearchError
from jointnas.predictor.estimator import AccuracyPredictor
from jointnas.recipes.cost import space_costs
from jointnas.search.candidates import CandidateSet
from jointnas.search.cli import main as search_main
from jointnas.search.coarse import CoarseSearch
from jointnas.search.evaluators import EvalResult
from jointnas.search.fine import fine_search, pareto_mask, table_costs
from jointnas.search.report import RunFolder
from jointnas.search.settings import load_settings
from jointnas.search.strategies import create_strategy


class Known:
    """Stand-in predictor for the digits space: bigger nets help, lr best near 0.03, adamw helps."""

    def __init__(self) -> None:
        self.rows = 0

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.rows += len(frame)
        size = (
            frame["stem_width"] / 32
            + frame["s1_width"] / 32
            + frame["s2_width"] / 48
            + frame["s3_width"] / 64
            + (frame["s1_depth"] + frame["s2_depth"] + frame["s3_depth"]) / 9
        ) / 5
        lr = np.log10(frame["lr"].astype(float))
        return (size - 0.1 * (lr + 1.5) ** 2 + 0.05 * (frame["optimizer"] == "adamw")).to_numpy(float)


class Flat:
    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), 0.5)


@pytest.fixture(scope="module")
def digits():
    return read_space(CONFIGS / "digits.yaml")


def test_improves_over_start_and_reaches_known_optimum(digits):
    known = Known()
    result = fine_search(digits, known, population=32, seed=0)
    start = result.history[result.history["generation"] == 0]["best"].max()
    assert result.best["pred_acc"].iloc[0] > start + 0.05
    assert result.best["pred_acc"].iloc[0] > 1.03  # the optimum is 1.05
    assert result.scored == known.rows  # every scored candidate went through predict once
    best = digits.configs(result.best)[0]
    assert digits.validate(best) == best and best["optimizer"] == "adamw"


def test_every_budget_and_limit_holds(digits):
    budgets, max_params = [3e5, 1e6, 3e6], 2e5
    result = fine_search(
        digits, Known(), population=32, budgets=budgets, limits={"params": max_params}, seed=1
    )
    assert result.best["budget"].tolist() == budgets
    costs = space_costs(digits, result.best)
    assert (costs["flops"].to_numpy() <= np.array(budgets)).all()
    assert (costs["params"] <= max_params).all()
    np.testing.assert_array_equal(costs["flops"], result.best["flops"])
    assert result.best["pred_acc"].is_monotonic_increasing  # a looser budget never does worse
    front = space_costs(digits, result.pareto)
    assert (front["flops"] <= max(budgets)).all() and (front["params"] <= max_params).all()
    # the best pair under each budget is on the predicted front (up to pairs with equal scores and costs)
    on_front = set(zip(result.pareto["pred_acc"], result.pareto["flops"]))
    assert set(zip(result.best["pred_acc"], result.best["flops"])) <= on_front


def test_flat_landscape_stops_by_saturation(digits):
    result = fine_search(digits, Flat(), population=16, patience=4, max_generations=500, seed=0)
    assert result.stopped == "saturated" and result.generations == 4


def test_tol_zero_runs_to_the_cap(digits):
    result = fine_search(digits, Flat(), population=8, tol=0, max_generations=12, seed=0)
    assert result.stopped == "max_generations" and result.generations == 12


def test_same_seed_same_result(digits):
    def run(seed):
        return fine_search(
            digits, Known(), population=16, budgets=[5e5, 2e6], crossover=0.5, mutations=2, seed=seed
        )

    first, again, other = run(3), run(3), run(4)
    pd.testing.assert_frame_equal(first.table(), again.table())
    assert first.generations == again.generations and first.scored == again.scored
    assert not first.population.equals(other.population)


def test_pareto_front_is_non_dominated(digits):
    result = fine_search(digits, Known(), population=32, budgets=[2e6], seed=2)
    front = result.pareto
    acc, flops = front["pred_acc"].to_numpy(), front["flops"].to_numpy()
    for i in range(len(front)):
        dominated = (flops <= flops[i]) & (acc >= acc[i]) & ((flops < flops[i]) | (acc > acc[i]))
        assert not dominated.any()
    pop = result.population  # nothing scored dominates a front pair
    for f, a in zip(flops, acc):
        assert not ((pop["flops"] <= f) & (pop["pred_acc"] > a)).any()
    assert front["flops"].is_monotonic_increasing and front["pred_acc"].is_monotonic_increasing


def test_pareto_mask_ties_and_order():
    acc = np.array([0.5, 0.7, 0.7, 0.6, 0.9, 0.4])
    flops = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 0.5])
    assert pareto_mask(acc, flops).tolist() == [True, True, False, False, True, True]


def test_real_predictor_on_a_tabular_space():
    space, table = toy_space(), toy_table(toy_space())
    fitted = AccuracyPredictor(space, seed=0, **TINY_PREDICTOR).fit(table, target="val_acc")
    init = table.sort_values("val_acc").head(8)  # start from the worst pairs
    result = fine_search(
        space,
        fitted,
        init=init,
        population=16,
        sobol=0,
        budgets=[2e5],
        cost_fn=table_costs(space, table),
        seed=0,
    )
    start = result.history[result.history["generation"] == 0]["best"].max()
    assert result.best["pred_acc"].iloc[0] > start
    best = space.configs(result.best)[0]
    assert best["width"] * 5e4 <= 2e5 and result.best["flops"].iloc[0] == best["width"] * 5e4


def test_measured_pairs_rank_by_what_was_measured(digits):
    """A pair the predictor favours but that trained badly is not returned; one that beat every
    prediction is."""
    favoured = fine_search(digits, Known(), population=32, seed=0).best
    flop = digits.frame(digits.configs(favoured)).assign(acc=0.1)
    result = fine_search(digits, Known(), population=32, seed=0, measured=flop)
    assert digits.configs(result.best) != digits.configs(favoured)
    assert result.best["measured_acc"].isna().all()  # the new best is a prediction
    star = digits.sample(3, seed=5, frame=True).assign(acc=[2.0, 0.2, np.nan])  # NaN: not finished
    result = fine_search(digits, Known(), population=32, seed=0, measured=star, sobol=64)
    best = result.best.iloc[0]
    assert digits.configs(result.best) == digits.configs(star.head(1))
    assert best["measured_acc"] == best["score"] == 2.0
    assert best["pred_acc"] == pytest.approx(Known().predict(star.head(1))[0])


def test_measured_pairs_need_an_acc_column(digits):
    with pytest.raises(ConfigError, match="'acc' column"):
        fine_search(digits, Flat(), measured=digits.sample(2, seed=0, frame=True))


def test_bad_settings_and_unreachable_budget(digits):
    with pytest.raises(ConfigError, match="tol"):
        fine_search(digits, Flat(), tol=-1)
    with pytest.raises(ConfigError, match="patience"):
        fine_search(digits, Flat(), patience=0)
    with pytest.raises(SearchError, match=r"budget 10: the smallest FLOPs seen among 1024 start pairs is \d"):
        fine_search(digits, Flat(), budgets=[10, 1e6])


def test_mutate_unit_and_frame_change_exactly_k(digits):
    frame = digits.sample(64, seed=0, frame=True)
    unit = digits.to_unit(frame)
    child = digits.mutate_unit(unit, np.random.default_rng(0), k=3)
    assert ((child != unit).sum(axis=1) == 3).all()
    again = digits.mutate_frame(frame, 1, k=2)
    changed = (again != frame).to_numpy().sum(axis=1)
    assert (changed == 2).all()
    for config in digits.configs(again):
        assert digits.validate(config) == config
    np.testing.assert_array_equal(digits.mutate_unit(unit, 5, k=2), digits.mutate_unit(unit, 5, k=2))


def test_fine_strategy_proposes_init_pairs_first(digits):
    init = digits.sample(4, seed=3, frame=True)
    strategy = create_strategy("fine", CandidateSet(digits), seed=0, population=4, init=init)
    first = strategy.ask(6)
    assert first[:4] == digits.configs(init)
    strategy.tell(first, Known().predict(digits.frame(first)))
    children = strategy.ask(6)
    assert len(children) == 6 and all(digits.validate(c) == c for c in children)


# -- the command line ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def coarse_run(tmp_path_factory):
    """A tiny finished coarse run on the toy table (2 iterations of 8 pairs)."""
    folder = tmp_path_factory.mktemp("coarse")
    space = toy_space()
    space.to_yaml(folder / "toy.yaml")
    toy_table(space).to_csv(folder / "toy.csv", index=False)
    config = {
        "space": "toy.yaml",
        "name": "toy",
        "runs_dir": "runs",
        "batch": 8,
        "iterations": 2,
        "evaluator": {"type": "table", "table": "toy.csv"},
        "predictor": TINY_PREDICTOR,
        "pretrain_targets": ["params"],
    }
    (folder / "search.yaml").write_text(yaml.safe_dump(config))
    CoarseSearch(load_settings(folder / "search.yaml"), progress=False).run()
    return folder / "runs" / "toy"


@pytest.fixture
def run_dir(coarse_run, tmp_path):
    copy = tmp_path / "toy"  # the study name is the folder name
    shutil.copytree(coarse_run, copy)
    return copy


def cli(args, capsys):
    code = search_main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


FAST = ["--population", "16", "--max-generations", "40", "--quiet"]


def test_fine_cli_writes_outputs(run_dir, capsys):
    code, out, _ = cli(["fine", "--run", str(run_dir), "--budgets", "1e5,2e5", *FAST], capsys)
    assert code == 0
    assert "| budget | pred_acc | measured_acc | flops | params |" in out and "candidates scored" in out
    fine = read_table(run_dir / "fine.csv")
    assert set(fine["kind"]) == {"best", "pareto"}
    best = fine[fine["kind"] == "best"]
    assert best["budget"].tolist() == [1e5, 2e5] and (best["flops"] <= best["budget"]).all()
    space = toy_space()
    for label, limit in (("1e5", 1e5), ("2e5", 2e5)):
        pair = yaml.safe_load((run_dir / f"best_{label}.yaml").read_text())
        assert space.validate(pair) == pair and pair["width"] * 5e4 <= limit
    assert (run_dir / "pareto.png").stat().st_size > 1000


class Oracle:
    """Measures the toy table's known quality for any pair (stands in for training)."""

    def evaluate(self, config, max_epochs=None, on_epoch=None):
        quality = (
            config["width"] / 8 + (config["op"] == "c") * 0.5 - (np.log10(config["lr"]) + 1.5) ** 2 * 0.2
        )
        return EvalResult(curve=[quality], val_acc=quality, epochs_run=int(config["epochs"]))


def test_fine_cli_verify(run_dir, capsys, monkeypatch):
    monkeypatch.setattr(RunFolder, "evaluator", lambda self, seed=None: Oracle())
    code, out, _ = cli(["fine", "--run", str(run_dir), "--verify", "4", *FAST], capsys)
    assert code == 0 and "verified pairs (4, full schedules)" in out
    assert (
        "Kendall tau, predicted (pred_acc) vs measured (val_acc): " in out
        and "over all 4 verified pairs" in out
    )
    verify = read_table(run_dir / "verify.csv")
    assert len(verify) == 4 and {"pred_acc", "val_acc", "status"} <= set(verify.columns)
    assert verify["score"].is_monotonic_decreasing and (verify["status"] == "ok").all()


def test_fine_cli_keeps_measured_pairs_unless_predicted_only(run_dir, capsys):
    samples = read_table(run_dir / "samples.csv")
    for flags, measured in (([], True), (["--predicted-only"], False)):
        code, _, _ = cli(["fine", "--run", str(run_dir), "--budgets", "4e5", *flags, *FAST], capsys)
        fine = read_table(run_dir / "fine.csv")
        assert code == 0 and fine["measured_acc"].notna().any() == measured
        best = fine[fine["kind"] == "best"].iloc[0]
        if measured:  # never below the best measured pair within the budget
            within = samples[(samples["flops"] <= 4e5) & (samples["status"] == "ok")]
            assert best["score"] >= within["acc"].max()


class SeededOracle(Oracle):
    """The oracle's quality plus 0.01 per training seed; seed 2 diverges when ``fail`` is set."""

    def __init__(self, seed, fail=False):
        self.seed, self.fail = seed or 0, fail

    def evaluate(self, config, max_epochs=None, on_epoch=None):
        if self.fail and self.seed == 2:
            return EvalResult(curve=[], val_acc=float("nan"), status="diverged", message="loss is NaN")
        r = super().evaluate(config)
        return EvalResult(
            curve=[r.val_acc + 0.01 * self.seed],
            val_acc=r.val_acc + 0.01 * self.seed,
            epochs_run=r.epochs_run,
        )


@pytest.mark.parametrize("fail", [False, True])
def test_fine_cli_verifies_with_several_training_seeds(run_dir, capsys, monkeypatch, fail):
    monkeypatch.setattr(RunFolder, "evaluator", lambda self, seed=None: SeededOracle(seed, fail))
    code, out, _ = cli(["fine", "--run", str(run_dir), "--verify", "2", "--verify-seeds", "3", *FAST], capsys)
    assert code == 0 and "mean of 3 training seeds" in out
    verify = read_table(run_dir / "verify.csv")
    quality = np.array([Oracle().evaluate(c).val_acc for c in toy_space().configs(verify)])
    if fail:  # the two runs that finished count; the pair is marked with the failure
        np.testing.assert_allclose(verify["val_acc"], quality + 0.005)
        assert (verify["status"] == "diverged").all() and (verify["runs"] == 2).all()
        assert (verify["message"] == "loss is NaN").all()
    else:
        np.testing.assert_allclose(verify["val_acc"], quality + 0.01)
        np.testing.assert_allclose(verify["val_acc_std"], 0.01)
        assert (verify["status"] == "ok").all() and (verify["runs"] == 3).all()


def test_run_evaluators_count_up_from_the_run_seed(digits, tmp_path):
    run = RunFolder(
        tmp_path, digits, settings={"evaluator": {"type": "train", "dataset": "digits", "seed": 5}}
    )
    assert [e.seed for e in run.evaluators(3)] == [5, 6, 7]
    assert run.evaluators(1)[0].seed == 5


def test_several_training_seeds_need_the_train_evaluator(run_dir, capsys):
    code, _, err = cli(["fine", "--run", str(run_dir), "--verify", "2", "--verify-seeds", "2", *FAST], capsys)
    _refused(code, err, run_dir, "training seeds need the train evaluator (this run's: table)")


def test_fine_cli_compares_with_the_default_pair(run_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(RunFolder, "evaluator", lambda self, seed=None: Oracle())
    space = toy_space()
    with_default = SearchSpace(
        space.arch, space.recipe, name="toy", default={"op": "b", "width": 4, "lr": 0.03, "epochs": 6}
    )
    with_default.to_yaml(tmp_path / "toy_default.yaml")
    code, out, _ = cli(
        [
            "fine",
            "--run",
            str(run_dir),
            "--space",
            str(tmp_path / "toy_default.yaml"),
            "--verify",
            "2",
            "--compare-default",
            *FAST,
        ],
        capsys,
    )
    verify = read_table(run_dir / "verify.csv")
    assert code == 0 and verify["kind"].tolist() == ["best", "pareto", "default"]
    default = verify[verify["kind"] == "default"].iloc[0]
    assert default["flops"] == 4 * 5e4 and default["status"] == "ok"  # the table's costs of width 4
    assert default["val_acc"] == Oracle().evaluate(with_default.default).val_acc


def test_fine_cli_table_starts_but_measured_accuracy_comes_from_the_run(run_dir, tmp_path, capsys):
    """A --table's accuracy (here full-schedule val_acc) is not the run's predictor target."""
    table = toy_table(toy_space()).assign(val_acc=2.0)  # far above anything the run measured
    table.to_csv(tmp_path / "start.csv", index=False)
    code, _, _ = cli(["fine", "--run", str(run_dir), "--table", str(tmp_path / "start.csv"), *FAST], capsys)
    fine = read_table(run_dir / "fine.csv")
    assert code == 0 and (fine["score"] < 2.0).all()
    measured = fine["measured_acc"].dropna()
    assert len(measured) and measured.isin(read_table(run_dir / "samples.csv")["acc"]).all()


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda t: t.drop(columns="lr"), "missing variable column(s) lr"),
        (
            lambda t: t.assign(lr=np.where(t.index == 7, 5.0, t["lr"])),
            "row 8, column 'lr'",
        ),  # 1-based, as in the file
    ],
)
def test_fine_cli_refuses_a_bad_start_table(run_dir, tmp_path, capsys, damage, match):
    table = toy_table(toy_space()).assign(status=lambda t: np.where(t.index < 3, "failed", "ok"))
    damage(table).to_csv(tmp_path / "start.csv", index=False)
    code, _, err = cli(["fine", "--run", str(run_dir), "--table", str(tmp_path / "start.csv"), *FAST], capsys)
    _refused(code, err, run_dir, match)
    assert "start.csv" in err


def test_measured_pairs_keep_rows_aligned_with_a_repeated_index(run_dir):
    run = RunFolder.open(str(run_dir))
    samples = read_table(run_dir / "samples.csv")
    twice = pd.concat([samples.head(4), samples.iloc[4:8]])  # index 0..3, 0..3
    pairs = run.measured_pairs(twice)
    assert pairs["acc"].tolist() == twice["acc"].tolist()
    assert run.best_pairs(3, twice).equals(
        pairs.sort_values("acc", ascending=False, kind="stable").head(3)[list(toy_space().names)]
    )


def _refused(code, err, run_dir, match):
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and match in err, err
    assert not (run_dir / "fine.csv").exists() and not list(run_dir.glob("best_*.yaml"))
    assert not (run_dir / "pareto.png").exists()


def test_predictor_from_another_space_is_refused(run_dir, tmp_path, capsys):
    other = read_space(CONFIGS / "digits.yaml")
    table = other.sample(16, seed=0, frame=True).assign(acc=np.linspace(0, 1, 16))
    AccuracyPredictor(other, seed=0, **TINY_PREDICTOR).fit(table).save(tmp_path / "other.pt")
    code, _, err = cli(
        ["fine", "--run", str(run_dir), "--predictor", str(tmp_path / "other.pt"), *FAST], capsys
    )
    _refused(code, err, run_dir, "another search space")


def test_unreachable_budgets_name_the_smallest_flops(run_dir, capsys):
    code, _, err = cli(["fine", "--run", str(run_dir), "--budgets", "1000,2e5", *FAST], capsys)
    _refused(code, err, run_dir, "smallest FLOPs seen")
    assert "is 5e4" in err  # width 1 of the toy table


def test_run_without_predictor_is_refused(run_dir, capsys):
    (run_dir / "predictor.pt").unlink()
    code, _, err = cli(["fine", "--run", str(run_dir), *FAST], capsys)
    _refused(code, err, run_dir, "no predictor.pt")


@pytest.mark.parametrize("flag", [["--tol", "0"], ["--tol=-1e-3"], ["--patience", "0"], ["--patience=-2"]])
def test_non_positive_tol_or_patience_is_refused(run_dir, capsys, flag):
    code, _, err = cli(["fine", "--run", str(run_dir), *flag, *FAST], capsys)
    _refused(code, err, run_dir, flag[0].split("=")[0])


def test_report_writes_plots_and_summary(run_dir, capsys):
    assert cli(["fine", "--run", str(run_dir), "--budgets", "2e5", *FAST], capsys)[0] == 0
    code, out, _ = cli(["report", "--run", str(run_dir)], capsys)
    assert code == 0 and "Kendall tau" in out
    for name in ("report.md", "pareto.png", "pred_vs_true.png", "tau_by_epoch.png", "acc_over_trials.png"):
        assert (run_dir / name).stat().st_size > 0, name
    text = (run_dir / "report.md").read_text()
    assert "last iteration held out: Kendall tau" in text and "## Fine search" in text
    assert "![pareto](pareto.png)" in text


def test_compare_with_default_uses_pooled_stds_and_the_defaults_flops():
    import pandas as pd

    from jointnas.search.verify import compare_with_default

    verified = pd.DataFrame(
        [
            {
                "kind": "best",
                "budget": 3e5,
                "flops": 2e5,
                "status": "ok",
                "val_acc": 0.98,
                "val_acc_std": 0.003,
                "test_acc": 0.97,
                "test_acc_std": 0.004,
            },
            {
                "kind": "best",
                "budget": 1e6,
                "flops": 9e5,
                "status": "ok",
                "val_acc": 0.99,  # costlier
                "val_acc_std": 0.001,
                "test_acc": 0.99,
                "test_acc_std": 0.001,
            },
            {
                "kind": "default",
                "budget": None,
                "flops": 6e5,
                "status": "ok",
                "val_acc": 0.97,
                "val_acc_std": 0.004,
                "test_acc": 0.965,
                "test_acc_std": 0.003,
            },
        ]
    )
    rows = compare_with_default(verified)
    assert len(rows) == 1 and rows.loc[0, "flops"] == 2e5
    assert rows.loc[0, "val_acc_gain"] == pytest.approx(0.01)
    assert rows.loc[0, "val_acc_pooled_std"] == pytest.approx(((0.003**2 + 0.004**2) / 2) ** 0.5)
    assert bool(rows.loc[0, "val_acc_beats"])  # 0.01 > 2 * 0.00354
    assert not bool(rows.loc[0, "test_acc_beats"])  # 0.005 < 2 * 0.00354
    assert compare_with_default(verified[verified["kind"] != "default"]).empty

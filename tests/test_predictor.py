"""Accuracy predictor: pretraining, fitting, ensembles, persistence and metrics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import CONFIGS

from jointnas.data import Categorical, Float, Integer, SearchSpace
from jointnas.errors import NotFittedError, PredictorError, TableError
from jointnas.predictor import AccuracyPredictor, metrics
from jointnas.predictor.training import TargetTransform

torch.set_num_threads(1)
FAST = dict(hidden=32, embed=16, epochs=60, frozen_epochs=20, pretrain_epochs=10, n_models=1)


@pytest.fixture(scope="module")
def digits() -> SearchSpace:
    return SearchSpace.from_yaml(str(CONFIGS / "digits.yaml"))


@pytest.fixture(scope="module")
def small() -> SearchSpace:
    return SearchSpace(
        arch=[
            Integer("width", 8, 64, step=8),
            Categorical("op", ("conv", "pool", "skip")),
            Categorical("se", (False, True)),
        ],
        recipe=[Float("lr", 1e-3, 1.0, log=True)],
        name="small",
    )


def synthetic(space: SearchSpace, n: int, seed: int) -> pd.DataFrame:
    """A table whose accuracy grows with width, conv > pool > skip, and lr near 0.03."""
    frame = space.sample(n, seed=seed, frame=True)
    op = frame["op"].map({"conv": 0.2, "pool": 0.1, "skip": 0.0}).to_numpy(dtype=float)
    lr_term = -0.05 * (np.log10(frame["lr"].to_numpy(dtype=float)) + 1.5) ** 2
    noise = np.random.default_rng(seed).normal(0, 0.005, n)
    return frame.assign(acc=0.4 + 0.005 * frame["width"] + op + lr_term + noise, status="ok")


@pytest.fixture(scope="module")
def fitted(small) -> AccuracyPredictor:
    return AccuracyPredictor(small, seed=0, **{**FAST, "n_models": 3}).fit(synthetic(small, 120, 0))


# -- pretraining -----------------------------------------------------------------------------
def test_pretraining_predicts_flops_and_params_ranking_on_held_out_archs(digits):
    from jointnas.recipes.cost import space_costs

    est = AccuracyPredictor(digits, seed=0, hidden=64, embed=16, pretrain_epochs=40)
    est.pretrain(n=2048, costs=space_costs)
    held_out = digits.sample(500, seed=99, frame=True)
    truth, pred = space_costs(digits, held_out), est.predict_costs(held_out)
    for column in ("flops", "params"):
        assert metrics.spearman(truth[column], pred[column]) > 0.95
        assert metrics.kendall_tau(truth[column], pred[column]) > 0.8


def test_pretraining_from_a_table_and_a_missing_target_column(small):
    archs = small.sample(256, seed=1, frame=True)
    archs["cost"] = 2.0 ** (archs["width"] / 8) * archs["op"].map({"conv": 3, "pool": 2, "skip": 1})
    est = AccuracyPredictor(small, seed=0, **{**FAST, "pretrain_epochs": 60}).pretrain(
        archs, targets=("cost",)
    )
    assert metrics.spearman(archs["cost"], est.predict_costs(archs)["cost"]) > 0.95
    with pytest.raises(PredictorError, match="latency"):
        AccuracyPredictor(small, seed=0, **FAST).pretrain(archs, targets=("cost", "latency"))


def test_pretrained_encoder_is_used_by_fit_and_round_trips(small, tmp_path):
    table = synthetic(small, 60, 2)
    est = AccuracyPredictor(small, seed=0, **{**FAST, "n_models": 2}).pretrain(
        n=256,
        costs=lambda space, frame: pd.DataFrame(
            {"flops": frame["width"] ** 2.0, "params": frame["width"] + 1.0}
        ),
    )
    assert est.is_pretrained and est.fit(table) is est
    member = est.members_[0]
    assert len(member.encoders) == 2  # the pretrained encoder and one trained from scratch
    assert not torch.equal(member.encoders[0].net[0].weight, est.encoder_.net[0].weight)
    assert metrics.kendall_tau(table["acc"], est.predict(table)) > 0.8
    est.save(tmp_path / "pre.pt")
    pool = small.sample(100, seed=3, frame=True)
    np.testing.assert_array_equal(
        est.predict(pool), AccuracyPredictor.load(tmp_path / "pre.pt").predict(pool)
    )


# -- fit / predict ---------------------------------------------------------------------------
@pytest.mark.parametrize("transform", ["rank", "standard"])
def test_fit_ranks_a_known_monotone_relation(small, transform):
    est = AccuracyPredictor(small, seed=0, **{**FAST, "target_transform": transform})
    est.fit(synthetic(small, 150, 0))
    test = synthetic(small, 400, 1)
    assert metrics.kendall_tau(test["acc"], est.predict(test)) > 0.75
    assert metrics.spearman(test["acc"], est.predict(small.configs(test))) > 0.9


def test_contract_not_fitted_fit_returns_self_and_params(small):
    est = AccuracyPredictor(small, seed=3, **FAST)
    with pytest.raises(NotFittedError, match="not fitted"):
        est.predict(small.sample(4, seed=0))
    assert not any(k.endswith("_") for k in vars(est))  # __init__ stores hyperparameters only
    assert est.get_params()["hidden"] == 32 and est.set_params(epochs=5) is est
    with pytest.raises(ValueError, match="unknown parameter"):
        est.set_params(depthh=3)
    assert est.fit(synthetic(small, 30, 0)) is est


def test_same_seed_same_predictions_and_other_seed_differs(small):
    table, pool = synthetic(small, 40, 0), small.sample(50, seed=5, frame=True)
    a = AccuracyPredictor(small, seed=7, **FAST).fit(table).predict(pool)
    b = AccuracyPredictor(small, seed=7, **FAST).fit(table).predict(pool)
    c = AccuracyPredictor(small, seed=8, **FAST).fit(table).predict(pool)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_ensemble_std_is_positive_and_shapes(fitted, small):
    pool = small.sample(200, seed=4, frame=True)
    pred, std = fitted.predict(pool, return_std=True)
    assert pred.shape == std.shape == (200,)
    assert np.all(std > 0)
    np.testing.assert_allclose(pred, fitted.predict(pool))
    assert fitted.predict(pool.iloc[:0]).shape == (0,)
    members = fitted.predict_members(pool)
    assert members.shape == (fitted.n_models, 200)
    np.testing.assert_allclose(std, members.std(axis=0), rtol=1e-6, atol=1e-9)
    # the members bracket the ensemble mean
    assert np.all(members.min(axis=0) <= pred + 1e-9) and np.all(pred <= members.max(axis=0) + 1e-9)


def test_fit_skips_unusable_rows_with_a_warning(small):
    table = synthetic(small, 40, 0)
    table.loc[:4, "status"] = "diverged"
    table.loc[5:6, "acc"] = np.nan
    with pytest.warns(UserWarning, match="skips 7 of 40 rows"):
        est = AccuracyPredictor(small, seed=0, **FAST).fit(table)
    assert est.n_train_ == 33 and est.n_skipped_ == 7


def test_all_rows_unusable_or_bad_columns_raise(small):
    table = synthetic(small, 10, 0).assign(acc=np.nan)
    with pytest.raises(PredictorError, match="0 usable row"):
        AccuracyPredictor(small, **FAST).fit(table)
    with pytest.raises(TableError, match="width"):
        AccuracyPredictor(small, **FAST).fit(synthetic(small, 10, 0).drop(columns="width"))
    with pytest.raises(TableError, match="val_acc"):
        AccuracyPredictor(small, **FAST).fit(synthetic(small, 10, 0), target="val_acc")
    with pytest.raises(PredictorError, match="target_transform"):
        AccuracyPredictor(small, target_transform="log").fit(synthetic(small, 10, 0))
    with pytest.raises(PredictorError, match=r"arch_dropout=1\.0 must be in \[0, 1\)"):
        AccuracyPredictor(small, arch_dropout=1.0).fit(synthetic(small, 10, 0))


def test_score_reports_metrics(fitted, small):
    report = fitted.score(synthetic(small, 100, 9))
    assert report["n"] == 100 and report["kendall_tau"] > 0.7
    assert {"spearman", "rmse", "precision_at_k", "top_n_rank"} <= set(report)


def test_rank_transform_inverse_is_strictly_monotone():
    y = np.array([0.1, 0.1, 0.5, 0.9, 0.9, 0.95])
    tr = TargetTransform("rank")
    z = tr.fit(y)
    assert z[0] == z[1] < z[2] < z[3] == z[4] < z[5]
    grid = np.linspace(-4, 4, 101)
    assert np.all(np.diff(tr.inverse(grid)) > 0)
    assert tr.inverse(np.array([z.max()]))[0] == pytest.approx(0.95, abs=1e-5)


@pytest.mark.parametrize("transform", ["standard", "rank"])
def test_predictions_stay_accuracies_on_a_tiny_table(small, transform):
    """Trained on widths <= 32 (acc up to 0.98), wider archs extrapolate; predictions stay
    within the observed range widened by the margin, and within [0, 1]."""
    from jointnas.predictor.training import RANGE_MARGIN

    frame = small.sample(40, seed=1, frame=True)
    frame = frame[frame["width"] <= 32].assign(status="ok")
    frame = frame.assign(acc=0.5 + 0.015 * frame["width"])
    est = AccuracyPredictor(small, seed=0, target_transform=transform, **FAST).fit(frame)
    wide = small.sample(200, seed=2, frame=True).assign(width=64)
    pred, std = est.predict(wide, return_std=True)
    low, high = frame["acc"].min(), frame["acc"].max()
    margin = RANGE_MARGIN * (high - low)
    assert pred.max() <= min(1.0, high + margin) + 1e-12
    assert pred.min() >= low - margin - 1e-12
    assert np.all(np.isfinite(std))


def test_bounded_inverse_is_identity_inside_and_monotone_outside():
    y = np.array([0.2, 0.6, 0.97, 0.99])
    for kind in ("standard", "rank"):
        tr = TargetTransform(kind)
        z = tr.fit(y)
        assert np.allclose(tr.inverse(z), y, atol=1e-5)  # inside the range: unchanged
        grid = np.linspace(-6, 6, 201)
        out = tr.inverse(grid)
        assert np.all(np.diff(out) >= 0) and out.max() <= 1.0 and out.min() >= 0.2 - 0.04 - 1e-12
    wide = TargetTransform("standard")
    wide.fit(np.array([10.0, 20.0]))  # not accuracies: only the margin bounds, not [0, 1]
    assert wide.inverse(np.array([100.0]))[0] == pytest.approx(20.5, abs=1e-6)


# -- persistence -----------------------------------------------------------------------------
def test_save_load_round_trip_gives_identical_predictions(fitted, small, tmp_path):
    path = tmp_path / "pred.pt"
    fitted.save(path)
    blob = torch.load(path, weights_only=True)
    assert blob["fingerprint"] == small.fingerprint() and blob["version"]
    loaded = AccuracyPredictor.load(path, space=small)
    pool = small.sample(300, seed=2, frame=True)
    for a, b in zip(fitted.predict(pool, return_std=True), loaded.predict(pool, return_std=True)):
        np.testing.assert_array_equal(a, b)
    assert loaded.get_params() == {**fitted.get_params(), "space": loaded.space}


def test_tree_blend_moves_predictions_and_is_refitted_identically_on_load(small, tmp_path):
    """With tree_weight > 0 each member's output mixes in the trees'; the file stores
    their training inputs and loading refits them to the same predictions."""
    table, pool = synthetic(small, 120, 0), small.sample(300, seed=2, frame=True)
    plain = AccuracyPredictor(small, seed=0, **{**FAST, "n_models": 2}, tree_weight=0.0).fit(table)
    blend = AccuracyPredictor(small, seed=0, **{**FAST, "n_models": 2}, tree_weight=0.5).fit(table)
    assert not plain.trees_ and len(blend.trees_) == 1
    assert np.abs(plain.predict(pool) - blend.predict(pool)).max() > 1e-4
    path = tmp_path / "blend.pt"
    blend.save(path)
    loaded = AccuracyPredictor.load(path, space=small)
    for a, b in zip(blend.predict(pool, return_std=True), loaded.predict(pool, return_std=True)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("bad", [{"tree_weight": 1.5}, {"tree_weight": -0.1}, {"tree_models": ["svm"]}])
def test_bad_tree_settings_name_the_parameter(small, bad):
    name = next(iter(bad))
    with pytest.raises(PredictorError, match=name):
        AccuracyPredictor(small, seed=0, **FAST, **bad).fit(synthetic(small, 40, 0))


def test_a_file_from_before_arch_dropout_loads_without_it(fitted, small, tmp_path):
    path = tmp_path / "pred.pt"
    fitted.save(path)
    blob = torch.load(path, weights_only=True)
    del blob["params"]["arch_dropout"]
    torch.save(blob, path)
    assert AccuracyPredictor.load(path, space=small).arch_dropout == 0.0


def test_fit_and_score_default_to_the_tables_then_the_fitted_target(small, tmp_path):
    table = synthetic(small, 30, 4).rename(columns={"acc": "val_acc"})  # a development table
    est = AccuracyPredictor(small, seed=0, **{**FAST, "epochs": 2}).fit(table)
    assert est.target_ == "val_acc"
    both = table.assign(acc=0.5)  # score compares with what was fitted, not the first column
    assert est.score(both)["kendall_tau"] == est.score(both, target="val_acc")["kendall_tau"]
    est.save(tmp_path / "pred.pt")
    blob = torch.load(tmp_path / "pred.pt", weights_only=True)
    assert blob["members"]["target"] == "val_acc"
    del blob["members"]["target"]  # a file from before the target was stored
    torch.save(blob, tmp_path / "old.pt")
    old = AccuracyPredictor.load(tmp_path / "old.pt", space=small)
    assert old.target_ is None and old.score(table)["n"] == 30
    with pytest.raises(TableError, match="no accuracy column .acc, val_acc, valid_acc."):
        est.fit(table.drop(columns="val_acc"))


def test_arch_dropout_drops_whole_rows_in_training_and_scales_at_inference():
    from jointnas.predictor.networks import AccuracyHead

    torch.manual_seed(0)
    head = AccuracyHead(6, recipe_dim=3, hidden=8, recipe_embed=4, arch_dropout=0.25)
    plain = AccuracyHead(6, recipe_dim=3, hidden=8, recipe_embed=4)
    plain.load_state_dict(head.state_dict())
    z, recipe = torch.randn(5, 6), torch.rand(5, 3)
    keep = torch.tensor([[1.0], [0.0], [1.0], [0.0], [1.0]])
    with torch.no_grad():
        out = head(z, recipe, keep)
        torch.testing.assert_close(out[keep[:, 0] == 1], plain(z, recipe)[keep[:, 0] == 1])
        torch.testing.assert_close(out[keep[:, 0] == 0], plain(torch.zeros_like(z), recipe)[keep[:, 0] == 0])
        torch.testing.assert_close(head(z, recipe), plain(0.75 * z, recipe))
    assert AccuracyHead(6, recipe_dim=0, arch_dropout=0.5).arch_dropout == 0.0  # arch-only spaces


def test_pretrain_only_file_round_trips_and_refuses_predict(small, tmp_path):
    est = AccuracyPredictor(small, seed=0, **FAST).pretrain(
        n=128,
        costs=lambda space, frame: pd.DataFrame(
            {"flops": frame["width"] * 3.0, "params": frame["width"] + 2.0}
        ),
    )
    est.save(tmp_path / "enc.pt")
    loaded = AccuracyPredictor.load(tmp_path / "enc.pt")
    pool = small.sample(20, seed=0, frame=True)
    pd.testing.assert_frame_equal(est.predict_costs(pool), loaded.predict_costs(pool))
    with pytest.raises(NotFittedError, match="pretrained encoder"):
        loaded.predict(pool)


def test_load_refuses_another_space_and_corrupt_files(fitted, small, digits, tmp_path):
    path = tmp_path / "pred.pt"
    fitted.save(path)
    with pytest.raises(PredictorError) as info:
        AccuracyPredictor.load(path, space=digits)
    text = str(info.value)
    assert str(path) in text and small.fingerprint() in text and digits.fingerprint() in text
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.pt").write_bytes(b"not a torch file at all")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    for name in ("cut.pt", "junk.pt", "other.pt", "missing.pt"):
        with pytest.raises(PredictorError) as info:
            AccuracyPredictor.load(tmp_path / name)
        assert name in str(info.value) and "\n" not in str(info.value)


def test_save_is_atomic_and_refuses_an_empty_estimator(small, tmp_path):
    with pytest.raises(PredictorError, match="nothing to save"):
        AccuracyPredictor(small).save(tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []


# -- metrics ---------------------------------------------------------------------------------
def test_kendall_spearman_rmse_by_hand():
    # pairs of (1,2,3,4) vs (1,3,2,4): 5 concordant, 1 discordant -> tau = 4/6
    assert metrics.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    assert metrics.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(1 - 6 * 2 / (4 * 15))
    assert metrics.rmse([0, 0], [3, 4]) == pytest.approx(math.sqrt(12.5))
    assert math.isnan(metrics.kendall_tau([1, 1, 1], [1, 2, 3]))


def test_precision_at_k_and_top_n_rank_by_hand():
    y_true = [0.9, 0.8, 0.7, 0.6, 0.5]
    y_pred = [0.1, 0.9, 0.8, 0.2, 0.3]  # predicted order: rows 1, 2, 4, 3, 0
    assert metrics.precision_at_k(y_true, y_pred, 2) == pytest.approx(0.5)  # {1,2} vs {0,1}
    assert metrics.precision_at_k(y_true, y_pred, 3) == pytest.approx(2 / 3)
    assert metrics.top_n_rank(y_true, y_pred, 1) == 2
    assert metrics.top_n_rank(y_true, y_pred, 5) == 1
    # ties in truth share the best rank; ties in predictions go to the earlier row
    assert metrics.top_n_rank([0.5, 0.9, 0.9], [0.0, 0.1, 0.2], 1) == 1
    assert metrics.precision_at_k([1.0, 2.0, 2.0], [0.3, 0.3, 0.1], 1) == 0.0


def test_s_tau_and_gt_tau_by_hand():
    a, b, c = [1, 2, 3, 4], [1, 3, 2, 4], [4, 3, 2, 1]
    expected = (4 / 6 + -1.0 + -4 / 6) / 3
    assert metrics.s_tau([a, b, c]) == pytest.approx(expected)
    assert metrics.s_tau(np.array([a, a])) == pytest.approx(1.0)
    assert metrics.gt_tau(b, a) == pytest.approx(4 / 6)
    assert metrics.gt_tau([b, c], a) == pytest.approx((4 / 6 - 1) / 2)
    with pytest.raises(ValueError):
        metrics.s_tau([a])


def test_regression_report_keys():
    report = metrics.regression_report(np.arange(20.0), np.arange(20.0) ** 2)
    assert report["kendall_tau"] == pytest.approx(1.0) and report["k"] == 2
    assert report["precision_at_k"] == 1.0 and report["top_n_rank"] == 1


def test_early_stopping_on_a_held_out_fold_still_ranks(small):
    est = AccuracyPredictor(small, seed=1, **{**FAST, "valid_fraction": 0.25, "patience": 5})
    est.fit(synthetic(small, 120, 3))
    test = synthetic(small, 300, 4)
    assert metrics.kendall_tau(test["acc"], est.predict(test)) > 0.7


# -- free labels of any sign, scale and completeness --------------------------------------------
def test_masked_labels_do_not_move_the_loss():
    from jointnas.predictor.training import masked_mse

    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    target = torch.tensor([[0.0, float("nan")], [1.0, 2.0]])
    loss = masked_mse(pred, target)
    assert loss.item() == pytest.approx((1 + 4 + 4) / 3)
    loss.backward()
    assert pred.grad[0, 1] == 0 and pred.grad[0, 0] != 0


def test_labels_of_any_sign_get_their_own_transform_and_round_trip(small, tmp_path):
    from jointnas.predictor.training import standardize_labels, unstandardize_labels

    values = np.array([[1e3, -5.0], [1e6, -0.5], [np.nan, -50.0], [1e9, np.nan]])
    scaled, transforms, mean, std = standardize_labels(values)
    assert transforms == ["log", "signed_log"] and np.isnan(scaled[2, 0])
    back = unstandardize_labels(np.nan_to_num(scaled), transforms, mean, std)
    ok = np.isfinite(values)
    assert np.allclose(back[ok], values[ok])
    archs = small.sample(128, seed=2, frame=True)
    archs["jacov"] = -(archs["width"] ** 1.5)  # negative, as that proxy is
    archs["synflow"] = 10.0 ** (archs["width"] / 4.0)  # spans 14 orders of magnitude
    archs.loc[::4, "synflow"] = np.nan  # missing for a quarter of the archs
    est = AccuracyPredictor(small, seed=0, **{**FAST, "pretrain_epochs": 60}).pretrain(
        archs, targets=("jacov", "synflow")
    )
    assert est.proxy_transforms_ == ("signed_log", "log")
    pred = est.predict_costs(archs)
    assert metrics.spearman(archs["jacov"], pred["jacov"]) > 0.9 and (pred["jacov"] < 0).all()
    est.save(tmp_path / "enc.pt")
    again = AccuracyPredictor.load(tmp_path / "enc.pt")
    assert np.allclose(again.predict_costs(archs).to_numpy(), pred.to_numpy())
    archs["synflow"] = np.nan
    with pytest.raises(PredictorError, match="every value of pretraining target synflow is missing"):
        AccuracyPredictor(small, seed=0, **FAST).pretrain(archs, targets=("jacov", "synflow"))


def test_pretraining_on_a_label_that_is_the_accuracy_beats_pretraining_on_noise():
    space = SearchSpace(
        arch=[Integer("a", 0, 15), Integer("b", 0, 15), Categorical("op", ("w", "x", "y", "z"))],
        recipe=[Float("lr", 1e-3, 1.0, log=True)],
        name="free",
    )

    def quality(frame: pd.DataFrame) -> np.ndarray:
        a, b = frame["a"].to_numpy(float), frame["b"].to_numpy(float)
        op = frame["op"].map({"w": 0.0, "x": 0.3, "y": 0.1, "z": -0.2}).to_numpy(float)
        return np.sin(a / 3) * np.cos(b / 4) + op

    archs = space.sample(1024, seed=0, frame=True)
    archs["free_acc"] = quality(archs)
    archs["noise"] = np.random.default_rng(0).normal(size=len(archs))
    params = {**FAST, "pretrain_epochs": 40, "epochs": 80}
    gains = []
    for seed in (0, 1):
        table = space.sample(320, seed=10 + seed, frame=True)
        table["acc"] = quality(table) - 0.1 * (np.log10(table["lr"].to_numpy(float)) + 1.5) ** 2
        train, test = table.iloc[:20], table.iloc[20:]
        taus = {}
        for label in ("free_acc", "noise"):
            est = AccuracyPredictor(space, seed=seed, **params).pretrain(archs, targets=(label,))
            est.fit(train, target="acc")
            taus[label] = metrics.kendall_tau(test["acc"], est.predict(test))
        gains.append(taus["free_acc"] - taus["noise"])
    assert np.mean(gains) > 0.1, gains


def test_feature_columns_are_extra_inputs_that_round_trip(small, tmp_path):
    def table(n: int, seed: int) -> pd.DataFrame:
        frame = synthetic(small, n, seed)
        hidden = np.random.default_rng(seed + 100).normal(size=n)  # not in the space
        return frame.assign(acc=frame["acc"] + 0.3 * hidden, proxy=np.exp(hidden))

    train, test = table(120, 0), table(200, 1)
    plain = AccuracyPredictor(small, seed=0, **FAST).fit(train)
    fed = AccuracyPredictor(small, seed=0, features=("proxy",), **FAST).fit(train)
    tau_plain = metrics.kendall_tau(test["acc"], plain.predict(test))
    tau_fed = metrics.kendall_tau(test["acc"], fed.predict(test))
    assert tau_fed > tau_plain + 0.2, (tau_fed, tau_plain)
    assert fed.feature_scaling_[0] == ("log",)
    fed.save(tmp_path / "fed.pt")
    again = AccuracyPredictor.load(tmp_path / "fed.pt")
    assert np.allclose(again.predict(test), fed.predict(test))
    with pytest.raises(PredictorError, match="feature column.s. proxy missing in the candidates"):
        fed.predict(test.drop(columns="proxy"))
    partly = test.assign(proxy=np.where(np.arange(len(test)) % 2, test["proxy"], np.nan))
    assert np.isfinite(fed.predict(partly)).all()  # a missing value is the fit mean

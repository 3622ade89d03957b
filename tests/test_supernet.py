"""Weight-sharing supernets: sharing, samplers, BN recalibration, ranking metrics, CLI, evaluator."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import CONFIGS
from scipy import stats
from torch.utils.data import TensorDataset

from jointnas.data import Categorical, Float, Integer, ModelSpec, SearchSpace, read_space
from jointnas.data.datasets import DatasetBundle, load_dataset
from jointnas.errors import ConfigError, DatasetError, SpaceError
from jointnas.recipes import (
    SAMPLERS,
    Supernet,
    SupernetError,
    create_model,
    create_sampler,
    evaluate_paths,
    fvcore_costs,
    load_supernet,
    train_and_evaluate,
    train_supernet,
)
from jointnas.recipes.supernet.decode import supernet_costs
from jointnas.recipes.supernet.training import recalibrate_batch_norm
from jointnas.search.candidates import CandidateSet
from jointnas.search.cli import main
from jointnas.search.evaluators import SupernetEvaluator, make_evaluator
from jointnas.search.oneshot.supernet_rank import SupernetRanking, discordant_pairs, ranking_metrics
from jointnas.search.settings import SearchSettings

DEPTH = read_space(CONFIGS / "supernet_digits.yaml")
LAYERS = read_space(CONFIGS / "supernet_layers.yaml")
OPTIONS = dict(DEPTH.model.options)


def depth_space(arch=None, recipe=(), **options) -> SearchSpace:
    arch = arch or [Integer("b1_depth", 1, 3), Integer("b2_depth", 1, 3)]
    model = ModelSpec("depth_supernet", (1, 8, 8), 10, {**OPTIONS, **options})
    return SearchSpace(arch, recipe, model=model)


def layer_space(choices=("identity", "mb_k3_e3"), **options) -> SearchSpace:
    opts = {"stem_width": 8, "widths": [8, 16], "strides": [1, 2], **options}
    arch = [Categorical("l1_op", tuple(choices)), Categorical("l2_op", ("mb_k3_e1", "mb_k5_e6"))]
    return SearchSpace(arch, model=ModelSpec("layer_supernet", (1, 8, 8), 10, opts))


@pytest.fixture(scope="module")
def small() -> DatasetBundle:
    """Digits cut to 320 training and 160 validation / test samples."""
    digits = load_dataset("digits")
    cut = lambda ds, n: TensorDataset(*(t[:n] for t in ds.tensors))  # noqa: E731
    return DatasetBundle(
        "digits-small", cut(digits.train, 320), cut(digits.val, 160), cut(digits.test, 160), 10, (1, 8, 8)
    )


@pytest.fixture(scope="module")
def trained(small) -> Supernet:
    net = Supernet.from_space(DEPTH, seed=0)
    train_supernet(net, small, "uniform", epochs=2, seed=0, device="cpu", num_threads=1)
    return net


# -- structure and sharing -------------------------------------------------------------------
def test_every_path_has_the_same_output_shape_and_standalone_structure():
    net = Supernet.from_space(DEPTH, seed=0).eval()
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert net.spec.num_paths == 9 and len(set(net.paths())) == 9
    for path in net.paths():
        assert net(x, path).shape == (4, 10)
        standalone = create_model(DEPTH.model, net.spec.arch(path))
        on_path = {id(p): p.numel() for m in net.path_modules(path) for p in m.parameters()}
        assert sum(on_path.values()) == sum(p.numel() for p in standalone.parameters())


def test_a_shared_sub_block_changes_exactly_the_paths_that_run_it():
    net = Supernet.from_space(DEPTH, seed=0).eval()
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = {p: net(x, p) for p in net.paths()}
        # slots: fixed1, stage-1 sub-blocks 1..3, fixed2, stage-2 sub-blocks 1..3
        third = net.blocks[3][1]
        next(third.parameters()).add_(0.5)
        after = {p: net(x, p) for p in net.paths()}
        for path in net.paths():
            runs_it = net.spec.arch(path)["b1_depth"] == 3
            assert (not torch.allclose(before[path], after[path])) == runs_it, path
        next(net.blocks[1][1].parameters()).add_(0.5)  # first sub-block: every path
        for path in net.paths():
            assert not torch.allclose(after[path], net(x, path))


def test_layer_supernet_paths_skip_identity_and_costs_match_fvcore():
    net = Supernet.from_space(LAYERS, seed=0).eval()
    assert net.spec.num_paths == 243
    x = torch.zeros(2, 1, 8, 8)
    for path in [(0, 0, 0, 0, 0), (2, 2, 2, 2, 2), (0, 1, 2, 0, 1)]:
        assert net(x, path).shape == (2, 10)
        arch = net.spec.arch(path)
        skipped = sum(v == "identity" for v in arch.values())
        assert len(net.spec.network_spec(path).blocks) == 5 - skipped
        model = create_model(LAYERS.model, arch)
        assert net.spec.costs(path, (1, 8, 8)) == fvcore_costs(model, (1, 8, 8))


def test_share_first_gives_private_tails(small):
    net = Supernet.from_space(DEPTH, share_first=4, seed=0).eval()
    x = torch.randn(2, 1, 8, 8)
    assert len(net.blocks) == 4 and len(net.tails) == 9
    with torch.no_grad():
        out = {p: net(x, p) for p in net.paths()}
        next(net.tails["p0_0"].parameters()).add_(1.0)
        changed = [p for p in net.paths() if not torch.allclose(out[p], net(x, p))]
    assert changed == [(0, 0)]
    untrained = {k: v.clone() for k, v in net.state_dict().items()}
    result = train_supernet(net, small, "uniform", epochs=1, seed=0, device="cpu", num_threads=1)
    trained_tails = {
        k.split(".")[1]
        for k, v in net.state_dict().items()
        if k.startswith("tails.") and not torch.equal(v, untrained[k])
    }
    assert trained_tails == {f"p{a}_{b}" for a, b in result.path_counts}  # only sampled paths
    with pytest.raises(SupernetError, match="share_first"):
        Supernet.from_space(DEPTH, share_first=9)


# -- bad spaces ------------------------------------------------------------------------------
def test_recipe_variables_are_refused():
    with pytest.raises(SupernetError, match="'lr'"):
        Supernet.from_space(depth_space(recipe=[Float("lr", 1e-3, 1.0, log=True)]))


def test_unknown_op_is_refused():
    with pytest.raises(SupernetError, match="'l1_op'.*'conv9'.*allowed: identity"):
        Supernet.from_space(layer_space(choices=("identity", "conv9")))


def test_identity_where_channels_or_resolution_change_is_refused():
    space = SearchSpace(
        [Categorical("l1_op", ("identity", "mb_k3_e3")), Categorical("l2_op", ("identity", "mb_k3_e3"))],
        model=ModelSpec(
            "layer_supernet", (1, 8, 8), 10, {"stem_width": 8, "widths": [8, 16], "strides": [1, 2]}
        ),
    )
    with pytest.raises(SupernetError, match="'l2_op'.*identity.*8 -> 16"):
        Supernet.from_space(space)


def test_width_choices_are_refused():
    arch = [Integer("b1_depth", 1, 3), Integer("b2_depth", 1, 3), Integer("b1_width", 8, 16, 8)]
    with pytest.raises(SupernetError, match="'b1_width'.*channel counts"):
        Supernet.from_space(depth_space(arch))


def test_depth_above_k_is_refused():
    with pytest.raises(SupernetError, match="'b2_depth'.*max_depth=3"):
        Supernet.from_space(depth_space([Integer("b1_depth", 1, 3), Integer("b2_depth", 1, 4)]))


@pytest.mark.parametrize(
    "arch, options, match",
    [
        ([Integer("b1_depth", 1, 3)], {}, "'b2_depth' is missing"),
        ([Integer("b1_depth", 1, 3), Float("b2_depth", 1.0, 3.0)], {}, "'b2_depth'.*float"),
        (None, {"depth": 3}, "options.depth.*allowed: stem_width"),
        (None, {"strides": [1, 3]}, "strides"),
        (None, {"kernel": 4}, "kernel=4 must be odd"),
    ],
)
def test_other_bad_supernet_spaces(arch, options, match):
    with pytest.raises(SupernetError, match=match):
        Supernet.from_space(depth_space(arch, **options))


def test_model_options_round_trip_and_enter_the_fingerprint(tmp_path):
    DEPTH.to_yaml(tmp_path / "s.yaml")
    again = read_space(tmp_path / "s.yaml")
    assert again.model == DEPTH.model and again.fingerprint() == DEPTH.fingerprint()
    assert depth_space(stem_width=24).fingerprint() != depth_space().fingerprint()
    with pytest.raises(TypeError):
        DEPTH.model.options["stem_width"] = 8
    with pytest.raises(SpaceError, match="options.*not accepted by model.builder='mbconv'"):
        create_model(ModelSpec("mbconv", (1, 8, 8), 10, {"widths": [8]}), {})


# -- samplers --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_stays_in_range_and_repeats_with_its_seed(name):
    runs = []
    for _ in range(2):
        sampler = create_sampler(name, (3, 2, 4), seed=7)
        steps = [sampler.ask() for _ in range(50)]
        for paths in steps:
            for path in paths:
                assert all(0 <= i < n for i, n in zip(path, (3, 2, 4)))
                sampler.tell(path, float(sum(path)))
        runs.append(steps)
    assert runs[0] == runs[1]


def test_epsilon_greedy_is_uniform_during_warmup_then_picks_the_leader():
    sampler = create_sampler("epsilon_greedy", (3, 3), seed=0, warmup=900)
    leader = (2, 1)
    sampler.tell(leader, 0.9)
    first = [sampler.ask()[0] for _ in range(900)]
    counts = np.array([first.count(p) for p in [(i, j) for i in range(3) for j in range(3)]])
    assert stats.chisquare(counts).pvalue > 1e-3  # uniform over the 9 paths
    for path in set(first) - {leader}:
        sampler.tell(path, 0.5)
    assert sampler.leader() == leader
    later = [sampler.ask()[0] for _ in range(3000)]
    hits = sum(p == leader for p in later)
    expected = 1 - 0.2 + 0.2 / 9
    assert stats.binomtest(hits, len(later), expected).pvalue > 1e-3
    assert abs(hits / len(later) - expected) < 0.03


def test_epsilon_greedy_defaults_and_bad_values():
    sampler = create_sampler("epsilon_greedy", (3, 3))
    assert (sampler.epsilon, sampler.warmup) == (0.2, 100)
    for eps in (-0.1, 1.5):
        with pytest.raises(ConfigError, match="epsilon"):
            create_sampler("epsilon_greedy", (3, 3), epsilon=eps)
    with pytest.raises(ConfigError, match="unknown path sampler 'greedy'.*uniform, epsilon_greedy, fair"):
        create_sampler("greedy", (3, 3))
    with pytest.raises(ConfigError, match="no option 'epsilon'"):
        create_sampler("uniform", (3, 3), epsilon=0.1)


def test_fair_sampler_trains_each_choice_once_per_step():
    sampler = create_sampler("fair", (3, 3, 3), seed=0)
    for _ in range(20):
        paths = sampler.ask()
        assert len(paths) == 3
        for var in range(3):
            assert sorted(p[var] for p in paths) == [0, 1, 2]
    uneven = create_sampler("fair", (2, 4), seed=0).ask()
    assert len(uneven) == 4 and sorted(p[1] for p in uneven) == [0, 1, 2, 3]
    assert {p[0] for p in uneven} == {0, 1}


# -- training and evaluation -----------------------------------------------------------------
def test_fair_training_counts_every_choice_equally(small):
    net = Supernet.from_space(DEPTH, seed=0)
    result = train_supernet(net, small, "fair", epochs=1, seed=0, device="cpu", num_threads=1)
    assert result.status == "ok" and result.steps == 5
    per_value = np.zeros((2, 3))
    for path, n in result.path_counts.items():
        for var, value in enumerate(path):
            per_value[var, value] += n
    assert (per_value == result.steps).all()


def test_bn_recalibration_changes_only_the_paths_statistics(trained, small):
    path = (0, 2)  # b1_depth=1: stage-1 sub-blocks 2 and 3 are off the path
    bn = lambda module: [m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)][0]  # noqa: E731
    on, off = bn(trained.blocks[5][1]), bn(trained.blocks[3][1])
    on_before, off_before = on.running_mean.clone(), off.running_mean.clone()
    state = {k: v.clone() for k, v in trained.state_dict().items()}
    accs = evaluate_paths(trained, [path, (2, 2)], small, recalibrate_bn=2)
    assert all(0.0 <= a <= 1.0 for a in accs)
    assert all(torch.equal(state[k], v) for k, v in trained.state_dict().items())  # restored
    x = small.train.tensors[0][:64]
    recalibrate_batch_norm(trained, path, [(x, None)])
    assert not torch.allclose(on.running_mean, on_before)
    assert torch.equal(off.running_mean, off_before)
    trained.load_state_dict(state)


def test_evaluate_paths_accepts_arch_dicts_and_refuses_bad_input(trained, small):
    by_path = evaluate_paths(trained, [(1, 2)], small)
    assert evaluate_paths(trained, [{"b1_depth": 2, "b2_depth": 3}], small) == by_path
    with pytest.raises(SupernetError, match="'b1_depth'.*not allowed"):
        evaluate_paths(trained, [{"b1_depth": 5, "b2_depth": 3}], small)
    with pytest.raises(ConfigError, match="recalibrate_bn"):
        evaluate_paths(trained, [(0, 0)], small, recalibrate_bn=-1)


def test_standalone_training_of_a_sub_architecture(small):
    arch = {"b1_depth": 2, "b2_depth": 1}
    result = train_and_evaluate(
        arch,
        {"epochs": 1, "batch_size": 64},
        small,
        device="cpu",
        model_spec=DEPTH.model,
        space=DEPTH,
        num_threads=1,
    )
    spec = Supernet.from_space(DEPTH).spec
    assert result.status == "ok" and len(result.curve) == 1
    assert (result.flops, result.params) == spec.costs(spec.path(arch), (1, 8, 8))


# -- ranking metrics -------------------------------------------------------------------------
def test_ranking_metrics_match_hand_computed_values():
    truth = np.array([0.9, 0.8, 0.7, 0.6])
    runs = np.array(
        [
            [0.4, 0.3, 0.2, 0.1],  # tau 1
            [0.3, 0.4, 0.2, 0.1],
        ]
    )  # one discordant pair of 6: tau 4/6
    m = ranking_metrics(runs, truth)
    assert m["gt_tau"] == pytest.approx((1 + 4 / 6) / 2)
    assert m["s_tau"] == pytest.approx(4 / 6)
    assert m["gt_tau_of_mean"] == pytest.approx(5 / math.sqrt(6 * 5))  # tau-b, one tie
    assert m["t1r"] == pytest.approx(1.5) and m["t3r"] == pytest.approx(1.0)
    assert math.isnan(ranking_metrics(runs[:1], truth)["s_tau"])


def test_discordant_pairs_lists_the_misranked_pairs():
    table = pd.DataFrame(
        {
            "b1_depth": [1, 2, 1],
            "b2_depth": [3, 2, 1],
            "standalone": [0.95, 0.94, 0.80],
            "acc_uniform": [0.70, 0.75, 0.60],
        }
    )
    ranking = SupernetRanking(table, pd.DataFrame(), pd.DataFrame(), {"uniform": np.zeros((1, 3))}, 0.0)
    pairs = discordant_pairs(ranking, "uniform")
    assert pairs[["a", "b"]].values.tolist() == [["(1,3)", "(2,2)"]]
    assert pairs["gap"].iloc[0] == pytest.approx(0.01)


# -- CLI and evaluator -----------------------------------------------------------------------
def test_cli_writes_its_files(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "supernet",
            "--space",
            str(CONFIGS / "supernet_digits.yaml"),
            "--seeds",
            "2",
            "--epochs",
            "1",
            "--sample",
            "4",
            "--recalibrate-bn",
            "1",
            "--threads",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert {
        "architectures.csv",
        "samplers.csv",
        "tau_by_epoch.csv",
        "discordant_pairs.csv",
        "report.md",
        "supernet_vs_standalone.png",
        "tau_by_epoch.png",
    } <= names
    summary = pd.read_csv(out / "samplers.csv")
    assert summary["sampler"].tolist() == ["uniform", "epsilon_greedy", "fair"]
    assert {"gt_tau", "s_tau", "t1r", "t3r"} <= set(summary.columns)
    printed = capsys.readouterr().out  # the printed per-sampler table is explained under it
    assert "t1r: TnR for n = 1" in printed and "s_tau: S-Tau" in printed
    assert len(pd.read_csv(out / "architectures.csv")) == 4
    assert len(pd.read_csv(out / "tau_by_epoch.csv")) == 3 * 2
    assert "[1/10] standalone 1/4" in printed and "[10/10] supernet fair seed 1" in printed
    assert "s elapsed, about" in printed
    report = (out / "report.md").read_text()
    assert "GT-Tau by supernet epoch" in report and "- t3r: TnR for n = 3" in report
    assert pd.read_csv(out / "architectures.csv")["standalone_std"].isna().all()  # 1 seed
    assert "Standalone S-Tau (the ranking noise of the ground truth) is not measured" in report
    assert "S-Tau is `-`" not in report  # 2 supernet seeds measure it


def test_single_seed_study_says_why_s_tau_is_missing(tmp_path):
    out = tmp_path / "run"
    assert (
        main(
            [
                "supernet",
                "--space",
                str(CONFIGS / "supernet_digits.yaml"),
                "--seeds",
                "1",
                "--sampler",
                "uniform",
                "--epochs",
                "1",
                "--sample",
                "3",
                "--threads",
                "1",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        "S-Tau is `-`: it compares the rankings of different supernet seeds, and this "
        "study ran 1" in (out / "report.md").read_text()
    )


@pytest.mark.parametrize(
    "builder, says",
    [
        (
            "mbconvv",
            "is not a known builder (builders: depth_supernet, layer_supernet, mbconv); a "
            "supernet space needs depth_supernet or layer_supernet; did you mean 'mbconv'?",
        ),
        (
            "mbconv",
            "is a standalone builder, not a supernet builder (builders: depth_supernet, "
            "layer_supernet, mbconv); a supernet space needs depth_supernet or layer_supernet",
        ),
    ],
)
def test_cli_names_every_builder_and_the_file_for_a_wrong_builder(tmp_path, capsys, builder, says):
    path = tmp_path / "space.yaml"
    path.write_text(
        (CONFIGS / "supernet_digits.yaml")
        .read_text()
        .replace("builder: depth_supernet", f"builder: {builder}")
    )
    assert main(["supernet", "--space", str(path), "--device", "cpu", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: model.builder={builder!r} {says} ({path})\n"
    assert not (tmp_path / "x").exists()


def test_cli_bad_sampler_is_one_line_error(tmp_path, capsys):
    code = main(
        [
            "supernet",
            "--space",
            str(CONFIGS / "supernet_digits.yaml"),
            "--sampler",
            "uniform,greedy",
            "--out",
            str(tmp_path / "x"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "greedy" in err
    assert not (tmp_path / "x").exists()


def test_supernet_evaluator_scores_pairs_and_reloads(tmp_path, small):
    ckpt = str(tmp_path / "supernet.pt")
    ev = SupernetEvaluator(
        DEPTH, dataset=small, device="cpu", epochs=2, recalibrate_bn=2, checkpoint=ckpt, num_threads=1
    )
    assert ev.full_epochs({"b1_depth": 1, "b2_depth": 1}) is None
    results = [ev.evaluate({"b1_depth": d1, "b2_depth": d2}) for d1, d2 in [(1, 1), (3, 3)]]
    for r in results:
        assert 0.2 < r.val_acc <= 1.0 and r.curve == [r.val_acc] and r.status == "ok"
    assert results[0].flops < results[1].flops
    assert results[0].extra["train_seconds"] > 0 and results[1].extra["train_seconds"] == 0
    again = make_evaluator(
        DEPTH,
        {"type": "supernet", "dataset": small, "device": "cpu", "recalibrate_bn": 2, "checkpoint": ckpt},
    )
    assert again.evaluate({"b1_depth": 3, "b2_depth": 3}).val_acc == results[1].val_acc
    net, meta = load_supernet(ckpt, DEPTH)
    assert meta["epochs"] == 2
    with pytest.raises(ConfigError, match="another space"):
        load_supernet(ckpt, LAYERS)
    SearchSettings(space="x.yaml", evaluator={"type": "supernet", "epochs": 3, "sampler": "fair"})
    with pytest.raises(ConfigError, match="unknown path sampler"):
        SupernetEvaluator(DEPTH, sampler="nope")


def test_supernet_costs_let_candidate_sets_cut_supernet_spaces():
    frame = LAYERS.sample(6, seed=0, frame=True)
    costs = supernet_costs(LAYERS, frame)
    spec = Supernet.from_space(LAYERS).spec
    for row, (flops, params) in zip(LAYERS.configs(frame), costs.itertuples(index=False)):
        assert (flops, params) == spec.costs(spec.path(row), (1, 8, 8))
    candidates = CandidateSet(DEPTH, limits={"flops": 7e5}, cost_fn=supernet_costs)
    picked = candidates.sample(3, seed=0)
    assert len(picked) == 3 and (supernet_costs(DEPTH, picked)["flops"] <= 7e5).all()


def test_supernet_evaluator_ignores_the_recipe_part_of_a_pair(small):
    joint = SearchSpace(DEPTH.arch, [Float("lr", 1e-3, 1.0, log=True)], model=DEPTH.model)
    ev = SupernetEvaluator(joint, dataset=small, device="cpu", epochs=1, recalibrate_bn=1, num_threads=1)
    a = ev.evaluate({"b1_depth": 2, "b2_depth": 1, "lr": 0.01}).val_acc
    assert ev.evaluate({"b1_depth": 2, "b2_depth": 1, "lr": 0.5}).val_acc == a


def test_1d_supernet_over_sequences_trains_and_its_costs_match_fvcore(tmp_path, monkeypatch):
    monkeypatch.setenv("JOINTNAS_CACHE", str(tmp_path))
    space = read_space(CONFIGS / "supernet_mnist1d.yaml")
    net = Supernet.from_space(space, seed=0)
    assert net.spec.spatial_dims == 1 and net.spec.num_paths == 27
    assert not any(isinstance(m, torch.nn.Conv2d) for m in net.modules())
    for path in [(0, 0, 0), (2, 2, 2), (0, 1, 2)]:
        model = create_model(space.model, net.spec.arch(path))
        assert net.spec.costs(path, (1, 40)) == fvcore_costs(model, (1, 40))
    bundle = load_dataset("mnist1d", options={"num_samples": 600, "val_size": 100, "test_size": 100})
    result = train_supernet(net, bundle, "uniform", epochs=1, seed=0, device="cpu", num_threads=1)
    assert result.status == "ok" and result.epochs_run == 1 and np.isfinite(result.losses[0])
    with pytest.raises(DatasetError, match=r"sequences.*\[1, 8, 8\]"):
        train_supernet(
            Supernet.from_space(space, seed=0),
            small_digits(),
            "uniform",
            epochs=1,
            seed=0,
            device="cpu",
            num_threads=1,
        )


def small_digits() -> DatasetBundle:
    digits = load_dataset("digits")
    return DatasetBundle("digits", digits.val, digits.val, digits.test, 10, (1, 8, 8))

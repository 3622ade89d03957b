"""EdgeNES ensemble search: edge counts, diversity control, ensembles, selection, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import CONFIGS
from scipy.stats import spearmanr
from torch import nn

from jointnas.errors import ConfigError, SpaceError
from jointnas.search.cli import main
from jointnas.search.oneshot.ensemble import (
    CellNetwork,
    CellSpace,
    DartsSettings,
    Edge,
    EdgeNES,
    Genotype,
    HyperSettings,
    MemberSettings,
    discretize,
    edge_count,
    ensemble_proba,
    ensemble_scores,
    genotype_mask,
    greedy_select,
    gumbel_architecture,
    inherit_weights,
    random_genotype,
    read_config,
    shared_edges,
)
from jointnas.search.oneshot.ensemble.genotype import mask_to_genotype
from jointnas.search.oneshot.ensemble.training import predict_proba

TINY_OPS = ("none", "skip_connect", "sep_conv_3x3", "max_pool_3x3")


def tiny_space(**kw) -> CellSpace:
    return CellSpace(**{"nodes": 2, "ops": TINY_OPS, "layout": ("normal", "reduction"), "channels": 4, **kw})


def peaked_logits(geno: Genotype, space: CellSpace, high: float = 60.0) -> torch.Tensor:
    """Logits whose every Gumbel sample discretizes to ``geno``."""
    return (genotype_mask(geno, space) * 2 * high - high).requires_grad_(True)


# -- edge counts -------------------------------------------------------------------------
A = Genotype(
    normal=(
        Edge(0, 0, "skip_connect"),
        Edge(0, 1, "sep_conv_3x3"),
        Edge(1, 0, "max_pool_3x3"),
        Edge(1, 2, "sep_conv_3x3"),
    ),
    reduction=(
        Edge(0, 0, "max_pool_3x3"),
        Edge(0, 1, "max_pool_3x3"),
        Edge(1, 1, "skip_connect"),
        Edge(1, 2, "sep_conv_3x3"),
    ),
)
B = Genotype(
    normal=(
        Edge(0, 0, "skip_connect"),
        Edge(0, 1, "max_pool_3x3"),  # 1 shared
        Edge(1, 0, "max_pool_3x3"),
        Edge(1, 1, "sep_conv_3x3"),
    ),  # 1 shared
    reduction=(
        Edge(0, 0, "max_pool_3x3"),
        Edge(0, 1, "max_pool_3x3"),  # 2 shared
        Edge(1, 0, "skip_connect"),
        Edge(1, 2, "skip_connect"),
    ),
)  # 0 shared


@pytest.mark.parametrize("star, sampled, expected", [(A, A, 8), (A, B, 4), (B, A, 4), (B, B, 8)])
def test_gumbel_edge_count_is_the_hard_shared_count(star, sampled, expected):
    space = tiny_space()
    assert shared_edges(star, sampled) == expected
    logits = peaked_logits(sampled, space)
    sample = gumbel_architecture(logits, space, tau=0.5, generator=torch.Generator().manual_seed(0))
    assert mask_to_genotype(sample.detach(), space) == sampled
    count = edge_count(genotype_mask(star, space), sample)
    assert float(count.detach()) == pytest.approx(expected, abs=1e-5)  # forward: hard count
    count.backward()  # backward: straight-through, a gradient reaches the logits
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_gumbel_count_equals_shared_edges_of_the_sample_and_has_soft_gradient():
    space = tiny_space()
    gen = torch.Generator().manual_seed(3)
    star = random_genotype(space, np.random.default_rng(0))
    mask = genotype_mask(star, space)
    for _ in range(20):
        logits = torch.randn(2, space.num_edges, len(space.ops), generator=gen).requires_grad_(True)
        state = gen.get_state()
        sample = gumbel_architecture(logits, space, tau=0.7, generator=gen)
        count = edge_count(mask, sample)
        geno = mask_to_genotype(sample.detach(), space)
        assert sum(len(geno.cell(k)) for k in space.cell_types) == space.max_shared
        assert float(count.detach()) == pytest.approx(shared_edges(geno, star), abs=1e-5)
        (grad,) = torch.autograd.grad(count, logits)
        # the gradient is the relaxed (soft) count's gradient, same noise
        gen2 = torch.Generator()
        gen2.set_state(state)
        noise = -torch.log(-torch.log(torch.rand(logits.shape, generator=gen2).clamp(1e-10, 1 - 1e-7)))
        soft = torch.softmax((logits + noise) / 0.7, -1)
        (soft_grad,) = torch.autograd.grad((mask * soft).sum(), logits)
        assert torch.allclose(grad, soft_grad, atol=1e-6)


def test_discretize_keeps_two_strongest_non_none_edges_per_node():
    space = tiny_space(layout=("normal",))
    alpha = torch.zeros(1, space.num_edges, len(space.ops))
    none, skip, sep, pool = range(4)
    alpha[0, :, none] = 9.0  # 'none' never counts
    alpha[0, space.edge_index(0, 0), sep] = 3.0
    alpha[0, space.edge_index(0, 1), pool] = 2.0
    alpha[0, space.edge_index(1, 0), skip] = 1.0
    alpha[0, space.edge_index(1, 1), sep] = 4.0
    alpha[0, space.edge_index(1, 2), pool] = 5.0
    geno = discretize(alpha, space)
    assert geno.normal == (
        Edge(0, 0, "sep_conv_3x3"),
        Edge(0, 1, "max_pool_3x3"),
        Edge(1, 1, "sep_conv_3x3"),
        Edge(1, 2, "max_pool_3x3"),
    )
    assert Genotype.from_dict(geno.to_dict(), space) == geno


# -- a tiny searched EdgeNES shared by the tests below -----------------------------------
@pytest.fixture(scope="module")
def nes():
    torch.set_num_threads(1)
    return EdgeNES(
        tiny_space(),
        darts=DartsSettings(epochs=1, warmup_epochs=0, batch_size=64),
        hyper=HyperSettings(epochs=3, batch_size=32, lr=0.05, penalty=0.05),
        members=MemberSettings(epochs=1, batch_size=64),
        max_train=256,
        seed=0,
    ).search()


@pytest.fixture(scope="module")
def built(nes):
    return nes.build_ensemble(n=2, N=4)


def test_more_lambda_gives_more_edges_shared_with_alpha_star(nes):
    top = nes.space_.max_shared
    lambdas = [lam for lam in range(top + 1) for _ in range(12)]
    counts = [shared_edges(g, nes.alpha_star_) for g in nes.sample(lambdas)]
    means = [np.mean(counts[12 * lam : 12 * (lam + 1)]) for lam in range(top + 1)]
    assert spearmanr(range(top + 1), means)[0] > 0.7, means
    assert np.mean(means[-2:]) > np.mean(means[:2]) + 2, means


def test_sampling_is_seeded_and_checks_lambda(nes):
    again = EdgeNES(nes.space, darts=nes.darts, hyper=nes.hyper, members=nes.members, max_train=256, seed=0)
    again.__dict__.update({k: v for k, v in nes.__dict__.items() if k.endswith("_")})
    again.generator_ = torch.Generator().manual_seed(5)
    nes.generator_ = torch.Generator().manual_seed(5)
    assert again.sample([1, 4, 8]) == nes.sample([1, 4, 8])
    with pytest.raises(ConfigError, match="outside"):
        nes.sample([nes.space_.max_shared + 1])


def test_ensemble_prediction_is_the_mean_of_member_softmaxes(nes, built):
    splits = nes.splits_
    models = []
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        models.append(
            CellNetwork(nes.space_, random_genotype(nes.space_, np.random.default_rng(seed))).eval()
        )
    x = splits.x_val[:50]
    with torch.no_grad():
        softmaxes = [torch.softmax(m(x).double(), -1) for m in models]
    probas = [predict_proba(m, x) for m in models]
    for p, s in zip(probas, softmaxes):
        assert torch.allclose(p, s, atol=1e-6)
    assert torch.allclose(ensemble_proba(probas), sum(softmaxes) / 3, atol=1e-6)
    chosen = built.chosen
    mean = sum(m.val_proba for m in chosen) / len(chosen)
    assert built.val_acc == pytest.approx(float((mean.argmax(-1) == splits.y_val).double().mean()))
    assert ensemble_scores(chosen, splits) == (built.val_acc, built.test_acc)


def test_selection_is_never_worse_than_the_best_single_member():
    rng = np.random.default_rng(0)
    for _ in range(60):
        k, n_val, classes = int(rng.integers(2, 8)), int(rng.integers(5, 40)), 3
        labels = torch.as_tensor(rng.integers(classes, size=n_val))
        probas = [torch.as_tensor(rng.dirichlet(np.ones(classes) * 0.5, size=n_val)) for _ in range(k)]
        n = int(rng.integers(1, k + 1))
        sel = greedy_select(probas, labels, n)
        singles = [float((p.argmax(-1) == labels).double().mean()) for p in probas]
        assert sel.val_acc >= max(singles) - 1e-12
        assert 1 <= len(sel.indices) <= n and len(set(sel.indices)) == len(sel.indices)
        ens = ensemble_proba([probas[i] for i in sel.indices])
        assert sel.val_acc == pytest.approx(float((ens.argmax(-1) == labels).double().mean()))
    with pytest.raises(ConfigError, match="between 1 and"):
        greedy_select(probas, labels, k + 1)


def test_built_ensemble_records_pool_and_beats_or_ties_best_member(nes, built):
    assert len(built.members) == 4 and 1 <= len(built.selection.indices) <= 2
    assert built.val_acc >= max(m.val_acc for m in built.members)
    for m in built.members:
        assert 1 <= m.lam <= nes.space_.max_shared
        assert m.shared_with_star == shared_edges(m.genotype, nes.alpha_star_)
    assert set(built.seconds) == {"darts", "hypernet", "members", "total"}


def test_inherited_members_take_the_supernet_weights(nes):
    geno = nes.alpha_star_
    model = CellNetwork(nes.space_, geno)
    copied = inherit_weights(model, nes.darts_.supernet)
    theirs = nes.darts_.supernet.state_dict()
    key = next(k for k in model.state_dict() if ".edges." in k and k.endswith("weight") and k in theirs)
    assert copied > 10 and torch.equal(model.state_dict()[key], theirs[key])
    inherit = EdgeNES(nes.space, members=MemberSettings(epochs=0, inherit=True), max_train=256)
    inherit.__dict__.update({k: v for k, v in nes.__dict__.items() if k.endswith("_")})
    result = inherit.build_ensemble(n=1, N=2, lambdas=[8, 8])
    assert all(0.0 <= m.val_acc <= 1.0 for m in result.members)


# -- config and CLI ----------------------------------------------------------------------
def test_shipped_config_reads():
    config = read_config(CONFIGS / "darts_digits.yaml")
    assert config.space.max_shared == 16 and (config.n, config.N) == (3, 10)
    assert config.sample_range == (1, 16) and config.hyper.penalty > 0


def write_config(path: Path, **changes) -> Path:
    data = {
        "name": "tiny",
        "cell": {"nodes": 2, "ops": list(TINY_OPS), "layout": ["normal", "reduction"], "channels": 4},
        "search": {"epochs": 1, "warmup_epochs": 0, "batch_size": 128},
        "hypernet": {"epochs": 1, "batch_size": 128},
        "members": {"epochs": 1, "batch_size": 128},
        "ensemble": {"n": 2, "N": 3},
    }
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            data[section][field] = value
        else:
            data[section] = value
    path.write_text(yaml.safe_dump(data))
    return path


def one_line_error(capsys, *fragments: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.mark.parametrize(
    "changes, args, fragments",
    [
        (
            {"cell__ops": ["none", "conv_9x9"]},
            [],
            ["unknown operation 'conv_9x9'", "allowed: none, ", "avg_pool_3x3", "cell.ops"],
        ),
        ({}, ["--n", "5", "--N", "3"], ["n=5", "N=3", "ensemble.n"]),
        ({"ensemble__n": 4}, [], ["n=4", "N=3"]),
        ({"hypernet__lambda_range": [0, 99]}, [], ["[0, 99]", "Lambda=8", "hypernet.lambda_range"]),
        ({"ensemble__lambda_range": [-1, 4]}, [], ["outside [0, Lambda=8]", "ensemble.lambda_range"]),
        ({"hypernet__penalty": -0.5}, [], ["penalty C must be >= 0", "hypernet.penalty"]),
        ({}, ["--penalty", "-2"], ["penalty C must be >= 0"]),
        ({"cell__layout": ["normal", "pyramid"]}, [], ["unknown cell kind 'pyramid'", "cell.layout"]),
        ({"members__epocs": 2}, [], ["unknown key(s) epocs", "members.epocs"]),
        ({}, ["--device", "cuda:7"] if not torch.cuda.is_available() else ["--device", "nope"], ["device"]),
    ],
)
def test_cli_bad_input_one_line_exit_2(tmp_path, capsys, changes, args, fragments):
    config = write_config(tmp_path / "bad.yaml", **changes)
    out = tmp_path / "out"
    code = main(["ensemble", "--space", str(config), "--out", str(out), "--quiet", *args])
    assert code == 2
    one_line_error(capsys, *fragments)
    assert not out.exists()


def test_cli_missing_config(tmp_path, capsys):
    assert main(["ensemble", "--space", str(tmp_path / "nope.yaml")]) == 2
    one_line_error(capsys, "file not found", "nope.yaml")


def test_cli_end_to_end_writes_members_and_summary(tmp_path, capsys):
    config = write_config(tmp_path / "tiny.yaml")
    out = tmp_path / "run"
    assert (
        main(
            [
                "ensemble",
                "--space",
                str(config),
                "--n",
                "2",
                "--N",
                "3",
                "--epochs",
                "1",
                "--seed",
                "1",
                "--device",
                "cpu",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "ensemble" in printed and "shared_star" in printed
    members = sorted((out / "members").glob("member_*.yaml"))
    assert [p.name for p in members] == ["member_00.yaml", "member_01.yaml", "member_02.yaml"]
    member = yaml.safe_load(members[0].read_text())
    assert {"lambda", "shared_with_alpha_star", "val_acc", "test_acc", "genotype", "selected"} <= set(member)
    Genotype.from_dict(member["genotype"], tiny_space())
    summary = yaml.safe_load((out / "summary.yaml").read_text())
    assert 1 <= summary["ensemble"]["size"] <= 2
    assert {"val_acc", "test_acc"} <= set(summary["ensemble"])
    assert {"mean_pairwise_shared_chosen", "lambdas_chosen", "mean_shared_with_alpha_star_chosen"} <= set(
        summary["diversity"]
    )
    assert summary["seconds"]["total"] > 0 and len(summary["members"]) == 3
    assert (out / "members.csv").is_file() and (out / "alpha_star.yaml").is_file()


def test_space_errors_name_the_field():
    with pytest.raises(SpaceError, match="allowed: none, skip_connect") as info:
        CellSpace(ops=("none", "conv"))
    assert info.value.where == "ops"
    with pytest.raises(SpaceError, match="nodes"):
        CellSpace(nodes=0)


# -- one spatial axis (MNIST-1D) ---------------------------------------------------------
@pytest.mark.parametrize("in_shape", [(1, 40), (1, 8, 8)])
def test_cell_network_runs_on_sequences_and_images(in_shape):
    space = tiny_space(in_shape=in_shape, num_classes=10, ops=TINY_OPS + ("avg_pool_3x3", "sep_conv_5x5"))
    torch.manual_seed(0)
    x = torch.randn(3, *in_shape)
    weights = torch.softmax(torch.randn(len(space.cell_types), space.num_edges, len(space.ops)), -1)
    supernet = CellNetwork(space)
    assert supernet(x, weights).shape == (3, 10)
    child = CellNetwork(space, random_genotype(space, np.random.default_rng(0)))
    assert child(x).shape == (3, 10)
    conv = nn.Conv1d if len(in_shape) == 2 else nn.Conv2d
    assert isinstance(child.stem[0], conv)
    assert not any(isinstance(m, nn.Conv2d if conv is nn.Conv1d else nn.Conv1d) for m in child.modules())


def test_reduction_cell_halves_the_sequence_length():
    space = tiny_space(in_shape=(1, 40), layout=("normal", "reduction"))
    child = CellNetwork(space, random_genotype(space, np.random.default_rng(1)))
    x = child.stem(torch.randn(2, 1, 40))
    normal, reduction = child.cells
    s = normal(x, x, None)
    assert s.shape[-1] == 40 and reduction(x, s, None).shape[-1] == 20


def test_image_stem_keeps_its_state_dict_keys():
    keys = set(CellNetwork(tiny_space(in_shape=(1, 8, 8))).state_dict())
    assert {"stem.0.weight", "stem.1.weight", "stem.1.running_mean"} <= keys


def test_in_shape_of_wrong_length_names_the_field():
    with pytest.raises(SpaceError, match=r"\(C, H, W\) for images or \(C, L\)") as info:
        tiny_space(in_shape=(40,))
    assert info.value.where == "in_shape"


def test_edgenes_on_mnist1d_config_reads():
    config = read_config(CONFIGS / "darts_mnist1d.yaml")
    assert config.dataset == "mnist1d" and config.space.max_shared == 16
    assert config.darts.epochs > read_config(CONFIGS / "darts_digits.yaml").darts.epochs

"""Behaviour of arch decoding, the MBConv builder and the analytic costs (vs fvcore)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from conftest import CONFIGS

from jointnas.data import ModelSpec, SearchSpace, read_space
from jointnas.errors import DatasetError, SpaceError
from jointnas.recipes import (
    build_model,
    costs,
    create_model,
    flops,
    fvcore_costs,
    network_spec,
    params,
    space_costs,
)
from jointnas.recipes.model import MBConv

SPACES = ("digits.yaml", "cifar.yaml", "mnist1d.yaml")

ARCH = {  # stage 1 keeps the stem width (residual), stage 2 halves and widens
    "stem_width": 16,
    "activation": "hardswish",
    "s1_width": 16,
    "s1_depth": 2,
    "s1_kernel": 3,
    "s1_expand": 1,
    "s1_se": True,
    "s2_width": 24,
    "s2_depth": 2,
    "s2_kernel": 5,
    "s2_expand": 6,
    "s2_se": False,
}


@pytest.fixture(params=SPACES)
def space(request) -> SearchSpace:
    return read_space(CONFIGS / request.param)


def _arch(space: SearchSpace, config: dict) -> dict:
    return space.split(config)[0]


@pytest.mark.parametrize("seed, name", list(enumerate(SPACES)))
def test_analytic_costs_equal_fvcore_on_150_random_archs_per_space(seed, name):
    space = read_space(CONFIGS / name)
    shape, classes = space.model.in_shape, space.model.num_classes
    torch.manual_seed(seed)
    mismatches = []
    for config in space.sample(150, seed=seed):
        arch = _arch(space, config)
        measured = fvcore_costs(create_model(space.model, arch), shape)
        analytic = (
            flops(arch, in_shape=shape, num_classes=classes),
            params(arch, in_shape=shape, num_classes=classes),
        )
        if analytic != measured:
            mismatches.append((arch, analytic, measured))
    assert not mismatches, f"{len(mismatches)} of 150 differ, first: {mismatches[:3]}"


def test_fractional_expansion_matches_fvcore():
    arch = dict(ARCH, s1_expand=2.5, s2_expand=1.5, s2_se=True)
    model = build_model(arch, num_classes=7, in_shape=(3, 15, 15))
    assert fvcore_costs(model, (3, 15, 15)) == (
        flops(arch, in_shape=(3, 15, 15), num_classes=7),
        params(arch, in_shape=(3, 15, 15), num_classes=7),
    )


def test_vectorized_costs_equal_scalar_for_lists_and_frames(space):
    configs = space.sample(500, seed=3)
    shape, classes = space.model.in_shape, space.model.num_classes
    expected = pd.DataFrame(
        {
            "flops": [flops(_arch(space, c), in_shape=shape, num_classes=classes) for c in configs],
            "params": [params(_arch(space, c), in_shape=shape, num_classes=classes) for c in configs],
        }
    )
    from_list = costs(configs, space.model)
    frame = space.frame(configs)
    frame.index = frame.index + 100
    from_frame = costs(frame, space.model)
    pd.testing.assert_frame_equal(from_list, expected.astype("int64"))
    assert list(from_frame.index) == list(frame.index)
    assert (from_frame.to_numpy() == expected.to_numpy()).all()
    assert (space_costs(space, configs).to_numpy() == expected.to_numpy()).all()
    assert from_list.dtypes.tolist() == ["int64", "int64"]


def test_vectorized_costs_of_fractional_expansion():
    spec = ModelSpec("mbconv", (3, 15, 15), 7)
    archs = [dict(ARCH, s1_expand=2.5), dict(ARCH, s2_expand=1.5, s2_se=True), ARCH]
    got = costs(archs, spec)
    assert got["flops"].tolist() == [flops(a, in_shape=(3, 15, 15), num_classes=7) for a in archs]
    assert got["params"].tolist() == [params(a, in_shape=(3, 15, 15), num_classes=7) for a in archs]


def test_output_shape_is_batch_by_classes(space):
    arch = _arch(space, space.sample(1, seed=5)[0])
    model = create_model(space.model, arch, dropout=0.2)
    out = model(torch.zeros(3, *space.model.in_shape))
    assert out.shape == (3, space.model.num_classes)


def test_spec_has_one_block_per_depth_with_stride_two_opening_later_stages():
    spec = network_spec(ARCH, num_classes=10, in_channels=1)
    assert [(b.in_channels, b.out_channels, b.stride) for b in spec.blocks] == [
        (16, 16, 1),
        (16, 16, 1),
        (16, 24, 2),
        (24, 24, 1),
    ]
    assert [b.use_residual for b in spec.blocks] == [True, True, False, True]


def test_residual_added_exactly_where_expected():
    model = build_model(ARCH, num_classes=10, in_shape=(1, 8, 8)).eval()
    blocks = [m for m in model.modules() if isinstance(m, MBConv)]
    assert [b.use_residual for b in blocks] == [True, True, False, True]
    with torch.no_grad():
        for block in blocks:  # silence the project branch: what is left is the shortcut
            project_bn = block.block[-1][1]
            project_bn.weight.zero_()
            project_bn.bias.zero_()
            x = torch.randn(2, block.spec.in_channels, 8, 8)
            out = block(x)
            if block.use_residual:
                assert torch.equal(out, x)
            else:
                assert out.abs().max() == 0


def test_same_arch_built_twice_has_same_parameters():
    a = build_model(ARCH, 10, (1, 8, 8), seed=1)
    b = build_model(ARCH, 10, (1, 8, 8), seed=1)
    count = sum(p.numel() for p in a.parameters())
    assert count == sum(p.numel() for p in b.parameters()) == params(ARCH, in_shape=(1, 8, 8), num_classes=10)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize(
    "change, key",
    [
        ({"activation": "gelu"}, "activation"),
        ({"s2_kernel": 4}, "s2_kernel"),
        ({"s1_se": 1}, "s1_se"),
        ({"s1_depth": 0}, "s1_depth"),
        ({"s2_expand": 0.5}, "s2_expand"),
        ({"s3_depth": 2}, "s3_depth"),
    ],
)
def test_bad_arch_value_is_a_space_error_naming_the_key(change, key):
    arch = dict(ARCH, **change)
    with pytest.raises(SpaceError, match=key):
        network_spec(arch, num_classes=10, in_channels=1)
    if key != "s3_depth":  # the vectorized path checks the values of the stages it finds
        with pytest.raises(SpaceError, match=key):
            costs([ARCH, arch], ModelSpec("mbconv", (1, 8, 8), 10))


def test_unknown_activation_lists_allowed_ones():
    with pytest.raises(SpaceError, match="relu, hardswish, silu"):
        build_model(dict(ARCH, activation="gelu"), 10, (1, 8, 8))


def test_missing_key_is_a_space_error_naming_it():
    arch = {k: v for k, v in ARCH.items() if k != "s2_kernel"}
    with pytest.raises(SpaceError, match="s2_kernel"):
        flops(arch, in_shape=(1, 8, 8), num_classes=10)
    with pytest.raises(SpaceError, match="s2_kernel"):
        costs(pd.DataFrame([arch]), ModelSpec("mbconv", (1, 8, 8), 10))
    with pytest.raises(SpaceError, match="s2_kernel.*row 1"):
        costs([ARCH, arch], ModelSpec("mbconv", (1, 8, 8), 10))


def test_bad_in_shape_and_builder_are_clear_errors():
    with pytest.raises(DatasetError, match="in_shape"):
        build_model(ARCH, 10, (8,))
    with pytest.raises(DatasetError, match="in_shape"):
        build_model(ARCH, 10, (1, 8, 8, 8))
    with pytest.raises(SpaceError, match="mbconv"):
        create_model(ModelSpec("resnet", (1, 8, 8), 10), ARCH)
    with pytest.raises(SpaceError, match="mbconv"):
        costs([ARCH], ModelSpec("resnet", (1, 8, 8), 10))


def test_space_without_model_has_no_costs(space):
    tabular = SearchSpace(arch=space.arch, recipe=space.recipe, name="tabular")
    with pytest.raises(SpaceError, match="has no model"):
        space_costs(tabular, space.sample(2, seed=0))


# -- 1D networks over sequences --------------------------------------------------------
def _random_1d_arch(rng, stages: int) -> dict:
    arch = {
        "stem_width": int(rng.integers(1, 5)) * 8,
        "activation": str(rng.choice(["relu", "hardswish", "silu"])),
    }
    for i in range(1, stages + 1):
        arch.update(
            {
                f"s{i}_width": int(rng.integers(1, 5)) * 8,
                f"s{i}_depth": int(rng.integers(1, 4)),
                f"s{i}_kernel": int(rng.choice([3, 5, 7, 9])),
                f"s{i}_expand": float(rng.choice([1, 1.5, 2, 3, 6])),
                f"s{i}_se": bool(rng.random() < 0.5),
                f"s{i}_stride": int(rng.choice([1, 2])),
            }
        )
    return arch


def test_analytic_1d_costs_equal_fvcore_on_300_random_archs():
    """Every 1D arch that fits its sequence: analytic (scalar and vectorized) == fvcore."""
    import numpy as np

    rng = np.random.default_rng(0)
    checked, mismatches = 0, []
    while checked < 300:
        shape = (int(rng.integers(1, 4)), int(rng.choice([16, 40, 57])))
        arch = _random_1d_arch(rng, int(rng.integers(1, 5)))
        try:
            analytic = flops(arch, in_shape=shape, num_classes=7), params(arch, in_shape=shape, num_classes=7)
        except SpaceError:
            continue  # a kernel too long for its stage's sequence (tested below)
        measured = fvcore_costs(build_model(arch, 7, shape), shape)
        vector = costs([arch], ModelSpec("mbconv", shape, 7)).iloc[0]
        if not analytic == measured == (vector.flops, vector.params):
            mismatches.append((arch, shape, analytic, measured))
        checked += 1
    assert not mismatches, f"{len(mismatches)} of 300 differ, first: {mismatches[:2]}"


def test_1d_model_maps_sequences_to_logits_and_strides_shorten_them():
    arch = dict(_random_1d_arch(__import__("numpy").random.default_rng(1), 3), s2_stride=2, s3_stride=1)
    model = build_model(arch, 10, (1, 40)).eval()
    assert model(torch.zeros(3, 1, 40)).shape == (3, 10)
    lengths = []
    x = torch.zeros(1, 1, 40)
    for layer in model.features:
        x = layer(x)
        lengths.append(x.shape[-1])
    assert lengths[0] == 40 and lengths[-1] == 20  # only stage 2 halves the length
    assert not any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def test_kernel_too_long_for_the_sequence_names_block_kernel_and_length():
    arch = {
        "stem_width": 8,
        "activation": "relu",
        "s1_width": 8,
        "s1_depth": 1,
        "s1_kernel": 3,
        "s1_expand": 1,
        "s1_se": False,
        "s2_width": 8,
        "s2_depth": 1,
        "s2_kernel": 3,
        "s2_expand": 1,
        "s2_se": False,
        "s3_width": 8,
        "s3_depth": 1,
        "s3_kernel": 9,
        "s3_expand": 1,
        "s3_se": False,
    }
    # length 8 -> stage 2 halves it to 4 -> stage 3's 9-tap kernel exceeds 2 * 4 - 1 = 7
    with pytest.raises(SpaceError, match=r"kernel 9 .*length 4 \(at most 7"):
        build_model(arch, 10, (1, 8))
    with pytest.raises(SpaceError, match=r"kernel 9 .*length 4"):
        flops(arch, in_shape=(1, 8), num_classes=10)
    with pytest.raises(SpaceError, match=r"s3_kernel.*at most 7.*row 0"):
        costs([arch], ModelSpec("mbconv", (1, 8), 10))
    assert flops(dict(arch, s3_kernel=7), in_shape=(1, 8), num_classes=10) > 0  # the largest kernel that fits


def test_bad_stride_is_a_space_error_naming_the_allowed_values():
    arch = dict(ARCH, s2_stride=3)
    with pytest.raises(SpaceError, match=r"s2_stride.*one of 1, 2"):
        network_spec(arch, num_classes=10, in_channels=1)
    with pytest.raises(SpaceError, match=r"s2_stride.*one of 1, 2.*row 0"):
        costs([arch], ModelSpec("mbconv", (1, 8, 8), 10))

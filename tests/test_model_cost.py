"""Behaviour of arch decoding, the MBConv builder and the analytic costs (vs fvcore)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from jointnas.data import ModelSpec, SearchSpace, read_space
from jointnas.errors import DatasetError, SpaceError
from jointnas.recipes import (build_model, costs, create_model, flops, fvcore_costs,
                              network_spec, params, space_costs)
from jointnas.recipes.model import MBConv

from conftest import CONFIGS

SPACES = ("digits.yaml", "cifar.yaml")

ARCH = {  # stage 1 keeps the stem width (residual), stage 2 halves and widens
    "stem_width": 16, "activation": "hardswish",
    "s1_width": 16, "s1_depth": 2, "s1_kernel": 3, "s1_expand": 1, "s1_se": True,
    "s2_width": 24, "s2_depth": 2, "s2_kernel": 5, "s2_expand": 6, "s2_se": False,
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
        analytic = (flops(arch, shape, classes), params(arch, classes, shape))
        if analytic != measured:
            mismatches.append((arch, analytic, measured))
    assert not mismatches, f"{len(mismatches)} of 150 differ, first: {mismatches[:3]}"


def test_fractional_expansion_matches_fvcore():
    arch = dict(ARCH, s1_expand=2.5, s2_expand=1.5, s2_se=True)
    model = build_model(arch, num_classes=7, in_shape=(3, 15, 15))
    assert fvcore_costs(model, (3, 15, 15)) == (flops(arch, (3, 15, 15), 7),
                                                params(arch, 7, (3, 15, 15)))


def test_vectorized_costs_equal_scalar_for_lists_and_frames(space):
    configs = space.sample(500, seed=3)
    shape, classes = space.model.in_shape, space.model.num_classes
    expected = pd.DataFrame({
        "flops": [flops(_arch(space, c), shape, classes) for c in configs],
        "params": [params(_arch(space, c), classes, shape) for c in configs],
    })
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
    assert got["flops"].tolist() == [flops(a, (3, 15, 15), 7) for a in archs]
    assert got["params"].tolist() == [params(a, 7, (3, 15, 15)) for a in archs]


def test_output_shape_is_batch_by_classes(space):
    arch = _arch(space, space.sample(1, seed=5)[0])
    model = create_model(space.model, arch, dropout=0.2)
    out = model(torch.zeros(3, *space.model.in_shape))
    assert out.shape == (3, space.model.num_classes)


def test_spec_has_one_block_per_depth_with_stride_two_opening_later_stages():
    spec = network_spec(ARCH, num_classes=10, in_channels=1)
    assert [(b.in_channels, b.out_channels, b.stride) for b in spec.blocks] == [
        (16, 16, 1), (16, 16, 1), (16, 24, 2), (24, 24, 1)]
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
    assert count == sum(p.numel() for p in b.parameters()) == params(ARCH, 10, (1, 8, 8))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("change, key", [
    ({"activation": "gelu"}, "activation"),
    ({"s2_kernel": 4}, "s2_kernel"),
    ({"s1_se": 1}, "s1_se"),
    ({"s1_depth": 0}, "s1_depth"),
    ({"s2_expand": 0.5}, "s2_expand"),
    ({"s3_depth": 2}, "s3_depth"),
])
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
        flops(arch, (1, 8, 8), 10)
    with pytest.raises(SpaceError, match="s2_kernel"):
        costs(pd.DataFrame([arch]), ModelSpec("mbconv", (1, 8, 8), 10))
    with pytest.raises(SpaceError, match="s2_kernel.*row 1"):
        costs([ARCH, arch], ModelSpec("mbconv", (1, 8, 8), 10))


def test_bad_in_shape_and_builder_are_clear_errors():
    with pytest.raises(DatasetError, match="in_shape"):
        build_model(ARCH, 10, (8, 8))
    with pytest.raises(SpaceError, match="mbconv"):
        create_model(ModelSpec("resnet", (1, 8, 8), 10), ARCH)
    with pytest.raises(SpaceError, match="mbconv"):
        costs([ARCH], ModelSpec("resnet", (1, 8, 8), 10))


def test_space_without_model_has_no_costs(space):
    tabular = SearchSpace(arch=space.arch, recipe=space.recipe, name="tabular")
    with pytest.raises(SpaceError, match="has no model"):
        space_costs(tabular, space.sample(2, seed=0))

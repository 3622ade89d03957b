"""Behaviour of search spaces: YAML, validation, encoding, sampling, mutation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import CONFIGS
from scipy.stats import qmc

from jointnas.data import Categorical, Float, Integer, SearchSpace, read_space
from jointnas.errors import ConfigError, SpaceError


@pytest.fixture(params=["digits.yaml", "cifar.yaml"])
def space(request) -> SearchSpace:
    return read_space(CONFIGS / request.param)


def test_configs_are_large_joint_spaces(space):
    arch_combos = math.prod(v.levels for v in space.arch)
    discrete_recipe = math.prod(v.levels for v in space.recipe if v.levels)
    assert arch_combos * discrete_recipe >= 1e8
    assert space.recipe and space.model is not None


def test_encode_decode_round_trip_1000(space):
    configs = space.sample(1000, seed=3)
    decoded = space.decode(space.encode(configs))
    for original, back in zip(configs, decoded):
        for v in space.variables:
            if isinstance(v, Float):
                assert back[v.name] == pytest.approx(original[v.name], rel=1e-5, abs=1e-6)
            else:
                assert back[v.name] == original[v.name] and type(back[v.name]) is type(original[v.name])


def test_encoding_layout(space):
    x = space.encode(space.sample(50, seed=0))
    assert x.dtype == np.float32 and x.shape == (50, space.width)
    assert x.min() >= 0.0 and x.max() <= 1.0
    start = 0
    for v in space.variables:
        if isinstance(v, Categorical):
            np.testing.assert_array_equal(x[:, start : start + v.width].sum(axis=1), 1.0)
        start += v.width
    np.testing.assert_array_equal(space.encode_arch(space.sample(50, seed=0)), x[:, : space.arch_width])
    np.testing.assert_array_equal(space.encode_recipe(space.sample(50, seed=0)), x[:, space.arch_width :])


def test_frame_and_list_encode_identically(space):
    configs = space.sample(200, seed=1)
    np.testing.assert_array_equal(space.encode(configs), space.encode(space.frame(configs)))
    assert space.configs(space.frame(configs)) == configs


def test_log_scale_encoding():
    lr = Float("lr", 1e-3, 1e-1, log=True)
    enc = lr.encode(np.array([1e-3, 1e-2, 1e-1]))[:, 0]
    np.testing.assert_allclose(enc, [0.0, 0.5, 1.0], atol=1e-6)


def test_sampled_and_mutated_configs_validate(space):
    rng = np.random.default_rng(0)
    for config in space.sample(100, seed=0) + space.sample_qmc(100, seed=0):
        assert space.validate(config) == config
        for k in (1, 3):
            child = space.mutate(config, rng, k=k)
            space.validate(child)
            changed = [n for n in space.names if child[n] != config[n]]
            assert len(changed) == k


def test_mutate_restricted_to_names(space):
    config = space.sample(1, seed=0)[0]
    child = space.mutate(config, 1, k=2, names=space.recipe_names)
    assert {n for n in space.names if child[n] != config[n]} <= set(space.recipe_names)
    with pytest.raises(SpaceError, match="cannot change"):
        space.mutate(config, 1, k=len(space.names) + 1)


def test_qmc_has_lower_discrepancy_than_random(space):
    u_qmc = space.to_unit(space.sample_qmc(256, seed=0))
    u_rand = space.to_unit(space.sample(256, seed=0))
    assert qmc.discrepancy(u_qmc) < qmc.discrepancy(u_rand)


def test_same_seed_same_pool_different_seed_different(space):
    assert space.sample_qmc(64, seed=5) == space.sample_qmc(64, seed=5)
    assert space.sample(64, seed=5) == space.sample(64, seed=5)
    assert space.sample_qmc(64, seed=5) != space.sample_qmc(64, seed=6)


def test_fingerprint_stable_and_sensitive(space, tmp_path):
    path = tmp_path / "copy.yaml"
    space.to_yaml(path)
    again = read_space(path)
    assert again.fingerprint() == space.fingerprint()
    assert again.default == space.default and again.constraints == space.constraints
    changed = SearchSpace(space.arch[:-1], space.recipe, model=space.model)
    assert changed.fingerprint() != space.fingerprint()


def test_integer_grid_and_bool_choices():
    width = Integer("w", 8, 32, step=8)
    assert width.levels == 4
    assert width.check(16) == 16 and width.check(16.0) == 16
    for bad in (12, 40, "16", True, None):
        with pytest.raises(SpaceError, match="'w'"):
            width.check(bad)
    se = Categorical("se", (False, True))
    assert se.check(True) is True
    with pytest.raises(SpaceError):
        se.check(1)  # a number is not a boolean choice
    k = Categorical("k", (3, 5))
    np.testing.assert_array_equal(k.index(pd.Series([3.0, 5, 4])), [0, 1, -1])


# -- bad input: each names the variable, the value and what is allowed ----------------------
BAD_SPACES = {
    "unknown type": ("arch: [{name: a, type: ordinal, choices: [1]}]", "unknown type 'ordinal'"),
    "low > high": ("arch: [{name: a, type: int, low: 5, high: 1}]", "low=5 > high=1"),
    "empty choices": ("arch: [{name: a, type: categorical, choices: []}]", "non-empty"),
    "duplicate names": (
        "arch: [{name: a, type: int, low: 1, high: 2}, {name: a, type: int, low: 1, high: 2}]",
        "duplicate variable name",
    ),
    "log low <= 0": ("arch: [{name: lr, type: float, low: 0.0, high: 1.0, log: true}]", "low > 0"),
    "unknown key": ("arch: [{name: a, type: int, low: 1, high: 2, size: 3}]", "unknown key"),
    "unknown top key": ("arch: [{name: a, type: int, low: 1, high: 2}]\nsearch: 1", "unknown key"),
    "no variables": ("name: empty", "no variables"),
    "bad constraint": ("arch: [{name: a, type: int, low: 1, high: 2}]\nconstraints: {flops: -1}", "positive"),
    "bad default": ("arch: [{name: a, type: int, low: 1, high: 2}]\ndefault: {a: 7}", "value 7"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPACES))
def test_bad_space_files_give_located_errors(tmp_path, case):
    text, message = BAD_SPACES[case]
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(SpaceError) as info:
        read_space(path)
    assert message in str(info.value)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_malformed_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("arch: [{name: a, type: int\n  low: 1")
    with pytest.raises(ConfigError, match="malformed YAML.*line"):
        read_space(path)


def test_scientific_notation_without_dot_is_a_number(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "arch: [{name: lr, type: float, low: 1e-4, high: 1e-1, log: true}]\nconstraints: {flops: 5e6}"
    )
    space = read_space(path)
    assert space["lr"].low == 1e-4 and space.constraints == {"flops": 5e6}


BAD_CONFIGS = {
    "unknown variable": (lambda c: {**c, "depth9": 1}, "unknown variable(s) depth9"),
    "missing variable": (
        lambda c: {k: v for k, v in c.items() if k != "s1_kernel"},
        "missing variable(s) s1_kernel",
    ),
    "out of range": (lambda c: {**c, "s1_depth": 9}, "'s1_depth': value 9 not allowed (integers 1..3)"),
    "not a choice": (lambda c: {**c, "s1_kernel": 7}, "'s1_kernel': value 7 not allowed (one of 3, 5)"),
    "wrong type": (lambda c: {**c, "lr": "fast"}, "'lr': value 'fast' not allowed"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_configs(case):
    space = read_space(CONFIGS / "digits.yaml")
    change, message = BAD_CONFIGS[case]
    with pytest.raises(SpaceError) as info:
        space.validate(change(space.default), where="pair.yaml")
    assert message in str(info.value) and "(pair.yaml)" in str(info.value)
    if case == "unknown variable":
        return  # encoding reads the variables it needs; extra table columns are normal
    with pytest.raises(SpaceError):
        space.encode([change(space.default)])

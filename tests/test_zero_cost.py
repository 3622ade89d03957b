"""Zero-cost proxies: definitions on hand-made networks, and scoring a space."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import CONFIGS
from torch import nn

from jointnas.data import load_dataset, read_space
from jointnas.errors import ConfigError, SpaceError
from jointnas.recipes.zero_cost import PROXIES, network_proxies, nwot, synflow, zero_cost_scores


def small_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv1d(1, 4, 3, padding=1),
        nn.BatchNorm1d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )


def test_synflow_is_data_free_and_positive():
    x1, x2 = torch.randn(8, 1, 12), torch.randn(8, 1, 12) * 5 + 3
    y = torch.zeros(8, dtype=torch.long)
    first = network_proxies(small_net(), x1, y, ["synflow", "nwot"], (1, 12))
    second = network_proxies(small_net(), x2, y, ["synflow", "nwot"], (1, 12))
    assert first["synflow"] > 0 and first["synflow"] == second["synflow"]
    assert first["nwot"] != second["nwot"]  # the data-based proxy does see the data


def test_synflow_of_a_linear_chain_is_its_closed_form():
    # f(x) = w2 * w1 * x for |w|: R = |w1||w2|, and each weight's synflow |w dR/dw| = R
    net = nn.Sequential(nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False))
    with torch.no_grad():
        net[0].weight.fill_(-2.0)
        net[1].weight.fill_(3.0)
    assert synflow(net, (1,)) == pytest.approx(2 * 6.0)


def test_nwot_of_a_hand_made_network_is_the_log_det_of_its_code_kernel():
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
    # codes [1, 0], [0, 1], [1, 1]: K[i, j] = units where codes agree (N_A = 2)
    x = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
    kernel = np.array([[2, 0, 1], [0, 2, 1], [1, 1, 2]], dtype=float)
    assert nwot(net, x) == pytest.approx(math.log(np.linalg.det(kernel)))


def test_a_proxy_that_is_not_finite_is_recorded_as_missing():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    x = torch.ones(4, 2)  # identical inputs: identical codes, a singular kernel
    out = network_proxies(net, x, torch.zeros(4, dtype=torch.long), ["nwot"], (2,))
    assert math.isnan(out["nwot"])


def test_scores_of_a_space_are_seeded_and_complete():
    space = read_space(CONFIGS / "mnist1d.yaml")
    bundle = load_dataset("mnist1d")
    archs = [space.default, {**space.default, "s1_kernel": 9, "activation": "silu"}]
    first = zero_cost_scores(space, archs, bundle, proxies=PROXIES, seed=0)
    again = zero_cost_scores(space, archs, bundle, proxies=PROXIES, seed=0)
    assert list(first.columns) == [*PROXIES, "zero_cost_seconds"] and len(first) == 2
    assert first.drop(columns="zero_cost_seconds").equals(again.drop(columns="zero_cost_seconds"))
    assert first["flops"].iloc[0] == 621_440 and (first["jacov"] < 0).all()
    assert first.drop(columns="jacov").gt(0).all().all()


def test_bad_requests_are_one_line_errors():
    space = read_space(CONFIGS / "mnist1d.yaml")
    with pytest.raises(ConfigError, match="unknown zero-cost proxy 'zen'.*allowed: synflow"):
        zero_cost_scores(space, [space.default], None, proxies=["zen"])
    with pytest.raises(ConfigError, match="nwot need a dataset"):
        zero_cost_scores(space, [space.default], None, proxies=["nwot"])
    from jointnas.data import Float, SearchSpace

    tabular = SearchSpace(arch=[Float("x", 0.0, 1.0)], recipe=[], name="tab")
    with pytest.raises(SpaceError, match="has no model builder"):
        zero_cost_scores(tabular, [{"x": 0.5}], None, proxies=["synflow"])


def test_scores_do_not_depend_on_the_number_of_worker_processes():
    space = read_space(CONFIGS / "mnist1d.yaml")
    from jointnas.search.pool import draw_pool

    archs = draw_pool(space, 40, seed=3)  # two chunks
    bundle = load_dataset("mnist1d")
    one = zero_cost_scores(space, archs, bundle, proxies=["synflow", "nwot", "params"])
    two = zero_cost_scores(space, archs, bundle, proxies=["synflow", "nwot", "params"], workers=2)
    cols = ["synflow", "nwot", "params"]
    assert one[cols].equals(two[cols]) and len(one) == 40
    with pytest.raises(ConfigError, match="workers=0"):
        zero_cost_scores(space, archs, bundle, workers=0)

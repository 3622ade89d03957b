"""One behavioural suite run over every registered strategy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import CONFIGS

from jointnas.data import Categorical, Float, Integer, SearchSpace, read_space
from jointnas.search.candidates import CandidateSet, row_keys
from jointnas.search.strategies import STRATEGIES, create_strategy, load_all

load_all()

# Small, fast settings per strategy; every registered strategy must appear here.
FAST = {
    "random": {},
    "qmc": {},
    "evolution": {"population": 6, "tournament": 3},
    "fine": {"population": 6, "mutations": 2, "crossover": 0.5},
    "predictor": {
        "predictor_params": {
            "n_models": 2,
            "epochs": 30,
            "frozen_epochs": 5,
            "pretrain_epochs": 2,
            "hidden": 16,
            "embed": 8,
        },
        "pool_size": 256,
    },
    "tpe": {"sampler_params": {"n_startup_trials": 5}},
    "reinforce": {"hidden": 16, "grid": 4},
}


def test_every_strategy_has_fast_settings():
    assert set(STRATEGIES) <= set(FAST), "add new strategies to FAST to run them through this suite"


def synthetic_space() -> SearchSpace:
    return SearchSpace(
        arch=[Categorical("op", ("a", "b", "c")), Integer("width", 1, 8), Categorical("skip", (False, True))],
        recipe=[Float("lr", 1e-3, 1.0, log=True)],
    )


def objective(space: SearchSpace, configs) -> np.ndarray:
    """A known landscape: width and op 'c' help, lr best near 0.03."""
    f = space.frame(configs)
    lr = np.log10(f["lr"].astype(float))
    return (f["width"] / 8 + (f["op"] == "c") * 0.5 - (lr + 1.5) ** 2 * 0.2).to_numpy(dtype=float)


def run(strategy, space, rounds=3, batch=6):
    proposed = []
    for _ in range(rounds):
        configs = strategy.ask(batch)
        proposed.append(configs)
        strategy.tell(configs, objective(space, configs))
    return proposed


@pytest.fixture(params=sorted(FAST))
def name(request):
    return request.param


def test_proposals_are_valid_distinct_and_new(name):
    space = synthetic_space()
    strategy = create_strategy(name, CandidateSet(space), seed=0, **FAST[name])
    batches = run(strategy, space, rounds=4)
    flat = [c for b in batches for c in b]
    assert all(len(b) == 6 for b in batches)
    for c in flat:
        assert space.validate(c) == c
    keys = row_keys(space, space.frame(flat))
    assert len(set(keys.tolist())) == len(flat)


def test_constraints_hold(name):
    space = read_space(CONFIGS / "digits.yaml")
    limit = 1.5e6
    strategy = create_strategy(name, CandidateSet(space, limits={"flops": limit}), seed=1, **FAST[name])
    from jointnas.recipes.cost import space_costs

    for _ in range(2):
        configs = strategy.ask(5)
        assert (space_costs(space, configs)["flops"] <= limit).all()
        strategy.tell(configs, np.linspace(0, 1, len(configs)))


def test_same_seed_same_run_other_seed_differs(name):
    space = synthetic_space()
    first = run(create_strategy(name, CandidateSet(space), seed=7, **FAST[name]), space)
    again = run(create_strategy(name, CandidateSet(space), seed=7, **FAST[name]), space)
    other = run(create_strategy(name, CandidateSet(space), seed=8, **FAST[name]), space)
    assert first == again
    assert first != other


def test_state_round_trip_reproduces_next_ask(name):
    space = synthetic_space()
    original = create_strategy(name, CandidateSet(space), seed=3, **FAST[name])
    run(original, space, rounds=2)
    state = json.loads(json.dumps(original.state_dict()))  # plain data only
    restored = create_strategy(name, CandidateSet(space), seed=99, **FAST[name])
    restored.load_state_dict(state)
    assert restored.ask(6) == original.ask(6)


def test_finite_pool_only_pool_rows_until_exhausted(name):
    space = synthetic_space()
    pool = space.sample(30, seed=0, frame=True).drop_duplicates(subset=list(space.names))
    pool = pool[pool["width"] <= 6].reset_index(drop=True)
    pool["params_m"] = pool["width"] * 0.1  # a free cost column for pretraining on tables
    kwargs = dict(FAST[name])
    if name == "predictor":
        kwargs["pretrain_targets"] = ("params_m",)
    strategy = create_strategy(name, CandidateSet(space, pool=pool), seed=0, **kwargs)
    seen = []
    while True:
        configs = strategy.ask(7)
        if not configs:
            break
        seen += configs
        strategy.tell(configs, objective(space, configs))
    pool_keys = set(row_keys(space, pool).tolist())
    seen_keys = row_keys(space, space.frame(seen)).tolist()
    assert len(seen_keys) == len(set(seen_keys)) == len(pool_keys)
    assert set(seen_keys) == pool_keys


def test_predictor_guided_beats_random_on_known_landscape():
    space = synthetic_space()
    pool = space.sample(400, seed=1, frame=True)
    truth = objective(space, pool)
    best = {}
    for name in ("random", "predictor"):
        found = []
        for seed in range(3):
            s = create_strategy(name, CandidateSet(space, pool=pool), seed=seed, **FAST[name])
            picked = []
            for _ in range(3):
                configs = s.ask(10)
                picked.extend(objective(space, configs))
                s.tell(configs, objective(space, configs))
            found.append(max(picked))
        best[name] = np.mean(found)
    assert best["predictor"] > best["random"]
    assert best["predictor"] >= np.quantile(truth, 0.98)


def test_unknown_strategy_lists_allowed():
    from jointnas.errors import ConfigError

    with pytest.raises(ConfigError, match="allowed: .*evolution"):
        create_strategy("annealing", CandidateSet(synthetic_space()))


def test_round_robin_members_take_turns_without_repeats():
    from jointnas.search.strategies.predictor_guided import round_robin

    scores = np.array([[5.0, 4.0, 3.0, 0.0, 1.0], [5.0, 0.0, 1.0, 4.0, 3.0]])
    # member 0 takes row 0, member 1's best (row 0) is taken so it takes row 3, ...
    assert round_robin(scores, 4).tolist() == [0, 3, 1, 4]
    assert sorted(round_robin(scores, 10).tolist()) == [0, 1, 2, 3, 4]


def test_thompson_selection_proposes_valid_distinct_batches():
    space = synthetic_space()
    params = {
        **FAST["predictor"],
        "predictor_params": {**FAST["predictor"]["predictor_params"], "n_models": 3},
    }
    strategy = create_strategy("predictor", CandidateSet(space), seed=0, selection="thompson", **params)
    batches = run(strategy, space, rounds=3)
    keys = row_keys(space, space.frame([c for b in batches for c in b]))
    assert all(len(b) == 6 for b in batches) and len(set(keys.tolist())) == 18


def test_unknown_selection_lists_allowed():
    from jointnas.errors import ConfigError

    with pytest.raises(ConfigError, match="allowed: thompson, mean"):
        create_strategy("predictor", CandidateSet(synthetic_space()), selection="greedy")


def test_searches_fit_networks_only_unless_asked_for_the_tree_blend():
    """The estimator's default blends trees in; a search's predictor does not (shared trees
    shrink the member disagreement Thompson selection uses), unless its settings say so."""
    from jointnas.predictor import AccuracyPredictor

    space = synthetic_space()
    assert AccuracyPredictor(space).tree_weight > 0
    plain = create_strategy("predictor", CandidateSet(space), seed=0)
    asked = create_strategy("predictor", CandidateSet(space), seed=0, predictor_params={"tree_weight": 0.5})
    assert plain.prepare().tree_weight == 0.0 and asked.prepare().tree_weight == 0.5

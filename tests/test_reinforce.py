"""REINFORCE controller (strategy ``reinforce``) and ENAS on a tiny supernet."""

from __future__ import annotations

import itertools
import json
import types

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import CONFIGS

from jointnas.data import Categorical, Float, Integer, SearchSpace, read_space
from jointnas.errors import ConfigError, JointNASError
from jointnas.search.candidates import CandidateSet
from jointnas.search.evaluators import TableEvaluator
from jointnas.search.strategies import create_strategy
from jointnas.search.strategies.reinforce import Reinforce, decision_sizes, from_actions, to_actions

torch.set_num_threads(1)
BEST = {"a": "z", "b": "y", "c": "x", "d": "w"}


def four_by_four() -> tuple[SearchSpace, pd.DataFrame]:
    """Every combination of 4 variables x 4 choices; each variable's best choice adds 0.2."""
    choices = ("w", "x", "y", "z")
    space = SearchSpace(arch=[Categorical(n, choices) for n in BEST], name="toy4")
    table = pd.DataFrame(list(itertools.product(choices, repeat=4)), columns=list(BEST))
    noise = np.random.default_rng(0).normal(0, 0.01, len(table))
    table["valid_acc"] = 0.1 + sum((table[n] == v) * 0.2 for n, v in BEST.items()) + noise
    return space, table


def run(strategy: Reinforce, evaluator: TableEvaluator, rounds: int, batch: int) -> list[float]:
    found = []
    for _ in range(rounds):
        configs = strategy.ask(batch)
        scores = [evaluator.evaluate(c).val_acc for c in configs]
        strategy.tell(configs, scores)
        found += scores
    return found


def test_controller_learns_the_best_choice_per_variable():
    space, table = four_by_four()
    evaluator = TableEvaluator(space, table)
    strategy = create_strategy("reinforce", CandidateSet(space, pool=table), seed=0)
    uniform = 1 / len(table)
    assert np.exp(strategy.log_prob([BEST])[0]) == pytest.approx(uniform, rel=0.5)
    found = run(strategy, evaluator, rounds=8, batch=10)  # 80 of 256 rows
    assert np.exp(strategy.log_prob([BEST])[0]) > 20 * uniform
    assert max(found) == pytest.approx(table["valid_acc"].max())
    first, last = np.mean(found[:10]), np.mean(found[-20:])
    assert last > first + 0.1  # later batches come from the learned policy's neighbourhood


def test_baseline_moves_toward_the_mean_reward():
    space, table = four_by_four()
    strategy = Reinforce(CandidateSet(space, pool=table), seed=1, baseline_decay=0.5)
    configs = space.configs(table.iloc[:6])
    strategy.learn(configs, [0.1, 0.2, 0.3, 0.1, 0.2, 0.3])
    assert strategy.baseline == pytest.approx(0.2)
    gaps = []
    for _ in range(4):
        strategy.learn(configs, [0.8] * 6)
        gaps.append(abs(strategy.baseline - 0.8))
    assert all(b < a for a, b in zip(gaps, gaps[1:]))
    assert gaps[-1] == pytest.approx(0.6 / 16)


def test_failed_scores_count_as_the_worst_reward():
    space, table = four_by_four()
    strategy = Reinforce(CandidateSet(space, pool=table), seed=1)
    strategy.learn(space.configs(table.iloc[:3]), [0.5, np.nan, 0.3])
    assert strategy.baseline == pytest.approx(np.mean([0.5, 0.3, 0.3]))


def test_integers_and_floats_use_grid_cell_centres():
    space = SearchSpace(
        arch=[
            Integer("few", 1, 3),
            Integer("many", 0, 99),
            Float("lr", 1e-4, 1.0, log=True),
            Float("fixed", 0.5, 0.5),
        ]
    )
    sizes = decision_sizes(space, grid=4)
    assert sizes == [3, 4, 4, 1]
    actions = np.array([[0, 0, 0, 0], [2, 3, 3, 0], [1, 1, 2, 0]])
    frame = from_actions(space, sizes, actions)
    assert frame["few"].tolist() == [1, 3, 2]
    assert frame["lr"].tolist() == pytest.approx([10**-3.5, 10**-0.5, 10**-1.5])
    assert (to_actions(space, sizes, frame) == actions).all()


def test_state_round_trip_reproduces_next_ask_on_a_pool():
    space, table = four_by_four()
    evaluator = TableEvaluator(space, table)
    original = Reinforce(CandidateSet(space, pool=table), seed=5)
    run(original, evaluator, rounds=3, batch=8)
    state = json.loads(json.dumps(original.state_dict()))
    restored = Reinforce(CandidateSet(space, pool=table), seed=123)
    restored.load_state_dict(state)
    assert restored.ask(8) == original.ask(8)
    configs = original.ask(8)
    assert restored.log_prob(configs) == pytest.approx(original.log_prob(configs))


def test_cost_penalty_lowers_the_reward_of_expensive_pairs():
    space, table = four_by_four()
    table["flops"] = np.where(table["a"] == "z", 4e6, 1e6)
    strategy = Reinforce(CandidateSet(space, pool=table), seed=0, cost_weight=0.1, cost_limit=2e6)
    configs = space.configs(table.iloc[[0, 255]])  # a == w, a == z
    rewards = strategy.rewards(configs, np.array([0.5, 0.5]))
    assert rewards == pytest.approx([0.5 + 0.1 * np.log(2), 0.5 - 0.1 * np.log(2)])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"hidden": 0}, "hidden"),
        ({"hidden": 5000}, "hidden"),
        ({"lr": 0.0}, "lr"),
        ({"lr": 2.0}, "lr"),
        ({"entropy_weight": -0.1}, "entropy_weight"),
        ({"grid": 1}, "grid"),
        ({"baseline_decay": 1.0}, "baseline_decay"),
        ({"cost_weight": 0.5}, "cost_limit"),
        ({"lr": "fast"}, "lr"),
        ({"hidden": True}, "hidden"),
    ],
)
def test_bad_settings_are_refused(kwargs, match):
    space, table = four_by_four()
    with pytest.raises(ConfigError, match=match):
        create_strategy("reinforce", CandidateSet(space, pool=table), seed=0, **kwargs)


def test_space_without_variables_is_refused():
    empty = types.SimpleNamespace(space=types.SimpleNamespace(variables=(), names=()), limits={}, pool=None)
    with pytest.raises(ConfigError, match="at least one variable"):
        Reinforce(empty, seed=0)


def test_runs_with_the_train_evaluator():
    from jointnas.search.evaluators import TrainEvaluator

    space = read_space(CONFIGS / "digits.yaml")
    strategy = create_strategy("reinforce", CandidateSet(space, limits={"flops": 1e6}), seed=0, hidden=16)
    evaluator = TrainEvaluator(space, "digits", device="cpu", num_threads=1)
    configs = strategy.ask(2)
    results = [evaluator.evaluate(c, max_epochs=1) for c in configs]
    strategy.tell(configs, [r.val_acc if r.status == "ok" else np.nan for r in results])
    assert strategy.updates == 1 and all(0 <= r.val_acc <= 1 for r in results)


def test_runs_on_optuna_storage_and_resumes_from_it(tmp_path):
    from jointnas.search.study import RunStore

    space, table = four_by_four()
    evaluator = TableEvaluator(space, table)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    store = RunStore(url, "rl")
    strategy = Reinforce(CandidateSet(space, pool=table), seed=2)
    for it in range(2):
        store.enqueue(strategy.ask(4), [{"iteration": it}] * 4)
        store.work(space, lambda c, m, cb: evaluator.evaluate(c, m, cb), stop=lambda: True)
        done = store.results(space)
        done = done[done["iteration"] == it]
        strategy.tell(space.configs(done), done["val_acc"].to_numpy(dtype=float))
        store.set_meta("strategy", strategy.state_dict())
    resumed = Reinforce(CandidateSet(space, pool=table), seed=2)
    resumed.load_state_dict(RunStore(url, "rl", create=False).meta("strategy"))
    assert len(store.results(space)) == 8
    assert resumed.ask(4) == strategy.ask(4)


# -- ENAS ------------------------------------------------------------------------------------
def test_enas_end_to_end_on_a_tiny_supernet(tmp_path, capsys):
    from jointnas.search.cli import main as search_main

    out = tmp_path / "enas"
    code = search_main(
        [
            "enas",
            "--space",
            str(CONFIGS / "supernet_layers.yaml"),
            "--epochs",
            "2",
            "--controller-steps",
            "2",
            "--samples",
            "3",
            "--final-samples",
            "4",
            "--retrain-epochs",
            "1",
            "--recalibrate-bn",
            "1",
            "--threads",
            "1",
            "--seed",
            "0",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    summary = json.loads((out / "enas.json").read_text())
    printed = capsys.readouterr().out
    assert "epoch 2/2:" in printed and "s this epoch" in printed and "s elapsed" in printed
    space = read_space(CONFIGS / "supernet_layers.yaml")
    assert space.validate(summary["best"]) == summary["best"]
    assert 0 <= summary["shared_acc"] <= 1 and summary["search_seconds"] > 0
    assert summary["standalone"]["epochs"] == 1 and 0 <= summary["standalone"]["val_acc"] <= 1
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [1, 2] and history["reward"].between(0, 1).all()
    candidates = pd.read_csv(out / "candidates.csv")
    assert candidates["shared_acc"].iloc[0] == pytest.approx(summary["shared_acc"])
    assert history["seconds"].sum() <= summary["search_seconds"]  # per epoch, not cumulative
    assert "search" in printed


def test_enas_refuses_bad_input(capsys):
    from jointnas.search.cli import main as search_main
    from jointnas.search.oneshot.enas import enas_search

    space = read_space(CONFIGS / "supernet_layers.yaml")
    with pytest.raises(ConfigError, match="controller_steps"):
        enas_search(space, "digits", controller_steps=0)
    with pytest.raises(ConfigError, match="entropy_weight"):
        enas_search(space, "digits", controller={"entropy_weight": -1.0})
    code = search_main(["enas", "--space", str(CONFIGS / "digits.yaml"), "--epochs", "1"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1
    assert issubclass(ConfigError, JointNASError)

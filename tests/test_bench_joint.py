"""bench_joint on fake training: spaces with a fixed part, the run cache, the report."""

from __future__ import annotations

import math

import pytest
from conftest import CONFIGS, load_benchmark

from jointnas.data.space_io import read_space
from jointnas.search.evaluators import EvalResult, TrainEvaluator


@pytest.fixture
def fake_training(monkeypatch):
    """Training replaced by a smooth function of the pair; counts its calls."""
    calls = []

    def evaluate(self, config, max_epochs=None, on_epoch=None):
        calls.append((dict(config), self.seed, max_epochs))
        epochs = max_epochs or int(config["epochs"])
        good = (config["optimizer"] == "sgd") + math.log10(config["lr"]) / 4 + config["s3_width"] / 64
        final = 0.5 + 0.1 * good + 0.001 * self.seed
        curve = [final * (e + 1) / epochs for e in range(epochs)]
        return EvalResult(
            curve=curve, val_acc=curve[-1], test_acc=curve[-1], flops=1e5, params=1e3, epochs_run=epochs
        )

    monkeypatch.setattr(TrainEvaluator, "evaluate", evaluate)
    monkeypatch.setattr(TrainEvaluator, "check", lambda self: None)
    return calls


def test_fixed_space_searches_one_part_and_keeps_the_default_for_the_other():
    bench = load_benchmark("bench_joint")
    space = read_space(CONFIGS / "mnist1d.yaml")
    for mode, free, fixed in (("arch", space.arch, space.recipe), ("recipe", space.recipe, space.arch)):
        sub = bench.fixed_space(space, mode)
        assert sub.names == space.names and sub.default == space.default
        for config in sub.sample(20, seed=0):
            assert all(config[v.name] == space.default[v.name] for v in fixed)
        assert any(len({c[v.name] for c in sub.sample(20, seed=0)}) > 1 for v in free)
    assert bench.fixed_space(space, "joint") is space


def test_runs_are_read_back_from_the_cache_by_pair_seed_and_epochs(tmp_path, fake_training):
    bench = load_benchmark("bench_joint")
    space = read_space(CONFIGS / "mnist1d.yaml")
    cache = tmp_path / "runs.jsonl"
    first = bench.cached_evaluator(space, "mnist1d", 0, cache).evaluate(space.default, 5)
    again = bench.cached_evaluator(space, "mnist1d", 0, cache).evaluate(space.default, 5)
    assert again == first and len(fake_training) == 1
    bench.cached_evaluator(space, "mnist1d", 1, cache).evaluate(space.default, 5)
    bench.cached_evaluator(space, "mnist1d", 0, cache).evaluate(space.default)
    assert len(fake_training) == 3 and len(cache.read_text().splitlines()) == 3


def test_main_reports_every_method_the_default_and_the_recipe_swaps(tmp_path, fake_training):
    bench = load_benchmark("bench_joint")
    out = tmp_path / "joint.md"
    argv = [
        "--budget",
        "9",
        "--seeds",
        "2",
        "--retrain",
        "2",
        "--jobs",
        "0",
        "--n-models",
        "1",
        "--pool",
        "256",
        "--methods",
        "coarse-joint,tpe-joint",
        "--cache",
        str(tmp_path / "c.jsonl"),
        "--out",
        str(out),
    ]
    assert bench.main(argv) == 0
    text = out.read_text()
    for row in ("| default pair |", "| coarse-joint |", "| tpe-joint |"):
        assert row in text
    assert "| coarse-joint/s0's |" in text and "| tpe-joint/s1's |" in text and "over 8 swaps" in text
    trained = len(fake_training)
    assert bench.main(argv) == 0  # a second run reads every training run back
    assert len(fake_training) == trained and out.read_text().splitlines()[:-1] == text.splitlines()[:-1]

"""Smoke test of the search benchmark script on a tiny synthetic table, so it cannot rot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import load_benchmark

from jointnas.data import Categorical, Float, Integer, SearchSpace


def synthetic_table(tmp_path, n=90, epochs=6):
    """A measured table with learning curves and free costs on a 4-variable space."""
    space = SearchSpace(
        arch=[Categorical("op", ("a", "b", "c")), Integer("width", 1, 8)],
        recipe=[Float("lr", 1e-3, 1.0, log=True), Integer("epochs", 3, epochs)],
        name="toy",
    )
    table = space.sample(n, seed=0, frame=True).drop_duplicates(subset=list(space.names))
    rng = np.random.default_rng(0)
    quality = (
        table["width"] / 8
        + (table["op"] == "c") * 0.5
        - (np.log10(table["lr"].astype(float)) + 1.5) ** 2 * 0.2
    ).to_numpy(dtype=float)
    final = 1 / (1 + np.exp(-quality)) + rng.normal(0, 0.01, len(table))
    for k in range(1, epochs + 1):
        frac = 1 - np.exp(-k / 2)
        values = final * frac + rng.normal(0, 0.005, len(table))
        table[f"acc_e{k}"] = np.where(k <= table["epochs"], values, np.nan)
    last = table[[f"acc_e{k}" for k in range(1, epochs + 1)]].ffill(axis=1).iloc[:, -1]
    table["val_acc"] = last.to_numpy()
    table["flops"] = table["width"] * 1e5 + 1e4
    table["params"] = table["width"] * 1e3 + 10
    table["status"] = "ok"
    path, yaml = tmp_path / "toy.csv", tmp_path / "toy.yaml"
    pd.DataFrame(table).to_csv(path, index=False)
    space.to_yaml(str(yaml))
    return path, yaml


def test_quick_benchmark_writes_every_strategy_and_early_stop(tmp_path):
    bench = load_benchmark("bench_search")
    table, space = synthetic_table(tmp_path)
    out = tmp_path / "search.md"
    code = bench.main(
        [
            "--quick",
            "--table",
            str(table),
            "--space",
            str(space),
            "--budgets",
            "5,10,20",
            "--es-batch",
            "16",
            "--out",
            str(out),
            "--no-cache",
            "--set",
            "epochs=5",
            "--set",
            "frozen_epochs=2",
            "--set",
            "pretrain_epochs=1",
            "--set",
            "n_models=1",
            "--set",
            "hidden=16",
        ]
    )
    assert code == 0
    text = out.read_text()
    assert "### toy:" in text and "queries to top 0.1%" in text
    for name in ("random", "qmc", "evolution", "tpe", "predictor", "coarse"):
        assert f"| {name} |" in text, name
    assert "error:" not in text
    assert "### early stop on toy" in text and "epochs saved on the rest of the pool" in text
    assert (
        "| threshold 0.9 | threshold 0.8 | threshold 0.7 |" in text and "threshold 0.7: >= 50% saved" in text
    )
    assert "coarse vs random" in text and "; vs tpe" in text
    assert "| coarse, batch mode 48 | 48 |" in text  # the paper's mode beside the default
    assert "| coarse | 5+2, 8+2, 8+2 |" in text  # start + refit cadence coarse's rule gives 5/10/20


def test_random_median_matches_simulation():
    bench = load_benchmark("bench_search")
    rng = np.random.default_rng(0)
    n, m = 200, 3
    firsts = [int(np.flatnonzero(rng.permutation(n) < m)[0]) + 1 for _ in range(4000)]
    assert abs(bench.random_median(n, m) - np.median(firsts)) <= 2


def test_ranks_are_judged_by_the_seed_mean_where_a_second_seed_exists(tmp_path):
    bench_search = load_benchmark("bench_search")
    path, yaml = synthetic_table(tmp_path)
    table = pd.read_csv(path)
    table["val_acc_2"] = np.where(np.arange(len(table)) < 10, table["val_acc"] + 0.1, np.nan)
    table.to_csv(path, index=False)
    bench = bench_search.table_bench("toy", path, yaml)
    second = pd.to_numeric(bench.pool["val_acc_2"])
    expected = np.where(second.notna(), (bench.scores + second) / 2, bench.scores)
    assert np.allclose(bench.truth, expected) and not np.allclose(bench.truth, bench.scores)
    lines = bench_search.run_table(
        bench, bench_search.make_specs(["random"], bench, {}, [8]), [0], [5, 10], 10
    )
    assert "truth = mean of 2 seeds on the 10 rows trained twice" in lines[0]


def test_a_stopped_benchmark_resumes_from_its_cache(tmp_path, monkeypatch):
    bench_search = load_benchmark("bench_search")
    path, yaml = synthetic_table(tmp_path)
    bench = bench_search.table_bench("toy", path, yaml)
    specs = bench_search.make_specs(["random", "evolution"], bench, {}, [8])
    cache = tmp_path / "cache.jsonl"
    first = bench_search.run_table(bench, specs, [0, 1], [5, 10], 10, cache)
    assert len(cache.read_text().splitlines()) == 4  # 2 strategies x 2 seeds
    with cache.open("a") as f:
        f.write('{"key": "cut by a kil')  # a line a kill cut short is ignored
    monkeypatch.setattr(bench_search, "search", lambda *a: pytest.fail("a stored run ran again"))
    again = bench_search.run_table(bench, specs, [0, 1], [5, 10], 10, cache)
    strip = lambda lines: [line.rsplit("|", 2)[0] for line in lines]  # noqa: E731 (s/run aside)
    assert strip(again) == strip(first)

"""Smoke test of the zero-cost benchmark on four pairs of the MNIST-1D space."""

from __future__ import annotations

import numpy as np
from conftest import CONFIGS, load_benchmark

from jointnas.data import load_dataset, read_space
from jointnas.search.pool import draw_pool


def test_proxies_are_cached_by_arch_and_correlated(tmp_path):
    bench = load_benchmark("bench_zero_cost")
    space = read_space(CONFIGS / "mnist1d.yaml")
    table = draw_pool(space, 4, seed=0).reset_index(drop=True)
    table = table.loc[[0, 1, 2, 3, 0]].reset_index(drop=True)  # a repeated arch is scored once
    table["val_acc"] = [0.5, 0.7, 0.6, 0.9, 0.55]
    table["val_acc_2"] = [0.52, np.nan, 0.61, 0.88, np.nan]
    cache = tmp_path / "zc.csv"
    first = bench.table_proxies(space, table, load_dataset("mnist1d"), 1, cache)
    assert len(first) == 5 and first.iloc[0].equals(first.iloc[4])
    again = bench.table_proxies(space, table, None, 1, cache)  # all cached: no dataset needed
    assert np.allclose(again.to_numpy(dtype=float), first.to_numpy(dtype=float), equal_nan=True)
    lines = bench.correlation_lines(first, table)
    assert lines[0].startswith("| proxy | Spearman, all 5 pairs") and "3 pairs, 2-seed mean" in lines[0]
    assert len(lines) == 2 + len(bench.PROXIES)
    lines = bench.correlation_lines(first, table, residual=np.arange(5.0))
    assert "beyond the recipe" in lines[0] and lines[1].count("---") == 8

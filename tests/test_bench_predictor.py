"""Smoke test of the predictor benchmark's evaluation and report on a tiny joint table."""

from __future__ import annotations

import numpy as np
from conftest import load_benchmark

from jointnas.data import Categorical, Float, Integer, SearchSpace


def test_evaluate_and_report_every_method(capsys):
    bench = load_benchmark("bench_predictor")
    space = SearchSpace(
        arch=[Categorical("op", ("a", "b", "c")), Integer("width", 1, 8)],
        recipe=[Float("lr", 1e-3, 1.0, log=True)],
        name="toy",
    )
    table = space.sample(80, seed=0, frame=True)
    table["acc"] = (
        table["width"] / 8
        + (table["op"] == "c") * 0.5
        - (np.log10(table["lr"].astype(float)) + 1.5) ** 2 * 0.2
    )
    table["params"] = table["width"] * 1e3 + 10.0
    table["proxy"] = -table["width"] * 2.0  # a free label of any sign
    ds = bench.Dataset(
        "toy",
        space,
        table,
        "acc",
        lambda est: est.pretrain(table, targets=("params",)),
        lambda est: est.pretrain(table, targets=("params", "proxy")),
    )
    table["acc_2"] = table["acc"] + np.random.default_rng(0).normal(0, 0.05, len(table))
    methods = ["jointnas", "jointnas-zc", "jointnas-nopre", "ridge", "rf", "ridge-rank", "gp-rank"]
    fast = dict(hidden=16, embed=8, epochs=20, frozen_epochs=5, pretrain_epochs=2, n_models=2)
    taus, p10, secs = bench.evaluate(ds, [20, 40], [0, 1], methods, fast)
    for m in methods:
        for n in (20, 40):
            assert len(taus[(m, n)]) == 2 and all(np.isfinite(taus[(m, n)])), (m, n)
            assert all(0 <= p <= 1 for p in p10[(m, n)])
    assert np.mean(taus[("jointnas", 40)]) > 0.3  # a smooth relation is learned at all
    assert np.mean(taus[("gp-rank", 40)]) > 0.3  # fit on ranks, still ranks well
    bench.print_table(ds, [20, 40], methods, taus, secs, p10)
    out = capsys.readouterr().out
    assert "### toy: Kendall tau of acc" in out and "P@10 (fraction" in out
    assert "noise ceiling: Kendall tau between two training seeds over the 80 pairs" in out
    assert "jointnas - best baseline: N=20:" in out
    assert "pretraining gain (FLOPs/params) at N=20:" in out
    assert "pretraining gain (zero-cost proxies) at N=20:" in out

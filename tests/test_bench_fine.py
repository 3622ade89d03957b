"""Smoke test of the fine search benchmark's quality table on the toy table."""

from __future__ import annotations

import re

import numpy as np
from conftest import load_benchmark
from test_coarse import toy_space, toy_table

from jointnas.search.evaluators import TableEvaluator
from jointnas.search.fine import table_costs


class ToyTruth:
    """The toy table's noiseless final accuracy, for any pair of its space."""

    def __init__(self, bench_search) -> None:
        self.space = toy_space()
        self.table = toy_table(self.space)
        self.bench = bench_search.Bench(
            "toy", self.space, TableEvaluator(self.space, self.table), ("params",)
        )
        self.cost_fn = table_costs(self.space, self.table)
        seen = self.quality(self.table)
        self.low, self.high = seen.min(), seen.max()
        self.best = float(self(self.space.frame([{"op": "c", "width": 8, "lr": 10**-1.5, "epochs": 8}]))[0])

    @staticmethod
    def quality(frame):
        return (
            frame["width"] / 8
            + (frame["op"] == "c") * 0.5
            - (np.log10(frame["lr"].astype(float)) + 1.5) ** 2 * 0.2
        ).to_numpy(dtype=float)

    def __call__(self, frame):
        return 0.5 + 0.4 * (self.quality(frame) - self.low) / (self.high - self.low)


def test_quality_table_runs_coarse_then_fine(capsys):
    bench = load_benchmark("bench_fine")
    tiny = dict(n_models=1, hidden=16, embed=8, epochs=10, frozen_epochs=2, pretrain_epochs=1)
    row = bench.after_coarse(ToyTruth(bench.bench_search), 0, budget=16, batch=8, predictor=tiny)
    assert all(np.isfinite(row[k]) for k in ("coarse", "predicted only", "measured kept"))
    assert row["measured kept"] <= row["coarse"] + 0.02  # measured noise is 0.003; nothing much worse
    bench.quality([ToyTruth(bench.bench_search)], 2, budget=16, batch=8, predictor=tiny)
    out = capsys.readouterr().out
    assert re.search(r"^\|\s+toy \|", out, re.MULTILINE)
    assert "coarse best (measured)" in out and "new pair, measured kept" in out

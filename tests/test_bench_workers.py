"""Smoke test of the coarse throughput benchmark on tiny settings."""

from __future__ import annotations

from conftest import load_benchmark


def test_bench_workers_reports_both_modes_and_the_ratio(tmp_path):
    bench = load_benchmark("bench_workers")
    out = tmp_path / "workers.md"
    assert bench.main(["--pairs", "12", "--sleep", "0.05", "--n-models", "1", "--out", str(out)]) == 0
    text = out.read_text()
    for mode in ("async", "batch"):
        for workers in (1, 2):
            assert f"| {mode} | {workers} |" in text
    assert "| async | 1 | 12 pairs: 8 space-filling" in text and "2 workers vs 1:" in text

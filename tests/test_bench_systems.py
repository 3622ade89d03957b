"""Smoke tests of the system benchmarks (supernet ranking, REINFORCE/ENAS, EdgeNES) on tiny
settings: each runs end to end, prints its tables, and keeps its results file for a full
default run only."""

from __future__ import annotations

from conftest import CONFIGS, load_benchmark


def test_supernet_benchmark_prints_its_tables(tmp_path, capsys, monkeypatch):
    bench = load_benchmark("bench_supernet")
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "supernet.md")
    args = ["--dataset", "digits", "--space", str(CONFIGS / "supernet_digits.yaml")]
    args += ["--epochs", "1", "--standalone-epochs", "1", "--standalone-seeds", "2", "--seeds", "1"]
    assert bench.main(args + ["--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    for heading in ("## Per sampler", "standalone S-Tau across its 2 seeds", "## Close pair (1,3) vs (2,2)"):
        assert heading in out
    assert "uniform" in out and "epsilon_greedy" in out and "fair" in out
    assert (tmp_path / "run" / "architectures.csv").is_file()
    assert not (tmp_path / "supernet.md").exists()  # not a full default run


def test_supernet_benchmark_defaults_are_the_real_mnist_study():
    bench = load_benchmark("bench_supernet")
    assert bench.SPACE.name == "supernet_mnist5k.yaml" and bench.SPACE.is_file()


def test_enas_section_reports_tau_and_noise_ceiling():
    bench = load_benchmark("bench_reinforce")
    lines = bench.enas_section(
        [0],
        1,
        1,
        2,
        1,
        4,
        dataset="digits",
        space_file=CONFIGS / "supernet_layers.yaml",
        truth_seeds=2,
    )
    text = "\n".join(lines)
    assert "### ENAS on digits" in text
    tau = [line for line in lines if line.startswith("| Kendall tau, shared-weight")]
    ceiling = [line for line in lines if line.startswith("| Kendall tau between standalone seeds")]
    assert len(tau) == 1 and len(ceiling) == 1
    value = float(ceiling[0].split("|")[2])
    assert value != value or -1 <= value <= 1  # NaN when 1 epoch leaves every arch at chance


def test_ensemble_benchmark_quick_on_mnist1d(tmp_path, capsys, monkeypatch):
    bench = load_benchmark("bench_ensemble")
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "ensemble.md")
    out_file = tmp_path / "tables.md"
    args = ["--quick", "--n", "2", "--N", "3", "--inherit-epochs", "-1", "--out", str(out_file)]
    assert bench.main(args) == 0
    text = out_file.read_text()
    assert "## Ensembles (mnist1d, n=2, N=3, 1 seeds" in text
    rows = ("DARTS (single)", "random arch (single)", "DARTS ensemble", "random ensemble", "EdgeNES ensemble")
    for row in rows:
        assert f"| {row}" in text or f"{row} |" in text
    assert "Expected updated edges" in text
    assert not (tmp_path / "ensemble.md").exists()

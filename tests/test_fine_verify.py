"""Verified pairs of ``search fine --verify`` and ``search report``: one tau, one measurement
column, one number format, failures explained, the Pareto plot, progress."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_coarse import toy_space
from test_fine import FAST, Oracle, cli, coarse_run, run_dir  # noqa: F401 (fixtures)

from jointnas.data import SearchSpace, read_table
from jointnas.errors import SearchError
from jointnas.predictor.metrics import kendall_tau
from jointnas.search.display import format_number, format_table
from jointnas.search.evaluators import EvalResult
from jointnas.search.fine import budget_label
from jointnas.search.plots import draw_pareto, new_figure
from jointnas.search.report import RunFolder
from jointnas.search.verify import verified_tau

TAU_HEAD = "Kendall tau, predicted (pred_acc) vs measured (val_acc)"


def _with_default(tmp_path) -> str:
    space = toy_space()
    path = tmp_path / "toy_default.yaml"
    SearchSpace(
        space.arch, space.recipe, name="toy", default={"op": "b", "width": 4, "lr": 0.03, "epochs": 6}
    ).to_yaml(path)
    return str(path)


def _line(out: str, start: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(start))


# -- 1: one Kendall tau ------------------------------------------------------------------------
def test_fine_and_report_print_one_tau_over_every_verified_pair_default_included(
    run_dir, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(RunFolder, "evaluator", lambda self, seed=None: Oracle())
    space = _with_default(tmp_path)
    code, fine_out, _ = cli(
        ["fine", "--run", str(run_dir), "--space", space, "--verify", "3", "--compare-default", *FAST], capsys
    )
    assert code == 0
    verify = read_table(run_dir / "verify.csv")
    assert verify["kind"].tolist()[-1] == "default" and len(verify) == 4
    expected = kendall_tau(verify["val_acc"], verify["pred_acc"])  # all 4 rows, the default's too
    line = _line(fine_out, TAU_HEAD)
    assert line == f"{TAU_HEAD}: {expected:.3f} over all 4 verified pairs, the default pair included"
    code, report_out, _ = cli(["report", "--run", str(run_dir), "--space", space, "--quiet"], capsys)
    assert code == 0 and _line(report_out, TAU_HEAD) == line
    assert line in (run_dir / "report.md").read_text()


def test_verified_tau_counts_only_pairs_whose_runs_all_finished():
    frame = pd.DataFrame(
        {
            "kind": ["best", "pareto", "pareto", "pareto"],
            "pred_acc": [0.9, 0.8, 0.7, 0.6],
            "val_acc": [0.91, 0.85, 0.7, np.nan],
            "status": ["ok", "ok", "diverged", "failed"],
        }
    )
    short = verified_tau(frame)
    assert (short.measured, short.total, short.default) == (2, 4, False) and np.isnan(short.tau)
    assert short.line() == f"{TAU_HEAD}: - (fewer than 3 verified pairs measured: 2 of 4 with every run ok)"
    frame.loc[2, "status"] = "ok"
    three = verified_tau(frame)
    assert three.tau == pytest.approx(1.0)
    assert three.line() == f"{TAU_HEAD}: 1.000 over 3 of 4 verified pairs (those with every run ok)"


# -- 2: one measurement column, one number format ---------------------------------------------------
def test_verify_table_has_one_filled_measurement_column_and_budgets_print_alike(run_dir, capsys, monkeypatch):
    monkeypatch.setattr(RunFolder, "evaluator", lambda self, seed=None: Oracle())
    code, out, _ = cli(["fine", "--run", str(run_dir), "--budgets", "2.5e5", "--verify", "2", *FAST], capsys)
    assert code == 0 and "e+0" not in out
    tables = [line for line in out.splitlines() if line.startswith("|")]
    summary, verified = tables[0], next(t for t in tables if t.startswith("|   kind |"))
    assert "measured_acc" in summary and "measured_acc" not in verified and "val_acc" in verified
    best_rows = [t for t in tables if "| 2.5e5 |" in t]
    assert len(best_rows) == 2  # the summary's and the verify table's best pair: the same label
    verify = read_table(run_dir / "verify.csv")
    assert "measured_acc" not in verify.columns and "coarse_acc" in verify.columns
    assert verify["val_acc"].notna().all()


def test_numbers_print_one_way():
    assert [format_number(v) for v in (2.5e5, 250000, 1e-5, 0.98123, 500.0, float("nan"))] == [
        "2.5e5",
        "2.5e5",
        "1e-5",
        "0.9812",
        "500",
        "-",
    ]
    assert budget_label(2.5e5) == "2.5e5" and budget_label(None) == "any"
    table = format_table(pd.DataFrame({"flops": [2.5e5, np.float32(3e6)], "n": [1, 2]}))
    assert "2.5e5" in table and "3e6" in table and "e+" not in table


# -- 4: failures explained ----------------------------------------------------------------------
class Picky(Oracle):
    """Measures the first pair it is asked for; no other (like a table missing them)."""

    def __init__(self):
        self.calls = 0

    def evaluate(self, config, max_epochs=None, on_epoch=None):
        self.calls += 1
        if self.calls > 1:
            raise SearchError(f"pair not in the table: {config}", "toy.csv")
        return super().evaluate(config)


def test_failed_pairs_say_why_and_report_prints_no_nan(run_dir, capsys, monkeypatch):
    picky = Picky()
    monkeypatch.setattr(RunFolder, "evaluator", lambda self, seed=None: picky)
    code, out, _ = cli(["fine", "--run", str(run_dir), "--verify", "3", *FAST], capsys)
    assert code == 0
    assert "2 of 3 verified pairs not ok" in out
    assert out.count("): failed: pair not in the table: {") == 2 and "(toy.csv)" in out
    why = f"{TAU_HEAD}: - (fewer than 3 verified pairs measured: 1 of 3 with every run ok)"
    assert why in out
    code, out, _ = cli(["report", "--run", str(run_dir), "--quiet"], capsys)
    assert code == 0 and "nan" not in out.lower() and why in out
    assert "pair not in the table" in out
    assert "- row 2 (pareto" in (run_dir / "report.md").read_text()


# -- 16: the Pareto plot ------------------------------------------------------------------------
def _pareto_frames():
    fine = pd.DataFrame(
        {
            "kind": ["best", "best", "pareto", "pareto", "pareto"],
            "budget": [2e5, 4e5, np.nan, np.nan, np.nan],
            "flops": [2e5, 4e5, 1e5, 2e5, 4e5],
            "score": [0.9, 0.93, 0.86, 0.9, 0.93],
        }
    )
    rng = np.random.default_rng(0)
    coarse = pd.DataFrame(
        {"flops": rng.uniform(5e4, 4e5, 23), "acc": np.r_[rng.uniform(0.85, 0.95, 20), [0.05, 0.1, 0.1]]}
    )  # 3 failed
    verified = pd.DataFrame(
        {
            "kind": ["best", "best", "pareto", "default"],
            "flops": [2e5, 4e5, 1e5, 3e5],
            "pred_acc": [0.9, 1.2, 0.86, 0.88],
            "val_acc": [0.89, 0.94, np.nan, 0.87],
            "val_acc_std": [0.004, 0.002, np.nan, 0.003],
            "status": ["ok", "ok", "failed", "ok"],
        }
    )
    return fine, coarse, verified


def test_pareto_plot_draws_verified_accuracies_budgets_and_a_clipped_accuracy_axis():
    from matplotlib.container import ErrorbarContainer

    fine, coarse, verified = _pareto_frames()
    plt, fig, ax = new_figure()
    draw_pareto(ax, fine, coarse, "acc", verified)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {
        "FLOPs budget",
        "verified: predicted",
        "verified: measured (mean ± std)",
        "default pair: measured (mean ± std)",
        "Pareto front",
        "best per budget",
    } <= set(labels)
    assert labels[-1] == "1 verified pairs failed (not drawn)"
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2  # the found pairs, the default pair
    segments = bars[0].lines[2][0].get_segments()
    np.testing.assert_allclose([s[1][1] - s[0][1] for s in segments], [0.008, 0.004])  # 2 std
    low, high = ax.get_ylim()
    assert 0.0 <= low and high <= 1.0 and low > 0.5  # the failed samples do not squash the band
    notes = [t.get_text() for t in ax.texts]
    assert any("3 coarse samples" in n and "1 verified pairs" in n for n in notes), notes  # 0.05-0.1; 1.2
    plt.close(fig)


def test_pareto_plot_after_verify_is_written(run_dir, capsys, monkeypatch):
    monkeypatch.setattr(RunFolder, "evaluator", lambda self, seed=None: Oracle())
    code, out, _ = cli(["fine", "--run", str(run_dir), "--verify", "2", *FAST], capsys)
    assert code == 0 and f"wrote {run_dir / 'verify.csv'}, {run_dir / 'pareto.png'}" in out


# -- progress -------------------------------------------------------------------------------------
class Trainer(Oracle):
    """Reports every epoch, as training does."""

    def evaluate(self, config, max_epochs=None, on_epoch=None):
        r = super().evaluate(config)
        for epoch in range(1, r.epochs_run + 1):
            on_epoch(epoch, 0.5)
        return EvalResult(curve=[r.val_acc], val_acc=r.val_acc, epochs_run=r.epochs_run)


def test_training_the_default_pair_shows_progress_unless_quiet(run_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(RunFolder, "evaluator", lambda self, seed=None: Trainer())
    args = [
        "fine",
        "--run",
        str(run_dir),
        "--space",
        _with_default(tmp_path),
        "--verify",
        "1",
        "--compare-default",
        "--population",
        "16",
        "--max-generations",
        "40",
    ]
    code, _, err = cli(args, capsys)
    assert code == 0 and "default pair" in err and "epoch 6, val_acc 0.5000" in err
    code, _, err = cli([*args, "--quiet"], capsys)
    assert code == 0 and err == ""


def test_report_shows_progress_unless_quiet(run_dir, capsys):
    code, _, err = cli(["report", "--run", str(run_dir)], capsys)
    assert code == 0 and "report" in err and "held-out predictor" in err
    code, _, err = cli(["report", "--run", str(run_dir), "--quiet"], capsys)
    assert code == 0 and err == ""

"""Files of a supernet ranking study: CSV tables, a markdown report and two plots.

Every file is written atomically (:func:`jointnas.data.atomic.atomic_path`):

* ``architectures.csv``: one row per architecture (supernet and standalone accuracies, ranks),
* ``samplers.csv``: GT-Tau, S-Tau, TnR and timings per sampler,
* ``tau_by_epoch.csv``: GT-Tau after each supernet epoch, per sampler and seed,
* ``discordant_pairs.csv``: pairs each sampler orders against standalone training,
* ``report.md``: the tables above in markdown,
* ``supernet_vs_standalone.png`` and ``tau_by_epoch.png``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ...data.atomic import atomic_path
from ...predictor.metrics import explain
from ..display import format_table
from ..plots import new_figure, save_figure
from .supernet_rank import SupernetRanking, arch_labels, discordant_pairs

PAIRS_SHOWN = 8
"""Discordant pairs listed per sampler in ``report.md`` (the closest ones)."""


def write_ranking(ranking: SupernetRanking, out: str | Path) -> list[Path]:
    """Write the tables, ``report.md`` and the plots of a ranking study into ``out``.

    Returns:
        The paths written.
    """
    out = Path(out)
    pairs = pd.concat(
        [discordant_pairs(ranking, s).assign(sampler=s) for s in ranking.scores], ignore_index=True
    )
    files = []
    for name, frame in (
        ("architectures", ranking.architectures),
        ("samplers", ranking.samplers),
        ("tau_by_epoch", ranking.tau_by_epoch),
        ("discordant_pairs", pairs),
    ):
        files.append(_csv(frame, out / f"{name}.csv"))
    files.append(plot_scatter(ranking, out / "supernet_vs_standalone.png"))
    files.append(plot_tau_by_epoch(ranking, out / "tau_by_epoch.png"))
    path = out / "report.md"
    with atomic_path(path) as tmp:
        tmp.write_text(report_markdown(ranking, pairs))
    files.append(path)
    return files


def report_markdown(ranking: SupernetRanking, pairs: pd.DataFrame | None = None) -> str:
    """The study as markdown: settings, per-architecture and per-sampler tables, pairs."""
    s = ranking.settings
    lines = [
        f"# Supernet ranking: {s.get('space', '')}",
        "",
        f"{s.get('architectures')} of {s.get('space_size')} architectures; supernet "
        f"{s.get('epochs')} epochs x {s.get('seeds')} seeds per sampler; standalone "
        f"{s.get('standalone_epochs')} epochs x {s.get('standalone_seeds')} seed(s); "
        f"BN recalibration {s.get('recalibrate_bn')} batches; share_first "
        f"{s.get('share_first')}.",
        "",
        "## Per architecture",
        "",
        format_table(architecture_view(ranking)),
        "",
        "## Per sampler",
        "",
        format_table(ranking.samplers),
        "",
        _metrics_note(),
        "",
        f"Standalone training of all {s.get('architectures')} architectures: "
        f"{ranking.standalone_seconds:.1f} s. {_standalone_noise(ranking)}",
        "",
    ]
    if (s.get("seeds") or 0) < 2:
        lines[-1:-1] = [
            "S-Tau is `-`: it compares the rankings of different supernet seeds, "
            f"and this study ran {s.get('seeds')} (`--seeds 2` or more).",
            "",
        ]
    tau = tau_view(ranking)
    if not tau.empty:
        lines += ["## GT-Tau by supernet epoch (mean over seeds)", "", format_table(tau), ""]
    pairs = pairs if pairs is not None else pd.DataFrame()
    if not pairs.empty:
        lines += ["## Discordant pairs (closest standalone gaps first)", ""]
        for name, group in pairs.groupby("sampler", sort=False):
            lines += [
                f"{name}: {len(group)} pair(s)",
                "",
                format_table(group.head(PAIRS_SHOWN).drop(columns="sampler")),
                "",
            ]
    lines += ["## Settings", "", "```json", json.dumps(s, indent=1, default=str), "```", ""]
    return "\n".join(lines)


def _metrics_note() -> str:
    """What the per-sampler columns mean (one definition: ``predictor.metrics.METRIC_HELP``)."""
    return "Columns:\n\n" + "\n".join(
        f"- {line.strip()}"
        for line in explain(("gt_tau", "gt_tau_of_mean", "s_tau", "t1r", "t3r")).splitlines()
    )


def _standalone_noise(ranking: SupernetRanking) -> str:
    """The ground truth's own ranking noise, or why it is not measured."""
    seeds = ranking.settings.get("standalone_seeds") or 0
    if seeds < 2:
        return (
            f"Standalone S-Tau (the ranking noise of the ground truth) is not measured: "
            f"{seeds} standalone seed (`--standalone-seeds 2` or more)."
        )
    return (
        f"Standalone S-Tau across its {seeds} seeds (the ranking noise of the ground "
        f"truth): {ranking.standalone_s_tau():.3f}."
    )


def architecture_view(ranking: SupernetRanking) -> pd.DataFrame:
    """The per-architecture table with a label column, without the std columns."""
    table = ranking.architectures
    view = pd.DataFrame({"arch": arch_labels(table)})
    for col in ["flops", "params", "standalone", "standalone_std", "standalone_rank"]:
        if col in table.columns:
            view[col] = table[col].to_numpy()
    for name in ranking.scores:
        view[f"acc_{name}"] = table[f"acc_{name}"].to_numpy()
        view[f"rank_{name}"] = table[f"rank_{name}"].to_numpy()
    return view


def tau_view(ranking: SupernetRanking) -> pd.DataFrame:
    """GT-Tau by epoch, mean over seeds: one row per epoch, one column per sampler."""
    curves = ranking.tau_by_epoch
    if curves.empty:
        return pd.DataFrame()
    wide = curves.groupby(["epoch", "sampler"], sort=True)["gt_tau"].mean().unstack("sampler")
    wide = wide[[c for c in ranking.scores if c in wide.columns]]
    return wide.reset_index().rename_axis(columns=None)


def plot_scatter(ranking: SupernetRanking, path: Path) -> Path:
    """Supernet (seed mean, with seed std) vs standalone accuracy, one colour per sampler."""
    plt, fig, ax = new_figure((5.5, 3.8))
    table = ranking.architectures
    truth = table["standalone"].to_numpy()
    for name in ranking.scores:
        ax.errorbar(
            truth,
            table[f"acc_{name}"],
            yerr=table[f"std_{name}"],
            fmt="o",
            ms=4,
            capsize=2,
            alpha=0.8,
            label=name,
        )
    ax.set(
        xlabel="standalone validation accuracy",
        ylabel="supernet (inherited) accuracy",
        title="Supernet vs standalone",
    )
    ax.legend(fontsize=8)
    return save_figure(plt, fig, path)


def plot_tau_by_epoch(ranking: SupernetRanking, path: Path) -> Path:
    """GT-Tau after each supernet epoch: seed mean per sampler, seeds as thin lines."""
    plt, fig, ax = new_figure((5.5, 3.8))
    curves = ranking.tau_by_epoch
    for k, name in enumerate(ranking.scores):
        color = f"C{k}"
        mine = curves[curves["sampler"] == name] if not curves.empty else curves
        for _, run in mine.groupby("seed"):
            ax.plot(run["epoch"], run["gt_tau"], color=color, lw=0.6, alpha=0.35)
        if not mine.empty:
            mean = mine.groupby("epoch")["gt_tau"].mean()
            ax.plot(mean.index, mean.to_numpy(), color=color, marker="o", ms=3, label=name)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(
        xlabel="supernet epoch",
        ylabel="Kendall tau vs standalone",
        ylim=(-1.02, 1.02),
        title="GT-Tau by epoch",
    )
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(plt, fig, path)


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
    return path


__all__ = [
    "architecture_view",
    "plot_scatter",
    "plot_tau_by_epoch",
    "report_markdown",
    "tau_view",
    "write_ranking",
]

"""Matplotlib plumbing shared by every plot jointnas writes (headless, atomic PNG files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.atomic import atomic_path


def new_figure(size: tuple[float, float] = (5.5, 3.6)) -> tuple[Any, Any, Any]:
    """``(pyplot, figure, axes)`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(figsize=size)


def save_figure(plt: Any, fig: Any, path: str | Path) -> Path:
    """Lay out, write ``path`` as PNG atomically and close the figure."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(path)

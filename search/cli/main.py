"""The ``search`` console script: a dispatch table of subcommands."""

from __future__ import annotations

from typing import Sequence

from ...cli_base import Command, run_cli


def commands() -> list[Command]:
    """The commands, imported when the CLI runs (so a Ctrl-C while torch loads is clean)."""
    from .coarse import COARSE, WORKER
    from .enas import ENAS
    from .ensemble import ENSEMBLE
    from .evaluate import EVALUATE
    from .fine import FINE
    from .report import REPORT
    from .sample import SAMPLE
    from .supernet import SUPERNET

    return [SAMPLE, EVALUATE, COARSE, WORKER, FINE, REPORT, SUPERNET, ENSEMBLE, ENAS]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``search``."""
    return run_cli("search", "Search architectures and training recipes jointly.", commands, argv)

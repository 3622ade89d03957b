"""The ``search`` console script: a dispatch table of subcommands."""

from __future__ import annotations

from typing import Sequence

from ..cli_base import Command, run_cli


def commands() -> list[Command]:
    """The commands, imported when the CLI runs (so a Ctrl-C while torch loads is clean)."""
    from .coarse_cmd import COARSE, WORKER
    from .enas_cmd import ENAS
    from .ensemble_cmd import ENSEMBLE
    from .evaluate_cmd import EVALUATE
    from .fine_cmd import FINE
    from .report_cmd import REPORT
    from .sample_cmd import SAMPLE
    from .supernet_cmd import SUPERNET

    return [SAMPLE, EVALUATE, COARSE, WORKER, FINE, REPORT, SUPERNET, ENSEMBLE, ENAS]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``search``."""
    return run_cli("search", "Search architectures and training recipes jointly.", commands, argv)


if __name__ == "__main__":
    raise SystemExit(main())

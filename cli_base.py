"""Shared command-line plumbing: a dispatch table of subcommands and one error policy.

Each console script (``search``, ``predictor``) is a table of :class:`Command` entries.
A command's ``add_arguments`` declares its flags and ``run`` calls library functions.
User errors (:class:`~jointnas.errors.JointNASError`) print ``error: <what> (<where>)``
on one line and exit with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from dataclasses import dataclass
from typing import Callable, Sequence

from ._version import __version__
from .errors import JointNASError

DEVICE_DEFAULT = "auto"
"""The ``--device`` of every command that trains: CUDA when available, else the CPU."""


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, one-line help, argument declaration and action.

    ``epilog`` is printed after the flags by ``COMMAND --help`` (e.g. what the printed
    metrics mean); its lines are kept.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]
    epilog: str | None = None


class HelpFormatter(argparse.HelpFormatter):
    """Shows each flag's default, unless its help already states one; keeps epilog lines.

    A default is shown when it is a value (not ``None``, ``False`` or suppressed), so
    flags whose absence means "the config's value" or "off" read as they are written.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = not any(action.default is v for v in (None, False, argparse.SUPPRESS))
        if shown and action.option_strings and "default" not in text:
            text += " (default: %(default)s)"
        return text

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(_fill_line(line, width, indent) for line in text.splitlines())


def _fill_line(line: str, width: int, indent: str) -> str:
    """One line wrapped to ``width``; an indented line (a list item) hangs its continuations."""
    margin = line[: len(line) - len(line.lstrip())]
    own = indent + margin
    return (
        textwrap.fill(
            line.strip(), width, initial_indent=own, subsequent_indent=own + ("    " if margin else "")
        )
        or indent
    )


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: an unknown flag is reported with this command's usage.

    argparse hands a subcommand's unknown arguments back to the top-level parser, whose
    usage (``search [-h] COMMAND ...``) says nothing about the flags of the command.
    """

    def parse_known_args(
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        namespace, extra = super().parse_known_args(args, namespace)
        if extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        return namespace, extra


def build_parser(prog: str, description: str, commands: Sequence[Command]) -> argparse.ArgumentParser:
    """An argparse parser with one subparser per command and the shared flags."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"jointnas {__version__}")
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_CommandParser)
    for cmd in commands:
        p = sub.add_parser(
            cmd.name,
            help=cmd.help,
            description=cmd.help,
            epilog=cmd.epilog,
            parents=[shared],
            formatter_class=HelpFormatter,
        )
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def add_device_argument(
    p: argparse.ArgumentParser, default: str | None = DEVICE_DEFAULT, note: str = ""
) -> None:
    """The ``--device`` flag, the same for every command (default :data:`DEVICE_DEFAULT`).

    Args:
        p: the command's parser.
        default: ``None`` where a config file's device applies when the flag is absent.
        note: what the default is when it is ``None`` (e.g. "the config's, else auto").
    """
    where = f" (default: {note})" if note else ""
    p.add_argument(
        "--device",
        default=default,
        help=f"torch device: auto (CUDA when available, else cpu), cpu, cuda or cuda:N{where}",
    )


def add_dataset_arguments(p: argparse.ArgumentParser) -> None:
    """``--dataset`` (default: the embedded dataset whose inputs fit the space, see
    :func:`dataset_for`) and ``--root``, the same for every command that trains."""
    from .data.datasets import DATASETS

    p.add_argument(
        "--dataset",
        help=f"one of {', '.join(DATASETS)} (default: the embedded one whose inputs fit the space)",
    )
    p.add_argument("--root", help="dataset folder (all datasets but the embedded digits, mnist1d, mnist5k)")


def dataset_for(chosen: str | None, in_shape: Sequence[int]) -> str:
    """``chosen``, else the embedded dataset whose inputs have ``in_shape``, else digits."""
    from .data.datasets import embedded_dataset_for

    return chosen or embedded_dataset_for(in_shape) or "digits"


def run_cli(
    prog: str,
    description: str,
    commands: Sequence[Command] | Callable[[], Sequence[Command]],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse ``argv``, run the chosen command and map user errors to exit status 2.

    ``commands`` may be a function that imports them: a Ctrl-C while they load (torch
    takes seconds) then exits 130 like one during the command, without a traceback.
    """
    try:
        listed = commands() if callable(commands) else commands
    except KeyboardInterrupt:
        return _interrupted()
    parser = build_parser(prog, description, listed)
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except JointNASError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        message = environment_error(exc)
        if message is None or args.debug:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return _interrupted()


def _interrupted() -> int:
    """A Ctrl-C: one line, exit status 130 (128 + SIGINT), as shells report it.

    CPython notes a KeyboardInterrupt that passes through code run by ``exec`` of a
    string (namedtuple and dataclass creation do that while modules load) as
    unhandled even when it is caught, and then ends the process by SIGINT instead of
    with the status returned here. Running a string resets that note.
    """
    exec("None")  # noqa: S102 -- a constant: clears CPython's unhandled-interrupt note
    print("interrupted", file=sys.stderr)
    return 130


def environment_error(exc: BaseException) -> str | None:
    """One line for a failure of the machine rather than of the program, else ``None``.

    ``OSError`` (a read-only folder, a full disk, a missing file) names its file and
    cause; Optuna's ``StorageInternalError`` names the database error underneath it
    (e.g. ``database or disk is full``), which its own message hides.
    """
    if isinstance(exc, OSError):
        from .data.atomic import describe_os_error

        where = f" ({exc.filename})" if exc.filename else ""
        return f"{describe_os_error(exc)}{where}"
    if type(exc).__name__ == "StorageInternalError" and type(exc).__module__.startswith("optuna"):
        cause: BaseException = exc
        while cause.__cause__ is not None or cause.__context__ is not None:
            cause = cause.__cause__ or cause.__context__
        text = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
        return f"the run's storage failed: {text}"
    return None


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{value} must be >= {low}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value} must be > 0")
    return value

"""Exceptions raised for user errors.

Every error a user can cause derives from :class:`JointNASError`. The command-line
tools print ``error: <what> (<where>)`` on one line and exit with status 2.
"""

from __future__ import annotations


class JointNASError(Exception):
    """Base class of all user-facing errors.

    Args:
        message: what is wrong, naming the field, the value and what is allowed.
        where: the file, row or option the error comes from, if known.
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.message} ({self.where})" if self.where else self.message

    def at(self, where: str) -> "JointNASError":
        """Return the same error located at ``where`` (an outer location, e.g. the file).

        An error already located (say at ``default``) becomes ``file: default``.
        """
        self.where = where if self.where is None or self.where == where else f"{where}: {self.where}"
        return self


class SpaceError(JointNASError):
    """A search space definition or a config that does not fit a space."""


class ConfigError(JointNASError):
    """A malformed configuration file or option."""


class TableError(JointNASError):
    """A sample table with missing columns or values outside the space."""


class DatasetError(JointNASError):
    """A dataset that cannot be found or does not fit the model."""


class PredictorError(JointNASError):
    """A predictor used before fitting, or a predictor file that does not fit."""


class NotFittedError(PredictorError):
    """An estimator used before ``fit``."""


class OutputError(JointNASError):
    """A result that cannot be written: read-only folder, full disk, a path under a file."""


class SearchError(JointNASError):
    """A search that cannot run as configured (constraints, storage, resume)."""


def load_failure(exc: BaseException, what: str) -> str:
    """Why a ``torch.load(weights_only=True)`` of a ``what`` file failed, in one line.

    A file holding pickled Python objects beyond tensors and plain values is refused as
    unsafe (never loaded with ``weights_only=False``); anything else reads as a file
    that is truncated, corrupt or not of this kind.
    """
    text = str(exc)
    if "Unsupported global" in text:
        return (
            f"not a jointnas {what} file, or unsafe to load: it holds pickled Python objects "
            "besides tensors and plain values, which jointnas never unpickles"
        )
    if "Weights only load failed" in text:  # keep torch's detail, never its advice to unpickle
        detail = text.split("WeightsUnpickler error:", 1)[-1] if "WeightsUnpickler error:" in text else ""
        text = next((line for line in detail.splitlines() if line.strip()), "not a torch file")
    first = (text.strip().splitlines() or [type(exc).__name__])[0][:200]
    return f"cannot read {what} file (truncated, corrupt or not a jointnas {what} file): {first}"


__all__ = [
    "ConfigError",
    "DatasetError",
    "JointNASError",
    "NotFittedError",
    "OutputError",
    "PredictorError",
    "SearchError",
    "SpaceError",
    "TableError",
    "load_failure",
]

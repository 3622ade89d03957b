"""The ``search`` console script: one module per command and the dispatch table
(:mod:`.main`)."""

from .main import commands, main

__all__ = ["commands", "main"]

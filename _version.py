"""Package version, kept apart so build tools can read it without importing torch."""

__version__ = "0.1.0"

"""The error hierarchy.

Every error Stockade raises on purpose is a :class:`StockadeError`. Messages start with the
file or object they concern, so the one place that handles them (the CLI, the server) can print
them as a single line.  Nothing below ``stockade.cli`` exits the process.
"""

from __future__ import annotations


class StockadeError(Exception):
    """Base of every deliberate Stockade error."""

    def diagnostics(self) -> str:
        """A one-line, human-readable description (never contains a secret value)."""
        return " ".join(str(self).split())


class UsageError(StockadeError):
    """The command line or a request is malformed."""


class InputError(StockadeError):
    """An input file or object cannot be read or understood."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.reason = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


class ConfigError(StockadeError):
    """The Stockade configuration file is invalid."""


class RuleError(StockadeError):
    """A rules file (Falco, Rego, CEL, ...) does not load."""


class EngineError(StockadeError):
    """An engine was asked a question it cannot answer."""

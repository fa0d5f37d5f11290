"""pss checks (registered on import): Pod Security Standards per upstream check, and namespaces."""

from stockade.checks.pss import namespaces, standards

__all__ = ["namespaces", "standards"]

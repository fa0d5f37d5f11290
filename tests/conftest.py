"""Shared fixtures: where ``../shared`` is, test assets, and conformance counts printed by CI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DATA = Path(__file__).resolve().parent / "data"

_CONFORMANCE: dict[str, tuple[int, int]] = {}


def shared_path(*parts: str) -> Path:
    """A path under ``../shared``; fails loudly (never skips) when the data is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"shared test data missing: {path} (CI must have ../shared beside the repo)")
    return path


@pytest.fixture
def shared() -> Callable[..., Path]:
    """``shared("conformance", "rbac", "vectors.yaml")`` -> a path that exists."""
    return shared_path


@pytest.fixture
def asset() -> Callable[[str], Path]:
    """``asset("name.yaml")`` -> a file under ``tests/data``."""

    def get(name: str) -> Path:
        path = DATA / name
        assert path.exists(), f"missing test asset {path}"
        return path

    return get


def record_conformance(suite: str, passed: int, total: int) -> None:
    """Record a conformance suite's pass count; printed at the end of the pytest run."""
    _CONFORMANCE[suite] = (passed, total)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _CONFORMANCE:
        return
    terminalreporter.section("conformance")
    for suite, (passed, total) in sorted(_CONFORMANCE.items()):
        terminalreporter.write_line(f"{suite}: {passed} of {total} passed")

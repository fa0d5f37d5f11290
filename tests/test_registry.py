"""Meta-tests: every check is declared completely, runs, is tested, and is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stockade.checks.registry import _RUNNERS, all_checks
from stockade.cli.checks import markdown
from stockade.model import CheckSpec

ROOT = Path(__file__).resolve().parent.parent
SPECS = [c.spec for c in all_checks()]
TEST_TEXT = "\n".join(p.read_text(errors="replace") for p in (ROOT / "tests").rglob("*.py"))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_spec_is_complete(spec: CheckSpec) -> None:
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*\.[a-z0-9][a-z0-9-]*", spec.id)
    assert spec.title and not spec.title.endswith(".")
    assert len(spec.rationale) > 30
    assert spec.remediation.endswith("."), "remediation must be a full sentence"
    assert spec.references and all(r.url.startswith("https://") for r in spec.references)


def test_every_check_group_has_a_function() -> None:
    assert not [c.spec.id for c in all_checks() if c.group not in _RUNNERS]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_every_check_is_tested(spec: CheckSpec) -> None:
    cases = ROOT / "tests" / "checks" / spec.id
    if cases.is_dir():
        names = [p.name for p in cases.iterdir()]
        assert any(n.startswith("fail.") for n in names) and any(n.startswith("pass.") for n in names)
    else:
        assert spec.id in TEST_TEXT, f"no test names {spec.id} (add tests/checks/{spec.id}/)"


def test_docs_checks_md_is_up_to_date() -> None:
    doc = ROOT / "docs" / "checks.md"
    assert doc.read_text() == markdown(SPECS), "regenerate: stockade checks -o markdown > docs/checks.md"

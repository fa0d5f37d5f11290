"""Data-driven check cases: ``tests/checks/<check-id>/{pass,fail}.<case>.yaml``.

A ``fail`` file lists what must fire in header comments, one ``# expect: <field path> | <detail
substring>`` line per finding, and nothing else of that check may fire. A ``pass`` file must give
no finding of that check. ``# config: {...}`` sets stockade.yaml content for the case.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stockade.config import Config
from stockade.scan import ScanOptions, scan_paths

HERE = Path(__file__).parent
CASES = sorted(p for p in HERE.glob("*/*.yaml") if p.name.startswith(("pass.", "fail.")))


def _header(path: Path) -> tuple[Config, list[tuple[str, str]]]:
    config: dict[str, object] = {}
    expects: list[tuple[str, str]] = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        body = line[1:].strip()
        if body.startswith("config:"):
            config = yaml.safe_load(body[len("config:") :])
        elif body.startswith("expect:"):
            where, _, detail = body[len("expect:") :].partition("|")
            expects.append((where.strip(), detail.strip()))
    return Config.from_mapping(config, source=str(path)), expects


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_check_case(case: Path) -> None:
    check_id = case.parent.name
    config, expects = _header(case)
    report = scan_paths([str(case)], config, ScanOptions(select=(check_id,), render_kustomize=False))
    assert not report.errors, [str(e) for e in report.errors]
    got = [(f.path, f.detail) for f in report.findings if f.check_id == check_id]
    if case.name.startswith("pass."):
        assert got == [], f"{check_id} must not fire on {case.name}"
        return
    assert expects, f"{case.name} declares no '# expect:' line"
    unmatched = list(got)
    for path, detail in expects:
        hit = next((g for g in unmatched if g[0] == path and detail in g[1]), None)
        assert hit is not None, f"expected {check_id} at {path} with {detail!r}; got {got}"
        unmatched.remove(hit)
    assert not unmatched, f"unexpected {check_id} findings: {unmatched}"

"""``stockade checks``: list every check with its severity and title."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("checks", help="list the checks")
    p.add_argument("-o", "--output", choices=("table", "json"), default="table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stockade.checks.registry import iter_specs

    specs = list(iter_specs())
    if args.output == "json":
        print(json.dumps([
            {"id": s.id, "title": s.title, "severity": s.severity.label, "rationale": s.rationale,
             "remediation": s.remediation, "references": [{"title": r.title, "url": r.url} for r in s.references]}
            for s in specs
        ], indent=2))  # fmt: skip
        return 0
    for s in specs:
        print(f"{s.id:<44} {s.severity.label:<9} {s.title}")
    return 0

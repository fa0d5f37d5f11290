"""``stockade netpol``: placeholder until the netpol area lands its commands."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("netpol", help="netpol analysis (not available yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stockade.errors import UsageError

    raise UsageError("'stockade netpol' is not available yet")

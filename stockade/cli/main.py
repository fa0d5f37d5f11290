"""``stockade`` entry point.

Each sub-command lives in its own module exposing ``register(subparsers)``, which adds its parser
and sets ``func`` to a ``run(args) -> int`` function. Modules import their engines inside ``run`` so
the CLI starts fast. Exit codes: 0 clean, 1 findings or a "no" answer, 2 usage or input errors.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from stockade import __version__
from stockade.errors import StockadeError

# Order shown in --help.
COMMANDS = ("scan", "pss", "rbac", "netpol", "runtime", "audit", "checks")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 on usage errors, as we do; keep its message on one line.
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, the other commands' modules are not imported (faster start)."""
    parser = _Parser(
        prog="stockade",
        description="Defence-in-depth security analysis for multi-tenant ML platforms on Kubernetes.",
    )
    parser.add_argument("--version", action="version", version=f"stockade {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        if only is None or name == only:
            importlib.import_module(f"stockade.cli.{name}").register(sub)
        else:
            sub.add_parser(name)  # never reached: argv names `only`
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.func(args)
        return code
    except StockadeError as e:
        print(f"stockade: error: {e.diagnostics()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error for the user.
        return 0


if __name__ == "__main__":
    sys.exit(main())

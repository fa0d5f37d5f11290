"""``stockade scan PATH...``: every check over manifests or a cluster dump."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any, TextIO

from stockade.report import FORMATS

_SEVERITIES = ("info", "low", "medium", "high", "critical")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "scan",
        help="scan manifests for security findings",
        description="Scan Kubernetes manifests (files, directories, - for stdin) and report findings. "
        "Exit 0: nothing at or above --fail-on; 1: findings; 2: usage or input errors.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="file, directory (recursive) or - for stdin")
    p.add_argument("-o", "--output", choices=FORMATS, default="table", help="output format (default: table)")
    p.add_argument("--output-file", metavar="FILE", help="write the report to FILE instead of stdout")
    p.add_argument("--fail-on", choices=_SEVERITIES, default="high", help="lowest severity that fails (default: high)")
    p.add_argument("--select", action="append", default=[], metavar="ID", help="run only these check ids/patterns")
    p.add_argument("--ignore", action="append", default=[], metavar="ID", help="never run these check ids/patterns")
    p.add_argument("-c", "--config", metavar="FILE", help="configuration file (default: ./stockade.yaml if present)")
    p.add_argument("--baseline", metavar="FILE", help="report only findings not in this baseline")
    p.add_argument("--write-baseline", metavar="FILE", help="accept the current findings into FILE")
    p.add_argument(
        "--no-annotation-ignores", action="store_true",
        help="do not honour ignore.stockade.io/<check> annotations on objects",
    )  # fmt: skip
    p.add_argument("--no-kustomize", action="store_true", help="scan kustomization directories file by file")
    p.add_argument(
        "-j", "--jobs", type=int, metavar="N",
        help="processes that parse large inputs (default: CPUs, at most 4; 1: none)",
    )  # fmt: skip
    p.add_argument(
        "--framework", choices=("cis", "nsa", "pss", "owasp-k8s", "owasp-k8s-2022"),
        help="report pass/fail per control of a compliance framework (table or json output)",
    )  # fmt: skip
    p.set_defaults(func=run)


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(v.strip() for raw in values for v in raw.split(",") if v.strip())


def load_config(path: str | None) -> Any:
    """The configuration given, else ./stockade.yaml when present, else defaults."""
    from stockade.config import CONFIG_FILE_NAMES, Config

    if path:
        return Config.load(path)
    for name in CONFIG_FILE_NAMES:
        if Path(name).is_file():
            return Config.load(name)
    return Config()


def run(args: argparse.Namespace) -> int:
    from stockade.model import Severity
    from stockade.report import get_reporter
    from stockade.scan import ScanOptions, read_baseline, scan_paths, write_baseline

    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and stream.errors == "strict":
            reconfigure(errors="backslashreplace")
    config = load_config(args.config)
    options = ScanOptions(
        select=_split(args.select),
        ignore=_split(args.ignore),
        annotation_ignores=not args.no_annotation_ignores,
        baseline=read_baseline(args.baseline) if args.baseline else frozenset(),
        render_kustomize=not args.no_kustomize,
        jobs=args.jobs,
    )
    report = scan_paths(args.paths, config, options)
    if args.write_baseline:
        write_baseline(report, args.write_baseline)
    with _open_output(args.output_file) as out:
        if args.framework and args.output in ("table", "json"):
            _render_compliance(report, args.framework, args.output, out)
        else:
            get_reporter(args.output)(report, out)
    if args.output != "table" or args.output_file or args.framework:
        for err in report.errors:  # machine formats go to a file or pipe: say it on stderr too
            print(f"stockade: error: {err}", file=sys.stderr)
    if args.write_baseline:
        return 2 if report.errors else 0
    return report.exit_code(Severity.parse(args.fail_on))


def _render_compliance(report: Any, name: str, fmt: str, out: TextIO) -> None:
    import json

    from stockade.compliance import assess, get_framework, render_text, to_json

    framework = get_framework(name)
    results = assess(framework, report.findings, report.checks_run, report.input_kinds, report.has_pod_specs)
    if fmt == "json":
        json.dump(to_json(framework, results), out, indent=2)
        out.write("\n")
    else:
        out.write(render_text(framework, results))
        for err in report.errors:
            out.write(f"ERROR    {err}\n")


@contextlib.contextmanager
def _open_output(path: str | None) -> Any:
    if not path:
        yield sys.stdout
        return
    from stockade.errors import UsageError

    try:
        # A file name that is not UTF-8 (or a terminal that is not) must not end the scan in a traceback.
        handle: TextIO = open(path, "w", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115 - closed below
    except OSError as e:
        raise UsageError(f"{path}: cannot write output: {e.strerror}") from e
    with handle:
        yield handle

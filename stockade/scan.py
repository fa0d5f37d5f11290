"""The scan pipeline: load inputs, run the selected checks, apply ignores and baselines.

One :class:`~stockade.model.Report` comes out, which every output format and the admission
webhook consume. Exit codes and thresholds belong to the callers.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stockade.checks.registry import RegisteredCheck, ScanContext, all_checks, runners
from stockade.config import Config
from stockade.errors import ConfigError, InputError, UsageError
from stockade.loading import Inventory, LoadResult, load_paths
from stockade.model import Finding, InputFailure, Location, Report

IGNORE_ANNOTATION_PREFIX = "ignore.stockade.io/"
"""``ignore.stockade.io/<check-id>: "<reason>"`` on an object silences that check on it."""


@dataclass(frozen=True)
class ScanOptions:
    """What to run and how to filter."""

    select: tuple[str, ...] = ()
    """Check id patterns to run (``workload.*``); empty means all."""
    ignore: tuple[str, ...] = ()
    """Check id patterns never to run."""
    annotation_ignores: bool = True
    baseline: frozenset[str] = field(default_factory=frozenset)
    """Fingerprints of accepted findings (from ``--baseline``)."""
    render_kustomize: bool = True
    jobs: int | None = None
    """Processes that parse large inputs (None: automatic, 1: no extra process)."""


def selected_checks(config: Config, options: ScanOptions) -> list[RegisteredCheck]:
    """The registered checks this scan runs; unknown patterns are a usage error."""
    checks = all_checks()
    ids = [c.spec.id for c in checks]
    unknown = sorted((set(config.disabled_checks) | set(config.severity_overrides)) - set(ids))
    if unknown:
        raise ConfigError(f"{config.source}: unknown check id(s) {', '.join(unknown)} (see `stockade checks`)")
    for pattern in (*options.select, *options.ignore):
        if not fnmatch.filter(ids, pattern) and not any(i.startswith(pattern + ".") for i in ids):
            raise UsageError(f"no check matches {pattern!r} (see `stockade checks`)")

    def matches(check_id: str, patterns: Iterable[str]) -> bool:
        return any(fnmatch.fnmatchcase(check_id, p) or check_id.startswith(p + ".") for p in patterns)

    return [
        c
        for c in checks
        if (not options.select or matches(c.spec.id, options.select))
        and not matches(c.spec.id, options.ignore)
        and c.spec.id not in config.disabled_checks
    ]


def fingerprint(f: Finding) -> str:
    """Stable identity of a finding across edits (no line numbers): check, object, field."""
    key = "\x1f".join((f.check_id, f.subject.kind, f.subject.namespace or "", f.subject.name, f.path))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def scan_paths(paths: Sequence[str], config: Config, options: ScanOptions | None = None) -> Report:
    """Load ``paths`` and scan them."""
    options = options or ScanOptions()
    checks = selected_checks(config, options)  # usage errors before any work
    loaded = load_paths(paths, render_kustomize=options.render_kustomize, jobs=options.jobs)
    return scan_inventory(loaded, config, options, checks=checks, inputs=tuple(paths))


def scan_inventory(
    loaded: LoadResult | Inventory,
    config: Config,
    options: ScanOptions | None = None,
    *,
    checks: list[RegisteredCheck] | None = None,
    inputs: tuple[str, ...] = (),
) -> Report:
    """Run the checks over an already loaded inventory (the webhook's entry point)."""
    options = options or ScanOptions()
    if isinstance(loaded, Inventory):
        loaded = LoadResult(inventory=loaded)
    checks = checks if checks is not None else selected_checks(config, options)
    ctx = ScanContext(loaded.inventory, config)
    errors = list(loaded.errors)
    found: list[Finding] = []
    wanted = {c.spec.id for c in checks}
    for group, run in runners(checks):
        try:
            found.extend(f for f in run(ctx) if f.check_id in wanted)
        except InputError as e:
            errors.append(InputFailure(Location(e.source, e.line), e.reason))
        except ConfigError:
            raise  # a bad setting is the user's to fix before any result means anything
        except Exception as e:
            errors.append(InputFailure(Location(f"checks {group}"), f"internal error: {type(e).__name__}: {e}"))
    findings, suppressed = _apply_ignores(found, ctx, options)
    return Report(
        findings=Report.sorted_findings(findings),
        skipped=tuple(loaded.skipped),
        errors=tuple(errors),
        inputs=inputs,
        objects_scanned=len(loaded.inventory),
        notes=tuple(loaded.notes),
        suppressed=tuple(suppressed),
        checks_run=tuple(sorted(wanted)),
        input_kinds=frozenset(o.kind for o in loaded.inventory),
        has_pod_specs=bool(ctx.pod_specs()),
    )


def _apply_ignores(
    found: list[Finding], ctx: ScanContext, options: ScanOptions
) -> tuple[list[Finding], list[tuple[Finding, str]]]:
    kept: list[Finding] = []
    suppressed: list[tuple[Finding, str]] = []
    by_ref = {o.ref: o for o in ctx.inventory} if options.annotation_ignores else {}
    seen: set[tuple[str, Any, str, str]] = set()
    for f in found:
        key = (f.check_id, f.subject, f.path, f.detail)
        if key in seen:
            continue  # the same object listed twice in the inputs
        seen.add(key)
        if options.baseline and fingerprint(f) in options.baseline:
            suppressed.append((f, "in baseline"))
            continue
        obj = by_ref.get(f.subject)
        if obj is not None:
            reason = _ignore_reason(obj.annotations, f.check_id)
            if reason:
                suppressed.append((f, f"annotation: {reason}"))
                continue
        kept.append(f)
    return kept, suppressed


def _ignore_reason(annotations: Any, check_id: str) -> str | None:
    if not annotations:
        return None
    for key in (IGNORE_ANNOTATION_PREFIX + check_id, IGNORE_ANNOTATION_PREFIX + check_id.split(".", 1)[0]):
        reason = annotations.get(key)
        if isinstance(reason, str) and reason.strip():
            return reason.strip()  # an ignore without a reason is not honoured
    return None


# --- baselines ---------------------------------------------------------------------------------

BASELINE_VERSION = 1


def write_baseline(report: Report, path: str) -> None:
    """Record the report's findings (and those already accepted) as the accepted baseline."""
    entries = [
        {"fingerprint": fingerprint(f), "check": f.check_id, "object": str(f.subject), "path": f.path}
        for f in (*report.findings, *(f for f, why in report.suppressed if why == "in baseline"))
    ]
    entries.sort(key=lambda e: (e["check"], e["object"], e["path"]))
    data = {"version": BASELINE_VERSION, "tool": "stockade", "findings": entries}
    try:
        Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    except OSError as e:
        raise InputError(path, f"cannot write baseline: {e.strerror}") from e


def read_baseline(path: str) -> frozenset[str]:
    """Fingerprints accepted by a baseline file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(path, f"cannot read baseline: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise InputError(path, f"baseline is not valid JSON: {e.msg}", e.lineno) from e
    if (
        not isinstance(data, dict)
        or data.get("version") != BASELINE_VERSION
        or not isinstance(data.get("findings"), list)
    ):
        raise InputError(path, f"not a stockade baseline (version {BASELINE_VERSION})")
    return frozenset(str(e.get("fingerprint")) for e in data["findings"] if isinstance(e, dict))

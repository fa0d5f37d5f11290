"""``stockade pss``: Pod Security Standards verdicts, as the API server would give them.

* ``stockade pss check PATH... [--level L] [--version V] [-o table|json]``: a verdict per pod or
  pod template; exit 0 when everything is allowed, 1 when anything is denied, 2 on bad input.
* ``stockade pss dry-run --namespace NS --level L [--version V] PATH...``: the warnings
  ``kubectl label --dry-run=server`` prints when NS's enforce label becomes L:V, grouped by
  forbidden reasons; exit 1 when any workload would be rejected.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stockade.engines.pss.admission import PodSecurityConfiguration
    from stockade.engines.pss.api import LevelVersion
    from stockade.loading import LoadResult, PodSpecRef

LEVEL_CHOICES = ("privileged", "baseline", "restricted")
DEFAULT_NAMESPACE = "default"


def register(sub: Any) -> None:
    """Add ``pss check`` and ``pss dry-run``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "pss",
        help="Pod Security Standards verdicts, as the API server's admission would give them",
        description="Evaluate pods and pod templates against the Pod Security Standards.",
    )
    p.set_defaults(func=_usage(p))
    pss_sub = p.add_subparsers(dest="pss_command", metavar="SUBCOMMAND", parser_class=type(p))

    c = pss_sub.add_parser(
        "check",
        help="verdict per pod or pod template",
        description=(
            "Evaluate every pod and pod template (workloads, ML custom resources) found in PATHs. "
            "With --level, at that level; otherwise at the enforce level its namespace's "
            "pod-security.kubernetes.io labels give (Namespaces found in the inputs, else the "
            "cluster defaults). Exit 0 when all are allowed, 1 when any is denied, 2 on bad input."
        ),
    )
    c.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or directories ('-' for stdin)")
    c.add_argument("--level", choices=LEVEL_CHOICES, help="evaluate every object at this level")
    c.add_argument("--version", dest="pss_version", metavar="vX.Y|latest", help="policy version (with --level)")
    c.add_argument("-o", "--output", choices=("table", "json"), default="table")
    _common(c)
    c.add_argument(
        "--all-modes",
        action="store_true",
        help="also report the warn and audit levels of each namespace (they never change the exit code)",
    )
    c.add_argument("--as", dest="username", default="", metavar="USER", help="requesting user (for exemptions)")
    c.set_defaults(func=run_check)

    d = pss_sub.add_parser(
        "dry-run",
        help="what labelling a namespace's enforce level would report",
        description=(
            "Evaluate the pods and workload templates of a namespace at a new enforce level, and print "
            "the warnings the API server returns for `kubectl label --dry-run=server`, grouped by "
            "forbidden reasons. Objects without a namespace count as in NS. Exit 1 when anything "
            "would be rejected."
        ),
    )
    d.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or directories ('-' for stdin)")
    d.add_argument("--namespace", "-n", required=True, help="the namespace to label")
    d.add_argument("--level", required=True, choices=LEVEL_CHOICES, help="the new enforce level")
    d.add_argument(
        "--version",
        dest="pss_version",
        metavar="vX.Y|latest",
        help="also set the enforce-version label (otherwise the namespace's current one stays)",
    )
    d.add_argument("-o", "--output", choices=("table", "json"), default="table")
    _common(d)
    d.set_defaults(func=run_dry_run)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--admission-config",
        metavar="FILE",
        help="PodSecurityConfiguration (or AdmissionConfiguration) with the cluster defaults and exemptions",
    )


def _usage(p: argparse.ArgumentParser) -> Any:
    def run(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return 2

    return run


def _level_version(level: str, version: str | None) -> LevelVersion:
    from stockade.engines.pss.api import LATEST, LevelVersion, parse_level, parse_version
    from stockade.errors import UsageError

    try:
        return LevelVersion(parse_level(level), parse_version(version) if version else LATEST)
    except ValueError as e:
        raise UsageError(f"--version: {e}") from None


def _config(args: argparse.Namespace) -> PodSecurityConfiguration:
    from stockade.engines.pss.admission import PodSecurityConfiguration

    if args.admission_config:
        return PodSecurityConfiguration.load(args.admission_config)
    return PodSecurityConfiguration()


def _load(args: argparse.Namespace) -> LoadResult:
    from stockade.loading import load_paths

    result = load_paths(args.paths)
    for err in result.errors:
        print(f"stockade: {err}", file=sys.stderr)
    return result


def _entry(ref: PodSpecRef, ns: str | None) -> dict[str, Any]:
    loc = ref.obj.location
    return {
        "file": loc.file,
        "line": ref.obj.line_of(ref.path) if ref.path else loc.line,
        "kind": ref.obj.kind,
        "namespace": ns,
        "name": ref.obj.name,
        "path": ref.path,
        "role": ref.role,
    }


def run_check(args: argparse.Namespace) -> int:
    """``stockade pss check``."""
    from stockade.checks.pss.standards import locate
    from stockade.engines.pss.admission import runtime_class
    from stockade.engines.pss.evaluator import evaluate_at
    from stockade.errors import UsageError
    from stockade.loading import find_pod_specs

    if args.pss_version and not args.level:
        raise UsageError("--version needs --level (without it, namespace labels give the versions)")
    fixed = _level_version(args.level, args.pss_version) if args.level else None
    config = _config(args)
    loaded = _load(args)
    inv = loaded.inventory
    labels = {name: obj.labels for name, obj in inv.namespaces().items()}
    entries: list[dict[str, Any]] = []
    for obj in inv:
        for ref in find_pod_specs(obj):
            ns_name = obj.namespace or DEFAULT_NAMESPACE
            base = _entry(ref, obj.namespace)
            is_pod = not ref.is_template
            modes: list[tuple[str, LevelVersion]]
            exempt = ""
            if fixed is not None:
                modes = [("level", fixed)]
            else:
                if ns_name in config.exempt_namespaces:
                    exempt = "namespace"
                elif args.username and args.username in config.exempt_usernames:
                    exempt = "user"
                elif (rc := runtime_class(ref.spec)) and rc in config.exempt_runtime_classes:
                    exempt = "runtimeClass"
                policy = config.namespace_policy(labels.get(ns_name)).policy
                modes = [("enforce", policy.enforce)]
                if args.all_modes:
                    seen = [policy.enforce]
                    for mode, lv in (("warn", policy.warn), ("audit", policy.audit)):
                        if not lv.is_privileged and not any(lv.equivalent(s) for s in seen):
                            modes.append((mode, lv))
                            seen.append(lv)
            for mode, lv in modes:
                if exempt:
                    result_allowed, violations = True, []
                else:
                    r = evaluate_at(ref.metadata, ref.spec, lv, is_pod=is_pod)
                    result_allowed = r.allowed
                    violations = [
                        {"check": v.check_id, "reason": v.reason, "detail": v.detail, "path": locate(ref, v.fields)}
                        for v in r.violations
                    ]
                entries.append(
                    {
                        **base,
                        "level": lv.level.value,
                        "version": str(lv.version),
                        "mode": mode,
                        "exempt": exempt or None,
                        "allowed": result_allowed,
                        "violations": violations,
                    }
                )
    denied = any(not e["allowed"] and e["mode"] in ("level", "enforce") for e in entries)
    if args.output == "json":
        json.dump(entries, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_check_table(entries, loaded.files)
    if loaded.errors:
        return 2
    return 1 if denied else 0


def _print_check_table(entries: list[dict[str, Any]], files: int) -> None:
    out = sys.stdout
    if not entries:
        out.write("no pods or pod templates found\n")
        return
    for e in entries:
        where = f"{e['file']}:{e['line']}" if e.get("line") else e["file"]
        ns = f"{e['namespace']}/" if e["namespace"] else ""
        role = f" ({e['role']})" if e["role"] else ""
        policy = f"{e['level']}:{e['version']}"
        mode = "" if e["mode"] in ("level", "enforce") else f" [{e['mode']}]"
        verdict = "allowed" if e["allowed"] else "DENIED"
        if e["exempt"]:
            verdict = f"EXEMPT ({e['exempt']})"
        out.write(f"{verdict:8s} {policy:18s} {e['kind']}/{ns}{e['name']}{role}{mode}  {where}\n")
        for v in e["violations"]:
            detail = f" ({v['detail']})" if v["detail"] else ""
            out.write(f"         - {v['check']}: {v['reason']}{detail}\n")
    n_denied = sum(1 for e in entries if not e["allowed"] and e["mode"] in ("level", "enforce"))
    out.write(f"{len(entries)} verdicts, {n_denied} denied\n")


_REPLICATED_KINDS = ("Deployment", "ReplicaSet", "ReplicationController", "StatefulSet")


def _scaled_to_zero(body: Any) -> bool:
    if not isinstance(body, Mapping) or body.get("kind") not in _REPLICATED_KINDS:
        return False
    spec = body.get("spec")
    replicas = spec.get("replicas") if isinstance(spec, Mapping) else None
    return type(replicas) is int and replicas == 0


def run_dry_run(args: argparse.Namespace) -> int:
    """``stockade pss dry-run``."""
    from stockade.engines.pss.admission import ExistingPod, namespace_dry_run
    from stockade.engines.pss.api import ENFORCE_LABEL, ENFORCE_VERSION_LABEL
    from stockade.loading import find_pod_specs

    _level_version(args.level, args.pss_version)  # validates --version
    config = _config(args)
    loaded = _load(args)
    ns_obj = loaded.inventory.namespaces().get(args.namespace)
    old_labels = dict(ns_obj.labels) if ns_obj is not None else {}
    new_labels = {**old_labels, ENFORCE_LABEL: args.level}
    if args.pss_version:
        new_labels[ENFORCE_VERSION_LABEL] = args.pss_version
    in_ns = [obj for obj in loaded.inventory if obj.namespace in (None, args.namespace)]
    # Like the API server, only running pods are checked; a workload's template stands in for the
    # pods it would create unless the inputs already hold what it created (a `kubectl get -o yaml`
    # dump: Deployment -> ReplicaSet -> Pods), or it is scaled to zero (it creates no pods).
    has_children: set[tuple[str, str]] = set()
    for obj in in_ns:
        md = obj.body.get("metadata")
        owners = md.get("ownerReferences") if isinstance(md, Mapping) else None
        for o in owners if isinstance(owners, list) else []:
            if isinstance(o, Mapping) and o.get("controller") is True:
                has_children.add((str(o.get("kind")), str(o.get("name"))))
    pods: list[ExistingPod] = []
    for obj in in_ns:
        for ref in find_pod_specs(obj):
            if ref.is_template:
                if (obj.kind, obj.name) in has_children or _scaled_to_zero(obj.body):
                    continue
                role = f" ({ref.role})" if ref.role else ""
                name = f"{obj.kind}/{obj.name}{role}"
                meta = dict(ref.metadata)
                # each template stands for the pods it creates: one controller (by UID) per template
                uid = f"{obj.kind}/{obj.namespace or ''}/{obj.name}/{ref.path}"
                meta["ownerReferences"] = [{"controller": True, "kind": obj.kind, "name": obj.name, "uid": uid}]
            else:
                name, meta = obj.name, dict(ref.metadata)
            pods.append(ExistingPod(name, meta, ref.spec))
    dry = namespace_dry_run(args.namespace, pods, new_labels=new_labels, old_labels=old_labels, config=config)
    lv = dry.policy
    warnings = dry.warnings()
    if args.output == "json":
        doc = {
            "namespace": dry.namespace,
            "level": lv.level.value,
            "version": str(lv.version),
            "evaluated": dry.evaluated,
            "total": max(dry.total, dry.evaluated),
            "skipped": dry.skipped or None,
            "label_errors": list(dry.label_errors),
            "groups": [
                {"reasons": list(g.reasons), "count": g.count, "first": g.first_pod, "pods": list(g.pods)}
                for g in dry.groups
            ],
            "warnings": warnings,
        }
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for w in warnings:
            sys.stdout.write(f"Warning: {w}\n")
        if dry.label_errors:
            sys.stdout.write(f"namespace/{args.namespace} not labeled: {'; '.join(dry.label_errors)}\n")
        else:
            what = (
                f"existing pods not checked: {dry.skipped}"
                if dry.skipped
                else (f"{dry.evaluated} pods and templates evaluated")
            )
            sys.stdout.write(f"namespace/{args.namespace} labeled (dry run: {what})\n")
    if loaded.errors or dry.label_errors:
        return 2
    return 1 if dry.groups else 0

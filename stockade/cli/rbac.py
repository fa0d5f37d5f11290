"""``stockade rbac``: can-i, who-can, escalation-check, graph and suggest over manifests.

Every sub-command reads its inputs with ``-f PATH...`` and adds the default roles and bindings of
a real cluster unless ``--no-bootstrap`` is given. Exit codes: 0 yes/allowed, 1 no/denied,
2 usage or input errors (printed one per line; the answer is still given when possible).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stockade.engines.rbac import Authorizer, PolicyRule, UserInfo
    from stockade.engines.rbac.requests import BuiltRequest
    from stockade.engines.rbac.resources import ResourceCatalog


def register(sub: Any) -> None:
    """Add ``stockade rbac`` and its sub-commands."""
    p: argparse.ArgumentParser = sub.add_parser(
        "rbac",
        help="RBAC answers: can-i, who-can, escalation-check, graph, suggest",
        description="Answer RBAC questions over manifests exactly as the API server's authorizer would.",
    )
    p.set_defaults(func=_no_subcommand, _rbac_parser=p)
    rsub = p.add_subparsers(dest="rbac_command", metavar="COMMAND", parser_class=type(p))

    c = rsub.add_parser(
        "can-i",
        help="whether an identity may do something (yes/no, like kubectl auth can-i)",
        description="Prints yes or no and exits 0 or 1. With --list, prints what the identity may do.",
    )
    c.add_argument("verb", nargs="?", help="API verb (get, list, create, ..., or *)")
    c.add_argument("target", nargs="?", help="RESOURCE[.GROUP][/SUBRESOURCE] or /non/resource/url")
    c.add_argument("name", nargs="?", default="", help="object name")
    _request_flags(c)
    c.add_argument("--list", action="store_true", help="list everything the identity may do in the namespace")
    c.add_argument("--no-headers", action="store_true", help="with --list, print no header line")
    c.add_argument("-q", "--quiet", action="store_true", help="print nothing; only the exit code answers")
    c.add_argument("-o", "--output", choices=("text", "json"), default="text")
    _identity_flags(c, required=True)
    _input_flags(c)
    c.set_defaults(func=run_can_i)

    w = rsub.add_parser(
        "who-can",
        help="every subject that may do something, and through which binding and role",
        description="With -A, RoleBindings of every namespace are included as well as cluster-wide grants.",
    )
    w.add_argument("verb")
    w.add_argument("target", help="RESOURCE[.GROUP][/SUBRESOURCE] or /non/resource/url")
    w.add_argument("name", nargs="?", default="")
    _request_flags(w)
    w.add_argument("-o", "--output", choices=("text", "json"), default="text")
    _input_flags(w)
    w.set_defaults(func=run_who_can)

    e = rsub.add_parser(
        "escalation-check",
        help="whether an identity may create/update an RBAC object (escalate, bind, coverage)",
        description=(
            "Reasons: system:masters, escalate-verb, bind-verb, covered, escalation, role-not-found, "
            "aggregation-requires-full-authority. Exit 0 allowed, 1 denied."
        ),
    )
    e.add_argument("object", help="YAML file with the Role, ClusterRole or binding being written")
    e.add_argument("--verb", choices=("create", "update"), default="create")
    e.add_argument("--old", help="the previous version of the object (update)")
    e.add_argument("-o", "--output", choices=("text", "json"), default="text")
    _identity_flags(e, required=True)
    _input_flags(e)
    e.set_defaults(func=run_escalation_check)

    g = rsub.add_parser("graph", help="subjects -> bindings -> roles -> rules, as DOT or JSON")
    g.add_argument("-o", "--output", choices=("dot", "json"), default="dot")
    g.add_argument("--include-bootstrap", action="store_true", help="also draw the default cluster bindings")
    _input_flags(g)
    g.set_defaults(func=run_graph)

    s = rsub.add_parser(
        "suggest",
        help="the narrowest Role(s) for a declared list of needed requests or an audit log",
        description=(
            "Proposes one Role per namespace (and a ClusterRole for cluster-scope requests). With an "
            "identity, also lists the rules it holds that no request needs, and what it cannot do yet."
        ),
    )
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--needs", help="YAML list of requests ('get pods -n ml' or {verb, resource, ...})")
    src.add_argument("--audit-log", help="audit log (JSON lines); with an identity, only its requests")
    s.add_argument("--name", default="least-privilege", help="name of the proposed roles")
    s.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    _identity_flags(s, required=False)
    _input_flags(s, required=False)
    s.set_defaults(func=run_suggest)


def _request_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--namespace", help="namespace of the request")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="ask about all namespaces")
    p.add_argument("--api-group", help="API group of the resource (overrides RESOURCE.GROUP)")
    p.add_argument("--subresource", default="", help="subresource such as log or scale")


def _identity_flags(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--as", dest="as_user", metavar="USER", help="impersonated user (groups are derived)")
    p.add_argument("--as-group", action="append", default=[], metavar="GROUP", help="impersonated group")
    p.add_argument("--user", metavar="USER", help="authenticated user name, used as given")
    p.add_argument("--group", action="append", default=[], metavar="GROUP", help="its groups, as given")
    p.set_defaults(_identity_required=required)


def _input_flags(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "-f",
        "--filename",
        dest="paths",
        action="extend",
        nargs="+",
        default=[],
        metavar="PATH",
        required=required,
        help="manifest files or directories (- for standard input)",
    )
    p.add_argument("--no-bootstrap", action="store_true", help="do not add the default cluster roles/bindings")


def _no_subcommand(args: argparse.Namespace) -> int:
    args._rbac_parser.print_help(sys.stderr)
    return 2


# ---------------------------------------------------------------------------------- helpers


def _identity(args: argparse.Namespace) -> UserInfo | None:
    from stockade.engines.rbac import authenticated, impersonate
    from stockade.errors import UsageError

    if args.as_user is not None and args.user is not None:
        raise UsageError("give either --as (impersonation) or --user (as-is identity), not both")
    if args.as_group and args.user is not None:
        raise UsageError("--as-group goes with --as; use --group with --user")
    if args.group and args.as_user is not None:
        raise UsageError("--group goes with --user; use --as-group with --as")
    if args.as_user is not None:
        if not args.as_user:
            # kubectl reads an empty --as as "no impersonation": there would be no identity to ask about.
            raise UsageError("--as needs a user name")
        return impersonate(args.as_user, args.as_group)
    if args.as_group:
        raise UsageError("--as-group requires --as")
    if args.group and args.user is None:
        raise UsageError("--group requires --user")
    if args.user is not None:
        return authenticated(args.user, args.group)
    if args._identity_required:
        raise UsageError("an identity is required: --as USER [--as-group G]... or --user USER [--group G]...")
    return None


class _Inputs:
    def __init__(self, authorizer: Authorizer, catalog: ResourceCatalog, errors: list[str]) -> None:
        self.authorizer = authorizer
        self.catalog = catalog
        self.errors = errors

    def report_errors(self) -> int:
        for e in self.errors:
            print(f"stockade: error: {e}", file=sys.stderr)
        return 2 if self.errors else 0


def _load(args: argparse.Namespace) -> _Inputs:
    from stockade.engines.rbac import Authorizer
    from stockade.engines.rbac.resources import ResourceCatalog
    from stockade.loading import load_paths

    if args.paths:
        result = load_paths(args.paths)
        objects = list(result.inventory)
        errors = [str(e) for e in result.errors]
    else:
        objects, errors = [], []
    authz = Authorizer.from_objects(objects, bootstrap=not args.no_bootstrap)
    # The policy lives until exit: spare it from the cyclic GC's full collections.
    gc.freeze()
    return _Inputs(authz, ResourceCatalog.from_objects(objects), errors)


def _load_request(args: argparse.Namespace) -> tuple[_Inputs, BuiltRequest]:
    """Check ``-n``/``-A``, load the inputs and build the request of can-i and who-can."""
    from stockade.engines.rbac.requests import build_request
    from stockade.errors import EngineError, UsageError

    if args.namespace == "":
        # As kubectl: an empty -n means the current (default) namespace, not all namespaces (-A).
        args.namespace = None
    if args.namespace is not None and args.all_namespaces:
        raise UsageError("give -n NAMESPACE or -A, not both")
    inputs = _load(args)
    try:
        built = build_request(
            inputs.catalog,
            args.verb,
            args.target,
            args.name,
            namespace=args.namespace,
            all_namespaces=args.all_namespaces,
            api_group=args.api_group,
            subresource=args.subresource,
        )
    except EngineError as e:
        raise UsageError(str(e)) from None
    return inputs, built


def _finish(code: int, inputs: _Inputs) -> int:
    return inputs.report_errors() or code


def _warn(messages: Any) -> None:
    for m in messages:
        print(f"Warning: {m}", file=sys.stderr)


def _user_dict(user: UserInfo) -> dict[str, Any]:
    return {"name": user.name, "groups": list(user.groups)}


def _attrs_dict(a: Any) -> dict[str, Any]:
    if not a.is_resource_request:
        return {"verb": a.verb, "nonResourceURL": a.non_resource_url}
    return {
        "verb": a.verb,
        "apiGroup": a.api_group,
        "resource": a.resource,
        "subresource": a.subresource,
        "name": a.name,
        "namespace": a.namespace,
    }


# ---------------------------------------------------------------------------------- can-i


def run_can_i(args: argparse.Namespace) -> int:
    """``stockade rbac can-i``."""
    from stockade.engines.rbac.requests import DEFAULT_NAMESPACE
    from stockade.errors import UsageError

    user = _identity(args)
    assert user is not None
    if args.list:
        if args.verb or args.target:
            raise UsageError("--list takes no VERB or RESOURCE")
        if args.quiet or args.all_namespaces or args.subresource:
            raise UsageError("--list cannot be combined with --quiet, --all-namespaces or --subresource")
        inputs = _load(args)
        return _finish(_print_list(inputs, user, args.namespace or DEFAULT_NAMESPACE, args), inputs)
    if not args.verb or not args.target:
        raise UsageError("give VERB and RESOURCE (or a /non/resource/url), or --list")
    if args.no_headers:
        raise UsageError("--no-headers needs --list")
    if args.quiet and args.output == "json":
        raise UsageError("--quiet prints nothing; it cannot be combined with -o json")
    inputs, built = _load_request(args)
    if not args.quiet:
        _warn(built.warnings)
    decision = inputs.authorizer.authorize(user, built.attributes)
    if args.output == "json":
        doc = {
            "allowed": decision.allowed,
            "reason": decision.reason,
            "user": _user_dict(user),
            "request": _attrs_dict(built.attributes),
            "grants": [g.to_dict() for g in decision.matched],
            "evaluationErrors": list(decision.errors),
        }
        print(json.dumps(doc, indent=2))
    elif not args.quiet:
        print("yes" if decision.allowed else "no")
    return _finish(0 if decision.allowed else 1, inputs)


def _print_list(inputs: _Inputs, user: UserInfo, namespace: str, args: argparse.Namespace) -> int:
    from stockade.engines.rbac import PolicyRule, breakdown

    rs = inputs.authorizer.rules_for(user, namespace)
    if args.output == "json":
        doc = {
            "user": _user_dict(user),
            "namespace": namespace,
            "grants": [g.to_dict() for g in rs.grants],
            "evaluationErrors": list(rs.errors),
        }
        print(json.dumps(doc, indent=2))
        return 0
    # As kubectl: resource rules first, then non-resource ones; break each into atoms; merge the
    # verbs of atoms naming the same group, resource and name (duplicates kept, as kubectl appends);
    # keep every URL atom as its own row; sort by the Go string form of the rule (verbs first).
    ordered_rules = [
        PolicyRule(g.rule.verbs, g.rule.api_groups, g.rule.resources, g.rule.resource_names)
        for g in rs.grants
        if g.rule.resources
    ] + [
        PolicyRule(verbs=g.rule.verbs, non_resource_urls=g.rule.non_resource_urls)
        for g in rs.grants
        if g.rule.non_resource_urls
    ]
    simple: dict[tuple[str, str, str], list[str]] = {}
    url_rows: list[PolicyRule] = []
    for rule in ordered_rules:
        for t in breakdown(rule):
            if t.non_resource_urls:
                url_rows.append(t)
            else:
                simple.setdefault((t.api_groups[0], t.resources[0], "".join(t.resource_names)), []).extend(t.verbs)
    compact = url_rows + [
        PolicyRule(verbs=tuple(v), api_groups=(g,), resources=(r,), resource_names=(n,) if n else ())
        for (g, r, n), v in simple.items()
    ]
    compact.sort(key=_go_rule_string)
    table = [
        (
            _combine_resource_group(r),
            _go_list(r.non_resource_urls),
            _go_list(r.resource_names),
            _go_list(r.verbs),
        )
        for r in compact
    ]
    header = ("Resources", "Non-Resource URLs", "Resource Names", "Verbs")
    all_rows = table if args.no_headers else [header, *table]
    if all_rows:
        # kubectl's tab writer: minimum cell width 6, padding 3; the last column is not padded.
        widths = [max(6, max(len(r[i]) for r in all_rows) + 3) for i in range(3)]
        for r in all_rows:
            print("".join(c.ljust(widths[i]) for i, c in enumerate(r[:3])) + r[3])
    if rs.errors:
        _warn([f"the list may be incomplete: {e}" for e in rs.errors])
    return 0


def _go_list(items: tuple[str, ...]) -> str:
    """Go's ``%v`` of a string slice."""
    return f"[{' '.join(items)}]"


def _go_rule_string(rule: PolicyRule) -> str:
    """The Go ``String()`` of a PolicyRule, which kubectl sorts ``--list`` rows by."""
    return (
        f"&PolicyRule{{Verbs:{_go_list(rule.verbs)},APIGroups:{_go_list(rule.api_groups)},"
        f"Resources:{_go_list(rule.resources)},ResourceNames:{_go_list(rule.resource_names)},"
        f"NonResourceURLs:{_go_list(rule.non_resource_urls)},}}"
    )


def _combine_resource_group(rule: PolicyRule) -> str:
    """kubectl's Resources cell: ``resource[.group][/subresource]`` (``deployments.apps/scale``)."""
    if not rule.resources:
        return ""
    resource, slash, sub = rule.resources[0].partition("/")
    group = rule.api_groups[0] if rule.api_groups else ""
    return resource + (f".{group}" if group else "") + (f"/{sub}" if slash else "")


# ---------------------------------------------------------------------------------- who-can


def run_who_can(args: argparse.Namespace) -> int:
    """``stockade rbac who-can``."""
    from dataclasses import replace

    inputs, built = _load_request(args)
    _warn(built.warnings)
    authz = inputs.authorizer
    attrs = built.attributes
    found = authz.who_can(attrs)
    if (
        args.all_namespaces
        and attrs.is_resource_request
        and inputs.catalog.is_namespaced(attrs.resource, attrs.api_group)
    ):
        # "Anywhere": also RoleBindings of every namespace, each for a request in its namespace
        # (never for a cluster-scoped resource, which no RoleBinding grants).
        for ns in sorted({b.namespace for b in authz.bindings if b.kind == "RoleBinding"}):
            found += [
                sg for sg in authz.who_can(replace(attrs, namespace=ns)) if sg.grant.binding.kind == "RoleBinding"
            ]
    rows = []
    for sg in found:
        b, r = sg.grant.binding, sg.grant.role
        rows.append(
            {
                "subject": {
                    "kind": sg.subject.kind,
                    "name": sg.subject.name,
                    "namespace": sg.subject_namespace,
                },
                "binding": {"kind": b.kind, "name": b.name, "namespace": b.namespace},
                "role": {"kind": r.kind, "name": r.name, "namespace": r.namespace},
                "ruleIndex": sg.grant.rule_index,
                "rule": sg.grant.rule.to_dict(),
                "bootstrap": b.bootstrap,
            }
        )
    if args.output == "json":
        print(json.dumps({"request": _attrs_dict(attrs), "subjects": rows}, indent=2))
        return _finish(0, inputs)
    table = [("SUBJECT", "BINDING", "ROLE")]
    for sg in found:
        b, r = sg.grant.binding, sg.grant.role
        table.append((sg.subject.display(b.namespace), str(b), str(r)))
    widths = [max(len(t[i]) for t in table) for i in range(2)]
    for t in table:
        print(f"{t[0].ljust(widths[0])}   {t[1].ljust(widths[1])}   {t[2]}")
    return _finish(0, inputs)


# ---------------------------------------------------------------------------------- escalation


def _rbac_objects(path: str, what: str) -> list[Any]:
    from stockade.engines.rbac.model import RBAC_KINDS
    from stockade.errors import InputError
    from stockade.loading import load_paths

    result = load_paths([path], render_kustomize=False)
    if result.errors:
        raise InputError(path, "; ".join(e.message for e in result.errors))
    objs = [o.body for o in result.inventory if o.kind in RBAC_KINDS]
    if not objs:
        raise InputError(path, f"no Role, ClusterRole, RoleBinding or ClusterRoleBinding in the {what}")
    return objs


def run_escalation_check(args: argparse.Namespace) -> int:
    """``stockade rbac escalation-check``."""
    from stockade.engines.rbac import check_escalation
    from stockade.errors import EngineError, UsageError

    user = _identity(args)
    assert user is not None
    objects = _rbac_objects(args.object, "object file")
    olds = _rbac_objects(args.old, "--old file") if args.old else []
    if olds and args.verb != "update":
        raise UsageError("--old is only meaningful with --verb update")
    inputs = _load(args)
    results = []
    for obj in objects:
        md = obj.get("metadata") or {}
        old = next(
            (
                o
                for o in olds
                if o.get("kind") == obj.get("kind")
                and (o.get("metadata") or {}).get("name") == md.get("name")
                and (o.get("metadata") or {}).get("namespace") == md.get("namespace")
            ),
            None,
        )
        try:
            results.append(check_escalation(inputs.authorizer, user, obj, args.verb, old))
        except EngineError as e:
            raise UsageError(f"{args.object}: {e}") from None
    if args.output == "json":
        doc = {"user": _user_dict(user), "verb": args.verb, "results": [r.to_dict() for r in results]}
        print(json.dumps(doc, indent=2))
    else:
        for r in results:
            print(f"{'allowed' if r.allowed else 'denied'} ({r.reason}): {r.message}")
    return _finish(0 if all(r.allowed for r in results) else 1, inputs)


# ---------------------------------------------------------------------------------- graph


def run_graph(args: argparse.Namespace) -> int:
    """``stockade rbac graph``."""
    from stockade.engines.rbac.graph import build_graph, to_dot

    inputs = _load(args)
    graph = build_graph(inputs.authorizer, include_bootstrap=args.include_bootstrap)
    if args.output == "json":
        print(json.dumps(graph, indent=2))
    else:
        sys.stdout.write(to_dot(graph))
    return _finish(0, inputs)


# ---------------------------------------------------------------------------------- suggest


def run_suggest(args: argparse.Namespace) -> int:
    """``stockade rbac suggest``."""
    from pathlib import Path

    import yaml

    from stockade.engines.rbac.requests import parse_needs, requests_from_audit
    from stockade.engines.rbac.suggest import binding_manifests, compare, suggest_roles
    from stockade.errors import EngineError, InputError

    user = _identity(args)
    inputs = _load(args)
    try:
        if args.needs:
            try:
                data = yaml.safe_load(Path(args.needs).read_text(encoding="utf-8"))
            except OSError as e:
                raise InputError(args.needs, f"cannot read: {e.strerror}") from None
            except UnicodeDecodeError:
                raise InputError(args.needs, "not valid UTF-8 text") from None
            except yaml.MarkedYAMLError as e:
                line = e.problem_mark.line + 1 if e.problem_mark is not None else None
                raise InputError(args.needs, f"invalid YAML: {e.problem or e.context}", line=line) from None
            except yaml.YAMLError as e:
                raise InputError(args.needs, f"invalid YAML: {' '.join(str(e).split())}") from None
            needed = parse_needs(data, inputs.catalog, source=args.needs)
        else:
            try:
                with open(args.audit_log, encoding="utf-8") as fh:
                    needed = requests_from_audit(fh, user.name if user else None, source=args.audit_log)
            except OSError as e:
                raise InputError(args.audit_log, f"cannot read: {e.strerror}") from None
            except UnicodeDecodeError:
                raise InputError(args.audit_log, "not valid UTF-8 text") from None
        if not needed:
            raise InputError(args.needs or args.audit_log, "no requests to derive roles from")
        roles = suggest_roles(needed, args.name)
    except EngineError as e:
        source = args.needs or args.audit_log
        if str(e).startswith(f"{source}:"):
            raise  # the message already names the file (and line)
        raise InputError(source, str(e)) from None
    docs: list[dict[str, Any]] = [r.manifest() for r in roles]
    comments: list[str] = [f"narrowest roles for {len(needed)} request(s)"]
    comparison = None
    if user is not None:
        sa = user.service_account
        subject = (
            {"kind": "ServiceAccount", "name": sa[1], "namespace": sa[0]}
            if sa
            else {"kind": "User", "name": user.name, "apiGroup": "rbac.authorization.k8s.io"}
        )
        docs += binding_manifests(roles, subject)
        comparison = compare(inputs.authorizer, user, needed)
        for g in comparison.unused:
            comments.append(f"unused today: {g.binding} -> {g.role} rules[{g.rule_index}]: {g.rule}")
        for a in comparison.missing:
            comments.append(f"not allowed today: {a}")
    if args.output == "json":
        out: dict[str, Any] = {"requests": [_attrs_dict(a) for a in needed], "manifests": docs}
        if comparison is not None:
            out["unused"] = [g.to_dict() for g in comparison.unused]
            out["missing"] = [_attrs_dict(a) for a in comparison.missing]
        print(json.dumps(out, indent=2))
    else:
        for c in comments:
            print(f"# {c}")
        print(yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True), end="")
    return _finish(0, inputs)

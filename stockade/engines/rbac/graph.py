"""The permission graph: subjects -> bindings -> roles -> what the roles reach.

By default only the bindings of the inputs are drawn (the bootstrap policy is context), with the
roles they reference, bootstrap or not. Rules are summarised per role after aggregation.
"""

from __future__ import annotations

from typing import Any

from stockade.engines.rbac.authorizer import Authorizer
from stockade.engines.rbac.model import Binding, Role, Subject


def _subject_id(s: Subject, binding_ns: str) -> str:
    if s.kind == "ServiceAccount":
        return f"ServiceAccount:{s.effective_namespace(binding_ns)}/{s.name}"
    return f"{s.kind}:{s.name}"


def _binding_id(b: Binding) -> str:
    return f"{b.kind}:{b.namespace + '/' if b.namespace else ''}{b.name}"


def _role_id(kind: str, name: str, ns: str) -> str:
    return f"{kind}:{ns + '/' if ns else ''}{name}"


def build_graph(authorizer: Authorizer, include_bootstrap: bool = False) -> dict[str, Any]:
    """Nodes and edges as plain data (JSON-ready)."""
    subjects: dict[str, dict[str, Any]] = {}
    bindings: list[dict[str, Any]] = []
    roles: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, str]] = []

    def add_role(role: Role | None, b: Binding) -> str:
        key = b.role_key
        rid = _role_id(key.kind or b.role_ref.kind, key.name, key.namespace)
        if rid not in roles:
            roles[rid] = {
                "id": rid,
                "kind": b.role_ref.kind,
                "name": b.role_ref.name,
                "namespace": key.namespace,
                "exists": role is not None,
                "bootstrap": bool(role and role.bootstrap),
                "aggregated": bool(role and role.aggregation is not None),
                "rules": [r.to_dict() for r in role.rules] if role else [],
            }
        return rid

    for b in authorizer.bindings:
        if b.bootstrap and not include_bootstrap:
            continue
        role = authorizer.resolve(b)
        bid = _binding_id(b)
        rid = add_role(role, b)
        scope = f"namespace {b.namespace}" if b.namespace else "cluster-wide"
        bindings.append({"id": bid, "kind": b.kind, "name": b.name, "namespace": b.namespace, "scope": scope})
        edges.append({"from": bid, "to": rid, "type": "grants"})
        for s in b.subjects:
            sid = _subject_id(s, b.namespace)
            subjects.setdefault(
                sid,
                {"id": sid, "kind": s.kind, "name": s.name, "namespace": s.effective_namespace(b.namespace)},
            )
            edges.append({"from": sid, "to": bid, "type": "bound-by"})
    return {
        "subjects": sorted(subjects.values(), key=lambda n: n["id"]),
        "bindings": bindings,
        "roles": sorted(roles.values(), key=lambda n: n["id"]),
        "edges": edges,
    }


def _q(text: str) -> str:
    # Line breaks as DOT's centred-line escape: a raw newline inside a quoted ID is not portable.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: dict[str, Any]) -> str:
    """Graphviz DOT text of :func:`build_graph`'s result."""
    lines = ["digraph rbac {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for s in graph["subjects"]:
        lines.append(f"  {_q(s['id'])} [shape=ellipse, label={_q(s['id'])}];")
    for b in graph["bindings"]:
        lines.append(f"  {_q(b['id'])} [shape=box, label={_q(b['id'] + chr(10) + b['scope'])}];")
    for r in graph["roles"]:
        summary = [
            " ".join(
                filter(
                    None,
                    [
                        ",".join(rule.get("verbs", [])),
                        ",".join(rule.get("resources", []) or rule.get("nonResourceURLs", [])),
                    ],
                )
            )
            for rule in r["rules"][:8]
        ]
        if len(r["rules"]) > 8:
            summary.append(f"... {len(r['rules']) - 8} more rules")
        if not r["exists"]:
            summary = ["(missing)"]
        style = ", style=dashed" if not r["exists"] else ""
        label = "\n".join([r["id"], *summary])
        lines.append(f"  {_q(r['id'])} [shape=component{style}, label={_q(label)}];")
    for e in graph["edges"]:
        lines.append(f"  {_q(e['from'])} -> {_q(e['to'])} [label={_q(e['type'])}];")
    lines.append("}")
    return "\n".join(lines) + "\n"

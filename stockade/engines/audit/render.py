"""Text table and self-contained HTML renderings of an audit analysis result."""

from __future__ import annotations

import html
from typing import Any


def _section(lines: list[str], title: str, rows: list[str], empty: str = "none") -> None:
    lines.append(f"== {title}")
    lines.extend(rows or [f"   ({empty})"])
    lines.append("")


def render_table(r: dict[str, Any]) -> str:
    """A plain-text report, one section per question."""
    lines = [
        f"events: {r['events']:,}  requests analysed: {r['analysedRequests']:,}  "
        f"window: {r['window']['first'] or '-'} .. {r['window']['last'] or '-'}",
        "",
    ]
    rows = []
    for e in r["secretReads"]:
        total = sum(e["secrets"].values())
        names = ", ".join(list(e["secrets"])[:8]) + (" ..." if len(e["secrets"]) > 8 or e["more"] else "")
        rows.append(f"   {e['user']}: {total} reads: {names}")
    _section(lines, "who read secrets", rows)
    rows = []
    for p in r["podAccess"]:
        who = ", ".join(f"{b['user']} {b['subresource']} x{b['count']}" for b in p["by"][:6])
        denied = f" (denied {p['denied']})" if p["denied"] else ""
        rows.append(f"   [{p['kind']}] {p['namespace']}/{p['workload']}: {who}{denied}")
    _section(lines, "exec / attach / port-forward by target workload", rows)
    for key, title in (
        ("rbacChanges", "RBAC changes"),
        ("webhookChanges", "admission webhook / policy changes"),
    ):
        rows = [
            f"   {c['time']} {c['user']} {c['verb']} {c['resource']} "
            f"{c['namespace'] + '/' if c['namespace'] else ''}"
            f"{c['name']} -> {c['code']}"
            for c in r[key][:200]
        ]
        _section(lines, title, rows)
    rows = [f"   {f['code']} {f['user']}: {f['count']}" for f in r["failedRequests"][:20]]
    rows += [f"   burst: {b['who']} from {b['start']}: {b['count']} x {b['code']}" for b in r["failureBursts"][:50]]
    rows += [f"   anonymous {a['path']}: {a['count']}" for a in r["anonymousRequests"][:10]]
    _section(lines, "failed (401/403) and anonymous requests", rows)
    rows = [
        f"   {u['serviceAccount']}: new {u['what']} {u['value']} at {u['time']} (after {u['after']} requests)"
        for u in r["unusualServiceAccountUse"][:100]
    ]
    _section(lines, "service account tokens from unusual source IPs / user agents", rows)
    rows = [f"   {c['user']} -> {c['namespace']}: {c['count']}" for c in r["crossNamespaceAccess"][:200]]
    _section(lines, "access across team namespaces", rows)
    if "anomalies" in r:
        rows = [
            f"   {a['score']:.2f} {a['identity']}: {a['reason']} "
            f"(x{a['count']}, first {a['first']}, e.g. {a['example']})"
            for a in r["anomalies"][:100]
        ]
        _section(lines, "anomalies (score, identity, reason)", rows)
    if r.get("truncated"):
        lines.append(f"bounded tables cut off: {r['truncated']}")
    return "\n".join(lines) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left}h2{margin-top:1.6em}
.bar{display:inline-block;background:#3b7dd8;height:10px;vertical-align:middle}.act td{padding:0;border:none}
.cell{width:6px;height:14px}"""


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _activity(act: dict[str, dict[str, int]], limit: int = 60) -> str:
    """Per-identity activity over time: one row per identity, one shaded cell per hour."""
    hours = sorted({h for c in act.values() for h in c})
    if not hours:
        return "<p>none</p>"
    top = sorted(act.items(), key=lambda kv: -sum(kv[1].values()))[:limit]
    peak = max((n for _, c in top for n in c.values()), default=1)
    head = f"<p>{html.escape(hours[0])}:00 .. {html.escape(hours[-1])}:00 UTC, one column per hour</p>"
    rows = []
    for ident, counts in top:
        cells = "".join(
            f'<td class="cell" title="{html.escape(h)}: {counts.get(h, 0)}" '
            f'style="background:rgba(59,125,216,{counts.get(h, 0) / peak:.2f})"></td>'
            for h in hours[-24 * 14 :]
        )
        rows.append(f"<tr><th>{html.escape(ident)} ({sum(counts.values()):,})</th>{cells}</tr>")
    return head + '<table class="act">' + "".join(rows) + "</table>"


def render_html(r: dict[str, Any]) -> str:
    """A self-contained HTML report (no scripts, no external resources)."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Stockade audit analysis</title>"
        f"<style>{_CSS}</style>"
        "</head><body><h1>Stockade audit analysis</h1>",
        f"<p>{r['events']:,} events, {r['analysedRequests']:,} requests analysed, "
        f"{html.escape(r['window']['first'] or '-')} .. {html.escape(r['window']['last'] or '-')}</p>",
        "<h2>Activity over time per identity</h2>",
        _activity(r["activity"]),
        "<h2>Who read secrets</h2>",
        _table(
            ["user", "reads", "secrets"],
            [[e["user"], sum(e["secrets"].values()), ", ".join(e["secrets"])] for e in r["secretReads"]],
        ),
        "<h2>exec / attach / port-forward by target workload</h2>",
        _table(
            ["kind", "namespace", "workload", "who", "denied", "first", "last"],
            [
                [
                    p["kind"],
                    p["namespace"],
                    p["workload"],
                    ", ".join(f"{b['user']} {b['subresource']} x{b['count']}" for b in p["by"]),
                    p["denied"],
                    p["first"],
                    p["last"],
                ]
                for p in r["podAccess"]
            ],
        ),
    ]
    for key, title in (
        ("rbacChanges", "RBAC changes"),
        ("webhookChanges", "Admission webhook / policy changes"),
    ):
        parts.append(f"<h2>{title}</h2>")
        parts.append(
            _table(
                ["time", "user", "verb", "resource", "namespace", "name", "code"],
                [
                    [c["time"], c["user"], c["verb"], c["resource"], c["namespace"], c["name"], c["code"]]
                    for c in r[key]
                ],
            )
        )
    parts.append("<h2>Failed and anonymous requests</h2>")
    parts.append(_table(["code", "user", "count"], [[f["code"], f["user"], f["count"]] for f in r["failedRequests"]]))
    parts.append(
        _table(
            ["burst of", "start", "count", "code"],
            [[b["who"], b["start"], b["count"], b["code"]] for b in r["failureBursts"]],
        )
    )
    parts.append(_table(["anonymous path", "count"], [[a["path"], a["count"]] for a in r["anonymousRequests"]]))
    parts.append("<h2>Service account tokens from unusual source IPs / user agents</h2>")
    parts.append(
        _table(
            ["service account", "what", "value", "time", "after"],
            [
                [u["serviceAccount"], u["what"], u["value"], u["time"], u["after"]]
                for u in r["unusualServiceAccountUse"]
            ],
        )
    )
    parts.append("<h2>Access across team namespaces</h2>")
    parts.append(
        _table(
            ["user", "namespace", "count"],
            [[c["user"], c["namespace"], c["count"]] for c in r["crossNamespaceAccess"]],
        )
    )
    if "anomalies" in r:
        parts.append("<h2>Anomalies</h2>")
        parts.append(
            _table(
                ["score", "identity", "reason", "count", "first", "example"],
                [
                    [a["score"], a["identity"], a["reason"], a["count"], a["first"], a["example"]]
                    for a in r["anomalies"]
                ],
            )
        )
    parts.append("</body></html>\n")
    return "".join(parts)

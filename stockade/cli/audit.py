"""``stockade audit``: audit policy evaluation, audit log analysis and least privilege from logs.

Sub-commands::

    stockade audit level --policy POLICY.yaml --user U --verb get --resource secrets -n ns
    stockade audit level --policy POLICY.yaml LOG...          # one answer per event
    stockade audit level --policy POLICY.yaml --compare NEW.yaml LOG...   # size a policy change
    stockade audit analyze LOG... [-o table|json|html] [--follow] [--train-until TIME]
    stockade audit rbac --user U | --serviceaccount NS:NAME LOG...
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import IO, Any

from stockade.errors import InputError, UsageError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "audit", help="audit policy evaluation, audit log analysis, least privilege from logs"
    )
    p.set_defaults(func=_no_sub(p))
    asub = p.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", parser_class=type(p))

    lv = asub.add_parser("level", help="what an audit policy records for a request or for each logged event")
    lv.add_argument("--policy", required=True, metavar="POLICY.yaml", help="the audit Policy in force")
    lv.add_argument("--compare", metavar="NEW.yaml", help="a new policy to size against --policy over LOG")
    lv.add_argument(
        "logs", nargs="*", metavar="LOG", help="audit log(s): one JSON Event per line (gzip ok, - for stdin)"
    )
    lv.add_argument("--user", help="user name of the request (omit for a request without user info)")
    lv.add_argument("--group", action="append", default=[], help="a group of the user (repeatable)")
    lv.add_argument("--verb", default="get")
    lv.add_argument("--api-group", default="", help='API group ("" = core)')
    lv.add_argument("--resource", default="")
    lv.add_argument("--subresource", default="")
    lv.add_argument("--name", default="")
    lv.add_argument("-n", "--namespace", default="", help='namespace ("" = cluster-scoped / all namespaces)')
    lv.add_argument("--path", help="request path of a non-resource request (e.g. /healthz)")
    lv.add_argument(
        "--pre-1.36",
        dest="pre136",
        action="store_true",
        help='validate as API servers before 1.36 do (group "*" is rejected)',
    )
    lv.add_argument("-o", "--output", choices=("table", "json"), default="table")
    lv.set_defaults(func=run_level)

    an = asub.add_parser("analyze", help="analyse audit logs: secrets, exec, RBAC/webhook changes, failures, anomalies")
    an.add_argument("logs", nargs="+", metavar="LOG", help="audit log(s): JSON lines, gzip ok, - for stdin")
    an.add_argument("-o", "--output", choices=("table", "json", "html"), default="table")
    an.add_argument("--out", metavar="FILE", help="write the report to FILE instead of stdout")
    an.add_argument("--follow", action="store_true", help="keep reading the last log as it grows; print alerts live")
    an.add_argument(
        "--train-until",
        metavar="TIME",
        help="learn baselines from events before TIME (RFC 3339), score the rest",
    )
    an.add_argument(
        "--baseline", metavar="LOG", action="append", default=[], help="learn baselines from this log instead"
    )
    an.add_argument("--teams", metavar="FILE", help="YAML mapping of team group -> namespaces it owns")
    an.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="configuration file whose 'audit' section sets teams (default: ./stockade.yaml)",
    )
    an.add_argument(
        "--burst-threshold",
        type=int,
        default=20,
        help="401/403 from one identity/IP per minute that make a burst",
    )
    an.add_argument("--min-score", type=float, default=0.3, help="lowest anomaly score reported")
    prog = an.add_mutually_exclusive_group()
    prog.add_argument(
        "--progress", action="store_true", default=None, help="progress on stderr (default: when a terminal)"
    )
    prog.add_argument("--no-progress", dest="progress", action="store_false")
    an.set_defaults(func=run_analyze)

    rb = asub.add_parser("rbac", help="narrowest Role/ClusterRole and bindings for what an identity did")
    who = rb.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="user name")
    who.add_argument("--serviceaccount", metavar="NS:NAME", help="service account")
    rb.add_argument("logs", nargs="+", metavar="LOG")
    rb.add_argument("--name", default="", help="name of the generated roles/bindings (default audit2rbac:<name>)")
    rb.add_argument("--allowed-only", action="store_true", help="learn only from requests that were allowed")
    rb.add_argument(
        "--generalise",
        action="store_true",
        help="broaden like audit2rbac: several namespaces -> cluster-wide, several names -> any name, "
        "related verbs added (list -> get, watch; ...)",
    )
    rb.set_defaults(func=run_rbac)


def _no_sub(p: argparse.ArgumentParser) -> Any:
    def run(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return 2

    return run


# ------------------------------------------------------------------ level


def run_level(args: argparse.Namespace) -> int:
    """``stockade audit level``."""
    from stockade.engines.audit.events import ReadStats, iter_event_dicts, parse_event
    from stockade.engines.audit.policy import AuditRequest, load_policy

    wildcard = not args.pre136
    policy = load_policy(args.policy, wildcard_group=wildcard)
    if not args.logs:
        if args.compare:
            raise UsageError("--compare needs audit LOG files to size the change on")
        if args.path is not None and (args.resource or args.namespace or args.name):
            raise UsageError(
                "--path is for non-resource requests; do not combine it with --resource/--name/--namespace"
            )
        if args.path is None and not args.resource:
            raise UsageError("give --resource (resource request) or --path (non-resource request)")
        # Groups imply user information even without a name (the user object exists).
        user = args.user if args.user is not None else ("" if args.group else None)
        req = AuditRequest(
            user=user,
            groups=tuple(args.group),
            verb=args.verb,
            resource_request=args.path is None,
            api_group=args.api_group,
            resource=args.resource,
            subresource=args.subresource,
            name=args.name,
            namespace=args.namespace,
            path=args.path or "",
        )
        cfg = policy.evaluate(req)
        out = cfg.to_json()
        if args.output == "json":
            print(json.dumps(out))
        else:
            rule = f"rules[{cfg.rule_index}]" if cfg.rule_index is not None else "no rule matched"
            stages = ",".join(out["omitStages"]) or "-"
            print(
                f"level={out['level']} omitStages={stages} "
                f"omitManagedFields={str(out['omitManagedFields']).lower()} ({rule})"
            )
        return 0

    new = load_policy(args.compare, wildcard_group=wildcard) if args.compare else None
    stats = ReadStats()
    from stockade.engines.audit.sizing import Comparison

    cmp = Comparison()
    write = sys.stdout.write
    if new is None and args.output != "json":
        write(f"{'AUDIT-ID':12} {'STAGE':16} {'VERB':8} {'TARGET':60} {'LEVEL':15} RECORDED\n")
    for d, size in iter_event_dicts(args.logs, stats):
        ev = parse_event(d, size)
        req = ev.to_request()
        cur = policy.evaluate(req)
        if new is not None:
            # Sizing mode: only the summary is printed.
            cmp.add(d, size, cur, new.evaluate(req))
            continue
        row = {
            "auditID": ev.audit_id,
            "stage": ev.stage,
            "user": ev.user,
            "verb": ev.verb,
            "resource": ev.combined_resource,
            "namespace": ev.namespace,
            "name": ev.name,
            "path": "" if ev.resource_request else req.path,
            "loggedLevel": ev.level,
            **cfg_json(cur),
        }
        if args.output == "json":
            write(json.dumps(row) + "\n")
        else:
            target = f"{ev.combined_resource} {ev.namespace}/{ev.name}" if ev.resource_request else req.path
            if cur.level.label == "None":
                recorded = "no"
            else:
                recorded = "no (stage omitted)" if ev.stage in cur.omit_stages else "yes"
            write(
                f"{ev.audit_id[:12]:12} {ev.stage[:16]:16} {ev.verb:8} {target[:60]:60} "
                f"{cur.level.label:15} {recorded}\n"
            )
    if new is not None:
        summary = cmp.to_json()
        if args.output == "json":
            print(json.dumps(summary, indent=2))
        else:
            _print_comparison(summary)
    _report_bad(stats)
    return 2 if stats.bad_lines else 0


def cfg_json(cfg: Any) -> dict[str, Any]:
    """An AuditConfig as JSON plus the matched rule index."""
    out: dict[str, Any] = cfg.to_json()
    out["rule"] = cfg.rule_index
    return out


def _counts(d: dict[str, int]) -> str:
    """``{"Metadata": 3, "None": 1}`` as ``Metadata=3 None=1`` (no Python repr in text output)."""
    return " ".join(f"{k}={v:,}" for k, v in d.items()) or "-"


def _print_comparison(s: dict[str, Any]) -> None:
    cur, new = s["current"], s["new"]
    print(f"logged:   {s['logged']['events']:>12,} events {s['logged']['bytes']:>16,} bytes")
    print(f"current:  {cur['events']:>12,} events {cur['bytes']:>16,} bytes  {_counts(cur['byLevel'])}")
    print(f"new:      {new['events']:>12,} events {new['bytes']:>16,} bytes  {_counts(new['byLevel'])}")
    de, db = s["delta"]["events"], s["delta"]["bytes"]
    pct = f" ({100.0 * db / cur['bytes']:+.1f}%)" if cur["bytes"] else ""
    print(f"delta:    {de:>+12,} events {db:>+16,} bytes{pct}")
    print(f"changed events: {s['changedEvents']:,}; stages in log: {_counts(s['stagesSeen'])}")
    if new["unsizedBodies"] or cur["unsizedBodies"]:
        print(
            f"note: {new['unsizedBodies']:,} events (new) / {cur['unsizedBodies']:,} (current) "
            "would record bodies "
            "the log does not hold; their bytes are a lower bound"
        )


def _report_bad(stats: Any) -> None:
    for msg in stats.first_errors or ():
        print(f"stockade: error: {msg}", file=sys.stderr)
    if stats.bad_lines > len(stats.first_errors or ()):
        print(f"stockade: error: {stats.bad_lines} lines were not audit events", file=sys.stderr)


# ------------------------------------------------------------------ analyze


class _Progress:
    """Events/s on stderr every two seconds during long runs."""

    def __init__(self, enabled: bool, stats: Any) -> None:
        self.enabled = enabled
        self.stats = stats
        self.start = time.monotonic()
        self.next = self.start + 2.0

    def tick(self) -> None:
        now = time.monotonic()
        if self.enabled and now >= self.next:
            self.next = now + 2.0
            rate = self.stats.events / max(now - self.start, 1e-9)
            mb = self.stats.bytes / 1e6
            sys.stderr.write(f"\r{self.stats.events:,} events, {mb:,.0f} MB read, {rate:,.0f} events/s ")
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and time.monotonic() - self.start >= 2.0:
            self.next = 0
            self.tick()
            sys.stderr.write("\n")


def _load_teams(path: str) -> dict[str, frozenset[str]]:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as e:
        raise InputError(path, f"cannot read teams file: {e.strerror}") from e
    except UnicodeDecodeError:
        raise InputError(path, "cannot read teams file: not UTF-8 text") from None
    except yaml.YAMLError as e:
        raise InputError(path, f"invalid YAML: {e}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(n, str) for n in v) for k, v in data.items()
    ):
        raise InputError(path, "teams file must map each team group to a list of namespaces")
    return {k: frozenset(v) for k, v in data.items()}


def _config_teams(path: str | None) -> dict[str, frozenset[str]]:
    """``audit.teams`` of the configuration file (``{team-group: [namespace, ...]}``), if any."""
    from stockade.cli.scan import load_config
    from stockade.errors import ConfigError

    config = load_config(path)
    teams = config.section("audit").get("teams")
    if teams is None:
        return {}
    if not isinstance(teams, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(n, str) for n in v) for k, v in teams.items()
    ):
        raise ConfigError(
            f"{config.source or 'configuration'}: audit.teams must map each team group to a list of namespaces"
        )
    return {k: frozenset(v) for k, v in teams.items()}


def _live_alert(ev: Any) -> str | None:
    from stockade.engines.audit.analyze import ADMISSION_RESOURCES, POD_ACCESS, RBAC_RESOURCES, WRITE_VERBS

    if not ev.resource_request:
        return None
    what = None
    if ev.resource == "secrets" and ev.verb in ("get", "list", "watch"):
        what = "secret read"
    elif ev.resource == "pods" and ev.subresource in POD_ACCESS:
        what = f"pod {ev.subresource}"
    elif ev.verb in WRITE_VERBS and ev.resource in RBAC_RESOURCES:
        what = "RBAC change"
    elif ev.verb in WRITE_VERBS and ev.resource in ADMISSION_RESOURCES:
        what = "admission change"
    if what is None:
        return None
    target = f"{ev.combined_resource} {ev.namespace}/{ev.name}"
    return f"{ev.timestamp} {what}: {ev.identity} {ev.verb} {target} -> {ev.code}"


def _report_stream(path: str | None) -> IO[str]:
    if not path:
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as e:
        raise UsageError(f"{path}: cannot write the report: {e.strerror}") from None


def run_analyze(args: argparse.Namespace) -> int:
    """``stockade audit analyze``."""
    from stockade.engines.audit.analyze import AnalyzeOptions, Analyzer
    from stockade.engines.audit.anomaly import Baseline
    from stockade.engines.audit.events import ReadStats, iter_events, iter_requests

    if args.follow and "-" in args.logs[:-1]:
        raise UsageError("--follow watches the last log; standard input can only be the last")
    teams = _load_teams(args.teams) if args.teams else _config_teams(args.config)
    # fail before a long run, not after it, when the report cannot be written
    if args.out:
        _report_stream(args.out).close()
    opts = AnalyzeOptions(burst_threshold=args.burst_threshold, team_namespaces=teams)
    analyzer = Analyzer(opts)
    base: Baseline | None = None
    if args.baseline or args.train_until:
        base = Baseline(min_score=args.min_score)
    stats = ReadStats()
    progress = _Progress(sys.stderr.isatty() if args.progress is None else args.progress, stats)
    if base is not None and args.baseline:
        bstats = ReadStats()
        for ev in iter_requests(iter_events(args.baseline, bstats)):
            base.learn(ev)
        _report_bad(bstats)
    until = args.train_until or ""
    # live alerts share stdout with a table report; they must not break a JSON or HTML report
    live = sys.stdout if args.output == "table" and not args.out else sys.stderr
    n = 0
    try:
        for ev in iter_events(args.logs, stats, follow=args.follow):
            if not analyzer.add(ev):
                continue  # a later stage of a request already counted
            if base is not None:
                if until and ev.timestamp and ev.timestamp < until:
                    base.learn(ev)
                else:
                    base.score(ev)
            if args.follow:
                alert = _live_alert(ev)
                if alert:
                    print(alert, file=live, flush=True)
            n += 1
            if not n & 0x3FFF:
                progress.tick()
    except KeyboardInterrupt:
        if not args.follow:
            raise
    progress.done()
    result = analyzer.result()
    if base is not None:
        result["anomalies"] = [a.to_json() for a in base.anomalies()]
        if base.dropped:
            result["truncated"]["anomalies"] = base.dropped
    result["badLines"] = stats.bad_lines
    from stockade.engines.audit.render import render_html, render_table

    out = _report_stream(args.out)
    try:
        if args.output == "json":
            json.dump(result, out, indent=2)
            out.write("\n")
        elif args.output == "html":
            out.write(render_html(result))
        else:
            out.write(render_table(result))
    finally:
        if args.out:
            out.close()
    _report_bad(stats)
    return 2 if stats.bad_lines else 0


# ------------------------------------------------------------------ rbac


def run_rbac(args: argparse.Namespace) -> int:
    """``stockade audit rbac``."""
    import yaml

    from stockade.engines.audit.events import ReadStats, iter_events
    from stockade.engines.audit.rbacgen import generalise, generate, parse_subject, permissions_of

    try:
        subject = parse_subject(args.user, args.serviceaccount)
    except ValueError as e:
        raise UsageError(str(e)) from None
    stats = ReadStats()
    perms = permissions_of(iter_events(args.logs, stats), subject, include_denied=not args.allowed_only)
    _report_bad(stats)
    if not perms:
        print(f"stockade: no requests by {subject.username} in the logs", file=sys.stderr)
        return 1
    docs = generate(generalise(perms) if args.generalise else perms, subject, args.name)
    from stockade.engines.audit.rbacgen import verify

    missing = verify(docs, perms, subject)
    if missing:  # a generator bug, never expected: say so rather than emit roles that do not work
        from stockade.errors import EngineError

        raise EngineError(f"generated roles do not allow {len(missing)} learned request(s), e.g. {missing[0]}")
    sys.stdout.write(
        f"# Generated by stockade audit rbac from {len(perms)} distinct request(s) of {subject.username};\n"
        "# checked with the RBAC engine: every one of them is allowed.\n"
    )
    sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False))
    return 2 if stats.bad_lines else 0

"""``stockade netpol``: NetworkPolicy and admin/baseline policy reachability.

Sub-commands::

    stockade netpol check --from SRC --to DST --port P [--protocol TCP|UDP|SCTP] -f PATH... [-o json]
    stockade netpol matrix -f PATH... [--port P --protocol PR] [-o table|json|csv]
    stockade netpol assert EXPECTATIONS.yaml -f PATH...

SRC/DST are ``namespace/name`` of a pod or workload (``namespace/Kind/name`` to disambiguate),
``node/NAME`` or an IP address. Exit codes: 0 allowed / all passed, 1 denied / some failed,
2 usage or input errors.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import TYPE_CHECKING, Any

from stockade.errors import ConfigError, InputError, UsageError

if TYPE_CHECKING:
    from stockade.engines.netpol import Options, Verdict, World


def register(sub: Any) -> None:
    """Add ``stockade netpol`` and its sub-commands."""
    p: argparse.ArgumentParser = sub.add_parser(
        "netpol", help="NetworkPolicy reachability: check a connection, the full matrix, assert intent"
    )
    p.set_defaults(func=_no_sub(p))
    nsub = p.add_subparsers(dest="netpol_command", metavar="SUBCOMMAND", parser_class=type(p))

    ck = nsub.add_parser("check", help="is one connection allowed, and why")
    ck.add_argument("--from", dest="src", required=True, metavar="SRC", help="ns/name, node/NAME or an IP")
    ck.add_argument("--to", dest="dst", required=True, metavar="DST", help="ns/name, node/NAME or an IP")
    ck.add_argument("--port", type=_port, required=True, help="destination (container) port")
    ck.add_argument("--protocol", type=_protocol, default="TCP", help="TCP (default), UDP or SCTP")
    _inputs(ck)
    ck.add_argument("-o", "--output", choices=("text", "json"), default="text")
    ck.set_defaults(func=run_check)

    mx = nsub.add_parser("matrix", help="the full pod-to-pod truth table for one port")
    _inputs(mx)
    mx.add_argument("--port", type=_port, default=80, help="destination port (default 80)")
    mx.add_argument("--protocol", type=_protocol, default="TCP", help="TCP (default), UDP or SCTP")
    mx.add_argument("-n", "--namespace", action="append", default=[], help="only pods of this namespace (repeatable)")
    mx.add_argument("-o", "--output", choices=("table", "json", "csv"), default="table")
    mx.set_defaults(func=run_matrix)

    asrt = nsub.add_parser("assert", help="check a file of reachability expectations (for CI)")
    asrt.add_argument("expectations", metavar="EXPECTATIONS.yaml", help="list of {from, to, port, protocol, expect}")
    _inputs(asrt)
    asrt.add_argument("-o", "--output", choices=("text", "json"), default="text")
    asrt.set_defaults(func=run_assert)


def _inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-f",
        "--filename",
        dest="paths",
        action="append",
        nargs="+",
        required=True,
        metavar="PATH",
        help="manifests, directories or a cluster dump (- for stdin); repeatable",
    )
    p.add_argument("-c", "--config", metavar="FILE", help="configuration file (default: ./stockade.yaml if present)")
    g = p.add_argument_group(
        "implementation-defined behaviour (defaults follow upstream e2e tests; the netpol section of the "
        "configuration may change them, these flags win)"
    )
    g.add_argument(
        "--no-ipblock-pod-ips",
        dest="ipblock_matches_pod_ips",
        action="store_const",
        const=False,
        help="ipBlock never matches pod IPs (Cilium, np-guard)",
    )
    g.add_argument(
        "--hostnetwork",
        choices=("node-traffic", "pod-like"),
        help="hostNetwork pods are node traffic (default) or treated like other pods",
    )
    g.add_argument(
        "--no-self-exempt",
        dest="self_exempt",
        action="store_const",
        const=False,
        help="evaluate a pod's traffic to its own IP like any other connection",
    )
    g.add_argument(
        "--egress-to-own-node",
        dest="egress_to_own_node",
        action="store_const",
        const=True,
        help="also exempt egress from a pod to its own node",
    )
    g.add_argument(
        "--no-endport",
        dest="endport_supported",
        action="store_const",
        const=False,
        help="CNI without endPort support",
    )


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and 65535")
    return value


def _protocol(text: str) -> str:
    proto = text.upper()
    if proto not in ("TCP", "UDP", "SCTP"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected TCP, UDP or SCTP")
    return proto


def _no_sub(p: argparse.ArgumentParser) -> Any:
    def run(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return 2

    return run


def _options(args: argparse.Namespace) -> Options:
    """Engine switches: the configuration's ``netpol`` section, then the command-line flags."""
    from stockade.cli.scan import load_config
    from stockade.engines.netpol import Options
    from stockade.engines.netpol.model import option_overrides

    try:
        config = load_config(args.config)
    except UnicodeDecodeError:
        # The shared loader does not catch this yet; keep the one-line error promise here.
        raise ConfigError(f"{args.config or 'stockade.yaml'}: not valid UTF-8 text") from None
    settings = option_overrides(config.section("netpol"), config.source or "<config>")
    for key in ("self_exempt", "ipblock_matches_pod_ips", "hostnetwork", "egress_to_own_node", "endport_supported"):
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    return Options(**settings)


def _load(args: argparse.Namespace) -> tuple[World, int]:
    """The world from ``-f`` inputs; returns it and the exit code input errors call for (0 or 2)."""
    from stockade.engines.netpol.inventory import world_from_inventory
    from stockade.loading import load_paths

    paths = [p for group in args.paths for p in group]
    result = load_paths(paths)
    for err in result.errors:
        print(f"stockade: error: {err}", file=sys.stderr)
    world = world_from_inventory(result.inventory, _options(args))
    for skipped in world.skipped:
        obj = world.policy_sources.get(skipped.ref.removeprefix("NetworkPolicy/"))
        where = f"{obj.location}: " if obj is not None else ""
        print(
            f"stockade: warning: {where}{skipped.ref}: {skipped.reason} (rejected by the API server; ignored)",
            file=sys.stderr,
        )
    return world, (2 if result.errors else 0)


# ------------------------------------------------------------------ check


def run_check(args: argparse.Namespace) -> int:
    """``netpol check``: prints allowed/denied; exit 0 when allowed, 1 when denied."""
    from stockade.engines.netpol import Analyzer
    from stockade.errors import EngineError

    world, code = _load(args)
    try:
        verdict = Analyzer(world).check(args.src, args.dst, args.port, args.protocol)
    except EngineError as e:
        raise UsageError(str(e)) from None
    if args.output == "json":
        print(json.dumps(verdict.to_dict(), indent=2))
    else:
        print("allowed" if verdict.allowed else "denied")
    return code or (0 if verdict.allowed else 1)


def describe(verdict: Verdict) -> str:
    """One line saying why: the deciding direction's status and rules."""
    parts = []
    for name, res in (("egress", verdict.egress), ("ingress", verdict.ingress)):
        text = f"{name} {res.status}"
        if res.tier:
            text += f" ({res.tier} tier)"
        if res.by:
            text += " by " + ", ".join(res.by)
        if res.isolated_by:
            text += " (isolated by " + ", ".join(res.isolated_by) + ")"
        parts.append(text)
    if verdict.self_traffic:
        parts.append("traffic to itself")
    return "; ".join(parts)


# ------------------------------------------------------------------ matrix


def run_matrix(args: argparse.Namespace) -> int:
    """``netpol matrix``: the truth table for one port (rows are sources, columns destinations)."""
    from stockade.engines.netpol import build_matrix

    world, code = _load(args)
    matrix = build_matrix(world, args.port, args.protocol)
    wanted = set(args.namespace)
    pods = [p.key for p in world.pods.values() if not wanted or p.namespace in wanted]
    for ns in sorted(wanted - {p.namespace for p in world.pods.values()}):
        # A misspelt -n would otherwise look like an empty, perfectly isolated namespace.
        print(f"stockade: warning: no pods or workloads in namespace {ns}", file=sys.stderr)
    out = sys.stdout
    if args.output == "json":
        doc = {
            "port": args.port,
            "protocol": args.protocol,
            "pods": pods,
            "classes": len(matrix.classes),
            "allowed": {s: [d for d in pods if matrix.allowed(s, d)] for s in pods},
        }
        out.write(json.dumps(doc, indent=2) + "\n")
    elif args.output == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["from\\to", *pods])
        for s in pods:
            writer.writerow([s, *("1" if matrix.allowed(s, d) else "0" for d in pods)])
    else:
        out.write(
            f"# {args.protocol}/{args.port}: rows are sources, columns destinations "
            f"(X allowed, . denied); {len(pods)} pods in {len(matrix.classes)} classes\n"
        )
        width = max((len(p) for p in pods), default=4)
        for i, d in enumerate(pods):
            out.write(f"{'':>{width}}  {'| ' * i}{d}\n")
        for s in pods:
            cells = " ".join("X" if matrix.allowed(s, d) else "." for d in pods)
            out.write(f"{s:>{width}}  {cells}\n")
    return code


# ------------------------------------------------------------------ assert


_EXPECTATION_KEYS = ("name", "from", "to", "port", "protocol", "expect")


def load_expectations(path: str) -> tuple[list[dict[str, Any]], list[InputError]]:
    """Read an expectations file: a list (or ``{expectations: [...]}``) of checks.

    Returns the well-formed expectations and one error per malformed entry (the others still
    run); an unreadable file or one that is not a list raises :class:`InputError`.
    """
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=yaml.CSafeLoader)
    except OSError as e:
        raise InputError(path, f"cannot read: {(e.strerror or str(e)).lower()}") from None
    except UnicodeDecodeError:
        raise InputError(path, "not valid UTF-8 text") from None
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark is not None else None
        raise InputError(path, f"invalid YAML: {e.problem or e.context}", line=line) from None
    except yaml.YAMLError as e:
        raise InputError(path, f"invalid YAML: {' '.join(str(e).split())}") from None
    if isinstance(data, dict):
        data = data.get("expectations")
    if not isinstance(data, list):
        raise InputError(path, "expected a list of {from, to, port, protocol, expect}")
    out: list[dict[str, Any]] = []
    errors: list[InputError] = []
    for i, item in enumerate(data):
        try:
            out.append(_expectation(path, f"expectation {i + 1}", item))
        except InputError as e:
            errors.append(e)
    return out, errors


def _expectation(path: str, where: str, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InputError(path, f"{where}: must be a mapping")
    # A misspelt key (protocl: UDP) must not silently fall back to a default.
    unknown = sorted(str(k) for k in item if k not in _EXPECTATION_KEYS)
    if unknown:
        raise InputError(path, f"{where}: unknown key {', '.join(unknown)} (expected {', '.join(_EXPECTATION_KEYS)})")
    missing = [k for k in ("from", "to", "port", "expect") if k not in item]
    if missing:
        raise InputError(path, f"{where}: missing {', '.join(missing)}")
    for key in ("from", "to"):
        if not isinstance(item[key], str) or not item[key]:
            raise InputError(path, f"{where}: {key} must be namespace/name, node/NAME or an IP address")
    expect = item["expect"]
    if not isinstance(expect, str) or expect.lower() not in ("allowed", "denied"):
        # YAML reads yes/no/true/false as booleans: say what was read.
        raise InputError(path, f"{where}: expect must be allowed or denied, not {json.dumps(expect, default=str)}")
    port = item["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InputError(path, f"{where}: port must be a number from 1 to 65535")
    proto = str(item.get("protocol") or "TCP").upper()
    if proto not in ("TCP", "UDP", "SCTP"):
        raise InputError(path, f"{where}: protocol must be TCP, UDP or SCTP")
    return {
        "from": item["from"],
        "to": item["to"],
        "port": port,
        "protocol": proto,
        "expect": expect.lower(),
        "name": str(item.get("name") or ""),
    }


def run_assert(args: argparse.Namespace) -> int:
    """``netpol assert``: a line per failed expectation, then ``N passed, M failed``."""
    from stockade.engines.netpol import Analyzer
    from stockade.errors import EngineError

    expectations, bad = load_expectations(args.expectations)
    world, code = _load(args)
    for err in bad:
        print(f"stockade: error: {err.diagnostics()}", file=sys.stderr)
    code = code or (2 if bad else 0)
    analyzer = Analyzer(world)
    passed = failed = 0
    results: list[dict[str, Any]] = []
    for exp in expectations:
        label = f"{exp['from']} -> {exp['to']} {exp['protocol']}/{exp['port']}"
        if exp["name"]:
            label = f"{exp['name']}: {label}"
        try:
            v = analyzer.check(exp["from"], exp["to"], exp["port"], exp["protocol"])
        except EngineError as e:
            failed += 1
            line = f"FAIL {label}: {e}"
            results.append({**exp, "passed": False, "error": str(e)})
        else:
            got = "allowed" if v.allowed else "denied"
            ok = got == exp["expect"]
            results.append({**exp, "passed": ok, "got": got, "explain": v.to_dict()})
            if ok:
                passed += 1
                continue
            failed += 1
            line = f"FAIL {label}: expected {exp['expect']}, got {got} ({describe(v)})"
        if args.output == "text":
            print(line)
    if args.output == "json":
        print(json.dumps({"passed": passed, "failed": failed, "results": results}, indent=2))
    else:
        print(f"{passed} passed, {failed} failed")
    return code or (1 if failed else 0)

"""``stockade runtime``: Falco-compatible runtime detection (validate, eval, serve, watch, learn)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

SHIPPED_RULES = Path(__file__).resolve().parent.parent / "engines" / "falco" / "rules" / "stockade_ml_rules.yaml"
PRIORITY_CHOICES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "info", "debug")


def _rules_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-r",
        "--rules",
        dest="rules",
        action="extend",
        nargs="+",
        metavar="RULES",
        help="rules files, loaded in order (default: the shipped ML rules)",
    )


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = 0.0
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a number of alerts per second above 0, got {text!r}")
    return v


def _output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", choices=("text", "json"), default="text", help="alert format")
    p.add_argument("--output-file", metavar="FILE", help="append alerts to FILE instead of stdout")
    p.add_argument("--http-output", metavar="URL", help="also POST each alert as JSON to URL")
    p.add_argument(
        "--rule-matching",
        choices=("first", "all"),
        default="first",
        help="one alert per event (first matching rule, Falco's default) or one per matching rule",
    )
    p.add_argument(
        "--min-priority",
        type=str.lower,  # Falco reads priority names case-insensitively (WARNING, Warning, warning)
        choices=PRIORITY_CHOICES,
        default="debug",
        help="ignore rules less severe than this",
    )
    p.add_argument("--rate", type=_positive, metavar="N", help="rate-limit each rule's alerts to N per second (N > 0)")
    p.add_argument("--burst", type=int, default=10, metavar="N", help="burst size with --rate (default 10)")
    p.add_argument("--profile", metavar="FILE", help="also alert on behaviour not in this learned profile")
    p.add_argument(
        "--anomaly-threshold",
        type=int,
        default=3,
        metavar="N",
        help="alert on new behaviour after it occurs N times (default 3)",
    )


def register(sub: Any) -> None:
    """Add ``stockade runtime`` and its sub-commands."""
    p: argparse.ArgumentParser = sub.add_parser(
        "runtime", help="Falco-compatible runtime detection on audit logs, event captures and live processes"
    )
    rs = p.add_subparsers(dest="runtime_command", metavar="SUBCOMMAND")

    v = rs.add_parser("validate", help="load rules files and report errors and warnings (like falco -V)")
    _rules_arg(v)
    v.set_defaults(func=run_validate)

    e = rs.add_parser("eval", help="evaluate events from files or stdin")
    _rules_arg(e)
    e.add_argument("events", nargs="*", default=[], metavar="EVENTS", help="event files ('-' for stdin)")
    e.add_argument("--source", default=None, help="event source of fields-format events (default syscall)")
    e.add_argument(
        "--event-format",
        choices=("k8s-audit", "fields"),
        default=None,
        help="k8s-audit: audit.k8s.io Events/EventLists, one JSON per line; fields: {field: value} lines "
        "(default: a line with an auditID or kind Event/EventList is an audit event, anything else fields)",
    )
    e.add_argument("--follow", action="store_true", help="keep reading appended lines (like tail -f)")
    _output_args(e)
    e.set_defaults(func=run_eval)

    s = rs.add_parser("serve", help="HTTPS audit webhook receiver for the API server")
    _rules_arg(s)
    s.add_argument("--listen", default="127.0.0.1:8765", metavar="HOST:PORT")
    s.add_argument("--cert", metavar="FILE", help="TLS certificate (PEM)")
    s.add_argument("--key", metavar="FILE", help="TLS private key (PEM)")
    s.add_argument("--insecure-http", action="store_true", help="serve plain HTTP (testing only)")
    s.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    _output_args(s)
    s.set_defaults(func=run_serve)

    w = rs.add_parser("watch", help="watch process executions on this host")
    _rules_arg(w)
    w.add_argument(
        "--mode",
        choices=("auto", "connector", "poll"),
        default="auto",
        help="kernel process-event connector, /proc polling, or the first that works",
    )
    w.add_argument("--interval", type=float, default=0.1, help="polling interval in seconds")
    w.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    w.add_argument("--network", action="store_true", help="also report new outbound TCP connections (/proc/net)")
    _output_args(w)
    w.set_defaults(func=run_watch)

    learn = rs.add_parser("learn", help="record a profile of normal behaviour")
    learn.add_argument("events", nargs="*", default=[], metavar="EVENTS", help="event files ('-' for stdin)")
    learn.add_argument("--source", default=None)
    learn.add_argument("--event-format", choices=("k8s-audit", "fields"), default=None)
    learn.add_argument("--watch", type=float, metavar="SECONDS", help="learn from live processes for N seconds")
    learn.add_argument("--out", required=True, metavar="PROFILE", help="where to write the profile (JSON)")
    learn.set_defaults(func=run_learn)
    p.set_defaults(func=_runtime_help(p))


def _runtime_help(p: argparse.ArgumentParser) -> Any:
    def show(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return 2

    return show


# -- shared helpers ------------------------------------------------------------------------


def _load(args: argparse.Namespace, extra_sources: tuple[str, ...] = ()) -> Any:
    from stockade.engines.falco.fields import K8S_AUDIT_SCHEMA, SYSCALL_SCHEMA, lax_schema
    from stockade.engines.falco.loader import RuleSet
    from stockade.errors import RuleError

    schemas = {"syscall": SYSCALL_SCHEMA, "k8s_audit": K8S_AUDIT_SCHEMA}
    for s in extra_sources:
        schemas.setdefault(s, lax_schema(s))
    rs = RuleSet(schemas)
    for path in args.rules or [str(SHIPPED_RULES)]:
        if not rs.load_file(path):
            break
    rs.finish()
    for w in rs.warnings:
        print(f"warning: {w.describe()}", file=sys.stderr)
    if rs.errors:
        raise RuleError(rs.errors[0].describe())
    return rs


def _engine(args: argparse.Namespace, rs: Any) -> Any:
    from stockade.engines.falco.engine import Engine
    from stockade.engines.falco.loader import parse_priority

    prio = parse_priority(args.min_priority)
    return Engine(rs, rule_matching=args.rule_matching, min_priority=7 if prio is None else prio)


def _dispatcher(args: argparse.Namespace, opened: list[IO[str]]) -> Any:
    from stockade.engines.falco.sinks import Dispatcher, HttpSink, RateLimiter, Sink, StreamSink
    from stockade.errors import UsageError

    sinks: list[Sink] = []
    if args.output_file:
        try:
            fh = open(args.output_file, "a", encoding="utf-8")  # noqa: SIM115 - closed by the caller
        except OSError as e:
            raise UsageError(f"{args.output_file}: cannot open for writing: {e.strerror}") from e
        opened.append(fh)
        sinks.append(StreamSink(fh, args.output))
    else:
        sinks.append(StreamSink(sys.stdout, args.output))
    if args.http_output:
        sinks.append(HttpSink(args.http_output))
    limiter = RateLimiter(args.rate, max(1, args.burst)) if args.rate else None
    return Dispatcher(sinks, limiter)


def _anomaly(args: argparse.Namespace) -> Any:
    if not args.profile:
        return None
    from stockade.engines.falco.profile import AnomalyDetector, Profile
    from stockade.errors import InputError

    try:
        prof = Profile.load(args.profile)
    except OSError as e:
        raise InputError(args.profile, f"cannot read profile: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise InputError(args.profile, "cannot read profile: not UTF-8 text") from e
    except ValueError as e:
        raise InputError(args.profile, f"cannot read profile: {e}") from e
    return AnomalyDetector(prof, max(1, args.anomaly_threshold))


def anomaly_alerts(detector: Any, ev: Any, hostname: str) -> list[Any]:
    """Alerts for behaviour the profile has never seen."""
    from stockade.engines.falco.engine import Alert

    out = []
    for a in detector.check(ev):
        out.append(
            Alert(
                rule="Behaviour Not Seen in Learning",
                priority="Warning",
                priority_rank=4,
                source=ev.source,
                output=(
                    f"New {a.kind} for workload {a.workload}: {a.value} (seen {a.count} times, never while learning)"
                ),
                output_fields={"workload": a.workload, "kind": a.kind, "value": a.value, "count": a.count},
                tags=("stockade", "anomaly"),
                time_ns=ev.time_ns() or time.time_ns(),
                hostname=hostname,
            )
        )
    return out


def _factory(args: argparse.Namespace, rs: Any) -> Any:
    from stockade.engines.falco.sources import EventFactory

    if args.event_format is None and args.source is None:
        return EventFactory("auto", "syscall", rs.schemas.get("syscall"))
    fmt = args.event_format or ("k8s-audit" if args.source == "k8s_audit" else "fields")
    source = args.source or ("k8s_audit" if fmt == "k8s-audit" else "syscall")
    if fmt == "k8s-audit" and source != "k8s_audit":
        from stockade.errors import UsageError

        raise UsageError("--event-format k8s-audit only carries the k8s_audit source")
    return EventFactory(fmt, source, rs.schemas.get(source))


def _open_inputs(paths: list[str], stats: Any) -> list[tuple[str, IO[str]]]:
    """Open the event files; one that cannot be read is reported in ``stats`` and skipped, so
    the others are still evaluated (the command then exits 2)."""
    import gzip
    import io

    out: list[tuple[str, IO[str]]] = []
    for p in paths:
        if p == "-":
            out.append(("<stdin>", sys.stdin))
            continue
        try:
            raw = open(p, "rb")  # noqa: SIM115 - closed by caller (through the text wrapper)
        except OSError as e:
            stats.note(p, f"cannot read: {e.strerror}")
            continue
        # rotated audit logs are often gzipped (kube-apiserver --audit-log-compress)
        if raw.peek(2)[:2] == b"\x1f\x8b":
            raw.close()
            out.append((p, gzip.open(p, "rt", encoding="utf-8", errors="replace")))  # noqa: SIM115
        else:
            out.append((p, io.TextIOWrapper(raw, encoding="utf-8", errors="replace")))
    return out


def _events_of(name: str, fh: IO[str], factory: Any, stats: Any, follow_it: bool) -> Iterator[Any]:
    """The events of one input; a file that ends early (a truncated gzip) is reported in ``stats``
    and what was read from it is kept."""
    from stockade.engines.falco.sources import follow, read_lines

    lines: Any = follow(fh, lambda: False) if follow_it else fh
    try:
        yield from read_lines(lines, factory, name, stats)
    except (OSError, EOFError) as e:
        stats.note(name, f"cannot read to the end: {e}")


def _report_input_errors(stats: Any) -> None:
    """Each unreadable file or line as one ``stockade: error:`` line, then how many more."""
    for p in stats.problems:
        print(f"stockade: error: {p}", file=sys.stderr)
    if stats.bad > len(stats.problems):
        print(f"stockade: error: {stats.bad - len(stats.problems)} more unreadable lines skipped", file=sys.stderr)


def _report_delivery(disp: Any) -> None:
    """Alerts the rate limit suppressed and alerts an HTTP endpoint did not take."""
    from stockade.engines.falco.sinks import HttpSink

    if disp.limiter is not None and disp.limiter.dropped:
        print(f"warning: {disp.limiter.dropped} alerts suppressed by the rate limit", file=sys.stderr)
    for s in disp.sinks:
        if isinstance(s, HttpSink) and s.failures:
            print(f"stockade: error: {s.url}: {s.failures} alerts not delivered ({s.last_error})", file=sys.stderr)


# -- commands ------------------------------------------------------------------------------


def run_validate(args: argparse.Namespace) -> int:
    """Load the rules and print every error and warning; exit 2 on errors."""
    from stockade.engines.falco.loader import RuleSet

    rs = RuleSet()
    paths: list[str] = []
    for given in args.rules or [str(SHIPPED_RULES)]:
        # a directory stands for its files in name order (as the loader reads it): report each
        d = Path(given)
        if d.is_dir():
            paths.extend(str(c) for c in sorted(d.iterdir()) if c.is_file())
        else:
            paths.append(given)
    for path in paths:
        if not rs.load_file(path):
            break
    rs.finish()
    for path in paths:
        errs = [e for e in rs.errors if e.file == path]
        warns = [w for w in rs.warnings if w.file == path]
        status = "Invalid" if errs else ("Ok, with warnings" if warns else "Ok")
        print(f"{path}: {status}")
        for m in errs:
            print(f"  error: {m.describe()}")
        for m in warns:
            print(f"  warning: {m.describe()}")
        if errs:
            break
    for m in rs.errors:
        if m.file not in paths:
            print(f"  error: {m.describe()}")
    if not rs.errors:
        counts: dict[str, int] = {}
        for r in rs.compiled:
            counts[r.source] = counts.get(r.source, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
        print(f"{len(rs.compiled)} rules loaded ({summary})")
    return 2 if rs.errors else 0


def _looks_like_events(path: str) -> bool:
    """Whether a path given after ``-r`` is really an events file (JSON lines, not YAML rules)."""
    if path == "-":
        return True
    p = Path(path)
    if p.is_dir():
        return False
    if p.suffix.lower() in (".json", ".jsonl", ".ndjson", ".log", ".gz"):
        return True
    try:
        with p.open("rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace")
    except OSError:
        return False
    for line in head.splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        return text.startswith("{")
    return False


def _split_rules_and_events(args: argparse.Namespace) -> None:
    """``eval -r rules.yaml events.json``: ``-r`` takes several files, so trailing event files
    given right after it land among the rules; move them back to EVENTS."""
    if args.events or not args.rules:
        args.events = args.events or ["-"]
        return
    rules = list(args.rules)
    moved: list[str] = []
    while len(rules) > 1 and _looks_like_events(rules[-1]):
        moved.insert(0, rules.pop())
    args.rules = rules
    args.events = moved or ["-"]


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate events from files or stdin; exit 1 when any alert was raised."""
    from stockade.engines.falco.sources import ReadStats

    _split_rules_and_events(args)
    extra = (args.source,) if args.source else ()
    rs = _load(args, extra)
    engine = _engine(args, rs)
    detector = _anomaly(args)
    factory = _factory(args, rs)
    opened: list[IO[str]] = []
    disp = _dispatcher(args, opened)
    stats = ReadStats()
    inputs = _open_inputs(args.events or ["-"], stats)
    alerts = 0
    try:
        for name, fh in inputs:
            for ev in _events_of(name, fh, factory, stats, args.follow):
                out = engine.evaluate(ev)
                if detector is not None:
                    out = out + anomaly_alerts(detector, ev, engine.hostname)
                for a in out:
                    alerts += 1
                    disp.emit(a)
    finally:
        for _, fh in inputs:
            if fh is not sys.stdin:
                fh.close()
        for fh in opened:
            fh.close()
    _report_input_errors(stats)
    _report_delivery(disp)
    if stats.bad or _undelivered(disp):
        return 2
    return 1 if alerts else 0


def _undelivered(disp: Any) -> bool:
    from stockade.engines.falco.sinks import HttpSink

    return any(isinstance(s, HttpSink) and s.failures for s in disp.sinks)


def _check_tls(cert: str, key: str) -> None:
    """A certificate or key that does not load is an error naming the file, before serving."""
    import ssl

    from stockade.errors import InputError

    for path, what in ((cert, "TLS certificate"), (key, "TLS private key")):
        try:
            with open(path, "rb"):
                pass
        except OSError as e:
            raise InputError(path, f"cannot read {what}: {e.strerror}") from e
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except ssl.SSLError as e:
        why = getattr(e, "reason", None) or "invalid"
        raise InputError(cert, f"not a PEM certificate with its private key ({key}): {why}") from e


def run_serve(args: argparse.Namespace) -> int:
    """Run the audit webhook receiver until interrupted (or --duration)."""
    from stockade.engines.falco.server import AuditWebhook
    from stockade.errors import UsageError

    host, _, port_s = args.listen.rpartition(":")
    try:
        port = int(port_s)
    except ValueError as e:
        raise UsageError(f"--listen {args.listen}: expected HOST:PORT") from e
    if not args.cert and not args.insecure_http:
        raise UsageError("serve needs --cert and --key (the API server only posts over HTTPS), or --insecure-http")
    if args.cert:
        _check_tls(args.cert, args.key or args.cert)
    rs = _load(args)
    engine = _engine(args, rs)
    detector = _anomaly(args)
    opened: list[IO[str]] = []
    disp = _dispatcher(args, opened)
    extra = (lambda ev: anomaly_alerts(detector, ev, engine.hostname)) if detector is not None else None

    def rejected(msg: str) -> None:
        print(f"stockade: error: {msg}", file=sys.stderr, flush=True)

    try:
        server = AuditWebhook(
            engine, disp.emit, host or "127.0.0.1", port, args.cert, args.key or args.cert, extra, rejected
        )
    except OSError as e:
        raise UsageError(f"cannot serve on {args.listen}: {e.strerror or e}") from e
    scheme = "https" if args.cert else "http"
    print(
        f"stockade runtime: listening on {scheme}://{host or '127.0.0.1'}:{server.port}/k8s-audit",
        file=sys.stderr,
        flush=True,
    )
    server.start()
    try:
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.shutdown()
        for fh in opened:
            fh.close()
        _report_delivery(disp)
    return 2 if _undelivered(disp) else 0


def run_watch(args: argparse.Namespace) -> int:
    """Watch process executions on this host and alert as rules match."""
    from stockade.engines.falco.live import HostWatcher

    rs = _load(args)
    engine = _engine(args, rs)
    detector = _anomaly(args)
    opened: list[IO[str]] = []
    disp = _dispatcher(args, opened)
    watcher = HostWatcher(args.mode, args.interval, network=args.network)
    print(f"stockade runtime: watching process executions ({watcher.mode})", file=sys.stderr, flush=True)
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        for ev in watcher.events(lambda: deadline is not None and time.monotonic() >= deadline):
            out = engine.evaluate(ev)
            if detector is not None:
                out = out + anomaly_alerts(detector, ev, engine.hostname)
            for a in out:
                disp.emit(a)
    finally:
        watcher.close()
        for fh in opened:
            fh.close()
        _report_delivery(disp)
    return 2 if _undelivered(disp) else 0


def run_learn(args: argparse.Namespace) -> int:
    """Record a behaviour profile from event files or live processes."""
    from stockade.engines.falco.fields import K8S_AUDIT_SCHEMA, SYSCALL_SCHEMA, lax_schema
    from stockade.engines.falco.profile import Profile
    from stockade.engines.falco.sources import EventFactory, ReadStats
    from stockade.errors import UsageError

    prof = Profile()
    if args.watch:
        from stockade.engines.falco.live import HostWatcher

        watcher = HostWatcher(network=True)
        deadline = time.monotonic() + args.watch
        try:
            for live_ev in watcher.events(lambda: time.monotonic() >= deadline):
                prof.learn(live_ev)
        finally:
            watcher.close()
    elif not args.events:
        raise UsageError("learn needs EVENTS files (or '-') or --watch SECONDS")
    if args.events:
        if args.event_format is None and args.source is None:
            fmt, source = "auto", "syscall"
        else:
            fmt = args.event_format or ("k8s-audit" if args.source == "k8s_audit" else "fields")
            source = args.source or ("k8s_audit" if fmt == "k8s-audit" else "syscall")
        schema = {"syscall": SYSCALL_SCHEMA, "k8s_audit": K8S_AUDIT_SCHEMA}.get(source) or lax_schema(source)
        factory = EventFactory(fmt, source, schema)
        stats = ReadStats()
        for name, fh in _open_inputs(args.events, stats):
            try:
                for ev in _events_of(name, fh, factory, stats, False):
                    prof.learn(ev)
            finally:
                if fh is not sys.stdin:
                    fh.close()
        _report_input_errors(stats)
    try:
        prof.save(args.out)
    except OSError as e:
        raise UsageError(f"{args.out}: cannot write profile: {e.strerror}") from e
    print(f"learned {prof.events} events, {len(prof.workloads)} workloads -> {args.out}", file=sys.stderr)
    return 2 if args.events and stats.bad else 0

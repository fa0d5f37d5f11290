"""Audit events (``audit.k8s.io/v1`` Event) read from logs: JSON lines, gzip, followed live.

Readers stream: memory does not grow with the log. A line that is not a JSON object is counted
and reported (with its file and line), never silently dropped.
"""

from __future__ import annotations

import gzip
import io
import json
import operator
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

from stockade import _json
from stockade.engines.audit.policy import AuditRequest
from stockade.errors import InputError

# Verbs whose request names no object unless the URL does (the name an audit event shows for a
# create is filled in from the created object after the policy was evaluated).
_COLLECTION_VERBS = frozenset({"create"})


class AuditEvent(NamedTuple):
    """The fields of one audit Event the analyses use (bodies are never kept: they may hold secrets)."""

    audit_id: str
    stage: str
    level: str
    verb: str
    request_uri: str
    user: str
    """Authenticated user name (``""`` when the request failed before authentication)."""
    groups: tuple[str, ...]
    impersonated_user: str
    source_ip: str
    """First source IP (the client as the API server saw it)."""
    user_agent: str
    resource_request: bool
    api_group: str
    resource: str
    subresource: str
    namespace: str
    name: str
    code: int
    """HTTP response code; 0 when the event has no response status (RequestReceived)."""
    timestamp: str
    """``requestReceivedTimestamp`` (RFC 3339), or ``stageTimestamp`` if absent."""
    decision: str
    """``authorization.k8s.io/decision`` annotation (``allow``/``forbid``), when present."""
    size: int = 0
    """Bytes of the event's serialised line (0 when unknown)."""
    impersonated_groups: tuple[str, ...] = ()
    """Groups of the impersonated identity (as the API server completed them)."""
    impersonated_uid: str = ""
    impersonated_extra: tuple[tuple[str, str], ...] = ()
    """``(key, value)`` pairs of the impersonated identity's extra fields."""

    @property
    def acting_user(self) -> str:
        """The identity the request was authorized as: the impersonated user, else the user."""
        return self.impersonated_user or self.user

    @property
    def acting_groups(self) -> tuple[str, ...]:
        """Groups the request was authorized with (the impersonated identity's when impersonating)."""
        return self.impersonated_groups if self.impersonated_user else self.groups

    @property
    def identity(self) -> str:
        """Who made the request: the user name, or ``<unauthenticated>``."""
        return self.user or "<unauthenticated>"

    @property
    def combined_resource(self) -> str:
        """``resource/subresource`` or ``resource``."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    @property
    def service_account(self) -> tuple[str, str] | None:
        """``(namespace, name)`` when the user is a service account."""
        if self.user.startswith("system:serviceaccount:"):
            parts = self.user.split(":")
            if len(parts) == 4:
                return parts[2], parts[3]
        return None

    @property
    def hour(self) -> str:
        """``YYYY-MM-DDTHH`` of the timestamp (activity buckets)."""
        return self.timestamp[:13]

    def to_request(self) -> AuditRequest:
        """The authorizer attributes the audit policy saw for this event's request."""
        name = self.name
        if self.verb in _COLLECTION_VERBS and not self.subresource:
            name = ""
        user: str | None = self.user
        if not self.user and not self.groups:
            user = None
        return AuditRequest(
            user=user,
            groups=self.groups,
            verb=self.verb,
            resource_request=self.resource_request,
            api_group=self.api_group,
            resource=self.resource,
            subresource=self.subresource,
            name=name,
            namespace=self.namespace,
            path=self.request_uri.split("?", 1)[0],
        )


def parse_event(d: Mapping[str, Any], size: int = 0) -> AuditEvent:
    """Build an :class:`AuditEvent` from a decoded Event; fields of the wrong type read as empty."""
    # Hot path (millions of events): plain look-ups with type tests inline rather than helpers.
    user = d.get("user")
    if user.__class__ is not dict:
        user = {}
    uname = user.get("username", "")
    groups = user.get("groups")
    if groups.__class__ is list:
        groups = tuple(groups)
        try:
            "".join(groups)  # C-speed type check: raises on any non-string
        except TypeError:
            groups = tuple(g for g in groups if g.__class__ is str)
    else:
        groups = ()
    ref = d.get("objectRef")
    status = d.get("responseStatus")
    ips = d.get("sourceIPs")
    imp = d.get("impersonatedUser")
    ann = d.get("annotations")
    code = status.get("code", 0) if status.__class__ is dict else 0
    if ref.__class__ is dict:
        rr = True
        api_group = ref.get("apiGroup", "")
        resource = ref.get("resource", "")
        sub = ref.get("subresource", "")
        ns = ref.get("namespace", "")
        name = ref.get("name", "")
    else:
        rr = False
        api_group = resource = sub = ns = name = ""
    ts = d.get("requestReceivedTimestamp") or d.get("stageTimestamp", "")
    ev = AuditEvent(
        d.get("auditID", ""),
        d.get("stage", ""),
        d.get("level", ""),
        d.get("verb", ""),
        d.get("requestURI", ""),
        uname,
        groups,
        imp.get("username", "") if imp.__class__ is dict else "",
        ips[0] if ips.__class__ is list and ips else "",
        d.get("userAgent", ""),
        rr,
        api_group,
        resource,
        sub,
        ns,
        name,
        code if code.__class__ is int else 0,
        ts,
        ann.get("authorization.k8s.io/decision", "") if ann.__class__ is dict else "",
        size,
    )
    if imp.__class__ is dict:
        ev = _with_impersonation(ev, imp)
    try:
        "".join(_pick_strings(ev))  # C-speed check that every text field is a string
    except TypeError:
        return _normalised(ev)
    return ev


def _with_impersonation(ev: AuditEvent, imp: Mapping[str, Any]) -> AuditEvent:
    """``ev`` with the impersonated identity's groups, uid and extra values (rare: off the hot path)."""
    groups = imp.get("groups")
    extra = imp.get("extra")
    uid = imp.get("uid", "")
    return ev._replace(
        impersonated_groups=tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else (),
        impersonated_uid=uid if isinstance(uid, str) else "",
        impersonated_extra=tuple(
            sorted(
                (k, v)
                for k, vs in extra.items()
                if isinstance(k, str) and isinstance(vs, list)
                for v in vs
                if isinstance(v, str)
            )
        )
        if isinstance(extra, dict)
        else (),
    )


def _normalised(ev: AuditEvent) -> AuditEvent:
    """``ev`` with every string field of another type read as empty (malformed input)."""
    values: list[Any] = list(ev)
    for i in _STR_FIELDS:
        if values[i].__class__ is not str:
            values[i] = ""
    return AuditEvent(*values)


_STR_NAMES = frozenset(
    {
        "audit_id",
        "stage",
        "level",
        "verb",
        "request_uri",
        "user",
        "impersonated_user",
        "source_ip",
        "user_agent",
        "api_group",
        "resource",
        "subresource",
        "namespace",
        "name",
        "timestamp",
        "decision",
    }
)
_STR_FIELDS: tuple[int, ...] = ()


def network(ip: str) -> str:
    """The network a source IP belongs to for "unusual source" purposes: IPv4 /16, IPv6 /48.

    Pod IPs change on every restart but stay in the cluster's pod range; a token replayed from
    outside shows up from another network.
    """
    hit = _NETWORKS.get(ip)
    if hit is not None:
        return hit
    if ":" in ip:
        net = ":".join(ip.split(":")[:3]) + "::/48"
    else:
        parts = ip.split(".")
        net = f"{parts[0]}.{parts[1]}.0.0/16" if len(parts) == 4 else ip
    if len(_NETWORKS) >= 65536:
        _NETWORKS.clear()
    _NETWORKS[ip] = net
    return net


_NETWORKS: dict[str, str] = {}


def agent_product(agent: str) -> str:
    """The product token of a user agent (``kubectl`` of ``kubectl/v1.31.0 (linux/amd64)``)."""
    return agent.split("/", 1)[0].split(" ", 1)[0][:100]


@dataclass(slots=True)
class ReadStats:
    """Counters a reader keeps while streaming (bad lines are reported, not dropped silently)."""

    lines: int = 0
    events: int = 0
    bytes: int = 0
    bad_lines: int = 0
    first_errors: list[str] | None = None

    def unreadable(self, source: str, why: str) -> None:
        """Count a log that cannot be opened or read to the end; the other logs are still read."""
        self.bad_lines += 1
        if self.first_errors is None:
            self.first_errors = []
        if len(self.first_errors) < 10:
            self.first_errors.append(f"{source}: {why}")

    def bad(self, source: str, line: int, why: str) -> None:
        """Count a line that is not an audit event; keep the first few for the report."""
        self.bad_lines += 1
        if self.first_errors is None:
            self.first_errors = []
        if len(self.first_errors) < 10:
            self.first_errors.append(f"{source}:{line}: {why}")


def _open(path: str, stats: ReadStats | None = None) -> IO[bytes] | None:
    """The log as bytes (gunzipped when it starts with the gzip magic); with ``stats`` a log
    that cannot be opened is recorded there and ``None`` returned, so the other logs are read."""
    if path == "-":
        f: IO[bytes] = sys.stdin.buffer  # gzip piped in is detected too (`cat audit.log.gz | ... -`)
    else:
        try:
            f = open(path, "rb")  # noqa: SIM115  (closed by the caller)
        except OSError as e:
            if stats is not None:
                stats.unreadable(path, f"cannot read audit log: {e.strerror}")
                return None
            raise InputError(path, f"cannot read audit log: {e.strerror}") from e
    magic = f.peek(2)[:2] if isinstance(f, io.BufferedReader) else b""
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    return f


def iter_lines(
    paths: Iterable[str],
    stats: ReadStats,
    follow: bool = False,
    poll: float = 0.5,
    stop: Callable[[], bool] | None = None,
) -> Iterator[tuple[str, int, bytes]]:
    """``(source, line number, raw line)`` for every non-empty line of every log, in order.

    With ``follow`` the last file is watched for appended lines (like ``tail -f``) until
    ``stop()`` returns true or the process is interrupted.
    """
    plist = list(paths)
    for i, path in enumerate(plist):
        f = _open(path, stats)
        if f is None:
            continue
        try:
            n = 0
            if not (follow and i == len(plist) - 1):
                for raw in f:
                    n += 1
                    stats.lines += 1
                    stats.bytes += len(raw)
                    if len(raw) > 2 or raw.strip():
                        yield path, n, raw
                continue
            while True:
                raw = f.readline()
                if not raw:
                    if not (stop and stop()):
                        time.sleep(poll)
                        continue
                    break
                if not raw.endswith(b"\n"):
                    # A partially written line: wait for the writer to finish it.
                    while not raw.endswith(b"\n") and not (stop and stop()):
                        time.sleep(poll)
                        raw += f.readline()
                n += 1
                stats.lines += 1
                stats.bytes += len(raw)
                if raw.strip():
                    yield path, n, raw
        except (OSError, EOFError) as e:
            # e.g. a truncated gzip: what was read is kept, the next log is still read
            stats.unreadable(path, f"cannot read audit log at line {n + 1}: {e}")
        finally:
            if f is not sys.stdin.buffer:
                f.close()


def iter_event_dicts(
    paths: Iterable[str], stats: ReadStats, follow: bool = False, stop: Callable[[], bool] | None = None
) -> Iterator[tuple[dict[str, Any], int]]:
    """Decoded Event objects with their line size; ``EventList`` lines are expanded."""
    loads = _json.loads
    for source, n, raw in iter_lines(paths, stats, follow=follow, stop=stop):
        try:
            d = loads(raw)
        except ValueError:
            stats.bad(source, n, "not valid JSON")
            continue
        if not isinstance(d, dict):
            stats.bad(source, n, "not a JSON object")
            continue
        if d.get("kind") == "EventList" and isinstance(d.get("items"), list):
            for item in d["items"]:
                if isinstance(item, dict):
                    stats.events += 1
                    yield item, len(json.dumps(item))
            continue
        if "verb" not in d and "auditID" not in d:
            stats.bad(source, n, "not an audit event (no verb/auditID)")
            continue
        stats.events += 1
        yield d, len(raw)


def iter_events(
    paths: Iterable[str], stats: ReadStats, follow: bool = False, stop: Callable[[], bool] | None = None
) -> Iterator[AuditEvent]:
    """:class:`AuditEvent` for every event in the logs."""
    if follow:
        for d, size in iter_event_dicts(paths, stats, follow=True, stop=stop):
            yield parse_event(d, size)
        return
    # Hot path for whole files: one generator frame per event instead of three.
    loads = _json.loads
    for path in paths:
        f = _open(path, stats)
        if f is None:
            continue
        n = 0
        try:
            for raw in f:
                n += 1
                size = len(raw)
                stats.lines += 1
                stats.bytes += size
                if raw.isspace():
                    continue
                try:
                    d = loads(raw)
                except ValueError:
                    stats.bad(path, n, "not valid JSON")
                    continue
                if d.__class__ is not dict:
                    stats.bad(path, n, "not a JSON object")
                    continue
                if "verb" not in d and "auditID" not in d:
                    if d.get("kind") == "EventList" and isinstance(d.get("items"), list):
                        for item in d["items"]:
                            if isinstance(item, dict):
                                stats.events += 1
                                yield parse_event(item, len(json.dumps(item)))
                        continue
                    stats.bad(path, n, "not an audit event (no verb/auditID)")
                    continue
                stats.events += 1
                yield parse_event(d, size)
        except (OSError, EOFError) as e:
            stats.unreadable(path, f"cannot read audit log at line {n + 1}: {e}")
        finally:
            if f is not sys.stdin.buffer:
                f.close()


def iter_requests(events: Iterable[AuditEvent]) -> Iterator[AuditEvent]:
    """One event per request: ``RequestReceived`` dropped, and a long-running request (logged at
    ``ResponseStarted`` and again at ``ResponseComplete``) kept at its first final stage."""
    started: dict[str, None] = {}
    for ev in events:
        stage = ev.stage
        if stage == "ResponseStarted":
            if len(started) >= 100_000:
                started.clear()
            started[ev.audit_id] = None
        elif stage == "ResponseComplete":
            if ev.audit_id in started:
                del started[ev.audit_id]
                continue
        elif stage and stage != "Panic":
            continue
        yield ev


_STR_FIELDS = tuple(i for i, f in enumerate(AuditEvent._fields) if f in _STR_NAMES)
_pick_strings = operator.itemgetter(*_STR_FIELDS)

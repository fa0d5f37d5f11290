"""The ``k8s_audit`` source: field extraction from ``audit.k8s.io/v1`` (and v1beta1) Events.

Extraction follows the k8saudit plugin (docs §10): an event without ``auditID`` has no ``ka.*``
fields; JSON strings come out unquoted, other JSON values as compact JSON text; a missing path,
or a list field with no values, is a missing field. ``jevt.value[ptr]`` follows RFC 6901.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stockade.engines.falco.fields import CONTAINER_ATTRS, CONTAINER_LISTS

_MISSING = object()


def jtext(v: Any) -> str:
    """A JSON value as the plugins print it: strings unquoted, the rest as compact JSON."""
    if isinstance(v, str):
        return v
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _path(obj: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
        if obj is None:
            return None
    return obj


def _str_at(obj: Any, *keys: str) -> str | None:
    """A single value as text. A JSON ``null`` at the end of the path is a value ("null"), as
    fastjson returns a non-nil null value there; a missing key (or a null on the way) is missing."""
    for k in keys[:-1]:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    if not isinstance(obj, dict):
        return None
    v = obj.get(keys[-1], _MISSING)
    return None if v is _MISSING else jtext(v)


def _list_at(obj: Any, *keys: str) -> tuple[str, ...] | None:
    v = _path(obj, *keys)
    if not isinstance(v, list) or not v:
        return None
    return tuple(jtext(x) for x in v)


def _index(arg: str | None) -> int | None:
    if arg is None:
        return None
    try:
        return int(arg)
    except ValueError:
        return -1


def _containers(ev: dict[str, Any], lst: str, arg: str | None) -> list[Any] | None:
    spec = _path(ev, "requestObject", "spec")
    if not isinstance(spec, dict):
        return None
    items = spec.get(lst)
    if not isinstance(items, list):
        return None
    idx = _index(arg)
    if idx is None:
        return items
    if idx < 0 or idx >= len(items):
        return None
    return [items[idx]]


def _repo(image: str) -> str:
    return image.split(":", 1)[0].split("@", 1)[0]


def _container_attr(ev: dict[str, Any], lst: str, attr: str, arg: str | None) -> tuple[str, ...] | None:
    items = _containers(ev, lst, arg)
    if items is None:
        return None
    out: list[str] = []
    spec = _path(ev, "requestObject", "spec") or {}
    for c in items:
        if not isinstance(c, dict):
            continue
        sc = c.get("securityContext")
        sc = sc if isinstance(sc, dict) else {}
        if attr in ("image", "image.repository"):
            # the plugin reads every image as text and fails (no value) on a container without one
            v = c.get("image", _MISSING)
            if v is _MISSING:
                return None
            out.append(jtext(v) if attr == "image" else _repo(jtext(v)))
        elif attr in ("name", "command", "args"):
            v = c.get(attr)
            if isinstance(v, list):
                out.extend(jtext(x) for x in v)
            elif v is not None:
                out.append(jtext(v))
        elif attr in _SC_KEYS:
            # a JSON null is a value ("null"); only a missing key is skipped
            v = sc.get(_SC_KEYS[attr], _MISSING)
            if v is not _MISSING:
                out.append(jtext(v))
        elif attr in ("eff_run_as_user", "eff_run_as_group"):
            # The plugin looks the key up directly under the container and under the pod spec
            # (``containers[i].runAsUser``, ``spec.runAsUser``), not under ``securityContext``;
            # a container without it takes the pod value, else "0".
            key = "runAsUser" if attr == "eff_run_as_user" else "runAsGroup"
            v = c.get(key)
            if v is None:
                v = spec.get(key) if isinstance(spec, dict) else None
            out.append(jtext(v) if v is not None else "0")
        elif attr == "add_capabilities":
            # one value per container: the ``add`` array itself, as JSON text
            caps = sc.get("capabilities")
            add = caps.get("add") if isinstance(caps, dict) else None
            if add is not None:
                out.append(jtext(add))
        elif attr == "host_port":
            ports = c.get("ports")
            if isinstance(ports, list):
                for p in ports:
                    if not isinstance(p, dict):
                        continue
                    if p.get("hostPort") is not None:
                        out.append(jtext(p["hostPort"]))
                    elif p.get("containerPort") is not None:
                        out.append(jtext(p["containerPort"]))
    return tuple(out) or None


_SC_KEYS = {
    "privileged": "privileged",
    "allow_privilege_escalation": "allowPrivilegeEscalation",
    "read_only_fs": "readOnlyRootFilesystem",
    "run_as_user": "runAsUser",
    "run_as_group": "runAsGroup",
    "proc_mount": "procMount",
}


def _atoi(tok: str) -> int | None:
    """Go's ``strconv.Atoi`` (optional sign, decimal digits), as fastjson indexes arrays."""
    body = tok[1:] if tok[:1] in ("+", "-") else tok
    if not body or not body.isascii() or not body.isdigit():
        return None
    return int(tok)


def json_pointer(doc: Any, ptr: str) -> Any:
    """Resolve a pointer as the json plugin does; ``_MISSING`` when the path does not exist.

    One leading ``/`` is dropped and the rest split on ``/`` (so ``verb`` and ``/verb`` are the
    same); each token has ``~1`` then ``~0`` decoded; an array index is read like Go's ``Atoi``.
    """
    if ptr == "":
        return _MISSING
    if ptr[0] == "/":
        ptr = ptr[1:]
    cur = doc
    for raw in ptr.split("/"):
        tok = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(cur, dict):
            if tok not in cur:
                return _MISSING
            cur = cur[tok]
        elif isinstance(cur, list):
            i = _atoi(tok)
            if i is None or i < 0 or i >= len(cur):
                return _MISSING
            cur = cur[i]
        else:
            return _MISSING
    return cur


_SECONDS: dict[str, int | None] = {}
_FRAC_RE = re.compile(r"\.(\d+)")


def parse_time_ns(text: Any) -> int | None:
    """An RFC 3339 timestamp (with optional fractional seconds) in nanoseconds."""
    if type(text) is not str or len(text) < 19:
        return None
    head = text[:19]
    base = _SECONDS.get(head, -1)
    if base == -1:
        try:
            base = int(datetime.fromisoformat(head + "+00:00").timestamp())
        except ValueError:
            base = None
        if len(_SECONDS) > 4096:  # timestamps of a stream move on: keep the memo small
            _SECONDS.clear()
        _SECONDS[head] = base
    if base is None:
        return None
    rest = text[19:]
    if rest == "Z":
        return base * 1_000_000_000
    if rest[:1] == "." and rest[-1:] == "Z" and rest[1:-1].isdigit():
        return base * 1_000_000_000 + int(rest[1:-1][:9].ljust(9, "0"))
    frac = 0
    if rest[:1] == ".":
        m = _FRAC_RE.match(rest)
        if m is not None:
            digits = m.group(1)
            frac = int((digits + "000000000")[:9])
            rest = rest[m.end() :]
    offset = 0
    if rest and rest[0] in "+-" and len(rest) >= 6:
        try:
            sign = 1 if rest[0] == "+" else -1
            offset = sign * (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60)
        except ValueError:
            offset = 0
    return (base - offset) * 1_000_000_000 + frac


def event_time_ns(ev: Any) -> int | None:
    """The time of an audit event: its stage timestamp, else when it was received."""
    if not isinstance(ev, dict):
        return None
    for key in ("stageTimestamp", "requestReceivedTimestamp", "timestamp"):
        t = parse_time_ns(ev.get(key))
        if t is not None:
            return t
    meta = ev.get("metadata")
    if isinstance(meta, dict):
        return parse_time_ns(meta.get("creationTimestamp"))
    return None


Extractor = Callable[[dict[str, Any], "str | None"], Any]


def _simple(*keys: str) -> Extractor:
    return lambda ev, arg: _str_at(ev, *keys)


def _simple_list(*keys: str) -> Extractor:
    return lambda ev, arg: _list_at(ev, *keys)


def _annotation(key: str) -> Extractor:
    def ext(ev: dict[str, Any], arg: str | None) -> Any:
        ann = ev.get("annotations")
        if not isinstance(ann, dict) or key not in ann:
            return None
        return jtext(ann[key])

    return ext


_HEX = frozenset("0123456789abcdefABCDEF")


def _go_unescape(s: str) -> str | None:
    """Go's ``url.QueryUnescape``: ``+`` is a blank, ``%XX`` a byte; a bad escape is an error."""
    if "%" not in s:
        return s.replace("+", " ")
    out = bytearray()
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "%":
            if i + 2 >= n or s[i + 1] not in _HEX or s[i + 2] not in _HEX:
                return None
            out.append(int(s[i + 1 : i + 3], 16))
            i += 3
            continue
        out.extend(b" " if c == "+" else c.encode("utf-8", "surrogateescape"))
        i += 1
    return out.decode("utf-8", "replace")


def go_parse_query(query: str) -> dict[str, list[str]] | None:
    """Go's ``url.ParseQuery``: ``&``-separated pairs; ``None`` when it reports an error
    (a ``;`` in a pair or a bad ``%`` escape), which makes the plugin return no value."""
    out: dict[str, list[str]] = {}
    ok = True
    for part in query.split("&"):
        if not part:
            continue
        if ";" in part:
            ok = False
            continue
        key, _, value = part.partition("=")
        k = _go_unescape(key)
        v = _go_unescape(value)
        if k is None or v is None:
            ok = False
            continue
        out.setdefault(k, []).append(v)
    return out if ok else None


def _uri_param(ev: dict[str, Any], arg: str | None) -> Any:
    uri = ev.get("requestURI")
    if uri is None or arg is None:
        return None
    text = jtext(uri)
    # url.Parse fails on control characters and on a bad '%' escape in the path
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        return None
    # the query is what follows the first '?', up to a '#' fragment
    text = text.split("#", 1)[0]
    path, sep, query = text.partition("?")
    if "%" in path and _go_unescape(path.replace("+", "")) is None:
        return None
    if not sep:
        return None
    params = go_parse_query(query)
    if params is None:
        return None
    vals = params.get(arg)
    return vals[0] if vals else None


def _target_pod_name(ev: dict[str, Any], arg: str | None) -> Any:
    ref = ev.get("objectRef")
    if not isinstance(ref, dict) or ref.get("resource") != "pods" or ref.get("subresource") is not None:
        return None
    return _str_at(ev, "responseObject", "metadata", "name")


def _selected(ev: dict[str, Any], arg: str | None, *keys: str) -> list[Any] | None:
    """The list at ``keys``, or with an index argument just that element (none when out of
    range); ``None`` when there is no list."""
    v = _path(ev, *keys)
    if not isinstance(v, list):
        return None
    idx = _index(arg)
    if idx is None:
        return v
    return [v[idx]] if 0 <= idx < len(v) else []


def _rules_field(key: str) -> Extractor:
    def ext(ev: dict[str, Any], arg: str | None) -> Any:
        rules = _selected(ev, arg, "requestObject", "rules")
        if rules is None:
            return None
        out: list[str] = []
        for r in rules:
            v = r.get(key) if isinstance(r, dict) else None
            if isinstance(v, list):
                out.extend(jtext(x) for x in v if x is not None)
        return tuple(out) or None

    return ext


def _indexed_list(*keys: str) -> Extractor:
    def ext(ev: dict[str, Any], arg: str | None) -> Any:
        v = _selected(ev, arg, *keys)
        if v is None:
            return None
        return tuple(jtext(x) for x in v if x is not None) or None

    return ext


def _volumes(key: str, sub: str | None) -> Extractor:
    def ext(ev: dict[str, Any], arg: str | None) -> Any:
        vols = _selected(ev, arg, "requestObject", "spec", "volumes")
        if vols is None:
            return None
        out: list[str] = []
        for v in vols:
            if not isinstance(v, dict):
                continue
            if key == "*":
                out.extend(k for k in v if k != "name")
                continue
            inner = v.get(key)
            if isinstance(inner, dict) and sub is not None and inner.get(sub) is not None:
                out.append(jtext(inner[sub]))
        return tuple(out) or None

    return ext


def _volume_hostpath(ev: dict[str, Any], arg: str | None) -> Any:
    # no volumes array at all: the plugin reports the field as not available
    if arg is None or not isinstance(_path(ev, "requestObject", "spec", "volumes"), list):
        return None
    paths = _volumes("hostPath", "path")(ev, None) or ()
    if arg.endswith("*"):
        prefix = arg[:-1]
        return "true" if any(p.startswith(prefix) for p in paths) else "false"
    return "true" if arg in paths else "false"


def _first(ext: Extractor) -> Extractor:
    def first(ev: dict[str, Any], arg: str | None) -> Any:
        v = ext(ev, "0")
        return v[0] if v else None

    return first


def _container_privileged(ev: dict[str, Any], arg: str | None) -> Any:
    items = _containers(ev, "containers", None)
    if items is None:
        return None
    for c in items:
        sc = c.get("securityContext") if isinstance(c, dict) else None
        if isinstance(sc, dict) and sc.get("privileged") is True:
            return "true"
    return "false"


def _jevt_value(ev: dict[str, Any], arg: str | None) -> Any:
    if arg is None:
        return None
    v = json_pointer(ev, arg)
    if v is _MISSING:
        return None
    return jtext(v)


# Fields that are the text at a short path; _key_extractor reads these without the generic
# extractor call.
_SIMPLE_PATHS: dict[str, tuple[str, ...]] = {
    "ka.auditid": ("auditID",),
    "ka.stage": ("stage",),
    "ka.verb": ("verb",),
    "ka.uri": ("requestURI",),
    "ka.useragent": ("userAgent",),
    "ka.user.name": ("user", "username"),
    "ka.impuser.name": ("impersonatedUser", "username"),
    "ka.target.name": ("objectRef", "name"),
    "ka.target.namespace": ("objectRef", "namespace"),
    "ka.target.resource": ("objectRef", "resource"),
    "ka.target.subresource": ("objectRef", "subresource"),
    "ka.req.configmap.name": ("objectRef", "name"),
    "ka.response.code": ("responseStatus", "code"),
    "ka.response.reason": ("responseStatus", "reason"),
}


EXTRACTORS: dict[str, Extractor] = {
    **{name: _simple(*keys) for name, keys in _SIMPLE_PATHS.items()},
    "ka.auth.decision": _annotation("authorization.k8s.io/decision"),
    "ka.auth.reason": _annotation("authorization.k8s.io/reason"),
    "ka.user.groups": _simple_list("user", "groups"),
    "ka.uri.param": _uri_param,
    "ka.target.pod.name": _target_pod_name,
    "ka.req.binding.subjects": _simple_list("requestObject", "subjects"),
    "ka.req.binding.role": _simple("requestObject", "roleRef", "name"),
    "ka.req.binding.subject.has_name": lambda ev, arg: "true",
    "ka.req.configmap.obj": _simple("requestObject", "data"),
    "ka.req.container.image": _first(lambda ev, arg: _container_attr(ev, "containers", "image", arg)),
    "ka.req.container.image.repository": _first(
        lambda ev, arg: _container_attr(ev, "containers", "image.repository", arg)
    ),
    "ka.req.container.privileged": _container_privileged,
    "ka.req.pod.host_ipc": _simple("requestObject", "spec", "hostIPC"),
    "ka.req.pod.host_network": _simple("requestObject", "spec", "hostNetwork"),
    "ka.req.container.host_network": _simple("requestObject", "spec", "hostNetwork"),
    "ka.req.pod.host_pid": _simple("requestObject", "spec", "hostPID"),
    "ka.req.pod.run_as_user": _simple("requestObject", "spec", "securityContext", "runAsUser"),
    "ka.req.pod.run_as_group": _simple("requestObject", "spec", "securityContext", "runAsGroup"),
    "ka.req.pod.fs_group": _simple("requestObject", "spec", "securityContext", "fsGroup"),
    "ka.req.pod.supplemental_groups": _simple_list("requestObject", "spec", "securityContext", "supplementalGroups"),
    "ka.req.role.rules": _simple_list("requestObject", "rules"),
    "ka.req.role.rules.apiGroups": _rules_field("apiGroups"),
    "ka.req.role.rules.nonResourceURLs": _rules_field("nonResourceURLs"),
    "ka.req.role.rules.verbs": _rules_field("verbs"),
    "ka.req.role.rules.resources": _rules_field("resources"),
    "ka.req.service.type": _simple("requestObject", "spec", "type"),
    "ka.req.service.ports": _indexed_list("requestObject", "spec", "ports"),
    "ka.req.pod.volumes.hostpath": _volumes("hostPath", "path"),
    "ka.req.pod.volumes.flexvolume_driver": _volumes("flexVolume", "driver"),
    "ka.req.pod.volumes.volume_type": _volumes("*", None),
    "ka.req.volume.hostpath": _volume_hostpath,
    "ka.resp.name": _simple("responseObject", "metadata", "name"),
    "ka.sourceips": _simple_list("sourceIPs"),
}
# The per-container fields, declared once in fields.py.
for _lst in CONTAINER_LISTS:
    for _attr in CONTAINER_ATTRS:
        EXTRACTORS[f"ka.req.pod.{_lst}.{_attr}"] = (
            lambda lst, attr: lambda ev, arg: _container_attr(ev, lst, attr, arg)
        )(_lst, _attr)


def _key_extractor(key: str) -> Callable[[Any], Any]:
    """A function raw-event -> value for one field key (``name`` or ``name[arg]``), memoised."""
    fn = _KEY_FNS.get(key)
    if fn is not None:
        return fn
    name, arg = _split_key(key)
    if (
        name in ("jevt.value", "json.value")
        and arg
        and arg.startswith("/")
        and "~" not in arg
        and not any(t[-1:].isdigit() for t in arg[1:].split("/"))
    ):
        # a pointer made of plain object keys: walk the dicts directly
        toks = tuple(arg[1:].split("/"))

        def fn(raw: Any) -> Any:
            cur = raw
            for t in toks:
                if type(cur) is not dict or t not in cur:
                    return None
                cur = cur[t]
            return cur if type(cur) is str else jtext(cur)

    elif name in ("jevt.value", "json.value"):
        ptr = arg

        def fn(raw: Any) -> Any:
            return _jevt_value(raw, ptr) if isinstance(raw, dict) else None

    elif name in ("jevt.obj", "json.obj"):

        def fn(raw: Any) -> Any:
            return json.dumps(raw, indent=2, ensure_ascii=False)

    else:
        ext = EXTRACTORS.get(name)
        keys = _SIMPLE_PATHS.get(name)
        if keys is not None and len(keys) == 1:
            k0 = keys[0]

            def fn(raw: Any) -> Any:
                if "auditID" not in raw:
                    return None
                v = raw.get(k0, _MISSING)
                return v if type(v) is str else (None if v is _MISSING else jtext(v))

        elif keys is not None and len(keys) == 2:
            k0, k1 = keys

            def fn(raw: Any) -> Any:
                if "auditID" not in raw:
                    return None
                v = raw.get(k0)
                if type(v) is not dict:
                    return None
                v = v.get(k1, _MISSING)
                return v if type(v) is str else (None if v is _MISSING else jtext(v))

        elif ext is not None:
            e = ext

            def fn(raw: Any) -> Any:
                if "auditID" not in raw:
                    return None
                try:
                    return e(raw, arg)
                except (TypeError, AttributeError, ValueError):
                    return None

        else:

            def fn(raw: Any) -> Any:
                return None

    _KEY_FNS[key] = fn
    return fn


def _rawtime(raw: Any) -> Any:
    t = event_time_ns(raw)
    return str(t) if t else None


def _time_fn(iso: bool) -> Callable[[Any], Any]:
    def fn(raw: Any) -> Any:
        t = event_time_ns(raw)
        return format_time(t, iso=iso) if t else None

    return fn


def _evt_rawtime(raw: Any) -> Any:
    return event_time_ns(raw)


_KEY_FNS: dict[str, Callable[[Any], Any]] = {
    "jevt.rawtime": _rawtime,
    "json.rawtime": _rawtime,
    "jevt.time": _time_fn(False),
    "jevt.time.iso8601": _time_fn(True),
    # generic event fields every source has
    "evt.time": _time_fn(False),
    "evt.time.iso8601": _time_fn(True),
    "evt.rawtime": _evt_rawtime,
    "evt.source": lambda raw: "k8s_audit",
    "evt.pluginname": lambda raw: "k8saudit",
}


class _FieldCache(dict):  # type: ignore[type-arg]
    """Per-event field values; a miss extracts the field (so a hit costs one C-level lookup)."""

    __slots__ = ("num", "raw")
    raw: Any
    num: int

    def __missing__(self, key: str) -> Any:
        if key == "evt.num":
            return self.num
        fn = _KEY_FNS.get(key) or _key_extractor(key)
        v = self[key] = fn(self.raw)
        return v


class K8sAuditEvent:
    """One audit event; fields are extracted on first use and cached."""

    __slots__ = ("cache", "get", "num", "raw")
    source = "k8s_audit"

    def __init__(self, raw: Any, num: int = 1) -> None:
        # a non-object document (e.g. a bare number) has no fields at all
        self.raw = raw if isinstance(raw, dict) else {}
        self.num = num
        cache = _FieldCache()
        cache.raw = self.raw
        cache.num = num
        self.cache = cache
        # ``get(key)``: the value of a field, or None when the event does not have it
        self.get = cache.__getitem__

    def time_ns(self) -> int:
        """The event timestamp in ns (0 when the event has none)."""
        t = self.cache["jevt.rawtime"]
        return int(t) if t else 0


_KEYS: dict[str, tuple[str, str | None]] = {}


def _split_key(key: str) -> tuple[str, str | None]:
    r = _KEYS.get(key)
    if r is None:
        if key.endswith("]") and "[" in key:
            name, _, arg = key.partition("[")
            r = (name, arg[:-1])
        else:
            r = (key, None)
        _KEYS[key] = r
    return r


def format_time(ts_ns: int, iso: bool = True) -> str:
    """``2018-10-25T14:09:12.000000000Z`` (iso, UTC) or ``14:09:12.000000000`` (local time, as
    Falco prints ``%evt.time`` at the start of a text alert)."""
    secs, frac = divmod(ts_ns, 1_000_000_000)
    if iso:
        return datetime.fromtimestamp(secs, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"
    return datetime.fromtimestamp(secs).strftime("%H:%M:%S") + f".{frac:09d}"

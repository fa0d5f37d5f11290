"""Build authorization requests the way ``kubectl auth can-i`` does, and read request lists.

Namespace rules: an explicit namespace is used as given (kubectl only warns for a cluster-scoped
resource); "all namespaces" is ``""``; otherwise namespaced resources use ``default`` and
cluster-scoped ones (built-in, or input CRDs with ``scope: Cluster``) use ``""``, except a named
``namespaces`` object, whose requests the API server places in that namespace. A target that
starts with ``/`` is a non-resource URL.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from stockade.engines.rbac.model import Attributes
from stockade.engines.rbac.resources import ResourceCatalog
from stockade.errors import EngineError

DEFAULT_NAMESPACE = "default"

# The verbs kubectl auth can-i knows; others are still asked about, with a warning (as kubectl).
RESOURCE_VERBS = frozenset(
    (
        "get", "list", "watch", "create", "update", "patch", "delete", "deletecollection",
        "use", "bind", "impersonate", "*", "approve", "sign", "escalate", "attest",
    )
)  # fmt: skip
NON_RESOURCE_VERBS = frozenset(("get", "put", "post", "head", "options", "delete", "patch", "*"))


@dataclass(frozen=True, slots=True)
class BuiltRequest:
    """A request and the warnings kubectl would print while building it."""

    attributes: Attributes
    warnings: tuple[str, ...] = ()


def build_request(
    catalog: ResourceCatalog,
    verb: str,
    target: str,
    name: str = "",
    *,
    namespace: str | None = None,
    all_namespaces: bool = False,
    api_group: str | None = None,
    subresource: str = "",
) -> BuiltRequest:
    """``VERB RESOURCE[.GROUP][/SUBRESOURCE] [NAME]`` or ``VERB /non/resource/url``."""
    if target.startswith("/"):
        if name or subresource or api_group:
            raise EngineError(f"{target}: a non-resource URL takes no name, subresource or API group")
        url_warnings = () if verb in NON_RESOURCE_VERBS else (f"verb '{verb}' is not a known verb",)
        return BuiltRequest(Attributes(verb=verb, non_resource_url=target), url_warnings)
    resource_arg, _, sub = target.partition("/")
    if "/" in sub or "/" in subresource:
        # The API server reads one subresource segment; there is no request for pods/log/x.
        raise EngineError(f"{target}: expected RESOURCE[.GROUP][/SUBRESOURCE] with a single subresource")
    if not resource_arg or resource_arg.startswith("."):
        raise EngineError(f"{target}: no resource before the group or subresource")
    if sub and subresource and sub != subresource:
        raise EngineError(f"{target}: subresource given twice ({sub!r} and --subresource {subresource!r})")
    res = catalog.resolve(resource_arg, api_group)
    warnings: list[str] = []
    if verb not in RESOURCE_VERBS:
        warnings.append(f"verb '{verb}' is not a known verb")
    if not res.known:
        where = f" in group '{res.group}'" if res.group else ""
        warnings.append(f"the inputs and built-in types have no resource type '{res.resource}'{where}")
    if all_namespaces:
        ns = ""
    elif namespace is not None:
        ns = namespace
        if not res.namespaced and ns:
            where = f" in group '{res.group}'" if res.group else ""
            warnings.append(f"resource '{res.resource}' is not namespace scoped{where}")
    elif res.group == "" and res.resource == "namespaces" and name:
        # GET /api/v1/namespaces/NAME is a request in namespace NAME (the API server's RequestInfo
        # sets both), so RoleBindings there apply to the namespace object itself.
        ns = name
    else:
        ns = DEFAULT_NAMESPACE if res.namespaced else ""
    attrs = Attributes(
        verb=verb,
        namespace=ns,
        api_group=res.group,
        resource=res.resource,
        subresource=sub or subresource,
        name=name,
    )
    return BuiltRequest(attrs, tuple(warnings))


def as_authorized(a: Attributes) -> Attributes:
    """The request as the authorizer sees it: ``create`` (of an object, not a subresource) and
    ``deletecollection`` go to the collection URL, so the API server never knows a name for them
    (a rule with ``resourceNames`` can never allow them). Audit logs and declared needs may still
    name the object; the name is dropped here."""
    if (
        a.is_resource_request
        and a.name
        and (a.verb == "deletecollection" or (a.verb == "create" and not a.subresource))
    ):
        return replace(a, name="")
    return a


def parse_needs(data: Any, catalog: ResourceCatalog, source: str = "<needs>") -> list[Attributes]:
    """A declared list of needed requests.

    Each entry is either a string ``"VERB TARGET [NAME] [-n NS | -A] [--subresource S]"`` or a
    mapping with ``verb`` and either ``nonResourceURL`` or ``resource`` (``pods``, ``pods/log``,
    ``deployments.apps``) plus optional ``apiGroup``, ``subresource``, ``name``, ``namespace``.
    """
    if isinstance(data, Mapping) and "requests" in data:
        data = data["requests"]
    if not isinstance(data, list):
        raise EngineError(f"{source}: expected a list of requests")
    out: list[Attributes] = []
    for i, entry in enumerate(data):
        where = f"{source}: entry {i}"
        if isinstance(entry, str):
            out.append(as_authorized(_parse_line(entry, catalog, where)))
        elif isinstance(entry, Mapping):
            verb = entry.get("verb")
            if not isinstance(verb, str) or not verb:
                raise EngineError(f"{where}: 'verb' is required")
            if entry.get("nonResourceURL"):
                out.append(Attributes(verb=verb, non_resource_url=str(entry["nonResourceURL"])))
                continue
            resource = entry.get("resource")
            if not isinstance(resource, str) or not resource:
                raise EngineError(f"{where}: 'resource' or 'nonResourceURL' is required")
            ns = entry.get("namespace")
            built = build_request(
                catalog,
                verb,
                resource,
                str(entry.get("name") or ""),
                namespace=None if ns is None else str(ns),
                api_group=None if entry.get("apiGroup") is None else str(entry["apiGroup"]),
                subresource=str(entry.get("subresource") or ""),
            )
            out.append(as_authorized(built.attributes))
        else:
            raise EngineError(f"{where}: expected a string or a mapping")
    return out


def _parse_line(line: str, catalog: ResourceCatalog, where: str) -> Attributes:
    try:
        words = shlex.split(line)
    except ValueError as e:
        raise EngineError(f"{where}: {e}") from None
    pos: list[str] = []
    ns: str | None = None
    all_ns = False
    sub = ""
    group: str | None = None
    it = iter(words)
    for w in it:
        if w in ("-n", "--namespace"):
            ns = next(it, "")
        elif w.startswith("--namespace="):
            ns = w.split("=", 1)[1]
        elif w in ("-A", "--all-namespaces"):
            all_ns = True
        elif w == "--subresource":
            sub = next(it, "")
        elif w == "--api-group":
            group = next(it, "")
        else:
            pos.append(w)
    if len(pos) not in (2, 3):
        raise EngineError(f"{where}: expected 'VERB RESOURCE [NAME]', got {line!r}")
    return build_request(
        catalog,
        pos[0],
        pos[1],
        pos[2] if len(pos) == 3 else "",
        namespace=ns,
        all_namespaces=all_ns,
        api_group=group,
        subresource=sub,
    ).attributes


def requests_from_audit(lines: Iterable[str], user: str | None = None, source: str = "<audit>") -> list[Attributes]:
    """Requests recorded in an audit log (JSON lines of ``audit.k8s.io`` Events).

    Only ``ResponseComplete`` events (or events without a stage) count, optionally only those of
    one user name: the impersonated user when the request was impersonated (the identity the
    request was authorized as). Non-resource requests are taken from ``requestURI`` without its
    query. A created object's name is dropped (see :func:`as_authorized`).
    """
    out: list[Attributes] = []
    seen: set[Attributes] = set()
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            ev = json.loads(line)
        except json.JSONDecodeError as e:
            raise EngineError(f"{source}:{n}: invalid JSON: {e.msg}") from None
        if not isinstance(ev, Mapping):
            continue
        if ev.get("stage") not in (None, "ResponseComplete"):
            continue
        # An impersonated request was authorized as the impersonated identity, not the caller.
        imp = ev.get("impersonatedUser")
        who = imp if isinstance(imp, Mapping) else ev.get("user") if isinstance(ev.get("user"), Mapping) else {}
        assert isinstance(who, Mapping)
        if user is not None and who.get("username") != user:
            continue
        verb = str(ev.get("verb") or "")
        ref = ev.get("objectRef")
        if isinstance(ref, Mapping) and ref.get("resource"):
            a = Attributes(
                verb=verb,
                namespace=str(ref.get("namespace") or ""),
                api_group=str(ref.get("apiGroup") or ""),
                resource=str(ref["resource"]),
                subresource=str(ref.get("subresource") or ""),
                name=str(ref.get("name") or ""),
            )
        else:
            uri = str(ev.get("requestURI") or "")
            if not uri:
                continue
            a = Attributes(verb=verb, non_resource_url=uri.split("?", 1)[0])
        a = as_authorized(a)
        if verb and a not in seen:
            seen.add(a)
            out.append(a)
    return out

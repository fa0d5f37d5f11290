"""Structural type checks on the fields Stockade reads.

The API server rejects an object whose fields have the wrong JSON type (a list where an object
belongs, a number as a label value). Such an object never reaches a cluster, and analysing it
would give answers about something that cannot exist, so it becomes an input error instead.
Only the fields the engines read are checked; unknown fields are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stockade.loading.objects import K8sObject

# A schema is a Python type, a ("list", schema) / ("map", schema) pair, or a dict of fields.
Schema = Any

STR, BOOL, INT = str, bool, int
QUANTITY = (str, int, float)
INT_OR_STR = (int, str)


def list_of(s: Schema) -> Schema:
    return ("list", s)


def map_of(s: Schema) -> Schema:
    return ("map", s)


_STRINGS = map_of(STR)
_SELECTOR = {
    "matchLabels": _STRINGS,
    "matchExpressions": list_of({"key": STR, "operator": STR, "values": list_of(STR)}),
}
_SECURITY_CONTEXT = {
    "privileged": BOOL,
    "allowPrivilegeEscalation": BOOL,
    "readOnlyRootFilesystem": BOOL,
    "runAsNonRoot": BOOL,
    "runAsUser": INT,
    "runAsGroup": INT,
    "procMount": STR,
    "capabilities": {"add": list_of(STR), "drop": list_of(STR)},
    "seccompProfile": {"type": STR, "localhostProfile": STR},
    "appArmorProfile": {"type": STR, "localhostProfile": STR},
    "seLinuxOptions": {"type": STR, "user": STR, "role": STR, "level": STR},
    "windowsOptions": {"hostProcess": BOOL},
}
_CONTAINER = {
    "name": STR,
    "image": STR,
    "imagePullPolicy": STR,
    "command": list_of(STR),
    "args": list_of(STR),
    "ports": list_of({"containerPort": INT, "hostPort": INT, "name": STR, "protocol": STR, "hostIP": STR}),
    "env": list_of({"name": STR, "value": STR, "valueFrom": dict}),
    "envFrom": list_of(dict),
    "resources": {"requests": map_of(QUANTITY), "limits": map_of(QUANTITY)},
    "securityContext": _SECURITY_CONTEXT,
    "volumeMounts": list_of({"name": STR, "mountPath": STR, "readOnly": BOOL}),
}
_POD_SPEC = {
    "containers": list_of(_CONTAINER),
    "initContainers": list_of(_CONTAINER),
    "ephemeralContainers": list_of(_CONTAINER),
    "volumes": list_of({"name": STR, "hostPath": {"path": STR, "type": STR}}),
    "hostNetwork": BOOL,
    "hostPID": BOOL,
    "hostIPC": BOOL,
    "hostUsers": BOOL,
    "serviceAccountName": STR,
    "serviceAccount": STR,
    "automountServiceAccountToken": BOOL,
    "securityContext": {
        **_SECURITY_CONTEXT,
        "sysctls": list_of({"name": STR, "value": STR}),
        "supplementalGroups": list_of(INT),
        "fsGroup": INT,
    },
    "nodeSelector": _STRINGS,
    "runtimeClassName": STR,
}
_METADATA = {"name": STR, "namespace": STR, "labels": _STRINGS, "annotations": _STRINGS, "generateName": STR}
_RULE = {
    "verbs": list_of(STR),
    "apiGroups": list_of(STR),
    "resources": list_of(STR),
    "resourceNames": list_of(STR),
    "nonResourceURLs": list_of(STR),
}
_RBAC_ROLE = {"rules": list_of(_RULE), "aggregationRule": {"clusterRoleSelectors": list_of(_SELECTOR)}}
_RBAC_BINDING = {
    "subjects": list_of({"kind": STR, "name": STR, "namespace": STR, "apiGroup": STR}),
    "roleRef": {"kind": STR, "name": STR, "apiGroup": STR},
}
_PEER = {
    "podSelector": _SELECTOR,
    "namespaceSelector": _SELECTOR,
    "ipBlock": {"cidr": STR, "except": list_of(STR)},
}
_NP_PORT = {"port": INT_OR_STR, "endPort": INT, "protocol": STR}
_NETPOL_SPEC = {
    "podSelector": _SELECTOR,
    "policyTypes": list_of(STR),
    "ingress": list_of({"from": list_of(_PEER), "ports": list_of(_NP_PORT)}),
    "egress": list_of({"to": list_of(_PEER), "ports": list_of(_NP_PORT)}),
}

# Top-level schemas by kind (fields other than metadata and pod specs).
_BY_KIND: dict[str, Schema] = {
    "Role": _RBAC_ROLE,
    "ClusterRole": _RBAC_ROLE,
    "RoleBinding": _RBAC_BINDING,
    "ClusterRoleBinding": _RBAC_BINDING,
    "NetworkPolicy": {"spec": _NETPOL_SPEC},
}

_TYPE_NAMES = {str: "a string", bool: "a boolean", int: "an integer", float: "a number", dict: "an object"}


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return "a string"


def _expected(schema: Schema) -> str:
    if isinstance(schema, tuple) and schema and schema[0] == "list":
        return "a list"
    if (isinstance(schema, tuple) and schema and schema[0] == "map") or isinstance(schema, dict):
        return "an object"
    if isinstance(schema, tuple):
        return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in schema)
    return _TYPE_NAMES.get(schema, getattr(schema, "__name__", str(schema)))


def _check(value: Any, schema: Schema, path: str, out: list[str]) -> None:
    if value is None:
        return  # null is "unset" for the API server
    if isinstance(schema, dict):
        if not isinstance(value, Mapping):
            out.append(f"{path}: expected an object, got {_describe(value)}")
            return
        for key, sub in schema.items():
            if key in value:
                _check(value[key], sub, f"{path}.{key}" if path else key, out)
        return
    if isinstance(schema, tuple) and schema and schema[0] in ("list", "map"):
        if schema[0] == "list":
            if not isinstance(value, list):
                out.append(f"{path}: expected a list, got {_describe(value)}")
                return
            for i, item in enumerate(value):
                _check(item, schema[1], f"{path}[{i}]", out)
        else:
            if not isinstance(value, Mapping):
                out.append(f"{path}: expected an object, got {_describe(value)}")
                return
            for k, item in value.items():
                _check(item, schema[1], f'{path}["{k}"]', out)
        return
    types = schema if isinstance(schema, tuple) else (schema,)
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        out.append(f"{path}: expected {_expected(schema)}, got {_describe(value)}")


def validate_object(obj: K8sObject) -> list[str]:
    """Type errors in the fields Stockade reads, each ``path: expected X, got Y``."""
    from stockade.loading.podspecs import FINDERS

    out: list[str] = []
    _check(obj.body.get("metadata"), _METADATA, "metadata", out)
    schema = _BY_KIND.get(obj.kind)
    if schema is not None:
        _check(obj.body, schema, "", out)
    if (obj.api_group, obj.kind) in FINDERS and not out:
        _check_pod_specs(obj, out)
    return out


def _check_pod_specs(obj: K8sObject, out: list[str]) -> None:
    from stockade.loading.podspecs import find_pod_specs

    # Containers along the way (spec, template, template.spec) must be objects too.
    for path in ("spec",):
        if path in obj.body and obj.body[path] is not None and not isinstance(obj.body[path], Mapping):
            out.append(f"{path}: expected an object, got {_describe(obj.body[path])}")
            return
    template = obj.spec.get("template")
    if template is not None and not isinstance(template, Mapping):
        out.append(f"spec.template: expected an object, got {_describe(template)}")
        return
    for ps in find_pod_specs(obj):
        errs: list[str] = []
        _check(ps.spec, _POD_SPEC, "", errs)
        _check(ps.metadata, _METADATA, "metadata", errs)
        for e in errs:
            rel, _, msg = e.partition(": ")
            # Template metadata sits beside the pod spec, not inside it.
            where = ps.path.rsplit(".", 1)[0] + "." + rel if rel.startswith("metadata") else ps.field_path(rel)
            out.append(f"{where}: {msg}")

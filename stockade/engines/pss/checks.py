"""The Baseline and Restricted checks, one function per upstream versioned implementation.

Each function reads a prepared :class:`PodView` and returns ``None`` when the pod is allowed, or
``(reason, detail, fields)`` with the short reason and the specific detail the API server prints,
plus the paths of the fields that made it fail. The texts, orderings and pluralisation follow
upstream's ``policy/check_*.go`` so that denial messages match the API server's word for word.

The fields are decided by the same test that decides the verdict (upstream reports none), so a
caller pointing at "the field to change" never has to second-guess a check's version semantics.
They are written as on a Pod object (``spec.containers[1].securityContext.privileged``,
``spec.volumes[0].hostPath``, ``metadata.annotations``), the most relevant first: a field that
is set to a forbidden value, else the closest existing parent of a required field that is missing
(``spec.containers[0].securityContext`` or ``spec.containers[0]``).

Pods are raw mappings (as decoded from YAML/JSON). Go's decoding rules decide what "set" means:
a ``null`` pointer field is unset, an empty mapping is a set (zero-valued) struct, and only a
real boolean ``true`` counts as true.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stockade.engines.pss.api import go_quote

Fields = tuple[str, ...]
Outcome = tuple[str, str, Fields] | None
"""None when allowed, else (ForbiddenReason, ForbiddenDetail, offending field paths)."""
_EMPTY: dict[str, Any] = {}


def _m(v: Any) -> Mapping[str, Any] | None:
    """The value as a mapping, or None when unset or not a mapping (Go: a nil pointer)."""
    if type(v) is dict:
        return v
    if v is None:
        return None
    return v if isinstance(v, Mapping) else None


def _s(v: Any) -> str:
    """A string field's value (Go's zero value for unset)."""
    if v is None:
        return ""
    return v if type(v) is str else str(v)


def _list(v: Any) -> list[Any]:
    return v if type(v) is list else (list(v) if isinstance(v, tuple) else [])


_CONTAINER_KEYS = ((0, "initContainers"), (1, "containers"), (2, "ephemeralContainers"))
_CONTAINER_PATHS = ("spec.initContainers", "spec.containers", "spec.ephemeralContainers")


def _cfield(kind: int, index: int, rest: str = "") -> str:
    """The path of a container (``kind`` 0 init / 1 regular / 2 ephemeral) or of ``rest`` in it."""
    return f"{_CONTAINER_PATHS[kind]}[{index}]{rest}"


# A required container field that is missing: point at its closest existing parent.
def _missing(kind: int, index: int, sc: Mapping[str, Any] | None) -> str:
    return _cfield(kind, index, ".securityContext" if sc is not None else "")


_ANNOTATIONS = "metadata.annotations"


class PodView:
    """What every check reads, prepared once per evaluation."""

    __slots__ = ("containers", "defaults", "is_pod", "meta", "psc", "spec", "userns", "windows")

    def __init__(self, meta: Mapping[str, Any], spec: Mapping[str, Any], defaults: bool, is_pod: bool) -> None:
        self.meta = meta
        self.spec = spec
        self.psc = _m(spec.get("securityContext"))
        """The pod securityContext, None when unset."""
        cs: list[tuple[str, Mapping[str, Any], Mapping[str, Any] | None, int, int]] = []
        for kind, key in _CONTAINER_KEYS:
            items = spec.get(key)
            if not items:
                continue
            for i, c in enumerate(items if type(items) is list else _list(items)):
                if type(c) is not dict:
                    c = _m(c) or _EMPTY
                name = c.get("name")
                sc = c.get("securityContext")
                if sc is not None and type(sc) is not dict:
                    sc = _m(sc)
                cs.append((name if type(name) is str else _s(name), c, sc, kind, i))
        self.containers = cs
        """(name, container, securityContext or None, 0 init / 1 regular / 2 ephemeral, index)."""
        os_ = _m(spec.get("os"))
        self.windows = os_ is not None and os_.get("name") == "windows"
        self.userns = spec.get("hostUsers") is False
        self.defaults = defaults
        """Apply the API server's defaulting that changes the verdict (volume sources)."""
        self.is_pod = is_pod
        """A real Pod (not a template): Pod-only defaulting applies too (hostNetwork hostPorts)."""


def pluralize(singular: str, plural: str, n: int) -> str:
    """Upstream's pluralize: the singular only for exactly one."""
    return singular if n == 1 else plural


def join_quote(items: list[str]) -> str:
    """Upstream's joinQuote: ``"a", "b"`` without escaping."""
    return '"' + '", "'.join(items) + '"' if items else ""


def _containers_phrase(names: list[str]) -> str:
    return f"{pluralize('container', 'containers', len(names))} {join_quote(names)}"


def _annotations(p: PodView) -> Mapping[str, Any]:
    return _m(p.meta.get("annotations")) or _EMPTY


def _forbidden_in_containers(
    p: PodView, forbidden: Callable[[Mapping[str, Any]], list[str]], rest: str
) -> tuple[list[str], set[str], list[str]]:
    """The containers whose securityContext has ``forbidden`` values, those values, and the
    ``rest`` field path in each such container."""
    bad: list[str] = []
    values: set[str] = set()
    fields: list[str] = []
    for name, _c, sc, kind, i in p.containers:
        if sc is None:
            continue
        found = forbidden(sc)
        if found:
            bad.append(name)
            values.update(found)
            fields.append(_cfield(kind, i, rest))
    return bad, values, fields


def _set_anywhere(p: PodView, key: str) -> bool:
    """Whether the pod's or any container's securityContext sets ``key`` (the quick way out)."""
    psc = p.psc
    if psc is not None and psc.get(key) is not None:
        return True
    return any(sc is not None and sc.get(key) is not None for _n, _c, sc, _k, _i in p.containers)


def _profile_type_ok(t: Any) -> bool:
    return t in ("RuntimeDefault", "Localhost")


def _forbidden_profiles(p: PodView, key: str) -> tuple[list[str], set[str], list[str]]:
    """Who sets ``securityContext.<key>.type`` (seccompProfile, appArmorProfile) to a forbidden
    type: ``"pod"`` and/or the containers phrase, the types, and the fields, pod first."""
    setters: list[str] = []
    values: set[str] = set()
    fields: list[str] = []
    psc = p.psc
    if psc is not None:
        prof = _m(psc.get(key))
        if prof is not None and not _profile_type_ok(prof.get("type")):
            setters.append("pod")
            values.add(_s(prof.get("type")))
            fields.append(f"spec.securityContext.{key}.type")
    bad: list[str] = []
    for name, _c, sc, kind, i in p.containers:
        if sc is None:
            continue
        prof = _m(sc.get(key))
        if prof is not None and not _profile_type_ok(prof.get("type")):
            bad.append(name)
            values.add(_s(prof.get("type")))
            fields.append(_cfield(kind, i, f".securityContext.{key}.type"))
    if bad:
        setters.append(_containers_phrase(bad))
    return setters, values, fields


# --- hostNamespaces -------------------------------------------------------------------------


def host_namespaces_1_0(p: PodView) -> Outcome:
    """Upstream hostNamespaces, implementation for policy v1.0+."""
    spec = p.spec
    net = spec.get("hostNetwork") is True
    pid = spec.get("hostPID") is True
    ipc = spec.get("hostIPC") is True
    if not (net or pid or ipc):
        return None
    # upstream sorts the names: hostIPC < hostNetwork < hostPID
    names = [n for n, on in (("hostIPC", ipc), ("hostNetwork", net), ("hostPID", pid)) if on]
    # the widest exposure first: the node's network, then its processes, then its IPC
    fields = tuple(f"spec.{n}" for n, on in (("hostNetwork", net), ("hostPID", pid), ("hostIPC", ipc)) if on)
    return "host namespaces", ", ".join(names), fields


# --- privileged -----------------------------------------------------------------------------


def privileged_1_0(p: PodView) -> Outcome:
    """Upstream privileged, implementation for policy v1.0+."""
    bad: list[str] = []
    fields: list[str] = []
    for name, _c, sc, kind, i in p.containers:
        if sc is not None and sc.get("privileged") is True:
            bad.append(name)
            fields.append(_cfield(kind, i, ".securityContext.privileged"))
    if not bad:
        return None
    return "privileged", f"{_containers_phrase(bad)} must not set securityContext.privileged=true", tuple(fields)


# --- capabilities ---------------------------------------------------------------------------

_BASELINE_CAPS = frozenset(
    (
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    )
)


def _forbidden_caps(sc: Mapping[str, Any]) -> list[str]:
    capm = _m(sc.get("capabilities"))
    if capm is None:
        return []
    add = capm.get("add")
    return [cs for cap in _list(add) if (cs := _s(cap)) not in _BASELINE_CAPS] if add else []


def capabilities_baseline_1_0(p: PodView) -> Outcome:
    """Upstream capabilities_baseline, implementation for policy v1.0+."""
    bad, caps, fields = _forbidden_in_containers(p, _forbidden_caps, ".securityContext.capabilities.add")
    if not bad:
        return None
    return (
        "non-default capabilities",
        f"{_containers_phrase(bad)} must not include {join_quote(sorted(caps))} in securityContext.capabilities.add",
        tuple(fields),
    )


def _capabilities_restricted(p: PodView) -> Outcome:
    missing: list[str] = []
    adding: list[str] = []
    forbidden: set[str] = set()
    fields: list[str] = []  # in container order: a container's missing drop before its add
    for name, _c, sc, kind, i in p.containers:
        capm = _m(sc.get("capabilities")) if sc is not None else None
        if capm is None:
            missing.append(name)
            fields.append(_missing(kind, i, sc))
            continue
        drop = capm.get("drop")
        if not drop or "ALL" not in _list(drop):
            missing.append(name)
            fields.append(_cfield(kind, i, ".securityContext.capabilities" + (".drop" if drop is not None else "")))
        add = capm.get("add")
        if add:
            bad_add = False
            for cap in _list(add):
                cs = _s(cap)
                if cs != "NET_BIND_SERVICE":
                    bad_add = True
                    forbidden.add(cs)
            if bad_add:
                adding.append(name)
                fields.append(_cfield(kind, i, ".securityContext.capabilities.add"))
    if not missing and not adding:
        return None
    details = []
    if missing:
        details.append(f'{_containers_phrase(missing)} must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(
            f"{_containers_phrase(adding)} must not include {join_quote(sorted(forbidden))} "
            "in securityContext.capabilities.add"
        )
    return "unrestricted capabilities", "; ".join(details), tuple(fields)


def capabilities_restricted_1_22(p: PodView) -> Outcome:
    """Upstream capabilities_restricted, implementation for policy v1.22+."""
    return _capabilities_restricted(p)


def capabilities_restricted_1_25(p: PodView) -> Outcome:
    """Upstream capabilities_restricted, implementation for policy v1.25+."""
    # Windows pods cannot set Linux capabilities (API validation), so upstream admits them.
    if p.windows:
        return None
    return _capabilities_restricted(p)


# --- volumes --------------------------------------------------------------------------------

_ALLOWED_VOLUMES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
_ALLOWED_SET = frozenset(_ALLOWED_VOLUMES)
# Restricted sources in upstream's reporting order; the first one set names the volume's type.
_RESTRICTED_VOLUMES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)


def _volumes(p: PodView) -> list[Mapping[str, Any]]:
    vols = p.spec.get("volumes")
    if not vols:
        return []
    return [v if (v := _m(x)) is not None else _EMPTY for x in _list(vols)]


def host_path_volumes_1_0(p: PodView) -> Outcome:
    """Upstream hostPathVolumes, implementation for policy v1.0+."""
    bad: list[str] = []
    fields: list[str] = []
    for i, v in enumerate(_volumes(p)):
        if v.get("hostPath") is not None:
            bad.append(_s(v.get("name")))
            fields.append(f"spec.volumes[{i}].hostPath")
    if not bad:
        return None
    return "hostPath volumes", f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)}", tuple(fields)


def restricted_volumes_1_0(p: PodView) -> Outcome:
    """Upstream restrictedVolumes, implementation for policy v1.0+."""
    bad: list[str] = []
    types: set[str] = set()
    fields: list[str] = []
    for i, v in enumerate(_volumes(p)):
        allowed = False
        for k, val in v.items():
            if val is not None and k in _ALLOWED_SET:
                allowed = True
                break
        if allowed:
            continue
        kind = next((k for k in _RESTRICTED_VOLUMES if v.get(k) is not None), None)
        if kind is None:
            # No source at all: the API server defaults it to emptyDir before admission (a
            # source unknown to the API is dropped when decoding, with the same result).
            if p.defaults:
                continue
            kind = "unknown"
            fields.append(f"spec.volumes[{i}]")
        else:
            fields.append(f"spec.volumes[{i}].{kind}")
        bad.append(_s(v.get("name")))
        types.add(kind)
    if not bad:
        return None
    return (
        "restricted volume types",
        f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)} {pluralize('uses', 'use', len(bad))} "
        f"{pluralize('restricted volume type', 'restricted volume types', len(types))} "
        f"{join_quote(sorted(types))}",
        tuple(fields),
    )


# --- hostPorts ------------------------------------------------------------------------------


def _int(v: Any) -> int:
    return v if type(v) is int else 0


def host_ports_1_0(p: PodView) -> Outcome:
    """Upstream hostPorts, implementation for policy v1.0+."""
    bad: list[str] = []
    ports: set[str] = set()
    # API server defaulting for Pods (not templates since 1.28): with hostNetwork, an unset
    # hostPort takes the containerPort of regular and init containers.
    default_host = p.defaults and p.is_pod and p.spec.get("hostNetwork") is True
    fields: list[str] = []
    for name, c, _sc, kind, i in p.containers:
        plist = c.get("ports")
        if not plist:
            continue
        valid = True
        for j, port in enumerate(_list(plist)):
            pm = _m(port)
            if pm is None:
                continue
            hp = _int(pm.get("hostPort"))
            field = "hostPort"
            if hp == 0 and default_host and kind != 2:
                hp = _int(pm.get("containerPort"))
                field = "containerPort"  # the host port comes from it
            if hp != 0:
                valid = False
                ports.add(str(hp))
                fields.append(_cfield(kind, i, f".ports[{j}].{field}"))
        if not valid:
            bad.append(name)
    if not bad:
        return None
    return (
        "hostPort",
        f"{_containers_phrase(bad)} {pluralize('uses', 'use', len(bad))} "
        f"{pluralize('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}",
        tuple(fields),
    )


# --- appArmorProfile ------------------------------------------------------------------------

_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def app_armor_profile_1_0(p: PodView) -> Outcome:
    """Upstream appArmorProfile, implementation for policy v1.0+."""
    if not p.meta.get("annotations") and not _set_anywhere(p, "appArmorProfile"):
        return None
    setters, values, fields = _forbidden_profiles(p, "appArmorProfile")
    forbidden = []
    for k, v in _annotations(p).items():
        if type(k) is str and k.startswith(_APPARMOR_ANNOTATION):
            val = _s(v)
            if val and val != "runtime/default" and not val.startswith("localhost/"):
                forbidden.append(f"{k}={go_quote(val)}")
    value_list = sorted(values)
    if forbidden:
        forbidden.sort()
        value_list.extend(forbidden)
        setters.append(pluralize("annotation", "annotations", len(forbidden)))
        fields.append(_ANNOTATIONS)
    if not setters:
        return None
    return (
        pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(value_list)),
        f"{' and '.join(setters)} must not set AppArmor profile type to {join_quote(value_list)}",
        tuple(fields),
    )


# --- seLinuxOptions -------------------------------------------------------------------------

_SELINUX_1_0 = frozenset(("", "container_t", "container_init_t", "container_kvm_t"))
_SELINUX_1_31 = _SELINUX_1_0 | {"container_engine_t"}


def _se_linux(p: PodView, allowed: frozenset[str]) -> Outcome:
    if not _set_anywhere(p, "seLinuxOptions"):
        return None
    setters: list[str] = []
    types: set[str] = set()
    flags = [False, False]  # user set, role set

    def valid(opts: Mapping[str, Any]) -> bool:
        ok = True
        t = _s(opts.get("type"))
        if t not in allowed:
            ok = False
            types.add(t)
        if _s(opts.get("user")):
            ok = False
            flags[0] = True
        if _s(opts.get("role")):
            ok = False
            flags[1] = True
        return ok

    fields: list[str] = []
    psc = p.psc
    if psc is not None:
        opts = _m(psc.get("seLinuxOptions"))
        if opts is not None and not valid(opts):
            setters.append("pod")
            fields.append("spec.securityContext.seLinuxOptions")
    bad: list[str] = []
    for name, _c, sc, kind, i in p.containers:
        if sc is None:
            continue
        opts = _m(sc.get("seLinuxOptions"))
        if opts is not None and not valid(opts):
            bad.append(name)
            fields.append(_cfield(kind, i, ".securityContext.seLinuxOptions"))
    if bad:
        setters.append(_containers_phrase(bad))
    if not setters:
        return None
    data = []
    if types:
        data.append(f"{pluralize('type', 'types', len(types))} {join_quote(sorted(types))}")
    if flags[0]:
        data.append("user may not be set")
    if flags[1]:
        data.append("role may not be set")
    return (
        "seLinuxOptions",
        f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}",
        tuple(fields),
    )


def se_linux_options_1_0(p: PodView) -> Outcome:
    """Upstream seLinuxOptions, implementation for policy v1.0+."""
    return _se_linux(p, _SELINUX_1_0)


def se_linux_options_1_31(p: PodView) -> Outcome:
    """Upstream seLinuxOptions, implementation for policy v1.31+."""
    return _se_linux(p, _SELINUX_1_31)


# --- procMount ------------------------------------------------------------------------------


def _forbidden_proc_mount(sc: Mapping[str, Any]) -> list[str]:
    pm = sc.get("procMount")
    return [_s(pm)] if pm is not None and pm != "Default" else []


def _proc_mount(p: PodView) -> Outcome:
    bad, types, fields = _forbidden_in_containers(p, _forbidden_proc_mount, ".securityContext.procMount")
    if not bad:
        return None
    return (
        "procMount",
        f"{_containers_phrase(bad)} must not set securityContext.procMount to {join_quote(sorted(types))}",
        tuple(fields),
    )


def proc_mount_1_0(p: PodView) -> Outcome:
    """Upstream procMount, implementation for policy v1.0+."""
    return _proc_mount(p)


def proc_mount_1_35(p: PodView) -> Outcome:
    """Upstream procMount, implementation for policy v1.35+."""
    # A user-namespace pod (hostUsers: false) may use any procMount at baseline.
    if p.userns:
        return None
    return _proc_mount(p)


def proc_mount_restricted_1_35(p: PodView) -> Outcome:
    """Upstream procMount_restricted, implementation for policy v1.35+."""
    return _proc_mount(p)


# --- seccomp --------------------------------------------------------------------------------

_SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"


def _seccomp_annotation_ok(v: str) -> bool:
    return v == "runtime/default" or v == "docker/default" or v.startswith("localhost/")


_POD_SECCOMP_TYPE = "spec.securityContext.seccompProfile.type"


def seccomp_profile_baseline_1_0(p: PodView) -> Outcome:
    """Upstream seccompProfile_baseline, implementation for policy v1.0+."""
    ann = _annotations(p)
    if not ann:
        return None
    forbidden: set[str] = set()
    if _SECCOMP_POD_ANNOTATION in ann:
        val = _s(ann[_SECCOMP_POD_ANNOTATION])
        if not _seccomp_annotation_ok(val):
            forbidden.add(f"{_SECCOMP_POD_ANNOTATION}={go_quote(val)}")
    for name, _c, _sc, _k, _i in p.containers:
        key = _SECCOMP_CONTAINER_ANNOTATION + name
        if key in ann:
            val = _s(ann[key])
            if not _seccomp_annotation_ok(val):
                forbidden.add(f"{key}={go_quote(val)}")
    if not forbidden:
        return None
    # before v1.19 only the annotations count: a seccompProfile field is not looked at
    return (
        "seccompProfile",
        f"forbidden {pluralize('annotation', 'annotations', len(forbidden))} {', '.join(sorted(forbidden))}",
        (_ANNOTATIONS,),
    )


def seccomp_profile_baseline_1_19(p: PodView) -> Outcome:
    """Upstream seccompProfile_baseline, implementation for policy v1.19+."""
    setters, values, fields = _forbidden_profiles(p, "seccompProfile")
    if not setters:
        return None
    return (
        "seccompProfile",
        f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to {join_quote(sorted(values))}",
        tuple(fields),
    )


def seccomp_profile_restricted_1_19(p: PodView) -> Outcome:
    """Upstream seccompProfile_restricted, implementation for policy v1.19+."""
    setters: list[str] = []
    values: set[str] = set()
    pod_ok = False
    # explicit: forbidden values that are set; implicit: containers inheriting no profile
    explicit_fields: list[str] = []
    implicit_fields: list[str] = []
    psc = p.psc
    if psc is not None:
        prof = _m(psc.get("seccompProfile"))
        if prof is not None:
            if _profile_type_ok(prof.get("type")):
                pod_ok = True
            else:
                setters.append("pod")
                values.add(_s(prof.get("type")))
                explicit_fields.append(_POD_SECCOMP_TYPE)
    explicit: list[str] = []
    implicit: list[str] = []
    for name, _c, sc, kind, i in p.containers:
        prof = _m(sc.get("seccompProfile")) if sc is not None else None
        if prof is not None:
            if not _profile_type_ok(prof.get("type")):
                explicit.append(name)
                values.add(_s(prof.get("type")))
                explicit_fields.append(_cfield(kind, i, ".securityContext.seccompProfile.type"))
        elif not pod_ok:
            implicit.append(name)
            implicit_fields.append(_missing(kind, i, sc))
    if explicit:
        setters.append(_containers_phrase(explicit))
    if setters:
        return (
            "seccompProfile",
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to {join_quote(sorted(values))}",
            tuple(explicit_fields),
        )
    if implicit:
        return (
            "seccompProfile",
            f"pod or {_containers_phrase(implicit)} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost"',
            tuple(implicit_fields),
        )
    return None


def seccomp_profile_restricted_1_25(p: PodView) -> Outcome:
    """Upstream seccompProfile_restricted, implementation for policy v1.25+."""
    # Windows pods cannot set seccomp (API validation), so upstream admits them.
    if p.windows:
        return None
    return seccomp_profile_restricted_1_19(p)


# --- sysctls --------------------------------------------------------------------------------

_SYSCTLS_1_0 = frozenset(
    (
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    )
)
_SYSCTLS_1_27 = _SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
_SYSCTLS_1_29 = _SYSCTLS_1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
_SYSCTLS_1_32 = _SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
_SYSCTLS_1_37 = _SYSCTLS_1_32 | {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}


def _sysctls(p: PodView, allowed: frozenset[str]) -> Outcome:
    psc = p.psc
    if psc is None:
        return None
    items = psc.get("sysctls")
    if not items:
        return None
    bad = []
    fields = []
    for i, s in enumerate(_list(items)):
        sm = _m(s)
        name = _s(sm.get("name")) if sm is not None else ""
        if name not in allowed:
            bad.append(name)
            fields.append(f"spec.securityContext.sysctls[{i}]" + (".name" if sm is not None else ""))
    if not bad:
        return None
    # upstream keeps the spec's order (and duplicates)
    return "forbidden sysctls", ", ".join(bad), tuple(fields)


def sysctls_1_0(p: PodView) -> Outcome:
    """Upstream sysctls, implementation for policy v1.0+."""
    return _sysctls(p, _SYSCTLS_1_0)


def sysctls_1_27(p: PodView) -> Outcome:
    """Upstream sysctls, implementation for policy v1.27+."""
    return _sysctls(p, _SYSCTLS_1_27)


def sysctls_1_29(p: PodView) -> Outcome:
    """Upstream sysctls, implementation for policy v1.29+."""
    return _sysctls(p, _SYSCTLS_1_29)


def sysctls_1_32(p: PodView) -> Outcome:
    """Upstream sysctls, implementation for policy v1.32+."""
    return _sysctls(p, _SYSCTLS_1_32)


def sysctls_1_37(p: PodView) -> Outcome:
    """Upstream sysctls, implementation for policy v1.37+."""
    return _sysctls(p, _SYSCTLS_1_37)


# --- windowsHostProcess ---------------------------------------------------------------------


def _host_process(sc: Mapping[str, Any] | None) -> bool:
    if sc is None:
        return False
    wo = _m(sc.get("windowsOptions"))
    return wo is not None and wo.get("hostProcess") is True


def windows_host_process_1_0(p: PodView) -> Outcome:
    """Upstream windowsHostProcess, implementation for policy v1.0+."""
    if not _set_anywhere(p, "windowsOptions"):
        return None
    setters = []
    fields = []
    if _host_process(p.psc):
        setters.append("pod")
        fields.append("spec.securityContext.windowsOptions.hostProcess")
    bad = []
    for name, _c, sc, kind, i in p.containers:
        if _host_process(sc):
            bad.append(name)
            fields.append(_cfield(kind, i, ".securityContext.windowsOptions.hostProcess"))
    if bad:
        setters.append(_containers_phrase(bad))
    if not setters:
        return None
    return (
        "hostProcess",
        f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true",
        tuple(fields),
    )


# --- hostProbesAndHostLifecycle -------------------------------------------------------------


def _handler_hosts(handler: Any, where: str, out: list[str], fields: list[str]) -> None:
    """Add the hosts a probe or lifecycle handler targets to ``out`` and their paths to ``fields``."""
    hm = handler if type(handler) is dict else _m(handler)
    if hm is None:
        return
    for key in ("httpGet", "tcpSocket"):
        action = hm.get(key)
        if action is not None:
            action = action if type(action) is dict else _m(action)
            if action is not None:
                host = action.get("host")
                if host:
                    out.append(_s(host))
                    fields.append(f"{where}.{key}.host")


_PROBE_KEYS = ("livenessProbe", "readinessProbe", "startupProbe")


def host_probes_and_host_lifecycle_1_34(p: PodView) -> Outcome:
    """Upstream hostProbesAndHostLifecycle, implementation for policy v1.34+."""
    bad: set[str] = set()
    hosts: set[str] = set()
    found: list[str] = []
    fields: list[str] = []
    for name, c, _sc, kind, i in p.containers:
        for key in _PROBE_KEYS:
            h = c.get(key)
            if h is not None:
                _handler_hosts(h, _cfield(kind, i, f".{key}"), found, fields)
        lc = c.get("lifecycle")
        if lc is not None:
            lcm = _m(lc)
            if lcm is not None:
                h = lcm.get("postStart")
                if h is not None:
                    _handler_hosts(h, _cfield(kind, i, ".lifecycle.postStart"), found, fields)
                h = lcm.get("preStop")
                if h is not None:
                    _handler_hosts(h, _cfield(kind, i, ".lifecycle.preStop"), found, fields)
        if found:
            bad.add(name)
            hosts.update(found)
            found = []
    if not bad:
        return None
    return (
        "probe or lifecycle host",
        f"{_containers_phrase(sorted(bad))} {pluralize('uses', 'use', len(bad))} "
        f"{pluralize('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
        f"{join_quote(sorted(hosts))}",
        tuple(fields),
    )


# --- allowPrivilegeEscalation ---------------------------------------------------------------


def allow_privilege_escalation_1_8(p: PodView) -> Outcome:
    """Upstream allowPrivilegeEscalation, implementation for policy v1.8+."""
    bad: list[str] = []
    fields: list[str] = []
    for name, _c, sc, kind, i in p.containers:
        if sc is None or sc.get("allowPrivilegeEscalation") is not False:
            bad.append(name)
            if sc is None or sc.get("allowPrivilegeEscalation") is None:
                fields.append(_missing(kind, i, sc))
            else:
                fields.append(_cfield(kind, i, ".securityContext.allowPrivilegeEscalation"))
    if not bad:
        return None
    return (
        "allowPrivilegeEscalation != false",
        f"{_containers_phrase(bad)} must set securityContext.allowPrivilegeEscalation=false",
        tuple(fields),
    )


def allow_privilege_escalation_1_25(p: PodView) -> Outcome:
    """Upstream allowPrivilegeEscalation, implementation for policy v1.25+."""
    # The field cannot be set on Windows pods, so upstream admits them.
    if p.windows:
        return None
    return allow_privilege_escalation_1_8(p)


# --- runAsNonRoot / runAsUser ---------------------------------------------------------------


def run_as_non_root_1_0(p: PodView) -> Outcome:
    """Upstream runAsNonRoot, implementation for policy v1.0+."""
    setters: list[str] = []
    pod_true = False
    # explicit: runAsNonRoot=false that is set; implicit: containers inheriting no true
    explicit_fields: list[str] = []
    implicit_fields: list[str] = []
    psc = p.psc
    if psc is not None:
        v = psc.get("runAsNonRoot")
        if v is False:
            setters.append("pod")
            explicit_fields.append("spec.securityContext.runAsNonRoot")
        elif v is True:
            pod_true = True
    explicit: list[str] = []
    implicit: list[str] = []
    for name, _c, sc, kind, i in p.containers:
        v = sc.get("runAsNonRoot") if sc is not None else None
        if v is False:
            explicit.append(name)
            explicit_fields.append(_cfield(kind, i, ".securityContext.runAsNonRoot"))
        elif v is None and not pod_true:
            implicit.append(name)
            implicit_fields.append(_missing(kind, i, sc))
    if explicit:
        setters.append(_containers_phrase(explicit))
    if setters:
        return (
            "runAsNonRoot != true",
            f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false",
            tuple(explicit_fields),
        )
    if implicit:
        return (
            "runAsNonRoot != true",
            f"pod or {_containers_phrase(implicit)} must set securityContext.runAsNonRoot=true",
            tuple(implicit_fields),
        )
    return None


def run_as_non_root_1_35(p: PodView) -> Outcome:
    """Upstream runAsNonRoot, implementation for policy v1.35+."""
    if p.userns:
        return None
    return run_as_non_root_1_0(p)


def _is_zero(v: Any) -> bool:
    return type(v) is int and v == 0


def run_as_user_1_23(p: PodView) -> Outcome:
    """Upstream runAsUser, implementation for policy v1.23+."""
    setters = []
    fields = []
    if p.psc is not None and _is_zero(p.psc.get("runAsUser")):
        setters.append("pod")
        fields.append("spec.securityContext.runAsUser")
    bad = []
    for name, _c, sc, kind, i in p.containers:
        if sc is not None and _is_zero(sc.get("runAsUser")):
            bad.append(name)
            fields.append(_cfield(kind, i, ".securityContext.runAsUser"))
    if bad:
        setters.append(_containers_phrase(bad))
    if not setters:
        return None
    return "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0", tuple(fields)


def run_as_user_1_35(p: PodView) -> Outcome:
    """Upstream runAsUser, implementation for policy v1.35+."""
    if p.userns:
        return None
    return run_as_user_1_23(p)


CheckFn = Callable[[PodView], Outcome]

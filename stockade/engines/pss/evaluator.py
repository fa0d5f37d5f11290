"""Versioned check registry and the level evaluator.

Upstream's model: each check has implementations with a minimum policy version; at version V the
implementation with the largest minimum <= V runs, and none runs below the first one. Restricted
runs every restricted check plus the baseline checks that the active restricted implementations
do not override. The per-(level, version) list of functions is computed once and cached, so an
evaluation is a single pass over a tuple of functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stockade.engines.pss import checks as c
from stockade.engines.pss.api import NEWEST_MINOR, Level, LevelVersion, Version, parse_level, parse_version


@dataclass(frozen=True, slots=True)
class VersionedCheck:
    """One implementation of a check, active from ``minimum`` (a v1 minor version)."""

    minimum: int
    fn: c.CheckFn
    overrides: tuple[str, ...] = ()
    """Baseline check ids this restricted implementation replaces while it is active."""


@dataclass(frozen=True, slots=True)
class CheckDef:
    """A Pod Security check as upstream declares it."""

    id: str
    level: Level
    versions: tuple[VersionedCheck, ...]

    def at(self, minor: int) -> VersionedCheck | None:
        """The implementation active at ``v1.<minor>``, or None before the first one."""
        found = None
        for vc in self.versions:
            if vc.minimum <= minor:
                found = vc
        return found


B, R = Level.BASELINE, Level.RESTRICTED
V = VersionedCheck

CHECKS: tuple[CheckDef, ...] = (
    CheckDef("appArmorProfile", B, (V(0, c.app_armor_profile_1_0),)),
    CheckDef("capabilities_baseline", B, (V(0, c.capabilities_baseline_1_0),)),
    CheckDef("hostNamespaces", B, (V(0, c.host_namespaces_1_0),)),
    CheckDef("hostPathVolumes", B, (V(0, c.host_path_volumes_1_0),)),
    CheckDef("hostPorts", B, (V(0, c.host_ports_1_0),)),
    CheckDef("hostProbesAndHostLifecycle", B, (V(34, c.host_probes_and_host_lifecycle_1_34),)),
    CheckDef("privileged", B, (V(0, c.privileged_1_0),)),
    CheckDef("procMount", B, (V(0, c.proc_mount_1_0), V(35, c.proc_mount_1_35))),
    CheckDef("seLinuxOptions", B, (V(0, c.se_linux_options_1_0), V(31, c.se_linux_options_1_31))),
    CheckDef(
        "seccompProfile_baseline",
        B,
        (V(0, c.seccomp_profile_baseline_1_0), V(19, c.seccomp_profile_baseline_1_19)),
    ),
    CheckDef(
        "sysctls",
        B,
        (
            V(0, c.sysctls_1_0),
            V(27, c.sysctls_1_27),
            V(29, c.sysctls_1_29),
            V(32, c.sysctls_1_32),
            V(37, c.sysctls_1_37),
        ),
    ),
    CheckDef("windowsHostProcess", B, (V(0, c.windows_host_process_1_0),)),
    CheckDef(
        "allowPrivilegeEscalation",
        R,
        (V(8, c.allow_privilege_escalation_1_8), V(25, c.allow_privilege_escalation_1_25)),
    ),
    CheckDef(
        "capabilities_restricted",
        R,
        (
            V(22, c.capabilities_restricted_1_22, ("capabilities_baseline",)),
            V(25, c.capabilities_restricted_1_25, ("capabilities_baseline",)),
        ),
    ),
    CheckDef("procMount_restricted", R, (V(35, c.proc_mount_restricted_1_35, ("procMount",)),)),
    CheckDef("restrictedVolumes", R, (V(0, c.restricted_volumes_1_0, ("hostPathVolumes",)),)),
    CheckDef("runAsNonRoot", R, (V(0, c.run_as_non_root_1_0), V(35, c.run_as_non_root_1_35))),
    CheckDef("runAsUser", R, (V(23, c.run_as_user_1_23), V(35, c.run_as_user_1_35))),
    CheckDef(
        "seccompProfile_restricted",
        R,
        (
            V(19, c.seccomp_profile_restricted_1_19, ("seccompProfile_baseline",)),
            V(25, c.seccomp_profile_restricted_1_25, ("seccompProfile_baseline",)),
        ),
    ),
)
del V

CHECKS_BY_ID: Mapping[str, CheckDef] = {cd.id: cd for cd in CHECKS}
CHECK_IDS: tuple[str, ...] = tuple(cd.id for cd in CHECKS)


@dataclass(frozen=True, slots=True)
class Violation:
    """One failing check: upstream's check id, ForbiddenReason and ForbiddenDetail.

    ``fields`` are the paths of the offending fields as on a Pod (``spec.containers[1]...``,
    ``metadata.annotations``), the most relevant first, as decided by the check itself at the
    evaluated version. Upstream reports no paths; they are not part of the API server's message.
    """

    check_id: str
    reason: str
    detail: str
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


@dataclass(frozen=True, slots=True)
class Result:
    """The verdict of one level on one pod."""

    allowed: bool
    violations: tuple[Violation, ...] = ()

    @property
    def reasons(self) -> tuple[str, ...]:
        """The forbidden reasons in check order (what the namespace dry-run groups by)."""
        return tuple(v.reason for v in self.violations)

    @property
    def message(self) -> str:
        """``reason (detail), reason (detail)`` as in the API server's messages."""
        return ", ".join(str(v) for v in self.violations)


ALLOWED = Result(True, ())

# (level, minor) -> tuple of (check id, function)
_PLAN: dict[tuple[Level, int], tuple[tuple[str, c.CheckFn], ...]] = {}


def plan(level: Level, minor: int) -> tuple[tuple[str, c.CheckFn], ...]:
    """The checks run at ``level`` and ``v1.<minor>`` (capped at the newest), in upstream order."""
    minor = min(minor, NEWEST_MINOR)
    key = (level, minor)
    cached = _PLAN.get(key)
    if cached is not None:
        return cached
    if level is Level.PRIVILEGED:
        result: tuple[tuple[str, c.CheckFn], ...] = ()
    else:
        baseline = [(cd.id, cd.at(minor)) for cd in CHECKS if cd.level is Level.BASELINE]
        restricted = [(cd.id, cd.at(minor)) for cd in CHECKS if cd.level is Level.RESTRICTED]
        chosen = [(i, vc) for i, vc in baseline if vc is not None]
        if level is Level.RESTRICTED:
            active = [(i, vc) for i, vc in restricted if vc is not None]
            overridden = {o for _i, vc in active for o in vc.overrides}
            chosen = [(i, vc) for i, vc in chosen if i not in overridden] + active
        # upstream: baseline ids sorted, then restricted ids sorted (byte order)
        nb = sum(1 for i, _ in chosen if CHECKS_BY_ID[i].level is Level.BASELINE)
        ordered = sorted(chosen[:nb], key=lambda t: t[0]) + sorted(chosen[nb:], key=lambda t: t[0])
        result = tuple((i, vc.fn) for i, vc in ordered)
    _PLAN[key] = result
    return result


_FAST: dict[tuple[object, object], tuple[Level, Version]] = {}


def _coerce(level: Level | str, version: Version | str | None) -> tuple[Level, Version]:
    try:
        hit = _FAST.get((level, version))
    except TypeError:
        hit = None
    if hit is not None:
        return hit
    lv = level if isinstance(level, Level) else parse_level(level)
    if version is None:
        ver = Version(None)
    elif isinstance(version, Version):
        ver = version
    else:
        ver = parse_version(version)
    hashable = isinstance(level, (str, Level)) and (version is None or isinstance(version, (str, Version)))
    if hashable and len(_FAST) < 1024:
        _FAST[(level, version)] = (lv, ver)
    return lv, ver


_EMPTY: dict[str, Any] = {}


def evaluate(
    pod_metadata: Mapping[str, Any] | None,
    pod_spec: Mapping[str, Any] | None,
    level: Level | str,
    version: Version | str | None = None,
    *,
    is_pod: bool = True,
    defaults: bool = True,
    emulation_version: Version | str | None = None,
) -> Result:
    """Evaluate a pod (or pod template) at ``level`` and ``version`` (``latest`` when None).

    ``emulation_version`` caps the policy version like an API server emulating an older release
    (``latest`` then means that release's policy).

    ``is_pod`` False marks a workload template: the API server defaults a few fields of Pods only
    (an unset hostPort of a hostNetwork pod becomes the containerPort). ``defaults`` False skips
    the API server defaulting altogether (a volume without a source is then of type "unknown").
    Raises ValueError on an invalid level or version string.
    """
    lv, ver = _coerce(level, version)
    minor = ver.effective_minor
    if emulation_version is not None:
        cap = emulation_version if isinstance(emulation_version, Version) else parse_version(emulation_version)
        minor = min(minor, cap.effective_minor)
    checks = plan(lv, minor)
    if not checks:
        return ALLOWED
    meta = pod_metadata if type(pod_metadata) is dict or isinstance(pod_metadata, Mapping) else _EMPTY
    spec = pod_spec if type(pod_spec) is dict or isinstance(pod_spec, Mapping) else _EMPTY
    view = c.PodView(meta, spec, defaults, is_pod)
    violations = None
    for check_id, fn in checks:
        out = fn(view)
        if out is not None:
            if violations is None:
                violations = []
            violations.append(Violation(check_id, out[0] or "unknown forbidden reason", out[1], out[2]))
    if violations is None:
        return ALLOWED
    return Result(False, tuple(violations))


def evaluate_at(
    pod_metadata: Mapping[str, Any] | None,
    pod_spec: Mapping[str, Any] | None,
    policy: LevelVersion,
    *,
    is_pod: bool = True,
    defaults: bool = True,
) -> Result:
    """:func:`evaluate` at a :class:`LevelVersion`."""
    return evaluate(pod_metadata, pod_spec, policy.level, policy.version, is_pod=is_pod, defaults=defaults)

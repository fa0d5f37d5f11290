"""Namespace labels, the PodSecurityConfiguration file, exemptions, review and the dry run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stockade.engines.pss import (
    LATEST,
    Level,
    LevelVersion,
    Policy,
    Version,
    parse_version,
    policy_from_labels,
)
from stockade.engines.pss.admission import (
    ExistingPod,
    PodSecurityConfiguration,
    namespace_dry_run,
    review,
)
from stockade.errors import ConfigError

P = "pod-security.kubernetes.io/"
B, R, PRIV = Level.BASELINE, Level.RESTRICTED, Level.PRIVILEGED

# --- version and level parsing ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["v1.0", "v1.25", "v1.37", "v1.99", "latest"])
def test_valid_versions(text: str) -> None:
    assert str(parse_version(text)) == text


@pytest.mark.parametrize("text", ["1.25", "v1.05", "v2.0", "v1.25.0", "Latest", "v1", "", "v1.-1"])
def test_invalid_versions(text: str) -> None:
    with pytest.raises(ValueError):
        parse_version(text)


# --- namespace labels --------------------------------------------------------------------------------


def test_no_labels_gives_defaults() -> None:
    defaults = Policy(enforce=LevelVersion(B, Version(30)))
    assert policy_from_labels({}, defaults).policy == defaults
    assert policy_from_labels(None).policy == Policy()


def test_enforce_label_and_version() -> None:
    lp = policy_from_labels({P + "enforce": "restricted", P + "enforce-version": "v1.28"})
    assert lp.errors == ()
    assert lp.policy.enforce == LevelVersion(R, Version(28))
    # warn follows the stricter enforce level and its version; audit is never defaulted this way
    assert lp.policy.warn == LevelVersion(R, Version(28))
    assert lp.policy.audit == LevelVersion(PRIV, LATEST)


def test_warn_defaulting_keeps_explicit_warn_version() -> None:
    lp = policy_from_labels({P + "enforce": "baseline", P + "enforce-version": "v1.28", P + "warn-version": "v1.30"})
    assert lp.policy.warn == LevelVersion(B, Version(30))


def test_explicit_warn_level_is_not_overridden() -> None:
    lp = policy_from_labels({P + "enforce": "restricted", P + "warn": "baseline"})
    assert lp.policy.warn == LevelVersion(B, LATEST)


def test_warn_not_defaulted_when_enforce_is_looser_than_default_warn() -> None:
    defaults = Policy(warn=LevelVersion(R, LATEST))
    lp = policy_from_labels({P + "enforce": "baseline"}, defaults)
    assert lp.policy.warn == LevelVersion(R, LATEST)


def test_invalid_enforce_level_fails_closed_without_warn_defaulting() -> None:
    lp = policy_from_labels({P + "enforce": "Restricted"})
    assert lp.policy.enforce == LevelVersion(R, LATEST)
    assert lp.policy.warn == LevelVersion(PRIV, LATEST)
    assert len(lp.errors) == 1 and P + "enforce" in lp.errors[0]


def test_invalid_audit_and_warn_fail_open_and_versions_become_latest() -> None:
    lp = policy_from_labels(
        {
            P + "audit": "strict",
            P + "warn": "high",
            P + "enforce": "baseline",
            P + "enforce-version": "v1.2.3",
        }
    )
    assert lp.policy.audit.level is PRIV
    assert lp.policy.warn.level is PRIV  # the warn label exists, so no defaulting to enforce
    assert lp.policy.enforce == LevelVersion(B, LATEST)
    assert len(lp.errors) == 3


def test_missing_enforce_version_uses_default_version() -> None:
    defaults = Policy(enforce=LevelVersion(B, Version(27)))
    lp = policy_from_labels({P + "enforce": "restricted"}, defaults)
    assert lp.policy.enforce == LevelVersion(R, Version(27))


# --- PodSecurityConfiguration -------------------------------------------------------------------------


CONFIG = """\
apiVersion: pod-security.admission.config.k8s.io/v1
kind: PodSecurityConfiguration
defaults:
  enforce: baseline
  enforce-version: v1.30
  warn: restricted
exemptions:
  usernames: [system:serviceaccount:kube-system:replicaset-controller]
  runtimeClasses: [kata]
  namespaces: [kube-system]
"""


def test_config_file(tmp_path: Path) -> None:
    f = tmp_path / "pss.yaml"
    f.write_text(CONFIG)
    cfg = PodSecurityConfiguration.load(f)
    assert cfg.defaults.enforce == LevelVersion(B, Version(30))
    assert cfg.defaults.warn == LevelVersion(R, LATEST)
    assert cfg.defaults.audit == LevelVersion(PRIV, LATEST)
    assert cfg.exempt_namespaces == {"kube-system"}
    assert cfg.exempt_runtime_classes == {"kata"}


def test_admission_configuration_inline_and_path(tmp_path: Path) -> None:
    (tmp_path / "pss.yaml").write_text(CONFIG)
    by_path = tmp_path / "admission-path.yaml"
    by_path.write_text(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\n"
        "plugins:\n- name: PodSecurity\n  path: pss.yaml\n"
    )
    assert PodSecurityConfiguration.load(by_path).exempt_namespaces == {"kube-system"}
    inline = tmp_path / "admission-inline.yaml"
    body = "\n".join("    " + line for line in CONFIG.splitlines())
    inline.write_text(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\n"
        f"plugins:\n- name: PodSecurity\n  configuration:\n{body}\n"
    )
    assert PodSecurityConfiguration.load(inline).defaults.enforce.level is B


@pytest.mark.parametrize(
    "patch,message",
    [
        ({"defaults": {"enforce": "strict"}}, "defaults.enforce"),
        ({"defaults": {"audit-version": "1.25"}}, "defaults.audit-version"),
        ({"exemptions": {"namespaces": ["Kube_System"]}}, "exemptions.namespaces[0]"),
        ({"exemptions": {"usernames": [""]}}, "exemptions.usernames[0]"),
        ({"exemptions": {"runtimeClasses": ["kata", "kata"]}}, "duplicate"),
        ({"kind": "Something"}, "kind"),
        ({"apiVersion": "v1"}, "apiVersion"),
    ],
)
def test_invalid_config(patch: dict[str, Any], message: str) -> None:
    data: dict[str, Any] = {
        "apiVersion": "pod-security.admission.config.k8s.io/v1beta1",
        "kind": "PodSecurityConfiguration",
    }
    data.update(patch)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        PodSecurityConfiguration.from_mapping(data, source="cfg.yaml")


# --- review: pods, templates, exemptions -----------------------------------------------------------------

BAD_SPEC = {"containers": [{"name": "app", "securityContext": {"privileged": True}}]}
PLAIN_SPEC = {"containers": [{"name": "app"}]}
CFG = PodSecurityConfiguration(
    exempt_usernames=frozenset({"admin"}),
    exempt_runtime_classes=frozenset({"kata"}),
    exempt_namespaces=frozenset({"kube-system"}),
)


def test_pod_is_enforced_and_warn_skipped_when_denied() -> None:
    labels = {P + "enforce": "baseline", P + "warn": "restricted"}
    rv = review({}, BAD_SPEC, namespace="ml", namespace_labels=labels)
    assert rv.denied
    assert rv.denial.startswith('violates PodSecurity "baseline:latest": privileged (container "app"')
    assert rv.warn is None and rv.warnings == ()


def test_template_is_warned_never_enforced() -> None:
    labels = {P + "enforce": "baseline", P + "warn": "restricted"}
    rv = review({}, BAD_SPEC, namespace="ml", namespace_labels=labels, is_template=True)
    assert not rv.denied and rv.enforce is None
    assert rv.warnings[0].startswith('would violate PodSecurity "restricted:latest": privileged (')


def test_warn_only_for_allowed_pod() -> None:
    labels = {P + "enforce": "baseline", P + "warn": "restricted", P + "warn-version": "v1.30"}
    rv = review({}, PLAIN_SPEC, namespace="ml", namespace_labels=labels)
    assert not rv.denied
    assert rv.warnings == (
        'would violate PodSecurity "restricted:v1.30": allowPrivilegeEscalation != false '
        '(container "app" must set securityContext.allowPrivilegeEscalation=false), '
        "unrestricted capabilities "
        '(container "app" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true '
        '(pod or container "app" must set securityContext.runAsNonRoot=true), seccompProfile '
        '(pod or container "app" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")',
    )


@pytest.mark.parametrize(
    "kwargs,exempt",
    [
        ({"namespace": "kube-system"}, "namespace"),
        ({"namespace": "ml", "username": "admin"}, "user"),
    ],
)
def test_exemptions(kwargs: dict[str, Any], exempt: str) -> None:
    rv = review({}, BAD_SPEC, namespace_labels={P + "enforce": "restricted"}, config=CFG, **kwargs)
    assert rv.exempt == exempt and not rv.denied


def test_runtime_class_exemption() -> None:
    spec = dict(BAD_SPEC, runtimeClassName="kata")
    rv = review({}, spec, namespace="ml", namespace_labels={P + "enforce": "restricted"}, config=CFG)
    assert rv.exempt == "runtimeClass" and not rv.denied
    # an empty runtimeClassName is never exempt
    spec = dict(BAD_SPEC, runtimeClassName="")
    assert review({}, spec, namespace="ml", namespace_labels={P + "enforce": "restricted"}, config=CFG).denied


def test_unlabelled_namespace_uses_config_defaults() -> None:
    cfg = PodSecurityConfiguration(defaults=Policy(enforce=LevelVersion(B, LATEST)))
    assert review({}, BAD_SPEC, namespace="ml", namespace_labels=None, config=cfg).denied
    assert not review({}, BAD_SPEC, namespace="ml", namespace_labels=None).denied


# --- namespace dry run ------------------------------------------------------------------------------------


def pod(name: str, spec: dict[str, Any], owner: str | None = None) -> ExistingPod:
    meta: dict[str, Any] = {"name": name}
    if owner:
        meta["ownerReferences"] = [{"controller": True, "kind": "ReplicaSet", "name": owner, "uid": owner}]
    return ExistingPod(name, meta, spec)


ENFORCE_B = {P + "enforce": "baseline"}
ENFORCE_R = {P + "enforce": "restricted"}


def test_dry_run_groups_by_reasons() -> None:
    host = {
        "hostNetwork": True,
        "containers": [{"name": "a"}],
        "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
    }
    pods = [
        pod("web-1", PLAIN_SPEC, "web"),
        pod("agent-a", host, "agent"),
        pod("agent-b", host, "agent"),
        pod("agent-c", host, "agent"),
        pod("priv", BAD_SPEC),
    ]
    dry = namespace_dry_run("ml", pods, new_labels=ENFORCE_B)
    assert dry.warnings() == [
        'existing pods in namespace "ml" violate the new PodSecurity enforce level "baseline:latest"',
        "agent-a (and 2 other pods): host namespaces, hostPath volumes",
        "priv: privileged",
    ]
    dry2 = namespace_dry_run("ml", pods[1:3], new_labels=ENFORCE_B)
    assert dry2.warnings()[1] == "agent-a (and 1 other pod): host namespaces, hostPath volumes"


def test_dry_run_one_pod_per_controller_first() -> None:
    pods = [pod("rs-a-1", BAD_SPEC, "a"), pod("rs-a-2", PLAIN_SPEC, "a"), pod("solo", PLAIN_SPEC)]
    dry = namespace_dry_run("ml", pods, new_labels=ENFORCE_R)
    # rs-a-2 is evaluated after solo, but a group is named after its lexically smallest pod
    assert [g.first_pod for g in dry.groups] == ["rs-a-1", "rs-a-2"]
    assert dry.groups[1].pods == ("solo", "rs-a-2")
    # the order decides which pods fit under the limit: the replica is the one left out
    limited = namespace_dry_run("ml", pods, new_labels=ENFORCE_R, max_pods=2)
    assert [g.pods for g in limited.groups] == [("rs-a-1",), ("solo",)]
    assert limited.warnings()[0] == "new PodSecurity enforce level only checked against the first 2 of 3 existing pods"


@pytest.mark.parametrize(
    "old,new,skipped",
    [
        (ENFORCE_B, ENFORCE_B, "enforce policy unchanged (baseline:latest)"),
        (ENFORCE_R, {P + "enforce": "privileged"}, "new enforce level is privileged"),
        (ENFORCE_R, ENFORCE_B, "enforce does not tighten (restricted:latest -> baseline:latest)"),
    ],
)
def test_dry_run_only_when_enforce_tightens(old: dict[str, str], new: dict[str, str], skipped: str) -> None:
    dry = namespace_dry_run("ml", [pod("priv", BAD_SPEC)], new_labels=new, old_labels=old)
    assert dry.skipped == skipped and dry.warnings() == []


def test_dry_run_version_change_at_same_level_is_checked() -> None:
    old = {P + "enforce": "restricted", P + "enforce-version": "v1.20"}
    new = {P + "enforce": "restricted", P + "enforce-version": "latest"}
    dry = namespace_dry_run("ml", [pod("priv", BAD_SPEC)], new_labels=new, old_labels=old)
    assert dry.skipped == "" and dry.groups[0].first_pod == "priv"


def test_dry_run_invalid_new_labels_are_rejected() -> None:
    dry = namespace_dry_run("ml", [], new_labels={P + "enforce": "strict"})
    assert dry.label_errors and dry.skipped == "invalid labels"
    # pre-existing identical errors do not block the update
    same = namespace_dry_run("ml", [], new_labels={P + "enforce": "strict"}, old_labels={P + "enforce": "strict"})
    assert not same.label_errors


def test_dry_run_exempt_namespace_and_runtime_class() -> None:
    pods = [pod("priv", BAD_SPEC), pod("kata", dict(BAD_SPEC, runtimeClassName="kata"))]
    dry = namespace_dry_run("ml", pods, new_labels=ENFORCE_R, config=CFG)
    assert dry.skipped_runtime_class == ("kata",)
    assert [g.first_pod for g in dry.groups] == ["priv"]
    ex = namespace_dry_run("kube-system", pods, new_labels={**ENFORCE_R, P + "warn": "baseline"}, config=CFG)
    assert ex.warnings() == [
        'namespace "kube-system" is exempt from Pod Security, '
        "and the policy (enforce=restricted:latest, warn=baseline:latest) will be ignored"
    ]

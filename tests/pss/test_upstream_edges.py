"""Adversarial edges of Pod Security admission beyond the per-pod checks, against upstream's rules.

Each section names the upstream rule it pins (k8s.io/pod-security-admission: api/helpers.go
PolicyToEvaluate/ParseLevel/ParseVersion/Equivalent, admission/admission.go ValidateNamespace,
ValidatePod, ValidatePodController, EvaluatePodsInNamespace, policy/registry.go version capping).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from stockade.cli import pss as pss_cli
from stockade.engines.pss import LATEST, Level, LevelVersion, Version, evaluate, policy_from_labels
from stockade.engines.pss.admission import (
    ExistingPod,
    PodSecurityConfiguration,
    is_significant_pod_update,
    namespace_dry_run,
    review,
)
from stockade.engines.pss.api import NEWEST_MINOR, Policy

P = "pod-security.kubernetes.io/"
R, B, PRIV = Level.RESTRICTED, Level.BASELINE, Level.PRIVILEGED
PLAIN = {"containers": [{"name": "app", "image": "img:1"}]}
PRIVILEGED = {"containers": [{"name": "app", "image": "img:1", "securityContext": {"privileged": True}}]}
HOST = {"hostNetwork": True, "hostPID": True, "containers": [{"name": "app", "image": "img:1"}]}
RESTRICTED_OK = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "app",
            "image": "img:1",
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }
    ],
}
CFG = PodSecurityConfiguration(
    exempt_usernames=frozenset({"system:serviceaccount:ops:deployer"}),
    exempt_runtime_classes=frozenset({"kata"}),
    exempt_namespaces=frozenset({"kube-system"}),
)

# --- versions: newer than the library, latest, emulation, malformed ---------------------------------------


def test_version_newer_than_the_library_is_evaluated_as_the_newest_and_printed_as_given() -> None:
    newer = f"v1.{NEWEST_MINOR + 5}"
    labels = {P + "enforce": "restricted", P + "enforce-version": newer}
    rv = review({}, PLAIN, namespace="ml", namespace_labels=labels)
    assert rv.denied
    assert rv.denial.startswith(f'violates PodSecurity "restricted:{newer}": allowPrivilegeEscalation != false')
    assert evaluate({}, PLAIN, "restricted", newer) == evaluate({}, PLAIN, "restricted", "latest")


def test_latest_follows_the_emulated_release() -> None:
    # capabilities_restricted starts at v1.22: an API server emulating 1.21 does not check it at latest
    at_latest = evaluate({}, PLAIN, "restricted", "latest", emulation_version="v1.21")
    assert [v.check_id for v in at_latest.violations] == [
        "allowPrivilegeEscalation",
        "runAsNonRoot",
        "seccompProfile_restricted",
    ]
    assert at_latest == evaluate({}, PLAIN, "restricted", "v1.21")
    assert "capabilities_restricted" in [v.check_id for v in evaluate({}, PLAIN, "restricted", "latest").violations]


@pytest.mark.parametrize("value", ["1.25", "v1", "v1.25.1", "v1.025", "V1.25", "v1.25 ", "latest\n", "v2.0"])
def test_malformed_version_label_is_an_upstream_field_error_and_means_latest(value: str) -> None:
    lp = policy_from_labels({P + "enforce": "baseline", P + "enforce-version": value})
    assert lp.policy.enforce == LevelVersion(B, LATEST)
    quoted = json.dumps(value)  # Go's %q matches JSON quoting for these values
    assert lp.errors == (f'metadata.labels[{P}enforce-version]: Invalid value: {quoted}: must be "latest" or "v1.x"',)
    # the enforce level is still valid, so warn still follows it
    assert lp.policy.warn == LevelVersion(B, LATEST)


@pytest.mark.parametrize("value", ["Restricted", "RESTRICTED", " restricted", "restricted ", ""])
def test_level_values_are_case_and_space_sensitive(value: str) -> None:
    lp = policy_from_labels({P + "enforce": value, P + "audit": value, P + "warn": value})
    # enforce fails closed, audit and warn fail open; warn never follows an invalid enforce level
    assert lp.policy.enforce == LevelVersion(R, LATEST)
    assert lp.policy.audit.level is PRIV and lp.policy.warn.level is PRIV
    assert lp.errors[0] == (
        f"metadata.labels[{P}enforce]: Invalid value: {json.dumps(value)}: "
        "must be one of privileged, baseline, restricted"
    )
    assert len(lp.errors) == 3


def test_v1_0_is_valid_and_checks_baseline() -> None:
    assert policy_from_labels({P + "enforce": "baseline", P + "enforce-version": "v1.0"}).errors == ()
    assert not evaluate({}, PRIVILEGED, "baseline", "v1.0").allowed


# --- audit and warn against enforce ---------------------------------------------------------------------


def test_warn_stricter_than_enforce_warns_on_allowed_pods() -> None:
    labels = {P + "enforce": "baseline", P + "warn": "restricted", P + "audit": "restricted"}
    rv = review({}, PLAIN, namespace="ml", namespace_labels=labels)
    assert not rv.denied
    assert rv.warnings[0].startswith('would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false')
    assert rv.audit is not None and not rv.audit.allowed


def test_warn_looser_than_enforce_is_kept_when_labelled_and_silent_on_denial() -> None:
    labels = {P + "enforce": "restricted", P + "warn": "baseline", P + "audit": "privileged"}
    lp = policy_from_labels(labels)
    assert lp.policy.warn == LevelVersion(B, LATEST) and lp.policy.audit.level is PRIV
    rv = review({}, PRIVILEGED, namespace="ml", namespace_labels=labels)
    # denied: no warnings are added to a rejected request, audit is still evaluated (privileged: allowed)
    assert rv.denied and rv.warnings == () and rv.audit is not None and rv.audit.allowed


def test_audit_never_follows_enforce_but_warn_does_with_its_version() -> None:
    lp = policy_from_labels({P + "enforce": "restricted", P + "enforce-version": "v1.25"})
    assert lp.policy.warn == LevelVersion(R, Version(25))
    assert lp.policy.audit == LevelVersion(PRIV, LATEST)
    # an explicit warn-version is kept while the level follows
    lp2 = policy_from_labels({P + "enforce": "restricted", P + "enforce-version": "v1.25", P + "warn-version": "v1.30"})
    assert lp2.policy.warn == LevelVersion(R, Version(30))


def test_warn_follows_enforce_only_when_stricter_than_the_default_warn() -> None:
    defaults = Policy(warn=LevelVersion(R, Version(30)))
    lp = policy_from_labels({P + "enforce": "baseline"}, defaults)
    assert lp.policy.warn == LevelVersion(R, Version(30))


# --- exemptions: order and scope ------------------------------------------------------------------------


def test_namespace_exemption_comes_before_user_and_ignores_invalid_labels() -> None:
    rv = review(
        {},
        dict(PRIVILEGED, runtimeClassName="kata"),
        namespace="kube-system",
        namespace_labels={P + "enforce": "bogus"},
        config=CFG,
        username="system:serviceaccount:ops:deployer",
    )
    assert rv.exempt == "namespace" and not rv.denied


def test_user_exemption_comes_before_runtime_class() -> None:
    rv = review(
        {},
        dict(PRIVILEGED, runtimeClassName="kata"),
        namespace="ml",
        namespace_labels={P + "enforce": "restricted"},
        config=CFG,
        username="system:serviceaccount:ops:deployer",
    )
    assert rv.exempt == "user"


def test_runtime_class_exemption_only_after_the_privileged_short_cut() -> None:
    spec = dict(PRIVILEGED, runtimeClassName="kata")
    # a fully privileged namespace answers before the runtimeClass is looked at
    assert review({}, spec, namespace="ml", namespace_labels={}, config=CFG).exempt == ""
    rv = review({}, spec, namespace="ml", namespace_labels={P + "enforce": "restricted"}, config=CFG)
    assert rv.exempt == "runtimeClass" and not rv.denied
    # exemptions match exactly: another runtime class, or an empty one, is evaluated
    other = review(
        {}, dict(PRIVILEGED, runtimeClassName="Kata"), namespace="ml", namespace_labels={P + "enforce": "baseline"}
    )
    assert other.denied


def test_empty_namespace_and_user_are_never_exempt() -> None:
    cfg = PodSecurityConfiguration(exempt_namespaces=frozenset({"x"}), exempt_usernames=frozenset({"u"}))
    rv = review({}, PRIVILEGED, namespace="", namespace_labels={P + "enforce": "baseline"}, config=cfg, username="")
    assert rv.denied and rv.exempt == ""


# --- pods vs workload controllers -------------------------------------------------------------------------


def test_controller_short_cut_ignores_enforce() -> None:
    # ValidatePodController: only warn and audit matter; enforce=restricted with warn/audit privileged
    labels = {P + "enforce": "restricted", P + "warn": "privileged"}
    rv = review({}, PRIVILEGED, namespace="ml", namespace_labels=labels, is_template=True)
    assert rv.enforce is None and rv.warn is None and rv.audit is None and not rv.denied
    # the same labels on a Pod: enforced
    assert review({}, PRIVILEGED, namespace="ml", namespace_labels=labels).denied


def test_controller_without_a_pod_template_is_not_evaluated() -> None:
    rv = review(None, None, namespace="ml", namespace_labels={P + "warn": "restricted"}, is_template=True)
    assert rv.warn is None and rv.audit is None and rv.warnings == ()


def test_controller_subresources_are_never_evaluated_but_pod_ephemeral_containers_are() -> None:
    labels = {P + "enforce": "baseline"}
    scale = review({}, PRIVILEGED, namespace="ml", namespace_labels=labels, is_template=True, subresource="scale")
    assert scale.warnings == () and scale.warn is None
    for sub in ("status", "exec", "binding", "eviction", "log", "attach", "portforward", "proxy"):
        assert not review({}, PRIVILEGED, namespace="ml", namespace_labels=labels, subresource=sub).denied
    added = dict(
        PLAIN, ephemeralContainers=[{"name": "dbg", "image": "busybox", "securityContext": {"privileged": True}}]
    )
    rv = review(
        {},
        added,
        namespace="ml",
        namespace_labels=labels,
        old_metadata={},
        old_spec=PLAIN,
        subresource="ephemeralcontainers",
    )
    assert rv.denied and 'container "dbg"' in rv.denial


def test_insignificant_pod_updates_are_allowed_without_evaluation() -> None:
    labels = {P + "enforce": "baseline"}
    # an already violating pod gets a label change: allowed (nothing that matters changed)
    relabel = review(
        {"labels": {"a": "b"}},
        PRIVILEGED,
        namespace="ml",
        namespace_labels=labels,
        old_metadata={},
        old_spec=PRIVILEGED,
    )
    assert not relabel.denied and relabel.enforce is None
    # an image change is significant: evaluated and denied
    new_image = {"containers": [dict(PRIVILEGED["containers"][0], image="img:2")]}
    assert review({}, new_image, namespace="ml", namespace_labels=labels, old_metadata={}, old_spec=PRIVILEGED).denied


@pytest.mark.parametrize(
    "old_spec,new_spec,old_meta,new_meta,significant",
    [
        (PLAIN, PLAIN, {}, {}, False),
        (PLAIN, {"containers": [{"name": "app", "image": "img:2"}]}, {}, {}, True),
        (PLAIN, {"containers": PLAIN["containers"] * 2}, {}, {}, True),
        (PLAIN, dict(PLAIN, initContainers=[{"name": "i"}]), {}, {}, True),
        # securityContext changes alone are not significant (the API server forbids them anyway)
        (PLAIN, PRIVILEGED, {}, {}, False),
        (PLAIN, PLAIN, {}, {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}, True),
        (
            PLAIN,
            PLAIN,
            {},
            {"annotations": {"container.seccomp.security.alpha.kubernetes.io/app": "unconfined"}},
            True,
        ),
        (
            dict(PLAIN, ephemeralContainers=[{"name": "d", "image": "a"}]),
            dict(PLAIN, ephemeralContainers=[{"name": "d", "image": "a"}]),
            {},
            {},
            False,
        ),
        (
            dict(PLAIN, ephemeralContainers=[{"name": "d", "image": "a"}]),
            dict(PLAIN, ephemeralContainers=[{"name": "d", "image": "b"}]),
            {},
            {},
            True,
        ),
        (PLAIN, dict(PLAIN, ephemeralContainers=[{"name": "d", "image": "a"}]), {}, {}, True),
    ],
)
def test_significant_pod_update(
    old_spec: dict[str, Any],
    new_spec: dict[str, Any],
    old_meta: dict[str, Any],
    new_meta: dict[str, Any],
    significant: bool,
) -> None:
    assert is_significant_pod_update(old_meta, old_spec, new_meta, new_spec) is significant


# --- namespace label change: which pods, which warnings --------------------------------------------------


def existing(name: str, spec: dict[str, Any], owner_uid: str | None = None) -> ExistingPod:
    meta: dict[str, Any] = {"name": name}
    if owner_uid is not None:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": "rs", "uid": owner_uid, "controller": True}]
    return ExistingPod(name, meta, spec)


def test_dry_run_exact_lines_sorted_and_named_after_the_smallest_pod() -> None:
    pods = [
        existing("zeta", PRIVILEGED),
        existing("pod-c", HOST),
        existing("pod-b", HOST),
        existing("pod-a", HOST),
        existing("alpha-ok", RESTRICTED_OK),
    ]
    dry = namespace_dry_run("x", pods, new_labels={P + "enforce": "restricted"})
    lines = dry.warnings()
    assert lines[0] == 'existing pods in namespace "x" violate the new PodSecurity enforce level "restricted:latest"'
    assert lines[1].startswith("pod-a (and 2 other pods): host namespaces, allowPrivilegeEscalation != false, ")
    assert lines[2].startswith("zeta: privileged, allowPrivilegeEscalation != false")
    assert len(lines) == 3 and dry.evaluated == 5


def test_dry_run_group_lines_sort_as_strings_not_by_discovery() -> None:
    pods = [existing("b", PRIVILEGED), existing("a", HOST)]
    dry = namespace_dry_run("ns", pods, new_labels={P + "enforce": "baseline"})
    assert dry.warnings()[1:] == ["a: host namespaces", "b: privileged"]


def test_dry_run_checks_at_most_the_limit_with_replicas_last() -> None:
    pods = [existing(f"rep-{i}", PRIVILEGED, "rs-1") for i in range(4)] + [existing("solo", HOST)]
    dry = namespace_dry_run("ns", pods, new_labels={P + "enforce": "baseline"}, max_pods=2)
    assert dry.warnings() == [
        "new PodSecurity enforce level only checked against the first 2 of 5 existing pods",
        'existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest"',
        "rep-0: privileged",
        "solo: host namespaces",
    ]


def test_dry_run_pods_of_the_same_controller_uid_are_one_controller() -> None:
    a = ExistingPod(
        "a", {"ownerReferences": [{"kind": "ReplicaSet", "name": "x", "uid": "u1", "controller": True}]}, PRIVILEGED
    )
    # same UID under another name still counts as the same controller (upstream keys by UID)
    b = ExistingPod(
        "b", {"ownerReferences": [{"kind": "ReplicaSet", "name": "y", "uid": "u1", "controller": True}]}, HOST
    )
    c = existing("c", HOST)
    dry = namespace_dry_run("ns", [a, b, c], new_labels={P + "enforce": "baseline"}, max_pods=2)
    # b is a second replica of u1, left out by the limit
    assert [g.pods for g in dry.groups] == [("a",), ("c",)]


def test_dry_run_runtime_class_exempt_pods_are_not_counted() -> None:
    pods = [existing("k", dict(PRIVILEGED, runtimeClassName="kata")), existing("p", PRIVILEGED)]
    dry = namespace_dry_run("ns", pods, new_labels={P + "enforce": "baseline"}, config=CFG, max_pods=1)
    assert dry.skipped_runtime_class == ("k",)
    assert dry.warnings()[0].startswith("existing pods in namespace")  # 1 of 1: no limit notice


@pytest.mark.parametrize(
    "old,new,checked",
    [
        ({}, {P + "enforce": "baseline"}, True),
        # latest -> v1.37 is a different version, even if it evaluates alike: checked
        ({P + "enforce": "baseline"}, {P + "enforce": "baseline", P + "enforce-version": f"v1.{NEWEST_MINOR}"}, True),
        # a looser level at another version is still checked (only same-version relaxations skip)
        ({P + "enforce": "restricted"}, {P + "enforce": "baseline", P + "enforce-version": "v1.30"}, True),
        ({P + "enforce": "restricted"}, {P + "enforce": "baseline"}, False),
        ({P + "warn": "restricted"}, {P + "warn": "baseline"}, False),
        ({P + "enforce": "baseline"}, {P + "enforce": "privileged", P + "enforce-version": "v1.20"}, False),
    ],
)
def test_dry_run_when_existing_pods_are_checked(old: dict[str, str], new: dict[str, str], checked: bool) -> None:
    dry = namespace_dry_run("ns", [existing("p", PRIVILEGED)], new_labels=new, old_labels=old)
    assert (dry.skipped == "") is checked
    assert bool(dry.groups) is checked


def test_dry_run_invalid_label_error_text_and_unchanged_errors_allowed() -> None:
    dry = namespace_dry_run("ns", [], new_labels={P + "enforce": "Baseline"})
    assert dry.label_errors == (
        f'metadata.labels[{P}enforce]: Invalid value: "Baseline": must be one of privileged, baseline, restricted',
    )
    keep = namespace_dry_run(
        "ns", [], new_labels={P + "enforce": "Baseline", "team": "a"}, old_labels={P + "enforce": "Baseline"}
    )
    assert keep.label_errors == ()


def test_exempt_namespace_notice_compares_versions_as_written() -> None:
    cfg = PodSecurityConfiguration(
        defaults=Policy(enforce=LevelVersion(R, LATEST)), exempt_namespaces=frozenset({"kube-system"})
    )
    same = namespace_dry_run("kube-system", [], new_labels={P + "enforce": "restricted"}, config=cfg)
    # the labels give exactly the defaults: no notice (and nothing checked)
    assert same.warnings() == [] and same.skipped
    pinned = {P + "enforce": "restricted", P + "enforce-version": f"v1.{NEWEST_MINOR}"}
    dry = namespace_dry_run("kube-system", [], new_labels=pinned, old_labels={P + "enforce": "baseline"}, config=cfg)
    assert dry.warnings() == [
        f'namespace "kube-system" is exempt from Pod Security, and the policy '
        f"(enforce=restricted:v1.{NEWEST_MINOR}) will be ignored"
    ]
    # only modes set by a label are listed (warn follows enforce here but has no label)


# --- CLI: namespaces absent from the inputs, objects without a namespace, dumps --------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="stockade")
    sub = parser.add_subparsers()
    pss_cli.register(sub)
    args = parser.parse_args(["pss", *argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


POD_NO_NS = """
apiVersion: v1
kind: Pod
metadata: {name: loose}
spec:
  containers: [{name: app, image: img, securityContext: {privileged: true}}]
"""

CONFIG = """
apiVersion: pod-security.admission.config.k8s.io/v1
kind: PodSecurityConfiguration
defaults: {enforce: baseline, enforce-version: v1.30}
"""


def test_check_without_level_uses_config_defaults_for_a_namespace_not_in_inputs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "pod.yaml").write_text(POD_NO_NS)
    (tmp_path / "cfg.yaml").write_text(CONFIG)
    code, out, _ = run(
        capsys, "check", "-o", "json", "--admission-config", str(tmp_path / "cfg.yaml"), str(tmp_path / "pod.yaml")
    )
    (entry,) = json.loads(out)
    assert code == 1
    assert (entry["namespace"], entry["level"], entry["version"], entry["allowed"]) == (
        None,
        "baseline",
        "v1.30",
        False,
    )
    assert [v["check"] for v in entry["violations"]] == ["privileged"]
    # without a configuration: upstream's privileged:latest default
    code, out, _ = run(capsys, "check", "-o", "json", str(tmp_path / "pod.yaml"))
    assert code == 0 and json.loads(out)[0]["level"] == "privileged"


def test_check_without_namespace_uses_the_default_namespace_labels(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ns = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n"
        "  labels: {pod-security.kubernetes.io/enforce: restricted}\n"
    )
    (tmp_path / "all.yaml").write_text(ns + "---" + POD_NO_NS)
    code, out, _ = run(capsys, "check", "-o", "json", str(tmp_path / "all.yaml"))
    (entry,) = json.loads(out)
    assert code == 1 and entry["level"] == "restricted" and entry["version"] == "latest"


DUMP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: x, uid: d1}
spec:
  template:
    spec: {containers: [{name: app, image: img, securityContext: {privileged: true}}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5f
  namespace: x
  uid: r1
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}]
spec:
  replicas: 3
  template:
    spec: {containers: [{name: app, image: img, securityContext: {privileged: true}}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-4a
  namespace: x
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}]
spec:
  replicas: 0
  template:
    spec: {hostNetwork: true, containers: [{name: app, image: img}]}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: web-5f-b
    namespace: x
    ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5f, uid: r1, controller: true}]
  spec: {containers: [{name: app, image: img, securityContext: {privileged: true}}]}
- apiVersion: v1
  kind: Pod
  metadata:
    name: web-5f-a
    namespace: x
    ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5f, uid: r1, controller: true}]
  spec: {containers: [{name: app, image: img, securityContext: {privileged: true}}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: manual, namespace: x}
spec:
  template:
    spec: {hostPID: true, containers: [{name: app, image: img}]}
"""


def test_dry_run_on_a_dump_checks_pods_not_the_templates_that_made_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "dump.yaml").write_text(DUMP)
    code, out, _ = run(capsys, "dry-run", "-n", "x", "--level", "baseline", "-o", "json", str(tmp_path / "dump.yaml"))
    doc = json.loads(out)
    assert code == 1
    # the Deployment and its live ReplicaSet are represented by their pods; the scaled-down
    # ReplicaSet creates none; the Job without pods in the dump stands for the pod it creates
    assert doc["warnings"] == [
        'existing pods in namespace "x" violate the new PodSecurity enforce level "baseline:latest"',
        "Job/manual: host namespaces",
        "web-5f-a (and 1 other pod): privileged",
    ]
    assert doc["evaluated"] == 3 and doc["total"] == 3


def test_label_error_quotes_values_like_go() -> None:
    lp = policy_from_labels({P + "audit": 'base"line\x07\u200b'})
    assert lp.errors == (
        f'metadata.labels[{P}audit]: Invalid value: "base\\"line\\a\\u200b": '
        "must be one of privileged, baseline, restricted",
    )

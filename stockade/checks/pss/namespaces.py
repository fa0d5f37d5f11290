"""Namespace Pod Security labels: missing enforce levels and undocumented privileged namespaces.

``pss.namespace-no-enforce-label`` fires on a Namespace without a
``pod-security.kubernetes.io/enforce`` label when the cluster defaults (from the configured
``PodSecurityConfiguration``) leave it ``privileged``: its pods are then never checked. The detail
recommends ``baseline`` for namespaces running GPU workloads (GPU stacks usually cannot meet
Restricted; a dedicated Baseline namespace is the recommended pattern) and ``restricted``
otherwise. Invalid label values are reported too, since the API server then falls back
(enforce to restricted, audit and warn to privileged, versions to latest).

``pss.namespace-privileged-undocumented`` fires when a namespace enforces ``privileged`` without
an annotation (``stockade.io/pss-privileged-reason`` by default, see ``pss.reason_annotations``)
explaining why.
"""

from __future__ import annotations

from collections.abc import Iterator

from stockade.checks.pss.standards import PSA_DOC, PSS_DOC, gpu_namespaces, settings
from stockade.checks.registry import ScanContext, declare, register
from stockade.model import CheckSpec, Finding, Severity

NO_ENFORCE = CheckSpec(
    id="pss.namespace-no-enforce-label",
    title="Namespace enforces no Pod Security level",
    severity=Severity.MEDIUM,
    rationale=(
        "Without an enforce label (and with the API server's default of privileged), any pod may be "
        "created in the namespace, including privileged pods that take over the node."
    ),
    remediation=(
        "Label the namespace pod-security.kubernetes.io/enforce=restricted (baseline for a dedicated "
        "GPU namespace) and pin pod-security.kubernetes.io/enforce-version."
    ),
    references=(PSA_DOC, PSS_DOC),
)

PRIVILEGED_UNDOCUMENTED = declare(
    CheckSpec(
        id="pss.namespace-privileged-undocumented",
        title="Namespace enforces the privileged level without a documented reason",
        severity=Severity.HIGH,
        rationale=(
            "A privileged namespace admits pods that can take over their node; such an exception must "
            "be deliberate, reviewed and explained where operators will see it."
        ),
        remediation=(
            "Tighten the namespace to baseline or restricted, or document why it must be privileged in "
            "the stockade.io/pss-privileged-reason annotation."
        ),
        references=(PSA_DOC, PSS_DOC),
    )
)

ENFORCE_PATH = "metadata.labels"


@register(NO_ENFORCE)
def check(ctx: ScanContext) -> Iterator[Finding]:
    """Namespaces without an enforce label, with invalid labels, or privileged without a reason."""
    from stockade.engines.pss.api import ENFORCE_LABEL, LABEL_PREFIX

    s = settings(ctx)
    gpu_ns = gpu_namespaces(ctx)
    for name, ns in sorted(ctx.inventory.namespaces().items()):
        if name in s.admission.exempt_namespaces:
            continue
        labels = ns.labels
        lp = s.admission.namespace_policy(labels)
        for err in lp.errors:
            if f"[{ENFORCE_LABEL}]" in err or f"[{ENFORCE_LABEL}-version]" in err:
                yield ctx.finding(
                    NO_ENFORCE,
                    ns,
                    ENFORCE_PATH,
                    "invalid pod-security enforce label",
                    detail=f"namespace {name!r}: {err}; the API server enforces {lp.policy.enforce} instead",
                )
        if ENFORCE_LABEL not in labels:
            if not s.admission.defaults.enforce.is_privileged:
                continue  # the cluster default enforces a level
            suggest = "baseline (GPU workloads)" if name in gpu_ns else "restricted"
            others = sorted(k for k in labels if isinstance(k, str) and k.startswith(LABEL_PREFIX))
            extra = f"; only {', '.join(others)} set" if others else ""
            yield ctx.finding(
                NO_ENFORCE,
                ns,
                ENFORCE_PATH,
                "namespace has no pod-security enforce label",
                detail=f"namespace {name!r} admits any pod; label it enforce={suggest}{extra}",
                evidence=(("recommended", suggest.split(" ")[0]),),
            )
            continue
        if lp.policy.enforce.is_privileged:
            documented = any(str(ns.annotations.get(a) or "").strip() for a in s.reason_annotations)
            if not documented:
                yield ctx.finding(
                    PRIVILEGED_UNDOCUMENTED,
                    ns,
                    ENFORCE_PATH,
                    "privileged namespace without a documented reason",
                    detail=(
                        f"namespace {name!r} enforces privileged and has no "
                        f"{' or '.join(s.reason_annotations)} annotation"
                    ),
                )

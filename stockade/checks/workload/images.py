"""Image reference policy: mutable tags, digests, allowed registries, pull policy.

A tag is a pointer that can move: the same manifest can run different code tomorrow, and on a
shared node an image cached by one team can be started by another team without pull credentials
unless every pull is checked (``imagePullPolicy: Always``, or the AlwaysPullImages admission plugin).
"""

from __future__ import annotations

from collections.abc import Iterator

from stockade.checks.registry import ScanContext, declare, register
from stockade.checks.workload.common import doc, owned_pod_specs
from stockade.engines.images.reference import InvalidReference, parse_reference, registry_allowed
from stockade.model import CheckSpec, Finding, Reference, Severity

_IMAGES_DOC = doc("Images", "concepts/containers/images/")

LATEST = CheckSpec(
    id="workload.image-latest-tag",
    title="Image uses the latest tag or no tag",
    severity=Severity.MEDIUM,
    rationale="`latest` (or no tag, which means `latest`) changes under you: what runs is not what "
    "was reviewed, and a rollback cannot restore the previous code.",
    remediation="Use an explicit version tag, ideally with the image digest (`image: repo:1.2.3@sha256:...`).",
    references=(_IMAGES_DOC,),
)
NOT_PINNED = declare(
    CheckSpec(
        id="workload.image-not-pinned",
        title="Image not pinned by digest",
        severity=Severity.LOW,
        rationale="A tag can be re-pointed by anyone who can push to the repository; only a digest names "
        "immutable content, which is what signatures and vulnerability reports are about.",
        remediation="Reference the image by digest (`repo:tag@sha256:...`), for example with a resolver in CI.",
        references=(
            _IMAGES_DOC,
            Reference("SLSA: pin dependencies", "https://slsa.dev/spec/v1.0/requirements"),
        ),
    )
)
REGISTRY = declare(
    CheckSpec(
        id="workload.image-registry-not-allowed",
        title="Image from a registry that is not allowed",
        severity=Severity.HIGH,
        rationale="Images from arbitrary registries bypass the platform's scanning, signing and "
        "provenance controls; on an ML platform this is how a poisoned model server gets in.",
        remediation="Mirror the image into an allowed registry (`images.allowed_registries` in stockade.yaml).",
        references=(_IMAGES_DOC,),
    )
)
INVALID = declare(
    CheckSpec(
        id="workload.image-reference-invalid",
        title="Image reference cannot be parsed",
        severity=Severity.MEDIUM,
        rationale="The API server accepts any string as an image, but the kubelet refuses to pull an "
        "invalid reference (InvalidImageName): the workload never starts.",
        remediation="Write the image as `[registry/]repository[:tag][@sha256:digest]` in lower case.",
        references=(_IMAGES_DOC,),
    )
)
PULL_POLICY = declare(
    CheckSpec(
        id="workload.image-pull-policy-stale",
        title="Pull policy can run a stale or another tenant's cached image",
        severity=Severity.MEDIUM,
        rationale="With `IfNotPresent` (the default for a tagged image) or `Never`, a node runs whatever "
        "it cached under that tag, and a pod of one team can start a private image another team pulled "
        "without holding its pull secret.",
        remediation="Pin the image by digest, or set `imagePullPolicy: Always` (and enable the "
        "AlwaysPullImages admission plugin on multi-tenant clusters).",
        references=(
            doc("Image pull policy", "concepts/containers/images/#image-pull-policy"),
            doc("AlwaysPullImages", "reference/access-authn-authz/admission-controllers/#alwayspullimages"),
        ),
    )
)


@register(LATEST)
def check(ctx: ScanContext) -> Iterator[Finding]:
    allowed = ctx.config.allowed_registries
    for ps in owned_pod_specs(ctx):
        for rel, container in ps.containers():
            name = container.get("name", rel)
            image = container.get("image")
            if not isinstance(image, str) or not image:
                continue  # synthesised containers (TrainJob, KServe) often take the runtime's image
            path = ps.field_path(f"{rel}.image")
            try:
                ref = parse_reference(image)
            except InvalidReference as e:
                yield ctx.finding(INVALID, ps.obj, path, "image reference is invalid", f"container {name}: {e}")
                continue
            if not ref.pinned and ref.effective_tag == "latest":
                what = "no tag (latest)" if ref.tag is None else "tag latest"
                yield ctx.finding(
                    LATEST, ps.obj, path, "image uses the latest tag", f"container {name}: {image} has {what}"
                )
            if not ref.pinned:
                yield ctx.finding(NOT_PINNED, ps.obj, path, "image not pinned by digest", f"container {name}: {image}")
            if allowed and not registry_allowed(ref, allowed):
                yield ctx.finding(
                    REGISTRY, ps.obj, path, "image registry not allowed",
                    f"container {name}: {ref.registry}/{ref.repository} is not under {', '.join(allowed)}",
                )  # fmt: skip
            policy = container.get("imagePullPolicy")
            effective = policy or ("Always" if ref.effective_tag == "latest" and not ref.pinned else "IfNotPresent")
            if effective in ("IfNotPresent", "Never") and not ref.pinned:
                how = "" if policy else " (defaulted)"
                yield ctx.finding(
                    PULL_POLICY, ps.obj, ps.field_path(f"{rel}.imagePullPolicy") if policy else path,
                    "pull policy can run a stale cached image",
                    f"container {name}: imagePullPolicy {effective}{how} with mutable tag {ref.tag or 'latest'}",
                )  # fmt: skip

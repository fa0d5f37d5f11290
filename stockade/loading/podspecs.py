"""Find every pod spec in an object: pods, workload templates and the ML custom resources that
hide pod templates from other scanners.

A :class:`PodSpecRef` gives the pod spec as a plain mapping, so every engine (Pod Security,
workload checks, network policy) sees one shape. Some custom resources do not embed a real pod
spec (a KServe predictor puts the model container beside pod fields, a TrainJob describes its
trainer container, an Argo template has one container); for them the spec is synthesised and
:meth:`PodSpecRef.field_path` maps a field of the synthesised spec back to where it really is in
the object, so findings point at the line the user has to change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from stockade.loading.objects import K8sObject

_EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True)
class PodSpecRef:
    """One pod spec found in an object."""

    obj: K8sObject
    path: str
    """Field path of the pod spec in the object, e.g. ``spec.template.spec``."""
    spec: Mapping[str, Any]
    metadata: Mapping[str, Any]
    """Metadata of the pod (template): labels and annotations the pods will carry."""
    role: str = ""
    """Which part of the workload: ``""`` for plain workloads, ``worker``, ``predictor`` ..."""
    is_template: bool = True
    """False only for a real Pod object."""
    remap: Mapping[str, str] = field(default_factory=dict)
    """Relative-path prefixes of a synthesised spec -> absolute paths in the object."""
    controller_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels the controller adds to the pods it creates (KServe, KubeRay, Kubeflow ...)."""

    @property
    def namespace(self) -> str | None:
        return self.obj.namespace

    @property
    def labels(self) -> Mapping[str, str]:
        """The labels the running pods carry: the template's plus the controller's."""
        labels = self.metadata.get("labels")
        labels = labels if isinstance(labels, Mapping) else _EMPTY
        if not self.controller_labels:
            return labels
        return {**labels, **self.controller_labels}

    @property
    def annotations(self) -> Mapping[str, str]:
        ann = self.metadata.get("annotations")
        return ann if isinstance(ann, Mapping) else _EMPTY

    @property
    def label(self) -> str:
        """Human name: ``Deployment/ns/name`` plus the role when there is one."""
        return f"{self.obj.ref} ({self.role})" if self.role else str(self.obj.ref)

    def field_path(self, rel: str) -> str:
        """Absolute field path in the object for a path relative to the pod spec."""
        if not rel:
            return self.path
        best = ""
        for prefix in self.remap:
            if (rel == prefix or rel.startswith(prefix + ".") or rel.startswith(prefix + "[")) and len(prefix) > len(
                best
            ):
                best = prefix
        if best:
            return self.remap[best] + rel[len(best) :]
        return f"{self.path}.{rel}" if self.path else rel

    def containers(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Every container with its relative path: init, regular, then ephemeral containers."""
        for key in ("initContainers", "containers", "ephemeralContainers"):
            items = self.spec.get(key)
            if not isinstance(items, list):
                continue
            for i, c in enumerate(items):
                if isinstance(c, Mapping):
                    yield f"{key}[{i}]", c


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def _template(
    obj: K8sObject, tmpl: Any, path: str, role: str = "", labels: Mapping[str, str] = _EMPTY
) -> Iterator[PodSpecRef]:
    """A PodTemplateSpec (``metadata`` + ``spec``) at ``path``."""
    tmpl = _m(tmpl)
    spec = tmpl.get("spec")
    if isinstance(spec, Mapping):
        yield PodSpecRef(obj, f"{path}.spec", spec, _m(tmpl.get("metadata")), role, controller_labels=labels)


def _pod(obj: K8sObject) -> Iterator[PodSpecRef]:
    spec = obj.body.get("spec")
    if isinstance(spec, Mapping):
        yield PodSpecRef(obj, "spec", spec, obj.metadata, "", is_template=False)


def _workload(obj: K8sObject) -> Iterator[PodSpecRef]:
    yield from _template(obj, obj.spec.get("template"), "spec.template")


def _notebook(obj: K8sObject) -> Iterator[PodSpecRef]:
    # The notebook controller runs a StatefulSet whose pods carry these labels.
    labels = {"notebook-name": obj.name, "statefulset": obj.name}
    yield from _template(obj, obj.spec.get("template"), "spec.template", "", labels)


def _cronjob(obj: K8sObject) -> Iterator[PodSpecRef]:
    job = _m(_m(obj.spec.get("jobTemplate")).get("spec"))
    yield from _template(obj, job.get("template"), "spec.jobTemplate.spec.template")


def _podtemplate(obj: K8sObject) -> Iterator[PodSpecRef]:
    yield from _template(obj, obj.body.get("template"), "template")


def _replica_specs(obj: K8sObject) -> Iterator[PodSpecRef]:
    """Kubeflow training-operator jobs: ``spec.<x>ReplicaSpecs.<Role>.template``."""
    for key, specs in obj.spec.items():
        if isinstance(key, str) and key.endswith("ReplicaSpecs") and isinstance(specs, Mapping):
            for role, rs in specs.items():
                labels = {
                    "training.kubeflow.org/job-name": obj.name,
                    "training.kubeflow.org/replica-type": str(role).lower(),
                    "training.kubeflow.org/operator-name": f"{obj.kind[:-3].lower()}job-controller"
                    if obj.kind.endswith("Job") else "",
                }  # fmt: skip
                path = f"spec.{key}.{role}.template"
                yield from _template(obj, _m(rs).get("template"), path, str(role).lower(), labels)


def _jobset_jobs(obj: K8sObject, jobset_spec: Mapping[str, Any], base: str) -> Iterator[PodSpecRef]:
    jobs = jobset_spec.get("replicatedJobs")
    if not isinstance(jobs, list):
        return
    for i, rj in enumerate(jobs):
        rj = _m(rj)
        job_spec = _m(_m(rj.get("template")).get("spec"))
        role = str(rj.get("name") or f"replicatedJobs[{i}]")
        yield from _template(obj, job_spec.get("template"), f"{base}.replicatedJobs[{i}].template.spec.template", role)


def _jobset(obj: K8sObject) -> Iterator[PodSpecRef]:
    yield from _jobset_jobs(obj, obj.spec, "spec")


def _training_runtime(obj: K8sObject) -> Iterator[PodSpecRef]:
    yield from _jobset_jobs(obj, _m(_m(obj.spec.get("template")).get("spec")), "spec.template.spec")


_TRAINER_FIELDS = ("image", "command", "args", "env", "envFrom")


def _trainjob(obj: K8sObject) -> Iterator[PodSpecRef]:
    """Kubeflow Trainer v2 TrainJob: the trainer container it describes (the runtime adds the rest)."""
    trainer = obj.spec.get("trainer")
    if not isinstance(trainer, Mapping):
        return
    container: dict[str, Any] = {"name": "node"}
    container.update({k: trainer[k] for k in _TRAINER_FIELDS if k in trainer})
    remap = {"containers[0]": "spec.trainer"}
    if isinstance(trainer.get("resourcesPerNode"), Mapping):
        container["resources"] = trainer["resourcesPerNode"]
        remap["containers[0].resources"] = "spec.trainer.resourcesPerNode"
    yield PodSpecRef(obj, "spec.trainer", {"containers": [container]}, _EMPTY, "trainer", remap=remap)


def _ray_cluster_spec(obj: K8sObject, spec: Any, base: str) -> Iterator[PodSpecRef]:
    spec = _m(spec)
    # KubeRay names the cluster after the RayCluster (RayJob/RayService clusters get a suffix
    # at run time, so only the node-type labels are certain there).
    cluster = {"ray.io/cluster": obj.name} if obj.kind == "RayCluster" else {}
    head = {**cluster, "ray.io/node-type": "head", "ray.io/is-ray-node": "yes"}
    yield from _template(
        obj, _m(spec.get("headGroupSpec")).get("template"), f"{base}.headGroupSpec.template", "head", head
    )
    groups = spec.get("workerGroupSpecs")
    if isinstance(groups, list):
        for i, g in enumerate(groups):
            g = _m(g)
            role = f"worker:{g['groupName']}" if g.get("groupName") else "worker"
            labels = {**cluster, "ray.io/node-type": "worker", "ray.io/is-ray-node": "yes"}
            if g.get("groupName"):
                labels["ray.io/group"] = str(g["groupName"])
            yield from _template(obj, g.get("template"), f"{base}.workerGroupSpecs[{i}].template", role, labels)


def _raycluster(obj: K8sObject) -> Iterator[PodSpecRef]:
    yield from _ray_cluster_spec(obj, obj.spec, "spec")


def _rayjob(obj: K8sObject) -> Iterator[PodSpecRef]:
    yield from _ray_cluster_spec(obj, obj.spec.get("rayClusterSpec"), "spec.rayClusterSpec")
    yield from _template(obj, obj.spec.get("submitterPodTemplate"), "spec.submitterPodTemplate", "submitter")


def _rayservice(obj: K8sObject) -> Iterator[PodSpecRef]:
    yield from _ray_cluster_spec(obj, obj.spec.get("rayClusterConfig"), "spec.rayClusterConfig")


# KServe model frameworks: each is a container spec plus model fields (storageUri, runtime ...).
_KSERVE_MODEL_KEYS = (
    "model", "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "huggingface",
    "pmml", "lightgbm", "paddle", "alibi", "art",
)  # fmt: skip
_KSERVE_MODEL_ONLY = frozenset(
    {"modelFormat", "runtime", "storageUri", "protocolVersion", "storage", "runtimeVersion", "type", "config"}
)


def _kserve_component(obj: K8sObject, comp: Any, base: str, role: str) -> Iterator[PodSpecRef]:
    comp = _m(comp)
    if not comp:
        return
    spec: dict[str, Any] = {k: v for k, v in comp.items() if k not in _KSERVE_MODEL_KEYS}
    remap: dict[str, str] = {}
    raw = comp.get("containers")
    if raw is not None and not isinstance(raw, list):
        yield PodSpecRef(obj, base, spec, _EMPTY, role)  # the wrong type is reported by validation
        return
    containers = [c for c in raw or () if isinstance(c, Mapping)]
    for key in _KSERVE_MODEL_KEYS:
        model = comp.get(key)
        if isinstance(model, Mapping):
            # The model server container KServe injects ("kserve-container") takes these fields.
            container = {k: v for k, v in model.items() if k not in _KSERVE_MODEL_ONLY}
            container.setdefault("name", "kserve-container")
            containers.insert(0, container)
            remap["containers[0]"] = f"{base}.{key}"
            for i in range(1, len(containers)):
                remap[f"containers[{i}]"] = f"{base}.containers[{i - 1}]"
            break
    spec["containers"] = containers
    labels = {"serving.kserve.io/inferenceservice": obj.name, "component": role}
    yield PodSpecRef(obj, base, spec, _m(comp.get("metadata")) or _EMPTY, role, remap=remap, controller_labels=labels)


def _inferenceservice(obj: K8sObject) -> Iterator[PodSpecRef]:
    for role in ("predictor", "transformer", "explainer"):
        yield from _kserve_component(obj, obj.spec.get(role), f"spec.{role}", role)


def _servingruntime(obj: K8sObject) -> Iterator[PodSpecRef]:
    """KServe ServingRuntime: the pod fields sit directly under ``spec``."""
    if isinstance(obj.spec.get("containers"), list):
        yield PodSpecRef(obj, "spec", obj.spec, _EMPTY, "runtime")


def _lws(obj: K8sObject) -> Iterator[PodSpecRef]:
    lwt = _m(obj.spec.get("leaderWorkerTemplate"))
    yield from _template(obj, lwt.get("leaderTemplate"), "spec.leaderWorkerTemplate.leaderTemplate", "leader")
    yield from _template(obj, lwt.get("workerTemplate"), "spec.leaderWorkerTemplate.workerTemplate", "worker")


def _volcano_job(obj: K8sObject) -> Iterator[PodSpecRef]:
    tasks = obj.spec.get("tasks")
    if isinstance(tasks, list):
        for i, t in enumerate(tasks):
            t = _m(t)
            yield from _template(
                obj, t.get("template"), f"spec.tasks[{i}].template", str(t.get("name") or f"tasks[{i}]")
            )


# Pod-level fields an Argo workflow sets for every step's pod.
_ARGO_POD_FIELDS = (
    "securityContext", "serviceAccountName", "automountServiceAccountToken", "hostNetwork",
    "nodeSelector", "tolerations", "affinity", "volumes", "imagePullSecrets", "priorityClassName",
    "schedulerName", "dnsPolicy", "dnsConfig", "hostAliases", "runtimeClassName",
)  # fmt: skip


def _argo_workflow_spec(obj: K8sObject, wf: Any, base: str) -> Iterator[PodSpecRef]:
    wf = _m(wf)
    templates = wf.get("templates")
    if not isinstance(templates, list):
        return
    for i, t in enumerate(templates):
        t = _m(t)
        tpath = f"{base}.templates[{i}]"
        spec: dict[str, Any] = {}
        remap: dict[str, str] = {}
        for key in _ARGO_POD_FIELDS:
            if key in t:
                spec[key] = t[key]
                remap[key] = f"{tpath}.{key}"
            elif key in wf:
                spec[key] = wf[key]
                remap[key] = f"{base}.{key}"
        containers: list[Mapping[str, Any]] = []
        for kind in ("container", "script"):
            if isinstance(t.get(kind), Mapping):
                remap[f"containers[{len(containers)}]"] = f"{tpath}.{kind}"
                containers.append(t[kind])
        cset = _m(t.get("containerSet")).get("containers")
        if isinstance(cset, list):
            for j, c in enumerate(cset):
                if isinstance(c, Mapping):
                    remap[f"containers[{len(containers)}]"] = f"{tpath}.containerSet.containers[{j}]"
                    containers.append(c)
        sidecars = t.get("sidecars")
        if isinstance(sidecars, list):
            for j, c in enumerate(sidecars):
                if isinstance(c, Mapping):
                    remap[f"containers[{len(containers)}]"] = f"{tpath}.sidecars[{j}]"
                    containers.append(c)
        if not containers:
            continue  # steps, dag, suspend, resource templates run no pod of their own
        spec["containers"] = containers
        if isinstance(t.get("initContainers"), list):
            spec["initContainers"] = t["initContainers"]
            remap["initContainers"] = f"{tpath}.initContainers"
        meta = _m(t.get("metadata"))
        yield PodSpecRef(obj, tpath, spec, meta, str(t.get("name") or f"templates[{i}]"), remap=remap)


def _argo_workflow(obj: K8sObject) -> Iterator[PodSpecRef]:
    yield from _argo_workflow_spec(obj, obj.spec, "spec")


def _argo_cron(obj: K8sObject) -> Iterator[PodSpecRef]:
    yield from _argo_workflow_spec(obj, obj.spec.get("workflowSpec"), "spec.workflowSpec")


Finder = Callable[[K8sObject], Iterator[PodSpecRef]]

# (API group or "*" for any, kind) -> finder. Core kinds are matched on the group they live in.
FINDERS: dict[tuple[str, str], Finder] = {
    ("", "Pod"): _pod,
    ("", "PodTemplate"): _podtemplate,
    ("", "ReplicationController"): _workload,
    ("apps", "Deployment"): _workload,
    ("apps", "ReplicaSet"): _workload,
    ("apps", "StatefulSet"): _workload,
    ("apps", "DaemonSet"): _workload,
    ("extensions", "Deployment"): _workload,
    ("extensions", "DaemonSet"): _workload,
    ("extensions", "ReplicaSet"): _workload,
    ("batch", "Job"): _workload,
    ("batch", "CronJob"): _cronjob,
    ("kubeflow.org", "PyTorchJob"): _replica_specs,
    ("kubeflow.org", "TFJob"): _replica_specs,
    ("kubeflow.org", "MPIJob"): _replica_specs,
    ("kubeflow.org", "XGBoostJob"): _replica_specs,
    ("kubeflow.org", "PaddleJob"): _replica_specs,
    ("kubeflow.org", "JAXJob"): _replica_specs,
    ("kubeflow.org", "MXJob"): _replica_specs,
    ("kubeflow.org", "Notebook"): _notebook,
    ("trainer.kubeflow.org", "TrainJob"): _trainjob,
    ("trainer.kubeflow.org", "TrainingRuntime"): _training_runtime,
    ("trainer.kubeflow.org", "ClusterTrainingRuntime"): _training_runtime,
    ("serving.kserve.io", "InferenceService"): _inferenceservice,
    ("serving.kserve.io", "ServingRuntime"): _servingruntime,
    ("serving.kserve.io", "ClusterServingRuntime"): _servingruntime,
    ("serving.knative.dev", "Service"): _workload,
    ("ray.io", "RayCluster"): _raycluster,
    ("ray.io", "RayJob"): _rayjob,
    ("ray.io", "RayService"): _rayservice,
    ("jobset.x-k8s.io", "JobSet"): _jobset,
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"): _lws,
    ("batch.volcano.sh", "Job"): _volcano_job,
    ("argoproj.io", "Workflow"): _argo_workflow,
    ("argoproj.io", "WorkflowTemplate"): _argo_workflow,
    ("argoproj.io", "ClusterWorkflowTemplate"): _argo_workflow,
    ("argoproj.io", "CronWorkflow"): _argo_cron,
}

# Kinds that carry pod templates, by kind alone (for lookups that do not know the group).
POD_TEMPLATE_KINDS = frozenset(kind for _, kind in FINDERS)


def find_pod_specs(obj: K8sObject) -> list[PodSpecRef]:
    """Every pod spec in ``obj``, in document order; empty for kinds that run no pods."""
    finder = FINDERS.get((obj.api_group, obj.kind))
    if finder is None:
        return []
    return list(finder(obj))


def runs_pods(obj: K8sObject) -> bool:
    """Whether this object's kind is one that carries pod specs."""
    return (obj.api_group, obj.kind) in FINDERS

"""Pod specs hidden in ML custom resources, their real field paths, and the labels pods carry."""

from __future__ import annotations

from typing import Any

import yaml

from stockade.loading import K8sObject, find_pod_specs
from stockade.model import Location, ObjectRef


def obj(text: str) -> K8sObject:
    body: dict[str, Any] = yaml.safe_load(text)
    md = body.get("metadata", {})
    ref = ObjectRef(body["kind"], md.get("name", ""), md.get("namespace"), body["apiVersion"])
    return K8sObject(ref, body, Location("t.yaml", 1))


def test_kserve_model_container_maps_back_to_the_model_field() -> None:
    isvc = obj(
        """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: churn, namespace: serving}
spec:
  predictor:
    serviceAccountName: sa
    model: {modelFormat: {name: sklearn}, storageUri: "s3://m", image: "r.io/sk:1"}
    containers: [{name: sidecar, image: "r.io/side:1"}]
"""
    )
    (ps,) = find_pod_specs(isvc)
    assert [c["name"] for c in ps.spec["containers"]] == ["kserve-container", "sidecar"]
    assert "storageUri" not in ps.spec["containers"][0]
    assert ps.field_path("containers[0].image") == "spec.predictor.model.image"
    assert ps.field_path("containers[1].image") == "spec.predictor.containers[0].image"
    assert ps.field_path("serviceAccountName") == "spec.predictor.serviceAccountName"
    assert ps.labels == {"serving.kserve.io/inferenceservice": "churn", "component": "predictor"}


def test_argo_template_pod_fields_come_from_template_or_workflow() -> None:
    wf = obj(
        """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: train, namespace: ci}
spec:
  serviceAccountName: runner
  securityContext: {runAsNonRoot: true}
  templates:
  - name: main
    steps: [[{name: a, template: fit}]]
  - name: fit
    securityContext: {runAsUser: 0}
    container: {name: main, image: "py:3"}
    sidecars: [{name: log, image: "fluent:1"}]
"""
    )
    (ps,) = find_pod_specs(wf)  # the steps template runs no pod of its own
    assert ps.role == "fit"
    assert ps.spec["securityContext"] == {"runAsUser": 0} and ps.spec["serviceAccountName"] == "runner"
    assert ps.field_path("securityContext.runAsUser") == "spec.templates[1].securityContext.runAsUser"
    assert ps.field_path("serviceAccountName") == "spec.serviceAccountName"
    assert ps.field_path("containers[0].image") == "spec.templates[1].container.image"
    assert ps.field_path("containers[1].image") == "spec.templates[1].sidecars[0].image"


def test_kuberay_and_training_operator_pods_carry_controller_labels() -> None:
    ray = obj(
        """
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: tune, namespace: ds}
spec:
  headGroupSpec: {template: {metadata: {labels: {app: ray}}, spec: {containers: [{name: h, image: "ray:2"}]}}}
  workerGroupSpecs:
  - groupName: gpu
    template: {spec: {containers: [{name: w, image: "ray:2"}]}}
"""
    )
    head, worker = find_pod_specs(ray)
    expected = {"app": "ray", "ray.io/cluster": "tune", "ray.io/node-type": "head", "ray.io/is-ray-node": "yes"}
    assert head.labels == expected
    assert worker.role == "worker:gpu" and worker.labels["ray.io/group"] == "gpu"
    job = obj(
        """
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: ft, namespace: train}
spec:
  pytorchReplicaSpecs:
    Worker: {template: {spec: {containers: [{name: pytorch, image: "pt:2"}]}}}
"""
    )
    (w,) = find_pod_specs(job)
    assert w.path == "spec.pytorchReplicaSpecs.Worker.template.spec"
    assert w.labels["training.kubeflow.org/job-name"] == "ft"
    assert w.labels["training.kubeflow.org/replica-type"] == "worker"


def test_kinds_without_pods_and_same_kind_in_another_group() -> None:
    assert find_pod_specs(obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")) == []
    volcano = obj(
        "apiVersion: batch.volcano.sh/v1alpha1\nkind: Job\nmetadata: {name: v}\n"
        "spec: {tasks: [{name: ps, template: {spec: {containers: [{name: c, image: 'i:1'}]}}}]}\n"
    )
    (ps,) = find_pod_specs(volcano)
    assert (ps.path, ps.role) == ("spec.tasks[0].template.spec", "ps")

"""The real-world corpus: no crash, every object accounted for, ML pod templates found.

Kustomize rendering is covered in tests/unit/loading/test_kustomize.py; here the files are read
one by one so the run stays fast and independent of which overlays render offline.
"""

from __future__ import annotations

from collections import Counter

from stockade.config import Config
from stockade.loading import find_pod_specs, load_paths
from stockade.scan import ScanOptions, scan_inventory
from tests.conftest import shared_path

# Files in the corpus that the API server would reject (their own tests use them as bad input).
KNOWN_INVALID = {
    "argo-cd/reposerver/repository/testdata/invalid-metadata/bad.yaml",
    "argo-cd/test/e2e/testdata/crd-validation/deployment.yaml",
}
CORPUS_OBJECTS = 5020  # documents that are mappings with apiVersion and kind (corpus/SOURCES.md)


def test_whole_corpus_scans_and_accounts_for_every_object() -> None:
    corpus = shared_path("corpus")
    loaded = load_paths([str(corpus)], render_kustomize=False)
    report = scan_inventory(loaded, Config(), ScanOptions(render_kustomize=False))
    internal = [e for e in report.errors if e.location.file.startswith("checks ")]
    assert internal == [], [str(e) for e in internal]
    bad_files = {str(e.location.file).split("corpus/", 1)[1] for e in report.errors}
    assert bad_files == KNOWN_INVALID
    reasons = Counter(s.reason for s in report.skipped)
    assert set(reasons) == {
        "kustomize build input, not a cluster object",
        "not a Kubernetes object (no apiVersion and kind)",
    }
    object_errors = sum(1 for e in report.errors if e.object is not None)
    k8s_skipped = reasons["kustomize build input, not a cluster object"]
    assert report.objects_scanned + k8s_skipped + object_errors == CORPUS_OBJECTS
    assert report.findings, "the corpus has insecure examples (kubernetes-goat): findings expected"


def test_ml_custom_resources_expose_their_pod_templates() -> None:
    corpus = shared_path("corpus")
    loaded = load_paths([str(corpus / "kuberay"), str(corpus / "kserve"), str(corpus / "kueue"),
                         str(corpus / "kubeflow-trainer"), str(corpus / "kubeflow-manifests" / "tests")],
                        render_kustomize=False)  # fmt: skip
    found = {(ps.obj.kind, ps.obj.name, ps.path, ps.role) for o in loaded.inventory for ps in find_pod_specs(o)}
    expected = {
        ("RayCluster", "raycluster-complete", "spec.workerGroupSpecs[0].template.spec", "worker:small-group"),
        ("InferenceService", "tensorflow-gpu", "spec.predictor", "predictor"),
        ("InferenceService", "mnist", "spec.transformer", "transformer"),
        ("RayJob", "rayjob-light-weight-submitter", "spec.submitterPodTemplate.spec", "submitter"),
        ("PyTorchJob", "pytorch-simple", "spec.pytorchReplicaSpecs.Worker.template.spec", "worker"),
        ("MPIJob", "pi", "spec.mpiReplicaSpecs.Launcher.template.spec", "launcher"),
        ("JobSet", "jobset-tas-combined", "spec.replicatedJobs[0].template.spec.template.spec", "workers"),
        ("LeaderWorkerSet", "nginx-leaderworkerset", "spec.leaderWorkerTemplate.workerTemplate.spec", "worker"),
        ("TrainingRuntime", "torch-with-dataset-init",
         "spec.template.spec.replicatedJobs[1].template.spec.template.spec", "node"),
        ("TrainJob", "lammps-flux-interactive", "spec.trainer", "trainer"),
        ("Workflow", "hello-world-", "spec.templates[0]", "whalesay"),
    }  # fmt: skip
    missing = expected - found
    assert not missing, missing

"""The shipped ML rules: each rule fires on the behaviour it targets and not on the normal case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stockade.engines.falco.engine import Engine, load_rules
from stockade.engines.falco.events import FieldsEvent
from stockade.engines.falco.fields import SYSCALL_SCHEMA
from stockade.engines.falco.k8saudit import K8sAuditEvent
from tests.conftest import shared_path

RULES = Path(__file__).resolve().parents[2] / "stockade" / "engines" / "falco" / "rules" / "stockade_ml_rules.yaml"
MODEL_SERVER = {"container.id": "3ad7b26ded6d", "container.image.repository": "nvcr.io/nvidia/tritonserver"}


@pytest.fixture(scope="module")
def engine() -> Engine:
    rs = load_rules([str(RULES)])
    assert rs.ok and not rs.warnings, [m.describe() for m in rs.errors + rs.warnings]
    return Engine(rs, rule_matching="all")


def _syscall(engine: Engine, fields: dict[str, Any]) -> list[str]:
    return [a.rule for a in engine.evaluate(FieldsEvent(fields, "syscall", SYSCALL_SCHEMA))]


def _open(name: str, proc: str, write: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "evt.type": "openat",
        "fd.typechar": "f",
        "fd.num": 5,
        "fd.name": name,
        "proc.name": proc,
        "evt.is_open_read": not write,
        "evt.is_open_write": write,
        **extra,
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"evt.type": "execve", "proc.name": "xmrig", "proc.cmdline": "xmrig"}, ["Detect Crypto Mining"]),
        (
            {"evt.type": "execve", "proc.name": "python3", "proc.cmdline": "python3 m.py -o stratum+tcp://p:3333"},
            ["Detect Crypto Mining"],
        ),
        ({"evt.type": "execve", "proc.name": "python3", "proc.cmdline": "python3 train.py"}, []),
        (
            {"evt.type": "execve", "proc.name": "bash", "proc.cmdline": "bash", **MODEL_SERVER},
            ["Shell Spawned in Model Server"],
        ),
        (
            {
                "evt.type": "execve",
                "proc.name": "bash",
                "proc.cmdline": "bash",
                "container.image.repository": "pytorch/pytorch",
            },
            [],
        ),
        (
            {
                "evt.type": "execve",
                "proc.name": "curl",
                "proc.cmdline": "curl http://x",
                "proc.aname[1]": "bash",
                "proc.aname[2]": "jupyter-lab",
            },
            ["Notebook Terminal Shell"],
        ),
        (
            {
                "evt.type": "execve",
                "proc.name": "curl",
                "proc.cmdline": "curl http://x",
                "proc.aname[1]": "bash",
                "proc.aname[2]": "sshd",
            },
            [],
        ),
        (_open("/models/llama/model.safetensors", "cp"), ["Model File Read by Unexpected Process"]),
        (_open("/models/llama/model.safetensors", "tritonserver"), []),
        (_open("/models/llama/model.safetensors", "vim", write=True), ["Model File Overwritten"]),
        (
            {
                "evt.type": "execve",
                "proc.name": "rclone",
                "proc.cmdline": "rclone copy /data s3:bucket",
                "container.id": "3ad7b26ded6d",
            },
            ["Data Exfiltration Tool in ML Workload"],
        ),
        (
            {
                "evt.type": "execve",
                "proc.name": "rclone",
                "proc.cmdline": "rclone copy /data s3:bucket",
                "container.id": "host",
            },
            [],
        ),
        (_open("/root/.cache/huggingface/token", "cat"), ["Hugging Face or Cloud Token Read"]),
        (_open("/root/.cache/huggingface/token", "python3"), []),
    ],
)
def test_syscall_ml_rules(engine: Engine, fields: dict[str, Any], expected: list[str]) -> None:
    assert _syscall(engine, fields) == expected


def _audit(**kw: Any) -> K8sAuditEvent:
    raw: dict[str, Any] = {
        "kind": "Event",
        "auditID": "a",
        "stage": "ResponseComplete",
        "verb": "create",
        "user": {"username": "alice"},
        "objectRef": {"resource": "pods", "namespace": "kubeflow-user", "name": "jupyter-alice-0"},
        "responseStatus": {"code": 201},
        "stageTimestamp": "2024-01-01T00:00:00Z",
    }
    raw.update(kw)
    return K8sAuditEvent(raw)


def test_exec_into_notebook_pod(engine: Engine) -> None:
    ev = _audit(
        requestURI="/api/v1/namespaces/kubeflow-user/pods/jupyter-alice-0/exec?command=sh",
        objectRef={"resource": "pods", "namespace": "kubeflow-user", "name": "jupyter-alice-0", "subresource": "exec"},
    )
    alerts = engine.evaluate(ev)
    assert [a.rule for a in alerts] == ["Exec into Notebook or Training Pod"]
    assert alerts[0].output_fields["ka.uri.param[command]"] == "sh"
    assert (
        engine.evaluate(
            _audit(objectRef={"resource": "pods", "namespace": "web", "name": "nginx-1", "subresource": "exec"})
        )
        == []
    )


def test_gpu_pod_privileged(engine: Engine) -> None:
    spec = {
        "containers": [
            {
                "name": "t",
                "image": "pytorch/pytorch:2.3",
                "resources": {"limits": {"nvidia.com/gpu": "1"}},
                "securityContext": {"privileged": True},
            }
        ]
    }
    ev = _audit(requestObject={"spec": spec}, responseObject={"metadata": {"name": "train-0"}})
    assert [a.rule for a in engine.evaluate(ev)] == ["GPU Pod Created Privileged or With Host Mounts"]
    spec["containers"][0]["securityContext"] = {"privileged": False}
    assert engine.evaluate(_audit(requestObject={"spec": spec})) == []


def test_ml_rules_load_after_official_rules() -> None:
    files = [str(shared_path("conformance", "falco", "rules", f)) for f in ("falco_rules.yaml", "k8s_audit_rules.yaml")]
    rs = load_rules([*files, str(RULES)])
    assert rs.ok
    assert {r.name for r in rs.compiled} >= {"Detect Crypto Mining", "Terminal shell in container"}

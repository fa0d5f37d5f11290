"""``stockade netpol`` as a demanding user drives it: odd endpoints and expectation files."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockade.cli.main import main

DATA = Path(__file__).resolve().parent / "data"
SERVING = str(DATA / "ml-serving.yaml")
GOOD = "{from: gateway/gateway, to: serving/model-server, port: 8080, expect: allowed}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["netpol", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return str(p)


def test_assert_binary_expectations_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Before: a UnicodeDecodeError traceback.
    path = write(tmp_path, "binary.yaml", b"\xff\xfe")
    assert run(capsys, "assert", path, "-f", SERVING) == (2, "", f"stockade: error: {path}: not valid UTF-8 text\n")


def test_assert_invalid_yaml_names_file_and_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "- {from: a/b\n- x: [\n")
    code, out, err = run(capsys, "assert", path, "-f", SERVING)
    assert (code, out) == (2, "")
    assert err.startswith(f"stockade: error: {path}:2: invalid YAML: ") and err.count("\n") == 1


def test_assert_misspelt_key_is_an_error_and_the_rest_still_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Before: `protocl: UDP` was ignored and the expectation silently checked TCP.
    path = write(
        tmp_path,
        "typo.yaml",
        f"- {GOOD}\n- {{from: gateway/gateway, to: serving/model-server, port: 8080, protocl: UDP, expect: denied}}\n",
    )
    assert run(capsys, "assert", path, "-f", SERVING) == (
        2,
        "1 passed, 0 failed\n",
        f"stockade: error: {path}: expectation 2: unknown key protocl "
        "(expected name, from, to, port, protocol, expect)\n",
    )


def test_assert_malformed_entries(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "odd.yaml",
        "- {from: [a], to: serving/model-server, port: 8080, expect: allowed}\n"  # before: checked "['a']"
        "- {from: gateway/gateway, to: serving/model-server, port: 8080, expect: yes}\n"  # before: "not True"
        '- {from: gateway/gateway, to: serving/model-server, port: "8080", expect: allowed}\n'
        "- just a string\n"
        f"- {GOOD}\n",
    )
    assert run(capsys, "assert", path, "-f", SERVING) == (
        2,
        "1 passed, 0 failed\n",
        f"stockade: error: {path}: expectation 1: from must be namespace/name, node/NAME or an IP address\n"
        f"stockade: error: {path}: expectation 2: expect must be allowed or denied, not true\n"
        f"stockade: error: {path}: expectation 3: port must be a number from 1 to 65535\n"
        f"stockade: error: {path}: expectation 4: must be a mapping\n",
    )


def test_assert_missing_and_empty_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.yaml")
    assert run(capsys, "assert", missing, "-f", SERVING) == (
        2,
        "",
        f"stockade: error: {missing}: cannot read: no such file or directory\n",
    )
    empty = write(tmp_path, "empty.yaml", "")
    assert run(capsys, "assert", empty, "-f", SERVING) == (
        2,
        "",
        f"stockade: error: {empty}: expected a list of {{from, to, port, protocol, expect}}\n",
    )


def test_assert_keeps_answering_when_an_input_is_missing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "ok.yaml", f"- {GOOD}\n")
    missing = str(tmp_path / "gone.yaml")
    assert run(capsys, "assert", path, "-f", SERVING, missing) == (
        2,
        "1 passed, 0 failed\n",
        f"stockade: error: {missing}: no such file or directory\n",
    )


def test_check_node_without_node_objects(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    no_nodes = write(
        tmp_path, "pods.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec: {containers: []}\n"
    )
    # Before: "no such node (known: none)".
    assert run(capsys, "check", "--from", "node/gpu-1", "--to", "a/p", "--port", "80", "-f", no_nodes) == (
        2,
        "",
        "stockade: error: node/gpu-1: no such node (the inputs have no Node objects; add them, as in a cluster dump)\n",
    )
    code, out, err = run(
        capsys, "check", "--from", "node/nope", "--to", "serving/model-server", "--port", "80", "-f", SERVING
    )
    assert (code, out, err) == (2, "", "stockade: error: node/nope: no such node (known: node-a)\n")


def test_config_file_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ("check", "--from", "gateway/gateway", "--to", "serving/model-server", "--port", "8080", "-f", SERVING)
    binary = write(tmp_path, "binary.yaml", b"\xff\xfe")
    # Before: a UnicodeDecodeError traceback.
    assert run(capsys, *argv, "-c", binary) == (2, "", f"stockade: error: {binary}: not valid UTF-8 text\n")
    typo = write(tmp_path, "typo.yaml", "netpol:\n  ipblock_match_pod_ips: false\n")
    # Before: the misspelt switch was ignored and the default stayed in force.
    assert run(capsys, *argv, "-c", typo) == (
        2,
        "",
        f"stockade: error: {typo}: netpol: unknown key ipblock_match_pod_ips (known: self_exempt, "
        "ipblock_matches_pod_ips, egress_to_own_node, endport_supported, hostnetwork, sensitive_labels, "
        "sensitive_label, ignore_namespaces)\n",
    )


def test_matrix_unknown_namespace_warns(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "matrix", "-f", SERVING, "--port", "8080", "-n", "servng", "-o", "csv")
    assert (code, out, err) == (0, "from\\to\n", "stockade: warning: no pods or workloads in namespace servng\n")

"""`stockade scan` on odd and hostile inputs: one line per bad input, exit 2, the rest still reported."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stockade.cli.main import main

POD = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: shop\nspec:\n"
    "  containers:\n  - name: app\n    image: nginx:latest\n"
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def odd_tree(tmp_path: Path) -> Path:
    root = tmp_path / "odd"
    root.mkdir()
    (root / "empty.yaml").write_text("")
    (root / "comments.yaml").write_text("# nothing here\n---\n# still nothing\n")
    (root / "bom.yaml").write_bytes(b"\xef\xbb\xbf" + POD.format(name="bom").encode())
    (root / "crlf.yaml").write_bytes(POD.format(name="crlf").replace("\n", "\r\n").encode())
    (root / "tabs.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata:\n\tname: tabs\n")
    (root / "scalar.yaml").write_text("just words\n")
    (root / "unïcødé näme.yaml").write_text(POD.format(name="unicode"))
    (root / "deep.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: " + "[" * 3000)
    (root / "loop").mkdir()
    os.symlink("..", root / "loop" / "up")  # a directory symlink loop is not followed
    os.symlink("self.yaml", root / "self.yaml")  # a file symlink loop cannot be read
    many = "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{i}\n  namespace: shop\n" for i in range(3000)
    )
    (root / "many.yaml").write_text(many)
    return root


def test_odd_inputs_give_one_line_each_and_the_rest_is_reported(
    odd_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "scan", str(odd_tree), "-o", "json", "--select", "workload.image-latest-tag")
    assert code == 2
    report = json.loads(out)
    assert report["summary"]["objects"] == 3 + 3000
    assert sorted((Path(f["file"]).name, f["object"]["name"], f["line"]) for f in report["findings"]) == [
        ("bom.yaml", "bom", 9),
        ("crlf.yaml", "crlf", 9),
        ("unïcødé näme.yaml", "unicode", 9),
    ]
    assert err.splitlines() == [
        f"stockade: error: {odd_tree / 'deep.yaml'}:4: invalid YAML: exceeded maximum nesting depth",
        f"stockade: error: {odd_tree / 'scalar.yaml'}:1: expected a Kubernetes object (a mapping), got a scalar"
        " (a string)",
        f"stockade: error: {odd_tree / 'self.yaml'}: cannot read: Too many levels of symbolic links",
        f"stockade: error: {odd_tree / 'tabs.yaml'}:4: invalid YAML: found character that cannot start any token",
    ]


def test_a_file_named_dash_is_a_file_when_written_as_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "-").write_text(POD.format(name="dash"))
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "scan", "./-", "-o", "json", "--select", "workload.image-latest-tag")
    assert code == 0
    assert [(f["file"], f["object"]["name"]) for f in json.loads(out)["findings"]] == [
        ("./-", "dash")
    ]  # before: "-", as if stdin


def test_misspelt_config_setting_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text(POD.format(name="web"))
    cfg = tmp_path / "stockade.yaml"
    cfg.write_text("checks:\n  disabled: [workload.image-latest-tag]\n")
    code, out, err = run(capsys, "scan", str(pod), "-c", str(cfg))
    assert (code, out) == (2, "")
    assert err == f"stockade: error: {cfg}: checks: unknown setting(s) disabled (expected: disable, severity)\n"


def test_file_name_that_is_not_utf8_is_reported_in_every_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    name = os.fsdecode(b"caf\xe9.yaml")  # Latin-1 bytes on a UTF-8 file system
    (tmp_path / name).write_text(POD.format(name="latin"))
    monkeypatch.chdir(tmp_path)
    select = ("--select", "workload.image-latest-tag")
    code, _, err = run(capsys, "scan", ".", *select, "--output-file", "out.txt")
    assert (code, err) == (0, "")  # before: UnicodeEncodeError traceback
    assert (tmp_path / "out.txt").read_text(encoding="utf-8").startswith("Pod/shop/latin  (caf\\udce9.yaml:1)\n")
    code, out, _ = run(capsys, "scan", ".", *select, "-o", "sarif")
    (result,) = json.loads(out)["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "caf%E9.yaml"


def test_terminal_that_is_not_utf8_gets_escapes_not_a_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    pod = tmp_path / "ünïcødé.yaml"
    pod.write_text(POD.format(name="web"))
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    proc = subprocess.run(
        [sys.executable, "-m", "stockade.cli.main", "scan", str(pod), "--select", "workload.image-latest-tag"],
        capture_output=True, text=True, encoding="ascii", errors="strict", env=env, check=False,
    )  # fmt: skip
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith(f"Pod/shop/web  ({tmp_path}/\\xfcn\\xefc\\xf8d\\xe9.yaml:1)\n")


def test_sarif_rule_severity_follows_a_configured_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text(POD.format(name="web"))
    cfg = tmp_path / "stockade.yaml"
    cfg.write_text("checks:\n  severity: {workload.image-latest-tag: critical}\n")
    code, out, _ = run(capsys, "scan", str(pod), "-c", str(cfg), "-o", "sarif", "--select", "workload.image-latest-tag")
    assert code == 1
    run_ = json.loads(out)["runs"][0]
    rule = next(r for r in run_["tool"]["driver"]["rules"] if r["id"] == "workload.image-latest-tag")
    # before: the registry's medium (5.5, warning) while the result itself said error
    assert (rule["properties"]["security-severity"], rule["defaultConfiguration"]["level"]) == ("9.5", "error")
    assert [r["level"] for r in run_["results"]] == ["error"]


def test_config_that_is_not_yaml_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text(POD.format(name="web"))
    cfg = tmp_path / "stockade.yaml"
    cfg.write_text("checks:\n  disable: [\n")
    code, out, err = run(capsys, "scan", str(pod), "-c", str(cfg))
    assert (code, out) == (2, "")
    # before: '... in "<unicode string>", line 3, column 1' inside the message
    assert err == f"stockade: error: {cfg}:3: invalid YAML: did not find expected node content\n"

"""``stockade audit`` as a demanding user sees it: exact output shapes, and bad input (missing,
truncated, non-UTF-8 logs, unwritable reports) as one error line naming the file, exit 2, with
the results of the other inputs kept."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stockade.cli.main import main
from tests.audit.helpers import event, write_log

ROOT = Path(__file__).resolve().parents[2]

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: [system:kube-proxy]
- level: Metadata
  resources:
  - group: ""
    resources: [secrets]
- level: RequestResponse
"""


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    p = tmp_path / "policy.yaml"
    p.write_text(POLICY)
    return p


def _events() -> list[dict[str, object]]:
    return [
        event("alice", "get", "secrets", "team-a", "db", ts="2026-11-02T10:00:00.000000Z"),
        event("system:kube-proxy", "list", "endpoints", ts="2026-11-02T10:00:01.000000Z"),
        event("bob", "create", "pods", "team-b", "x", sub="exec", ts="2026-11-02T10:00:02.000000Z"),
    ]


def test_level_json_shape_is_exact(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["audit", "level", "--policy", str(policy), "--user", "alice", "--group", "g", "--verb", "get"]
    assert main([*args, "--resource", "secrets", "-n", "team-a", "--name", "db", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "level": "Metadata",
        "omitStages": ["RequestReceived"],
        "omitManagedFields": False,
    }


def test_level_per_event_table_has_a_header(policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "audit.log", _events())
    assert main(["audit", "level", "--policy", str(policy), str(log)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    # before: no header line, and nothing said whether the event would be recorded
    assert rows[0] == ["AUDIT-ID", "STAGE", "VERB", "TARGET", "LEVEL", "RECORDED"]
    assert [(r[2], r[-2], r[-1]) for r in rows[1:]] == [
        ("get", "Metadata", "yes"),
        ("list", "None", "no"),
        ("create", "RequestResponse", "yes"),
    ]


def test_compare_text_has_no_python_reprs(policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "audit.log", _events())
    new = tmp_path / "new.yaml"
    new.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
    assert main(["audit", "level", "--policy", str(policy), "--compare", str(new), str(log)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # before: `{'Metadata': 1, 'RequestResponse': 1}` (a Python dict repr) ended these lines
    assert lines[1].split()[1:] == ["2", "events", lines[1].split()[3], "bytes", "Metadata=1", "RequestResponse=1"]
    assert lines[2].split()[-1] == "Metadata=3"
    assert lines[4] == "changed events: 2; stages in log: ResponseComplete=3"


def test_missing_and_truncated_logs_keep_the_other_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_log(tmp_path / "good.log", _events())
    missing = tmp_path / "missing.log"
    truncated = tmp_path / "truncated.log.gz"
    truncated.write_bytes(gzip.compress(good.read_bytes())[:60])
    binary = tmp_path / "binary.log"
    binary.write_bytes(b"\xff\xfe\n")
    empty = tmp_path / "empty.log"
    empty.write_text("")
    # before: a missing or truncated log stopped the command, losing the report on the others
    assert (
        main(["audit", "analyze", "-o", "json", str(missing), str(good), str(truncated), str(binary), str(empty)]) == 2
    )
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["events"] == 3
    assert [r["user"] for r in report["secretReads"]] == ["alice"]
    err = captured.err.splitlines()
    assert err[0] == f"stockade: error: {missing}: cannot read audit log: No such file or directory"
    assert err[1].startswith(f"stockade: error: {truncated}: cannot read audit log at line 1: ")
    assert err[2] == f"stockade: error: {binary}:1: not valid JSON"
    assert len(err) == 3


def test_rbac_and_level_keep_going_past_a_missing_log(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_log(tmp_path / "good.log", _events())
    missing = tmp_path / "missing.log"
    assert main(["audit", "rbac", "--user", "alice", str(missing), str(good)]) == 2
    captured = capsys.readouterr()
    assert "kind: Role" in captured.out and "- secrets" in captured.out
    assert captured.err == f"stockade: error: {missing}: cannot read audit log: No such file or directory\n"
    assert main(["audit", "level", "--policy", str(policy), "-o", "json", str(missing), str(good)]) == 2
    captured = capsys.readouterr()
    assert [json.loads(line)["level"] for line in captured.out.splitlines()] == ["Metadata", "None", "RequestResponse"]


def test_unwritable_report_is_an_error_before_reading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_log(tmp_path / "good.log", _events())
    out = tmp_path / "no-such-dir" / "report.html"
    # before: a traceback (FileNotFoundError) after the whole analysis
    assert main(["audit", "analyze", str(good), "-o", "html", "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"stockade: error: {out}: cannot write the report: No such file or directory\n"


def test_follow_with_json_keeps_stdout_parseable(tmp_path: Path) -> None:
    log = tmp_path / "live.log"
    log.write_text("")
    proc = subprocess.Popen(
        [sys.executable, "-m", "stockade.cli.main", "audit", "analyze", "--follow", "-o", "json", str(log)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        write_log(log, _events())
        time.sleep(1.5)
    finally:
        proc.send_signal(2)  # Ctrl-C ends following and prints the report
        out, err = proc.communicate(timeout=20)
    # before: the live alert lines were printed into the JSON report on stdout
    assert json.loads(out)["events"] == 3
    assert "secret read: alice get secrets team-a/db" in err
    assert "pod exec: bob create pods/exec team-b/x" in err


def test_progress_on_long_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from stockade.cli import audit as audit_cli
    from stockade.engines.audit.events import ReadStats

    clock = [100.0]
    monkeypatch.setattr("stockade.cli.audit.time.monotonic", lambda: clock[0])
    stats = ReadStats(events=1000, bytes=2_000_000)
    progress = audit_cli._Progress(True, stats)
    clock[0] = 101.0
    progress.tick()  # under two seconds: quiet
    assert capsys.readouterr().err == ""
    clock[0] = 102.5
    progress.tick()
    assert capsys.readouterr().err == "\r1,000 events, 2 MB read, 400 events/s "
    stats.events = 3000
    clock[0] = 103.0
    progress.done()  # the final count, then the line ends
    assert capsys.readouterr().err == "\r3,000 events, 2 MB read, 1,000 events/s \n"
    quiet = audit_cli._Progress(False, stats)
    clock[0] = 200.0
    quiet.tick()
    quiet.done()
    assert capsys.readouterr().err == ""


def test_non_utf8_policy_and_teams_files_are_one_line_errors(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Meta\xffdata\n")
    # before: a UnicodeDecodeError traceback
    assert main(["audit", "level", "--policy", str(bad), "--resource", "pods"]) == 2
    assert capsys.readouterr().err == f"stockade: error: {bad}:4: not UTF-8 text (byte 0xff)\n"
    log = write_log(tmp_path / "audit.log", _events())
    assert main(["audit", "analyze", str(log), "--teams", str(bad)]) == 2
    assert capsys.readouterr().err == f"stockade: error: {bad}: cannot read teams file: not UTF-8 text\n"


def test_gzip_on_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    log = write_log(tmp_path / "audit.log", _events())
    data = gzip.compress(log.read_bytes())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
    # before: `cat audit.log.gz | stockade audit analyze -` reported every line as not JSON
    assert main(["audit", "analyze", "-", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 3

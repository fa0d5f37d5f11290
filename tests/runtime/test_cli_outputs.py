"""``stockade runtime`` as a demanding user sees it: Falco's exact alert text and JSON, every output
(stdout, file, HTTP), rule matching, minimum priority, and bad input (exit 2, one line naming the
file and line, the other results kept)."""

from __future__ import annotations

import http.server
import io
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockade.cli.main import main

RULES = """\
- rule: Miner Exec
  desc: a miner started
  condition: evt.type = execve and proc.name = xmrig
  output: miner %proc.name pid=%proc.pid parent=%proc.pname
  priority: WARNING
  tags: [mitre_impact, T1496]
- rule: Any xm Exec
  desc: anything named xm*
  condition: evt.type = execve and proc.name startswith xm
  output: xm process %proc.name
  priority: informational
"""

# 2023-11-14T22:13:20.123456789Z, the time Falco's JSON alerts carry as output_fields evt.time
T_NS = 1700000000123456789
EVENT = {"evt.type": "execve", "proc.name": "xmrig", "proc.pid": 42, "evt.time": T_NS}
HOST = socket.gethostname()


@pytest.fixture
def utc() -> Iterator[None]:
    """Falco prints the text alert's time in local time: pin it to UTC for exact lines."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(EVENT) + "\n")
    return rules, events


def _falco_json(output: str, rule: str, priority: str, fields: dict[str, object], tags: list[str]) -> str:
    """The line Falco writes: compact JSON, keys in sorted order (nlohmann::json objects are sorted)."""
    return (
        f'{{"hostname":{json.dumps(HOST)},"output":"22:13:20.123456789: {priority} {output}",'
        f'"output_fields":{json.dumps(fields, separators=(",", ":"), sort_keys=True)},'
        f'"priority":"{priority}","rule":"{rule}","source":"syscall","tags":{json.dumps(tags, separators=(",", ":"))},'
        f'"time":"2023-11-14T22:13:20.123456789Z"}}'
    )


MINER_JSON = _falco_json(
    "miner xmrig pid=42 parent=<NA>",
    "Miner Exec",
    "Warning",
    {"evt.time": T_NS, "proc.name": "xmrig", "proc.pid": 42, "proc.pname": None},
    ["T1496", "mitre_impact"],
)


def test_text_line_is_falcos(utc: None, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rules, events = files
    assert main(["runtime", "eval", "-r", str(rules), str(events)]) == 1
    assert capsys.readouterr().out == "22:13:20.123456789: Warning miner xmrig pid=42 parent=<NA>\n"


def test_json_line_is_falcos_exactly(utc: None, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    # compact separators, sorted keys (output_fields too), typed values (pid a number, missing null),
    # time RFC 3339 UTC with nanoseconds, the output with Falco's "<time>: <Priority> " prefix
    rules, events = files
    assert main(["runtime", "eval", "-r", str(rules), "-o", "json", str(events)]) == 1
    assert capsys.readouterr().out == MINER_JSON + "\n"


def test_rule_matching_first_and_all(utc: None, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rules, events = files
    assert main(["runtime", "eval", "-r", str(rules), "--rule-matching", "first", str(events)]) == 1
    assert capsys.readouterr().out.splitlines() == ["22:13:20.123456789: Warning miner xmrig pid=42 parent=<NA>"]
    assert main(["runtime", "eval", "-r", str(rules), "--rule-matching", "all", str(events)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "22:13:20.123456789: Warning miner xmrig pid=42 parent=<NA>",
        "22:13:20.123456789: Informational xm process xmrig",
    ]


def test_min_priority_is_case_insensitive(
    utc: None, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    rules, events = files
    # before: argparse rejected WARNING (only lower-case names were accepted)
    for name in ("WARNING", "Warning", "warning"):
        args = ["runtime", "eval", "-r", str(rules), "--rule-matching", "all", "--min-priority", name, str(events)]
        assert main(args) == 1
        assert capsys.readouterr().out.splitlines() == ["22:13:20.123456789: Warning miner xmrig pid=42 parent=<NA>"]
    assert main(["runtime", "eval", "-r", str(rules), "--min-priority", "error", str(events)]) == 0
    assert capsys.readouterr().out == ""


def test_stdin_and_output_file(
    utc: None,
    files: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rules, events = files
    monkeypatch.setattr(sys, "stdin", io.StringIO(events.read_text()))
    out = tmp_path / "alerts.jsonl"
    out.write_text("earlier\n")
    assert main(["runtime", "eval", "-r", str(rules), "-o", "json", "--output-file", str(out), "-"]) == 1
    assert capsys.readouterr().out == ""
    assert out.read_text() == "earlier\n" + MINER_JSON + "\n"  # appended, like Falco's file_output


def test_http_output_posts_the_json_alert(
    utc: None, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    got: list[tuple[str, str, bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        rules, events = files
        url = f"http://127.0.0.1:{server.server_port}/alerts"
        assert main(["runtime", "eval", "-r", str(rules), "--http-output", url, str(events)]) == 1
    finally:
        server.shutdown()
        server.server_close()
    # stdout keeps the text line; the endpoint gets Falco's JSON
    assert capsys.readouterr().out == "22:13:20.123456789: Warning miner xmrig pid=42 parent=<NA>\n"
    assert got == [("/alerts", "application/json", MINER_JSON.encode())]


def test_http_output_unreachable_is_an_error(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rules, events = files
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/x"
    # before: the alert was silently lost and the exit code said 1 (alerts raised)
    assert main(["runtime", "eval", "-r", str(rules), "--http-output", url, str(events)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"stockade: error: {url}: 1 alerts not delivered (")
    assert err.count("\n") == 1


def test_bad_input_files_and_lines_keep_the_other_results(
    utc: None, files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules, events = files
    missing = tmp_path / "missing.jsonl"
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text(json.dumps(EVENT) + "\n" + '{"evt.type": "exe\n')
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b'\xff\xfe{"a": 1}\n')
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    args = ["runtime", "eval", "-r", str(rules), str(missing), str(events), str(truncated), str(binary), str(empty)]
    # before: a missing file stopped everything; bad lines were warnings and the exit code was 1
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["22:13:20.123456789: Warning miner xmrig pid=42 parent=<NA>"] * 2
    assert captured.err.splitlines() == [
        f"stockade: error: {missing}: cannot read: No such file or directory",
        f"stockade: error: {truncated}:2: not JSON (incomplete document)",
        f"stockade: error: {binary}:1: not UTF-8 text",
    ]


def test_empty_events_file_is_no_alert(files: tuple[Path, Path], tmp_path: Path) -> None:
    rules, _ = files
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["runtime", "eval", "-r", str(rules), str(empty)]) == 0


def test_rules_file_errors_are_one_line_exit_2(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, events = files
    bad = tmp_path / "bad.yaml"
    bad.write_text("- rule: x\n  desc: [unclosed\n")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"- rule: r\n  desc: \xff\n")
    for rules in (bad, binary, tmp_path / "missing.yaml"):
        assert main(["runtime", "eval", "-r", str(rules), "--", str(events)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.count("\n") == 1
        assert captured.err.startswith(f"stockade: error: {rules}")
        assert "LOAD_ERR_" in captured.err and "Traceback" not in captured.err


def test_validate_like_falco_v(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("- macro: unused_m\n  condition: proc.name = foo\n" + RULES)
    assert main(["runtime", "validate", "-r", str(good)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{good}: Ok, with warnings",
        f"  warning: {good}:1: macro 'unused_m': LOAD_UNUSED_MACRO (Unused macro): "
        "Macro not referred to by any other rule/macro",
        "2 rules loaded (2 syscall)",
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text(RULES + "- rule: r\n  desc: d\n  condition: nosuch_macro\n  output: o\n  priority: INFO\n")
    assert main(["runtime", "validate", "-r", str(bad)]) == 2
    assert capsys.readouterr().out.splitlines() == [
        f"{bad}: Invalid",
        f"  error: {bad}:12: rule 'r': LOAD_ERR_VALIDATE (Error validating rule/macro/list/exception objects): "
        "Undefined macro 'nosuch_macro' used in filter.",
    ]


def test_rate_must_be_positive(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rules, events = files
    # before: --rate -1 was accepted and silently meant "no limit"
    with pytest.raises(SystemExit) as exc:
        main(["runtime", "eval", "-r", str(rules), "--rate", "-1", str(events)])
    assert exc.value.code == 2
    assert "argument --rate: expected a number of alerts per second above 0, got '-1'" in capsys.readouterr().err


def test_rate_limit_reports_what_it_suppressed(
    utc: None, files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules, _ = files
    events = tmp_path / "five.jsonl"
    events.write_text((json.dumps(EVENT) + "\n") * 5)
    assert main(["runtime", "eval", "-r", str(rules), "--rate", "0.001", "--burst", "2", str(events)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["22:13:20.123456789: Warning miner xmrig pid=42 parent=<NA>"] * 2
    assert captured.err == "warning: 3 alerts suppressed by the rate limit\n"


def test_serve_names_an_unreadable_certificate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cert = tmp_path / "missing.crt"
    # before: "cannot serve on 127.0.0.1:8765: [Errno 2] No such file or directory" (no file named)
    assert main(["runtime", "serve", "--cert", str(cert), "--duration", "0"]) == 2
    assert (
        capsys.readouterr().err == f"stockade: error: {cert}: cannot read TLS certificate: No such file or directory\n"
    )


def test_serve_reports_rejected_posts(tmp_path: Path) -> None:
    import subprocess
    import urllib.error
    import urllib.request

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "stockade.cli.main", "runtime", "serve", "--insecure-http", "--listen", "127.0.0.1:0"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        url = banner.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/k8s-audit")
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(urllib.request.Request(url, data=b'{"kind": "EventList", "items": [', method="POST"))
        assert exc.value.code == 400
        # before: the API server got a 400 and the operator saw nothing
        assert proc.stderr.readline() == "stockade: error: POST /k8s-audit from 127.0.0.1: 400 body is not JSON\n"
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_rules_file_read_errors_name_the_file_once(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, events = files
    missing = tmp_path / "missing.yaml"
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"- rule: r\n  desc: \xff\n")
    # before: "... Could not read file: [Errno 2] No such file or directory: '<path>'" (the path twice)
    assert main(["runtime", "eval", "-r", str(missing), "--", str(events)]) == 2
    assert capsys.readouterr().err == (
        f"stockade: error: {missing}: rules content: LOAD_ERR_FILE_READ (File read error): "
        "Could not read file: No such file or directory\n"
    )
    assert main(["runtime", "validate", "-r", str(binary)]) == 2
    assert capsys.readouterr().out.splitlines() == [
        f"{binary}: Invalid",
        f"  error: {binary}: rules content: LOAD_ERR_FILE_READ (File read error): "
        "Could not read file: not UTF-8 text (byte 0xff at offset 18)",
    ]


def test_profile_errors_are_one_line(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules, events = files
    missing = tmp_path / "missing.json"
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff")
    for profile, why in ((missing, "No such file or directory"), (binary, "not UTF-8 text")):
        assert main(["runtime", "eval", "-r", str(rules), "--profile", str(profile), str(events)]) == 2
        assert capsys.readouterr().err == f"stockade: error: {profile}: cannot read profile: {why}\n"


def test_learn_keeps_the_readable_files(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, events = files
    missing = tmp_path / "missing.jsonl"
    out = tmp_path / "profile.json"
    assert main(["runtime", "learn", "--event-format", "fields", str(missing), str(events), "--out", str(out)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"stockade: error: {missing}: cannot read: No such file or directory",
        f"learned 1 events, 1 workloads -> {out}",
    ]
    assert json.loads(out.read_text())["events"] == 1


def test_validate_reports_each_file_of_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "a.yaml").write_text(RULES)
    (rules / "b.yaml").write_text("- rule: r\n  desc: d\n  condition: nosuch_macro\n  output: o\n  priority: INFO\n")
    # before: "<dir>: Ok" followed by the error of a file inside it
    assert main(["runtime", "validate", "-r", str(rules)]) == 2
    assert capsys.readouterr().out.splitlines() == [
        f"{rules / 'a.yaml'}: Ok",
        f"{rules / 'b.yaml'}: Invalid",
        f"  error: {rules / 'b.yaml'}:1: rule 'r': LOAD_ERR_VALIDATE (Error validating rule/macro/list/exception "
        "objects): Undefined macro 'nosuch_macro' used in filter.",
    ]


def test_gzipped_audit_logs_and_a_truncated_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gzip

    from tests.conftest import shared_path

    rules = str(shared_path("conformance", "falco", "rules", "k8s_audit_rules.yaml"))
    line = shared_path("conformance", "falco", "events", "k8s_audit", "exec_pod.json").read_text().splitlines()[0]
    good = tmp_path / "audit-1.log.gz"
    good.write_bytes(gzip.compress((line + "\n").encode()))
    cut = tmp_path / "audit-2.log.gz"
    cut.write_bytes(gzip.compress((line + "\n").encode() * 50)[:200])
    # before: a .gz after -r was loaded as a rules file (LOAD_ERR_FILE_READ), and gzip was never read
    assert main(["runtime", "eval", "-r", rules, str(good), str(cut)]) == 2
    captured = capsys.readouterr()
    assert captured.out.count("Attach/Exec to pod") == 1
    assert captured.err == (
        f"stockade: error: {cut}: cannot read to the end: "
        "Compressed file ended before the end-of-stream marker was reached\n"
    )


def test_non_audit_documents_under_k8s_audit_format_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import shared_path

    rules = str(shared_path("conformance", "falco", "rules", "k8s_audit_rules.yaml"))
    line = shared_path("conformance", "falco", "events", "k8s_audit", "exec_pod.json").read_text().splitlines()[0]
    log = tmp_path / "audit.log"
    log.write_text('{"kind": 0}\n' + line + "\n" + json.dumps(EVENT) + "\n")
    # before: silently nothing for lines 1 and 3 (exit 1 from the good line's alert)
    assert main(["runtime", "eval", "-r", rules, "--event-format", "k8s-audit", str(log)]) == 2
    captured = capsys.readouterr()
    assert captured.out.count("Attach/Exec to pod") == 1
    assert captured.err.splitlines() == [
        f"stockade: error: {log}:1: not a k8s audit event (no auditID, kind is not Event)",
        f"stockade: error: {log}:3: not a k8s audit event (no auditID, kind is not Event)",
    ]

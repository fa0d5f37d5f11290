"""CLI and live-source tests: eval, validate, serve over real HTTPS, watch a real process, learn."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from stockade.cli.main import main
from tests.conftest import shared_path

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
K8S_RULES = ("conformance", "falco", "rules", "k8s_audit_rules.yaml")
EVENTS = ("conformance", "falco", "events", "k8s_audit")
RULES_ML = ROOT / "stockade" / "engines" / "falco" / "rules" / "stockade_ml_rules.yaml"


def _cli(*args: str, stdin: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stockade.cli.main", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_eval_k8s_audit_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    rules = str(shared_path(*K8S_RULES))
    ev = str(shared_path(*EVENTS, "create_nginx_pod_privileged.json"))
    assert main(["runtime", "eval", "-r", rules, "--event-format", "k8s-audit", ev]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    from stockade.engines.falco.k8saudit import format_time, parse_time_ns

    # the text line starts with the event time in local time, like Falco's %evt.time
    t = parse_time_ns("2018-10-25T14:09:12.581541Z")
    assert t is not None
    assert out[0].startswith(f"{format_time(t, iso=False)}: Warning Pod started with privileged container")
    assert main(["runtime", "eval", "-r", rules, "--event-format", "k8s-audit", "-o", "json", ev]) == 1
    alert = json.loads(capsys.readouterr().out)
    assert alert["rule"] == "Create Privileged Pod"
    assert alert["priority"] == "Warning"
    assert alert["output_fields"]["ka.req.pod.containers.image"] == ["nginx"]
    assert alert["time"] == "2018-10-25T14:09:12.581541000Z"


def test_eval_fields_with_shipped_ml_rules(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["runtime", "eval", "--event-format", "fields", "-o", "json", str(DATA / "fields.ml-events.jsonl")])
    assert code == 1
    rules = [json.loads(line)["rule"] for line in capsys.readouterr().out.splitlines()]
    assert rules == ["Detect Crypto Mining", "Model File Read by Unexpected Process"]


def test_eval_min_priority_filters(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "runtime",
            "eval",
            "--event-format",
            "fields",
            "--min-priority",
            "critical",
            str(DATA / "fields.ml-events.jsonl"),
        ]
    )
    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "Critical Crypto miner started" in lines[0]


def test_rules_that_do_not_load_exit_2_with_falco_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "- macro: m\n  condition: evt.type=open\n- rule: r\n  desc: d\n  condition: m and undefined_m\n"
        "  output: o\n  priority: INFO\n"
    )
    r = _cli("runtime", "eval", "-r", str(bad), "-", stdin="")
    assert r.returncode == 2
    assert r.stderr.strip() == (
        f"stockade: error: {bad}:3: rule 'r': LOAD_ERR_VALIDATE (Error validating rule/macro/list/exception "
        "objects): Undefined macro 'undefined_m' used in filter."
    )
    v = _cli("runtime", "validate", "-r", str(bad))
    assert v.returncode == 2
    assert f"{bad}: Invalid" in v.stdout


def test_validate_official_rules_ok() -> None:
    r = _cli(
        "runtime",
        "validate",
        "-r",
        str(shared_path(*K8S_RULES)),
        str(shared_path("conformance", "falco", "rules", "k8s_audit_rules_gke.yaml")),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "48 rules loaded (48 k8s_audit)" in r.stdout


def _self_signed(tmp: Path, maker: str = "openssl") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: with the openssl CLI when it is installed,
    else (or when asked) with the standard library only."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    if maker == "stdlib" or shutil.which("openssl") is None:
        from tests.runtime.selfsigned import write_self_signed

        write_self_signed(cert, key)
        return cert, key
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.mark.parametrize("maker", ["openssl", "stdlib"])
def test_serve_receives_eventlist_over_https(tmp_path: Path, maker: str) -> None:
    from stockade.engines.falco.engine import Engine, load_rules
    from stockade.engines.falco.server import AuditWebhook

    cert, key = _self_signed(tmp_path, maker)
    rs = load_rules([str(shared_path(*K8S_RULES))])
    got = []
    server = AuditWebhook(Engine(rs), got.append, "127.0.0.1", 0, str(cert), str(key))
    server.start()
    try:
        items = [
            json.loads(shared_path(*EVENTS, n).read_text().splitlines()[0])
            for n in ("create_nginx_pod_privileged.json", "exec_pod.json", "create_deployment.json")
        ]
        body = json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items}).encode()
        ctx = ssl.create_default_context(cafile=str(cert))
        req = urllib.request.Request(
            f"https://127.0.0.1:{server.port}/k8s-audit",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            reply = json.loads(resp.read())
        assert reply == {"events": 3, "alerts": 3}
        assert [a.rule for a in got] == ["Create Privileged Pod", "Attach/Exec Pod", "K8s Deployment Created"]
        # plain HTTP to the TLS port is refused
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
    finally:
        server.shutdown()


def test_serve_cli_over_https(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stockade.cli.main",
            "runtime",
            "serve",
            "-r",
            str(shared_path(*K8S_RULES)),
            "--listen",
            "127.0.0.1:0",
            "--cert",
            str(cert),
            "--key",
            str(key),
            "-o",
            "json",
            "--duration",
            "20",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None and proc.stdout is not None
        line = proc.stderr.readline()
        assert "listening on https://127.0.0.1:" in line, line
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        item = json.loads(shared_path(*EVENTS, "exec_pod.json").read_text().splitlines()[0])
        body = json.dumps({"kind": "EventList", "items": [item]}).encode()
        ctx = ssl.create_default_context(cafile=str(cert))
        req = urllib.request.Request(f"https://127.0.0.1:{port}/k8s-audit", data=body, method="POST")
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            assert json.loads(resp.read())["alerts"] == 1
        alert = json.loads(proc.stdout.readline())
        assert alert["rule"] == "Attach/Exec Pod"
        assert alert["output_fields"]["ka.uri.param[command]"] == "bash"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("mode", ["auto", "poll"])
def test_watch_sees_miner_within_a_second(tmp_path: Path, mode: str) -> None:
    from stockade.engines.falco.engine import Engine, load_rules
    from stockade.engines.falco.live import HostWatcher

    rules = ROOT / "stockade" / "engines" / "falco" / "rules" / "stockade_ml_rules.yaml"
    engine = Engine(load_rules([str(rules)]))
    miner = tmp_path / "xmrig"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", miner)
    watcher = HostWatcher(mode, interval=0.05)
    proc = None
    try:
        start = time.monotonic()
        proc = subprocess.Popen([str(miner), "5"])
        alerts: list[Any] = []
        seen: list[str] = []
        elapsed = 0.0
        for ev in watcher.events(lambda: time.monotonic() - start > 3.0 or bool(alerts)):
            if ev.get("proc.pid") == proc.pid:
                seen.append(str(ev.get("proc.cmdline")))
                alerts.extend(engine.evaluate(ev))
                elapsed = time.monotonic() - start
        assert alerts, f"no alert for the miner ({watcher.mode}); events for its pid: {seen}"
        assert alerts[0].rule == "Detect Crypto Mining"
        assert alerts[0].output_fields["proc.name"] == "xmrig"
        assert alerts[0].output_fields["container.id"] == "host"
        assert elapsed < 1.0
    finally:
        watcher.close()
        if proc is not None:
            proc.kill()
            proc.wait()


def test_learn_then_profile_flags_new_behaviour(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    normal = tmp_path / "normal.jsonl"
    lines = [{"evt.type": "execve", "proc.name": "python3", "container.image.repository": "ml/trainer"}] * 3
    normal.write_text("".join(json.dumps(x) + "\n" for x in lines))
    prof = tmp_path / "profile.json"
    assert main(["runtime", "learn", "--event-format", "fields", str(normal), "--out", str(prof)]) == 0
    assert json.loads(prof.read_text())["workloads"]["image:ml/trainer"]["process"] == {"python3": 3}
    new = tmp_path / "new.jsonl"
    events = [
        {"evt.type": "execve", "proc.name": "python3", "container.image.repository": "ml/trainer"},
        {"evt.type": "execve", "proc.name": "nmap", "container.image.repository": "ml/trainer"},
        {"evt.type": "execve", "proc.name": "nmap", "container.image.repository": "ml/trainer"},
    ]
    new.write_text("".join(json.dumps(x) + "\n" for x in events))
    rules = tmp_path / "none.yaml"
    rules.write_text("- required_engine_version: 0.57.0\n")
    capsys.readouterr()
    code = main(
        [
            "runtime",
            "eval",
            "-r",
            str(rules),
            "--event-format",
            "fields",
            "--profile",
            str(prof),
            "--anomaly-threshold",
            "2",
            "-o",
            "json",
            str(new),
        ]
    )
    assert code == 1
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(out) == 1
    assert out[0]["rule"] == "Behaviour Not Seen in Learning"
    assert out[0]["output_fields"] == {"workload": "image:ml/trainer", "kind": "process", "value": "nmap", "count": 2}


def test_learn_k8s_audit_per_user(tmp_path: Path) -> None:
    prof = tmp_path / "p.json"
    ev = str(shared_path(*EVENTS, "create_configmap_sensitive_values.json"))
    assert main(["runtime", "learn", "--event-format", "k8s-audit", ev, "--out", str(prof)]) == 0
    wl = json.loads(prof.read_text())["workloads"]
    assert any(k.startswith("user:") and "api" in v for k, v in wl.items())
    assert os.path.getsize(prof) > 0


def test_http_output_and_rate_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    srv = HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        events = tmp_path / "miners.jsonl"
        events.write_text("".join(json.dumps({"evt.type": "execve", "proc.name": "xmrig"}) + "\n" for _ in range(5)))
        out = tmp_path / "alerts.txt"
        code = main(
            [
                "runtime",
                "eval",
                "--event-format",
                "fields",
                "--rate",
                "0.001",
                "--burst",
                "2",
                "--output-file",
                str(out),
                "--http-output",
                f"http://127.0.0.1:{srv.server_address[1]}/",
                str(events),
            ]
        )
        assert code == 1
    finally:
        srv.shutdown()
    lines = out.read_text().splitlines()
    assert len(lines) == 2 and all("Critical Crypto miner started" in x for x in lines)
    assert [r["rule"] for r in received] == ["Detect Crypto Mining", "Detect Crypto Mining"]
    assert capsys.readouterr().out == ""


def test_fields_events_of_a_custom_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "okta.yaml"
    rules.write_text(
        "- rule: Okta MFA reset\n  desc: d\n  condition: okta.evt.type = user.mfa.factor.reset_all\n"
        "  output: MFA reset by %okta.actor.name\n  priority: WARNING\n  source: okta\n"
    )
    events = tmp_path / "okta.jsonl"
    events.write_text(json.dumps({"okta.evt.type": "user.mfa.factor.reset_all", "okta.actor.name": "mallory"}) + "\n")
    assert main(["runtime", "eval", "-r", str(rules), "--source", "okta", "--event-format", "fields", str(events)]) == 1
    assert capsys.readouterr().out.strip().endswith("Warning MFA reset by mallory")


def test_malformed_lines_are_errors_but_the_rest_is_evaluated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # bad input is an error (exit 2), one line per bad line naming file and line; the good lines still alert
    events = tmp_path / "mixed.jsonl"
    events.write_text('not json\n[1, 2]\n{"evt.type": "execve", "proc.name": "xmrig"}\n')
    assert main(["runtime", "eval", "--event-format", "fields", str(events)]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"stockade: error: {events}:1: not JSON",
        f"stockade: error: {events}:2: a fields event must be a JSON object",
    ]
    assert "Crypto miner started" in captured.out


def test_eval_follow_reads_appended_audit_lines(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text("")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stockade.cli.main",
            "runtime",
            "eval",
            "-r",
            str(shared_path(*K8S_RULES)),
            "--event-format",
            "k8s-audit",
            "--follow",
            "-o",
            "json",
            str(log),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        with log.open("a") as fh:
            fh.write(shared_path(*EVENTS, "exec_pod.json").read_text().splitlines()[0] + "\n")
        assert proc.stdout is not None
        alert = json.loads(proc.stdout.readline())
        assert alert["rule"] == "Attach/Exec Pod"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_watch_cli_reports_a_miner(tmp_path: Path) -> None:
    miner = tmp_path / "xmrig"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", miner)
    proc = subprocess.Popen(
        [sys.executable, "-m", "stockade.cli.main", "runtime", "watch", "--duration", "8", "-o", "json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child = None
    try:
        assert proc.stderr is not None and proc.stdout is not None
        assert "watching process executions" in proc.stderr.readline()
        child = subprocess.Popen([str(miner), "3"])
        while True:
            line = proc.stdout.readline()
            assert line, "watch ended without reporting the miner"
            alert = json.loads(line)
            if alert["output_fields"].get("proc.name") == "xmrig":
                break
        assert alert["rule"] == "Detect Crypto Mining"
        assert alert["priority"] == "Critical"
    finally:
        if child is not None:
            child.kill()
            child.wait()
        proc.terminate()
        proc.wait(timeout=10)


def test_watch_reports_outbound_connections() -> None:
    import socket

    from stockade.engines.falco.live import HostWatcher

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    watcher = HostWatcher("poll", interval=0.05, network=True, network_interval=0.1, include_loopback=True)
    client = socket.create_connection(("127.0.0.1", port))
    peer, _ = server.accept()
    try:
        start = time.monotonic()
        hits: list[Any] = []
        for ev in watcher.events(lambda: time.monotonic() - start > 3.0 or bool(hits)):
            if ev.get("evt.type") == "connect" and ev.get("fd.sport") == port:
                hits.append(ev)
        assert hits
        found = hits[0]
        assert found.get("fd.sip") == "127.0.0.1"
        assert found.get("fd.cport") == client.getsockname()[1]
        assert found.get("proc.pid") == os.getpid()
        assert found.get("fd.name") == f"127.0.0.1:{client.getsockname()[1]}->127.0.0.1:{port}"
    finally:
        watcher.close()
        client.close()
        peer.close()
        server.close()


def test_falco_json_alerts_can_be_replayed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alert = {
        "hostname": "node-1",
        "output": "...",
        "priority": "Notice",
        "rule": "Some upstream rule",
        "source": "syscall",
        "tags": [],
        "time": "2024-01-01T00:00:00.000000000Z",
        "output_fields": {
            "evt.time": 1704067200000000000,
            "evt.type": "execve",
            "proc.name": "xmrig",
            "proc.cmdline": "xmrig --donate-level 1",
            "container.id": "host",
        },
    }
    events = tmp_path / "falco-alerts.jsonl"
    events.write_text(json.dumps(alert) + "\n")
    assert main(["runtime", "eval", "--event-format", "fields", "-o", "json", str(events)]) == 1
    assert json.loads(capsys.readouterr().out)["rule"] == "Detect Crypto Mining"


def test_events_right_after_rules_are_events(capsys: pytest.CaptureFixture[str]) -> None:
    rules = str(shared_path(*K8S_RULES))
    ev = str(shared_path(*EVENTS, "exec_pod.json"))
    # '-r' takes several files: the event file after it must still be read as events
    assert main(["runtime", "eval", "-r", rules, str(RULES_ML), ev, str(DATA / "fields.ml-events.jsonl")]) == 1
    rules_hit = [line.split(": ", 1)[1].split(" ", 1)[0] for line in capsys.readouterr().out.splitlines()]
    assert rules_hit == ["Notice", "Critical", "Warning"]


def test_watch_with_official_sandbox_rules_sees_stratum_miner(tmp_path: Path) -> None:
    from stockade.engines.falco.engine import Engine, load_rules
    from stockade.engines.falco.live import HostWatcher

    rs = load_rules([str(shared_path("conformance", "falco", "rules", "falco-sandbox_rules.yaml"))])
    engine = Engine(rs, rule_matching="all")
    miner = tmp_path / "xmrig"
    shutil.copy(shutil.which("sh") or "/bin/sh", miner)
    watcher = HostWatcher("auto", interval=0.05)
    proc = None
    try:
        start = time.monotonic()
        # '; true' keeps the shell from exec'ing sleep in its place
        proc = subprocess.Popen([str(miner), "-c", "sleep 3; true", "xmrig", "-o", "stratum+tcp://pool.example:3333"])
        hits: list[Any] = []
        for ev in watcher.events(lambda: time.monotonic() - start > 3.0 or bool(hits)):
            if ev.get("proc.pid") == proc.pid:
                hits.extend(
                    a for a in engine.evaluate(ev) if a.rule == "Detect crypto miners using the Stratum protocol"
                )
        assert hits, "the official stratum rule did not fire"
        assert time.monotonic() - start < 3.0
        assert "stratum+tcp://pool.example:3333" in hits[0].output_fields["proc.cmdline"]
        assert hits[0].priority == "Critical"
    finally:
        watcher.close()
        if proc is not None:
            proc.kill()
            proc.wait()


def test_pretty_printed_eventlist_and_truncated_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    item = json.loads(shared_path(*EVENTS, "exec_pod.json").read_text().splitlines()[0])
    pretty = tmp_path / "eventlist.json"
    pretty.write_text(json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [item]}, indent=2))
    rules = str(shared_path(*K8S_RULES))
    assert main(["runtime", "eval", "-r", rules, "--event-format", "k8s-audit", str(pretty)]) == 1
    assert "Attach/Exec to pod" in capsys.readouterr().out
    broken = tmp_path / "broken.log"
    line = json.dumps(item)
    broken.write_text(line[: len(line) // 2] + "\n" + line + "\n")
    assert main(["runtime", "eval", "-r", rules, "--event-format", "k8s-audit", str(broken)]) == 2
    captured = capsys.readouterr()
    assert captured.out.count("Attach/Exec to pod") == 1
    assert captured.err == f"stockade: error: {broken}:1: not JSON (incomplete document)\n"

"""Audit log analysis: each question answered on a small, hand-written log."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from stockade.engines.audit.analyze import AnalyzeOptions, Analyzer, workload_kind, workload_of
from stockade.engines.audit.anomaly import Baseline
from stockade.engines.audit.events import ReadStats, iter_events
from tests.audit.helpers import event, parsed, write_log

SA = "system:serviceaccount:team-a:trainer"


def _analyse(*dicts: dict[str, object], **opts: object) -> dict[str, object]:
    return Analyzer(AnalyzeOptions(**opts)).add_all(parsed(*dicts)).result()  # type: ignore[arg-type]


def test_workload_names_and_kinds() -> None:
    assert workload_of("bert-predictor-7d9f8c6b5-x2x7q") == "bert-predictor"
    assert workload_of("train-worker-3") == "train-worker"
    assert workload_of("etl-job-abcde") == "etl-job"
    assert workload_kind("serving", "bert-predictor") == "model-server"
    assert workload_kind("team-a", "jupyter-alice") == "notebook"
    assert workload_kind("team-a", "train-worker") == "training"
    assert workload_kind("team-a", "etl") == "other"
    assert workload_kind("team-a", "jupyter-model-dev") == "notebook"
    assert workload_kind("team-a", "model-trainer") == "training"
    assert workload_kind("team-a", "inference-worker") == "model-server"


def test_secret_reads_are_listed_per_user_and_failed_reads_are_not() -> None:
    r = _analyse(
        event("alice", "get", "secrets", "team-a", "hf-token"),
        event("alice", "get", "secrets", "team-a", "hf-token"),
        event("alice", "list", "secrets", "team-b"),
        event("bob", "get", "secrets", "team-a", "s3-creds", code=403),
        event("bob", "get", "configmaps", "team-a", "cfg"),
    )
    assert r["secretReads"] == [
        {"user": "alice", "secrets": {"team-a/hf-token (get)": 2, "team-b/* (list)": 1}, "more": 0}
    ]


def test_pod_access_is_grouped_by_target_workload() -> None:
    r = _analyse(
        event("alice", "create", "pods", "serving", "bert-predictor-7d9f8c6b5-aaaaa", sub="exec"),
        event("alice", "create", "pods", "serving", "bert-predictor-7d9f8c6b5-bbbbb", sub="exec"),
        event("bob", "get", "pods", "serving", "bert-predictor-7d9f8c6b5-aaaaa", sub="portforward"),
        event("eve", "create", "pods", "serving", "bert-predictor-7d9f8c6b5-aaaaa", sub="attach", code=403),
        event("alice", "get", "pods", "serving", "bert-predictor-7d9f8c6b5-aaaaa", sub="log"),
    )
    assert len(r["podAccess"]) == 1
    entry = r["podAccess"][0]
    assert (entry["namespace"], entry["workload"], entry["kind"], entry["denied"]) == (
        "serving",
        "bert-predictor",
        "model-server",
        1,
    )
    assert entry["by"] == [
        {"user": "alice", "subresource": "exec", "count": 2},
        {"user": "bob", "subresource": "portforward", "count": 1},
    ]


def test_rbac_and_webhook_changes_are_listed_but_reads_are_not() -> None:
    r = _analyse(
        event("alice", "create", "clusterrolebindings", "", "admin-me", group="rbac.authorization.k8s.io"),
        event("alice", "get", "clusterroles", "", "admin", group="rbac.authorization.k8s.io"),
        event(
            "bob",
            "delete",
            "validatingwebhookconfigurations",
            "",
            "gatekeeper",
            group="admissionregistration.k8s.io",
        ),
    )
    assert [(c["user"], c["verb"], c["resource"], c["name"]) for c in r["rbacChanges"]] == [
        ("alice", "create", "clusterrolebindings", "admin-me")
    ]
    assert [(c["user"], c["verb"], c["name"]) for c in r["webhookChanges"]] == [("bob", "delete", "gatekeeper")]


def test_failure_bursts_from_one_ip_are_reported_once() -> None:
    fails = [
        event(
            "system:anonymous",
            "get",
            path="/api/v1/secrets",
            code=401,
            ip="203.0.113.9",
            ts=f"2026-11-02T10:00:{i:02d}Z",
            groups=["system:unauthenticated"],
        )
        for i in range(25)
    ]
    r = _analyse(*fails, burst_threshold=20)
    whos = [b["who"] for b in r["failureBursts"]]
    assert whos == ["identity system:anonymous", "sourceIP 203.0.113.9"]
    assert r["failureBursts"][1]["count"] == 25
    assert r["anonymousRequests"] == [{"path": "/api/v1/secrets", "count": 25}]


def test_spread_out_failures_are_no_burst() -> None:
    fails = [event("bob", "get", "secrets", "x", "y", code=403, ts=f"2026-11-02T{i:02d}:00:00Z") for i in range(24)]
    r = _analyse(*fails, burst_threshold=5)
    assert r["failureBursts"] == []
    assert r["failedRequests"] == [{"code": 403, "user": "bob", "count": 24}]


def test_service_account_token_from_a_new_ip_after_its_baseline() -> None:
    usual = [event(SA, "get", "configmaps", "team-a", "cfg", ip=f"10.1.{i}.5") for i in range(60)]
    restarted = event(SA, "get", "configmaps", "team-a", "cfg", ip="10.1.200.9", agent="kubectl/v1.32.0")
    odd = event(SA, "get", "secrets", "team-a", "hf-token", ip="198.51.100.7", agent="curl/8.0")
    r = _analyse(*usual, restarted, odd, sa_min_events=50)
    assert [(u["what"], u["value"]) for u in r["unusualServiceAccountUse"]] == [
        ("sourceIP", "198.51.100.7"),
        ("userAgent", "curl/8.0"),
    ]


def test_cross_namespace_access_by_service_account_and_team() -> None:
    r = _analyse(
        event(SA, "get", "secrets", "team-b", "db"),
        event(SA, "get", "pods", "team-a", "p"),
        event("alice", "list", "pods", "team-b", groups=["team-a", "system:authenticated"]),
        event("alice", "list", "pods", "team-a", groups=["team-a", "system:authenticated"]),
        team_namespaces={"team-a": frozenset({"team-a"}), "team-b": frozenset({"team-b"})},
    )
    assert r["crossNamespaceAccess"] == [
        {"user": "alice", "namespace": "team-b", "count": 1},
        {"user": SA, "namespace": "team-b", "count": 1},
    ]


def test_request_received_stage_is_not_double_counted() -> None:
    r = _analyse(
        event("alice", "get", "secrets", "a", "s", stage="RequestReceived"),
        event("alice", "get", "secrets", "a", "s"),
    )
    assert r["secretReads"][0]["secrets"] == {"a/s (get)": 1}
    assert r["truncated"] == {"requestReceivedSkipped": 1}


def test_activity_is_bucketed_per_identity_and_hour() -> None:
    r = _analyse(
        event("alice", "get", "pods", "a", "p", ts="2026-11-02T10:05:00Z"),
        event("alice", "get", "pods", "a", "p", ts="2026-11-02T10:55:00Z"),
        event("alice", "get", "pods", "a", "p", ts="2026-11-02T11:00:00Z"),
    )
    assert r["activity"] == {"alice": {"2026-11-02T10": 2, "2026-11-02T11": 1}}


def test_tables_stay_bounded() -> None:
    many = [event("alice", "get", "secrets", "a", f"s{i}") for i in range(500)]
    r = _analyse(*many, max_keys=100)
    assert len(r["secretReads"][0]["secrets"]) == 100
    assert r["secretReads"][0]["more"] == 400


def test_anomaly_baseline_scores_new_namespace_and_ip() -> None:
    base = Baseline()
    for ev in parsed(*[event(SA, "get", "configmaps", "team-a", "cfg", ip="10.1.0.5") for _ in range(100)]):
        base.learn(ev)
    (same,) = parsed(event(SA, "get", "configmaps", "team-a", "cfg", ip="10.1.0.5"))
    assert base.score(same) == (0.0, [])
    (odd,) = parsed(event(SA, "list", "secrets", "team-b", ip="198.51.100.7"))
    score, reasons = base.score(odd)
    assert reasons == [
        "new verb list",
        "new resource core/secrets",
        "new namespace team-b",
        "new source network 198.51.0.0/16",
    ]
    assert round(score, 3) == round(1 - 0.7 * 0.6 * 0.6 * 0.7, 3)
    (a,) = base.anomalies()
    assert (a.identity, a.count, a.example) == (SA, 1, "list secrets in team-b")


def test_anomaly_new_identity_is_reported_once() -> None:
    base = Baseline()
    for ev in parsed(event("mallory", "get", "pods", "a", "p"), event("mallory", "get", "pods", "a", "p")):
        base.score(ev)
    assert [(a.identity, a.reason, a.score) for a in base.anomalies()] == [("mallory", "new identity", 0.5)]


def test_reader_handles_gzip_bad_lines_and_event_lists(tmp_path: Path) -> None:
    good = event("alice", "get", "pods", "a", "p")
    gz = tmp_path / "audit.log.gz"
    with gzip.open(gz, "wt") as f:
        f.write(json.dumps(good) + "\n\nnot json\n[1]\n")
        f.write(json.dumps({"kind": "EventList", "items": [good, good]}) + "\n")
    plain = write_log(tmp_path / "audit.log", [good])
    stats = ReadStats()
    evs = list(iter_events([str(gz), str(plain)], stats))
    assert [e.user for e in evs] == ["alice"] * 4
    assert stats.bad_lines == 2
    assert stats.first_errors == [f"{gz}:3: not valid JSON", f"{gz}:4: not a JSON object"]


def test_follow_reads_lines_appended_later(tmp_path: Path) -> None:
    import threading

    log = write_log(tmp_path / "live.log", [event("alice", "get", "pods", "a", "p")])
    second = json.dumps(event("bob", "get", "secrets", "a", "s"))

    def append() -> None:
        with log.open("a") as f:
            f.write(second[:20])  # a partial line first: the reader must wait for the rest
            f.flush()
            threading.Event().wait(0.1)
            f.write(second[20:] + "\n")

    seen: list[str] = []
    t = threading.Timer(0.1, append)
    t.start()
    stats = ReadStats()
    for ev in iter_events([str(log)], stats, follow=True, stop=lambda: len(seen) >= 2):
        seen.append(ev.user)
        if len(seen) >= 2:
            break
    t.join()
    assert seen == ["alice", "bob"]


def test_blank_and_whitespace_lines_are_skipped(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text("\n   \n" + json.dumps(event("alice", "get", "pods", "a", "p")) + "\n\t\n")
    stats = ReadStats()
    assert [e.user for e in iter_events([str(log)], stats)] == ["alice"]
    assert (stats.lines, stats.bad_lines, stats.events) == (4, 0, 1)


def test_anomaly_scores_are_stable_and_follow_later_learning() -> None:
    base = Baseline()
    for ev in parsed(*[event(SA, "get", "configmaps", "team-a", "cfg") for _ in range(10)]):
        base.learn(ev)
    (odd,) = parsed(event(SA, "delete", "configmaps", "team-a", "cfg"))
    first = base.score(odd)
    assert base.score(odd) == first and first[1] == ["new verb delete"]
    assert [a.count for a in base.anomalies()] == [2]
    for _ in range(100):
        base.learn(odd)  # the verb becomes usual: the cached score must not survive
    assert base.score(odd) == (0.0, [])


def test_malformed_fields_never_crash_the_analyses() -> None:
    import random

    from stockade.engines.audit.events import parse_event
    from stockade.engines.audit.rbacgen import Subject, generate, permissions_of

    rng = random.Random(3)
    junk: list[object] = [None, 5, 2.5, True, "x", [], ["a", 1], {}, {"code": "403"}, {"username": 7}]
    keys = ["auditID", "stage", "level", "verb", "requestURI", "user", "impersonatedUser", "sourceIPs",
            "userAgent", "objectRef", "responseStatus", "requestReceivedTimestamp", "annotations"]  # fmt: skip
    events = []
    for _ in range(500):
        d = event("alice", "get", "secrets", "a", "s")
        for k in rng.sample(keys, 3):
            d[k] = rng.choice(junk)
        if isinstance(d.get("objectRef"), dict):
            d["objectRef"] = {k: rng.choice(junk) for k in ("resource", "namespace", "name", "subresource")}
        events.append(parse_event(d))
    an = Analyzer(AnalyzeOptions(sa_min_events=1, burst_threshold=2))
    an.add_all(events)
    json.dumps(an.result())
    base = Baseline()
    for ev in events[:250]:
        base.learn(ev)
    for ev in events[250:]:
        base.score(ev)
    perms = permissions_of(events, Subject("User", "alice"))
    generate(perms, Subject("User", "alice"))


def test_long_running_requests_count_once() -> None:
    from stockade.engines.audit.events import iter_requests

    started = event(
        "bob", "create", "pods", "serving", "bert-predictor-7d9f8c6b5-aaaaa", sub="exec", stage="ResponseStarted"
    )
    done = dict(started, stage="ResponseComplete")
    received = dict(started, stage="RequestReceived")
    evs = parsed(received, started, done)
    an = Analyzer()
    assert [an.add(e) for e in evs] == [False, True, False]
    assert an.result()["podAccess"][0]["by"] == [{"user": "bob", "subresource": "exec", "count": 1}]
    assert [e.stage for e in iter_requests(evs)] == ["ResponseStarted"]
    # A request logged only at completion (not long-running) is analysed there.
    (plain,) = parsed(event("bob", "get", "pods", "serving", "p"))
    assert Analyzer().add(plain) is True

"""Unit tests of the Falco engine: parser, compiler semantics, loader behaviour, outputs."""

from __future__ import annotations

from typing import Any

import pytest

from stockade.engines.falco.engine import Engine
from stockade.engines.falco.events import FieldsEvent
from stockade.engines.falco.fields import SYSCALL_SCHEMA, lax_schema
from stockade.engines.falco.k8saudit import K8sAuditEvent
from stockade.engines.falco.loader import RuleSet, substitute_list
from stockade.engines.falco.parser import ParseError, parse


def _rule(cond: str, source: str = "syscall", **extra: Any) -> dict[str, Any]:
    d = {"rule": "r", "desc": "d", "condition": cond, "output": "o", "priority": "WARNING", "source": source}
    d.update(extra)
    return d


def _matches(cond: str, event: dict[str, Any], lists: dict[str, list[str]] | None = None) -> bool:
    items: list[dict[str, Any]] = [{"list": k, "items": v} for k, v in (lists or {}).items()]
    items.append(_rule(cond))
    rs = RuleSet()
    assert rs.load_items(items), [e.describe() for e in rs.errors]
    eng = Engine(rs)
    return bool(eng.match(FieldsEvent(event, "syscall", SYSCALL_SCHEMA)))


def _load_error(items: list[dict[str, Any]]) -> str:
    rs = RuleSet()
    assert not rs.load_items(items)
    return rs.errors[0].code + ": " + rs.errors[0].message


@pytest.mark.parametrize(
    "cond",
    ["proc.name=", "(proc.name=a", "proc.name = a b", "proc.name containsx", "a.b = (a)"],
)
def test_parse_errors(cond: str) -> None:
    with pytest.raises(ParseError):
        parse(cond)


def test_missing_field_is_false_for_every_operator_and_not_flips() -> None:
    ev = {"evt.type": "open"}
    assert not _matches("evt.type=open and proc.name != bash", ev)
    assert _matches("evt.type=open and not proc.name = bash", ev)
    assert not _matches("evt.type=open and proc.name exists", ev)


def test_ancestor_field_without_index_is_existential() -> None:
    ev = {"evt.type": "execve", "proc.aname[1]": "bash", "proc.aname[2]": "sshd"}
    assert _matches("evt.type=execve and proc.aname=sshd", ev)
    assert _matches("evt.type=execve and proc.aname[2]=sshd", ev)
    assert not _matches("evt.type=execve and proc.aname[1]=sshd", ev)
    assert _matches("evt.type=execve and proc.aname != bash", ev)


def test_numeric_and_net_fields() -> None:
    ev = {"evt.type": "connect", "fd.sport": 3333, "fd.snet": "8.8.8.8", "fd.num": 4}
    assert _matches("evt.type=connect and fd.sport in (3333, 4444)", ev)
    assert _matches("evt.type=connect and fd.num >= 0", ev)
    assert _matches("evt.type=connect and not fd.snet in (rfc1918)", ev, {"rfc1918": ["10.0.0.0/8", "192.168.0.0/16"]})
    assert _matches("evt.type=connect and fd.snet in (rfc1918)", ev, {"rfc1918": ["8.0.0.0/8"]})


def test_glob_crosses_slash_and_pmatch_is_componentwise() -> None:
    ev = {"evt.type": "open", "fd.name": "/var/run/file.txt"}
    assert _matches("evt.type=open and fd.name glob /var/*", ev)
    assert not _matches("evt.type=open and fd.name pmatch (/var/ru)", ev)
    assert _matches("evt.type=open and fd.name pmatch (/var/run)", ev)


def test_list_substitution_quirks() -> None:
    assert substitute_list('proc.cmdline = "run sh_list now"', "sh_list", ["zsh"]) == 'proc.cmdline = "run zsh now"'
    # an empty list also drops one neighbouring comma: still a valid list
    assert substitute_list("x in (a, empty, b)", "empty", []) == "x in (a  , b)"
    assert substitute_list("l", "l", ["a b", "c"]) == '"a b", c '
    assert substitute_list("x in (file_my_list)", "my_list", ["z"]) == "x in (file_my_list)"


def test_unknown_field_and_unknown_event_type_are_compile_errors() -> None:
    assert "nonexistent field proc.nam" in _load_error([_rule("evt.type=open and proc.nam=x")])
    assert "unknown event type opn" in _load_error([_rule("evt.type=opn")])
    assert "not supported for list filters" in _load_error(
        [_rule("ka.verb=create and ka.user.groups contains x", "k8s_audit")]
    )


def test_undefined_macro_defined_in_later_item_for_macros() -> None:
    msg = _load_error([{"macro": "a", "condition": "b"}, {"macro": "b", "condition": "evt.type=open"}, _rule("a")])
    assert msg == "LOAD_ERR_VALIDATE: Undefined macro 'b' used in filter."


def test_rule_may_use_macro_defined_after_it() -> None:
    rs = RuleSet()
    assert rs.load_items([_rule("m"), {"macro": "m", "condition": "evt.type=open"}])


def test_appended_condition_joins_text_without_parentheses() -> None:
    rs = RuleSet()
    items = [
        _rule("evt.type=open or evt.type=close"),
        {"rule": "r", "condition": "and proc.name=cat", "override": {"condition": "append"}},
    ]
    assert rs.load_items(items)
    eng = Engine(rs)
    # 'a or b and c' = 'a or (b and c)': an open by anything still matches
    assert eng.match(FieldsEvent({"evt.type": "open", "proc.name": "ls"}, "syscall", SYSCALL_SCHEMA))
    assert not eng.match(FieldsEvent({"evt.type": "close", "proc.name": "ls"}, "syscall", SYSCALL_SCHEMA))


def test_exceptions_compile_to_not_clauses() -> None:
    rs = RuleSet()
    r = _rule(
        "evt.type=execve",
        exceptions=[{"name": "ok", "fields": ["proc.name", "proc.pname"], "values": [["ls", "bash"]]}],
    )
    assert rs.load_items([r])
    # rendered exactly like Falco (note the blank after each opening parenthesis)
    assert rs.compiled[0].condition == "(evt.type=execve) and not (( proc.name = ls and  proc.pname = bash))"
    eng = Engine(rs)
    assert not eng.match(FieldsEvent({"evt.type": "execve", "proc.name": "ls", "proc.pname": "bash"}, "syscall"))
    assert eng.match(FieldsEvent({"evt.type": "execve", "proc.name": "ls", "proc.pname": "sh"}, "syscall"))


def test_first_match_versus_all_and_min_priority() -> None:
    items = [
        {"rule": "a", "desc": "d", "condition": "evt.type=open", "output": "A %proc.name", "priority": "NOTICE"},
        {"rule": "b", "desc": "d", "condition": "evt.type=open", "output": "B", "priority": "CRITICAL"},
    ]
    rs = RuleSet()
    assert rs.load_items(items)
    ev = FieldsEvent({"evt.type": "open"}, "syscall", SYSCALL_SCHEMA)
    assert [a.rule for a in Engine(rs).evaluate(ev)] == ["a"]
    assert [a.rule for a in Engine(rs, rule_matching="all").evaluate(ev)] == ["a", "b"]
    assert [a.rule for a in Engine(rs, min_priority=2).evaluate(ev)] == ["b"]
    alert = Engine(rs).evaluate(ev)[0]
    assert alert.output == "A <NA>"
    assert alert.priority == "Notice"
    js = alert.to_json()
    assert set(js) == {"time", "rule", "priority", "output", "output_fields", "source", "tags", "hostname"}
    assert js["output_fields"] == {"evt.time": alert.time_ns, "proc.name": None}


def test_lax_source_for_field_events() -> None:
    rs = RuleSet({"okta": lax_schema("okta")})
    assert rs.load_items([_rule("okta.evt.type = user.session.start", "okta")])
    ev = FieldsEvent({"okta.evt.type": "user.session.start"}, "okta", rs.schemas["okta"])
    assert [a.rule for a in Engine(rs).evaluate(ev)] == ["r"]


def test_k8s_fields_extraction() -> None:
    raw = {
        "auditID": "x",
        "verb": "create",
        "requestURI": "/api/v1/namespaces/default/pods/p/exec?command=bash&command=-i",
        "user": {"username": "alice", "groups": ["system:authenticated"]},
        "objectRef": {"resource": "pods", "namespace": "default", "name": "p", "subresource": "exec"},
        "responseStatus": {"code": 201},
        "requestObject": {
            "spec": {
                "containers": [
                    {"image": "reg:5000/img:1", "securityContext": {"privileged": True}},
                    {"image": "nginx@sha256:abc"},
                ],
                "volumes": [{"name": "v", "hostPath": {"path": "/var/run/docker.sock"}}],
            }
        },
        "stageTimestamp": "2024-01-02T03:04:05.123456Z",
    }
    ev = K8sAuditEvent(raw)
    assert ev.get("ka.uri.param[command]") == "bash"
    assert ev.get("ka.response.code") == "201"
    assert ev.get("ka.req.pod.containers.image.repository") == ("reg", "nginx")
    assert ev.get("ka.req.pod.containers.privileged") == ("true",)
    assert ev.get("ka.req.container.privileged") == "true"
    assert ev.get("ka.req.pod.containers.image[1]") == ("nginx@sha256:abc",)
    assert ev.get("ka.req.volume.hostpath[/var/run/docker.sock]") == "true"
    assert ev.get("ka.target.pod.name") is None
    assert ev.get("jevt.value[/user/username]") == "alice"
    assert ev.get("jevt.value[/objectRef/nope]") is None
    assert ev.get("jevt.rawtime") == "1704164645123456000"
    assert ev.get("ka.impuser.name") is None
    assert K8sAuditEvent({"kind": 0}).get("ka.verb") is None


def test_evt_dir_is_deprecated_and_constant() -> None:
    rs = RuleSet()
    assert rs.load_items([_rule("evt.type=open and evt.dir = <")])
    assert [w.code for w in rs.warnings] == ["LOAD_DEPRECATED_ITEM"]
    ev = FieldsEvent({"evt.type": "open", "evt.dir": ">"}, "syscall", SYSCALL_SCHEMA)
    assert Engine(rs).match(ev)
    rs2 = RuleSet()
    assert rs2.load_items([_rule("evt.type=open and evt.dir = >")])
    assert not Engine(rs2).match(ev)


def test_or_directly_followed_by_paren_takes_only_the_parenthesis() -> None:
    with pytest.raises(ParseError, match="unexpected token after"):
        parse("a or(b) and c")
    assert parse("a or (b) and c") == parse("a or b and c")


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (
            [_rule("evt.type=open"), {"rule": "r", "priority": "INFO", "override": {"priority": "append"}}],
            "Key 'priority' cannot be appended to, use 'replace' instead",
        ),
        (
            [_rule("evt.type=open"), {"rule": "r", "condition": "and proc.name=x", "override": {"condition": "merge"}}],
            "Invalid override operation for key 'condition': 'merge'. Allowed values are: append replace ",
        ),
        (
            [
                _rule("evt.type=open"),
                {"rule": "r", "condition": "x", "append": "true", "override": {"condition": "append"}},
            ],
            "Keys 'override' and 'append: true' cannot be used together",
        ),
        (
            [{"rule": "r", "enabled": "false"}],
            "Rule has 'enabled' key but no rule by that name already exists",
        ),
        (
            [{"rule": "r", "tags": ["a"]}],
            "Item has no mapping for key 'enabled'",
        ),
        (
            [_rule("evt.type=open", priority="loud")],
            "Invalid priority",
        ),
        (
            [{"list": "l", "items": ["a"], "override": {"items": "append"}}],
            "List uses 'append' or 'override.items: append' but no list by that name already exists",
        ),
        (
            [_rule("evt.type=open"), {"rule": "r", "output": "x", "override": {"condition": "append"}}],
            "An append override for 'condition' was specified but 'condition' is not defined",
        ),
        (
            [_rule("evt.type=open", output="bad %")],
            "invalid formatting syntax: formatting cannot end with a %",
        ),
        (
            [_rule("evt.type=open", output="x=%proc.nosuch")],
            "unknown filter",
        ),
        (
            [_rule("evt.type = open and proc.pid = abc")],
            "'abc' is not a valid number",
        ),
        (
            [_rule("evt.type = open and proc.name regex '('")],
            "invalid regex pattern",
        ),
        (
            [{"required_engine_version": "0.99.0"}],
            "Rules require engine version 0.99.0, but engine version is 0.57.0",
        ),
    ],
)
def test_load_errors_carry_falco_messages(items: list[dict[str, Any]], message: str) -> None:
    assert message in _load_error(items)


def test_override_replace_and_append_per_key() -> None:
    rs = RuleSet()
    items = [
        _rule("evt.type=open", tags=["a"]),
        {
            "rule": "r",
            "condition": "and proc.name=cat",
            "priority": "CRITICAL",
            "tags": ["b"],
            "enabled": "false",
            "override": {"condition": "append", "priority": "replace", "tags": "append", "enabled": "replace"},
        },
    ]
    assert rs.load_items(items)
    r = rs.compiled[0]
    assert (r.condition, r.priority_name, r.tags, r.enabled) == (
        "evt.type=open and proc.name=cat",
        "Critical",
        ("a", "b"),
        False,
    )


def test_redefinition_keeps_position_and_rule_order_is_first_definition() -> None:
    items = [
        {"rule": "a", "desc": "d", "condition": "evt.type=open", "output": "A", "priority": "INFO"},
        {"rule": "b", "desc": "d", "condition": "evt.type=open", "output": "B", "priority": "INFO"},
        {"rule": "a", "desc": "d", "condition": "evt.type=open", "output": "A2", "priority": "INFO"},
    ]
    rs = RuleSet()
    assert rs.load_items(items)
    alerts = Engine(rs).evaluate(FieldsEvent({"evt.type": "open"}, "syscall", SYSCALL_SCHEMA))
    assert [(a.rule, a.output) for a in alerts] == [("a", "A2")]


def test_yaml_text_keeps_scalars_as_strings_and_reports_lines() -> None:
    text = (
        "- list: ports\n  items: [80, on, yes, 1.10]\n"
        "- rule: r\n  desc: d\n  condition: evt.type=connect and proc.name in (ports)\n  output: o\n  priority: INFO\n"
        "- rule: bad\n  desc: d\n  condition: evt.type=open and\n  output: o\n  priority: INFO\n"
    )
    rs = RuleSet()
    assert not rs.load_text(text, "t.yaml")
    assert rs.lists["ports"].data["items"] == ["80", "on", "yes", "1.10"]
    err = rs.errors[0]
    assert (err.file, err.line, err.item_type, err.item_name, err.code) == (
        "t.yaml",
        8,
        "rule",
        "bad",
        "LOAD_ERR_COMPILE_CONDITION",
    )


def test_k8s_audit_rule_index_skips_rules_that_cannot_match() -> None:
    rs = RuleSet()
    items = [
        _rule("ka.verb=create and ka.target.resource=pods", "k8s_audit"),
        {
            "rule": "s",
            "desc": "d",
            "condition": "ka.verb in (get, list) and ka.target.resource=secrets",
            "output": "o",
            "priority": "INFO",
            "source": "k8s_audit",
        },
    ]
    assert rs.load_items(items)
    eng = Engine(rs)
    ev = K8sAuditEvent({"auditID": "1", "verb": "get", "objectRef": {"resource": "secrets"}})
    assert [r.name for r in eng.candidates(ev)] == ["s"]
    assert [r.name for r in eng.match(ev)] == ["s"]


def test_rules_directory_loads_files_in_name_order() -> None:
    from tests.conftest import shared_path

    rs = RuleSet()
    assert rs.load_file(shared_path("conformance", "falco", "legacy_tests", "rules", "rules_dir"))
    assert [f.rsplit("/", 1)[-1] for f in rs.files] == ["000-single_rule.yaml", "001-double_rule.yaml"]


def test_rate_limit_is_per_rule() -> None:
    from stockade.engines.falco.engine import Alert
    from stockade.engines.falco.sinks import Dispatcher, RateLimiter

    got: list[str] = []

    class Collect:
        def emit(self, alert: Alert) -> None:
            got.append(alert.rule)

    def alert(rule: str) -> Alert:
        return Alert(rule, "Warning", 4, "syscall", "o", {}, (), 1, "h")

    disp = Dispatcher([Collect()], RateLimiter(rate=0.001, burst=2))
    for _ in range(5):
        disp.emit(alert("noisy"))
    disp.emit(alert("rare"))
    assert got == ["noisy", "noisy", "rare"]
    assert disp.limiter is not None and disp.limiter.dropped == 3


def test_generic_event_fields() -> None:
    ev = FieldsEvent({"evt.type": "execve", "evt.rawtime": 1700000000123456789}, "syscall", SYSCALL_SCHEMA, 4)
    assert (ev.get("evt.num"), ev.get("evt.time.iso8601")) == (4, "2023-11-14T22:13:20.123456789Z")
    k = K8sAuditEvent({"auditID": "x", "stageTimestamp": "2024-01-01T00:00:00.5Z"}, 7)
    assert (k.get("evt.num"), k.get("evt.rawtime"), k.get("evt.source")) == (7, 1704067200500000000, "k8s_audit")

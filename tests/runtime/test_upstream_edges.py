"""Edge cases of the Falco engine checked against upstream behaviour (beyond the shared vectors).

Each test names the upstream code or test it follows:
- falcosecurity/libs ``userspace/libsinsp/filter/parser.cpp`` (grammar), ``utils.cpp``
  (``sinsp_numparser``: numbers are read with ``sscanf("%lu%c") == 1``), ``value_parser.cpp``
  (booleans are exactly ``true``/``false``), ``test/filter_transformer.ut.cpp`` (transformers,
  ``join``/``concat``);
- falcosecurity/falco ``userspace/engine/rule_loader_reader.cpp`` (required_engine_version is read
  as a yaml-cpp unsigned int, else with ``sinsp_version``'s ``sscanf("%u.%u.%u")``; exception
  ``values`` must be a sequence);
- falcosecurity/plugins ``plugins/k8saudit/pkg/k8saudit/extract.go`` (``ka.uri.param`` via Go's
  ``url.ParseQuery``, ``getValuesRecursive``, ``readFromContainerEffectively``) and
  ``plugins/json/pkg/json/json.go`` (``json.value``/``jevt.value`` pointer walk on fastjson).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stockade.engines.falco.engine import Engine, load_rules
from stockade.engines.falco.events import FieldsEvent
from stockade.engines.falco.fields import SYSCALL_SCHEMA
from stockade.engines.falco.k8saudit import K8sAuditEvent
from stockade.engines.falco.loader import RuleSet

SYSCALL = {
    "evt.type": "open",
    "evt.num": 1,
    "proc.name": "cat",
    "proc.pid": 42,
    "fd.name": "/tmp/file_to_run",
    "fd.directory": "/tmp",
    "proc.cmdline": "ÉCOLE run",
    "evt.buffer": "abc",
}

AUDIT: dict[str, Any] = {
    "auditID": "a1",
    "verb": "create",
    "user": {"username": "alice", "groups": ["dev", "ops"]},
    "objectRef": {"resource": "pods", "namespace": "ml"},
    "requestURI": "/api/v1/namespaces/ml/pods/p/exec?command=sh&command=-c&tty&x=a+b&y=%41",
    "responseStatus": {"code": 201},
    "requestObject": {
        "spec": {
            "runAsUser": 5,
            "securityContext": {"runAsUser": 7},
            "containers": [
                {
                    "name": "a",
                    "image": "reg:5000/app:1",
                    "securityContext": {"runAsUser": 9, "capabilities": {"add": ["NET_ADMIN", "SYS_TIME"]}},
                },
                {"name": "b", "image": "busybox", "runAsUser": 3},
            ],
        }
    },
    "arr": [10, 20, 30],
    "a/b": {"m~n": "slash-tilde"},
}


def _rule(cond: str, source: str = "syscall", **extra: Any) -> dict[str, Any]:
    return {"rule": "r", "desc": "d", "condition": cond, "output": "o", "priority": "INFO", "source": source, **extra}


def _eval(cond: str, event: Any = None, source: str = "syscall") -> bool | str:
    rs = RuleSet()
    if not rs.load_items([_rule(cond, source)]):
        return "error: " + rs.errors[0].message
    if source == "syscall":
        ev: Any = FieldsEvent(event if event is not None else SYSCALL, "syscall", SYSCALL_SCHEMA)
    else:
        ev = K8sAuditEvent(event if event is not None else AUDIT)
    return bool(Engine(rs).match(ev))


def _load_text(tmp_path: Path, text: str) -> RuleSet:
    f = tmp_path / "rules.yaml"
    f.write_text(text)
    return load_rules([str(f)])


# -- numeric and boolean filter values (libs sinsp_numparser / value parser) -----------------


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ("proc.pid = 42", True),
        ("proc.pid > 41", True),
        ("proc.pid in (41, 42)", True),
        ('proc.pid = "+42"', True),  # sscanf %lu accepts a sign
        # sscanf("%lu%c") == 1 rejects anything after the digits: no hex, fraction or exponent
        ("proc.pid = 0x2a", "error"),
        ("proc.pid > 1e+3", "error"),
        ("proc.pid < 1.5", "error"),
        ("proc.pid in (42, 0x2b)", "error"),
    ],
)
def test_numeric_values_read_like_sscanf(cond: str, expected: bool | str) -> None:
    got = _eval(cond)
    if expected == "error":
        assert isinstance(got, str) and "not a valid number" in got
    else:
        assert got is expected


def test_number_exponent_needs_a_sign() -> None:
    # parser.cpp RGX_NUMBER: [eE][+-][0-9]+, so "1e3" lexes as "1" followed by a stray token
    got = _eval("proc.pid > 1e3")
    assert got == "error: unexpected token after '1', expecting 'or', 'and'"


def test_bool_values_are_case_sensitive(tmp_path: Path) -> None:
    # libs value parser: PT_BOOL takes exactly "true" or "false"
    assert _eval("evt.is_open_read = true", {**SYSCALL, "evt.is_open_read": True}) is True
    got = _eval("evt.is_open_read = TRUE", {**SYSCALL, "evt.is_open_read": True})
    assert isinstance(got, str) and "bool" in got


# -- transformers (libs test/filter_transformer.ut.cpp) ---------------------------------------


@pytest.mark.parametrize(
    "cond",
    [
        "join(fd.name, (fd.name,fd.directory)) = /tmp/file_to_run/tmp/file_to_run/tmp",
        'join("-", (fd.name,fd.directory)) = /tmp/file_to_run-/tmp',
        'join("-", ("aaa","bbb")) = aaa-bbb',
        'join("->", ("aaa")) = aaa',
        'join("->", (fd.name, "aaa", fd.directory)) = /tmp/file_to_run->aaa->/tmp',
        'join("->", (toupper(fd.name), "aaa")) = /TMP/FILE_TO_RUN->aaa',
        'join("-", (fd.directory, join("->", ( "aaa", toupper(fd.name))))) = /tmp-aaa->/TMP/FILE_TO_RUN',
        'join(",", (evt.num, evt.num)) = "1,1"',
        'join(",", ()) = ""',
        'concat(fd.directory, concat("aaa", toupper(fd.name))) = /tmpaaa/TMP/FILE_TO_RUN',
        'toupper(join("-", (fd.name, fd.directory))) = /TMP/FILE_TO_RUN-/TMP',
        'len(join("-", (fd.name, fd.directory))) = 21',
        # b64 of unpadded text: "YWFhLWJiYg" is "aaa-bbb"
        'b64(join("W", ("YWFhL", "JiYg"))) = "aaa-bbb"',
        'b64(concat("YWFh", "YmJi")) = "aaabbb"',
        "len(evt.buffer) = 3",
    ],
)
def test_multivalue_transformers(cond: str) -> None:
    assert _eval(cond) is True


@pytest.mark.parametrize(
    "cond",
    [
        "join() = foo",
        'join("-") = foo',
        'join("-", "a", "b") = foo',
        'join(("a", "b"), ("a", "b")) = foo',
        'join(("a", "b"), "a") = foo',
        'join("a", "b") = foo',
        "concat() = foo",
        'concat("aaa") = foo',
        'concat(("a", "b"), "a") = foo',
        'concat("a", ("a", "b")) = foo',
        # type checks: len/tolower take no numbers, basename/tolower take no byte buffers
        "len(proc.pid) = 2",
        "tolower(proc.pid) = 2",
        "basename(evt.buffer) = abc",
    ],
)
def test_transformer_argument_errors(cond: str) -> None:
    got = _eval(cond)
    assert isinstance(got, str) and got.startswith("error:")


def test_case_folding_is_ascii_only() -> None:
    # libsinsp folds with the C locale: only A-Z/a-z change case
    assert _eval("proc.cmdline icontains ÉCOLE") is True
    assert _eval("proc.cmdline icontains école") is False
    assert _eval('tolower(proc.cmdline) = "École run"') is True
    assert _eval('proc.cmdline iglob "é*"') is False
    assert _eval('proc.cmdline iglob "Éc*"') is True


# -- required_engine_version (falco rule_loader_reader.cpp) -----------------------------------

_RULE_YAML = "- rule: r\n  desc: d\n  output: o\n  priority: INFO\n  condition: evt.type=open\n"


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("15", True),  # an unsigned int N means 0.N.0
        ("0x10", True),  # yaml-cpp reads unsigned ints with base detection: 0.16.0
        ("017", True),  # octal: 0.15.0
        ("0.57.0.1", True),  # sscanf("%u.%u.%u") ignores what follows the third number
        ("0.57.0-rc1", True),
        ("0.57", False),
        ("15.0", False),
        ("v0.57.0", False),
        ("0x3A", False),  # 0.58.0 is newer than the engine
    ],
)
def test_required_engine_version_formats(tmp_path: Path, version: str, ok: bool) -> None:
    rs = _load_text(tmp_path, f"- required_engine_version: {version}\n" + _RULE_YAML)
    assert rs.ok is ok, [e.describe() for e in rs.errors]


def test_exception_values_null_is_not_a_sequence(tmp_path: Path) -> None:
    # rule_loader_reader.cpp: a defined but null 'values' fails "Rule exception values must be a sequence"
    text = _RULE_YAML + "  exceptions:\n  - name: e\n    fields: [proc.name]\n    values:\n"
    rs = _load_text(tmp_path, text)
    assert not rs.ok
    assert rs.errors[0].code == "LOAD_ERR_YAML_VALIDATE"
    assert "values must be a sequence" in rs.errors[0].message


# -- k8saudit extraction (plugins extract.go) and json.value (json.go) --------------------------


def test_uri_param_follows_go_parse_query() -> None:
    ev = K8sAuditEvent(AUDIT)
    assert ev.get("ka.uri.param[command]") == "sh"  # first value
    assert ev.get("ka.uri.param[tty]") == ""  # a key without '=' has an empty value
    assert ev.get("ka.uri.param[x]") == "a b"  # '+' is a blank
    assert ev.get("ka.uri.param[y]") == "A"
    assert ev.get("ka.uri.param[nope]") is None


@pytest.mark.parametrize("uri", ["/api/v1/pods?a=1&b=%zz", "/api/v1/pods?a=1;b=2", "/api/%zz?a=1", "/api?a=1\x01"])
def test_uri_param_missing_when_uri_does_not_parse(uri: str) -> None:
    # url.Parse / url.ParseQuery report an error (bad escape, ';' separator, control character):
    # the plugin sets no value
    ev = K8sAuditEvent({**AUDIT, "requestURI": uri})
    assert ev.get("ka.uri.param[a]") is None


def test_uri_param_keys_are_unescaped_and_fragment_dropped() -> None:
    ev = K8sAuditEvent({**AUDIT, "requestURI": "/api?a%20b=2&a=1#frag&c=3"})
    assert ev.get("ka.uri.param[a b]") == "2"  # the key of ka.uri.param["a b"]
    assert ev.get("ka.uri.param[a]") == "1"
    assert ev.get("ka.uri.param[c]") is None


def test_container_images_missing_when_a_container_has_none() -> None:
    # readContainerImages converts every value with arrayAsStrings, which fails on a nil
    base = AUDIT["requestObject"]["spec"]
    spec = {**base, "containers": [{"name": "a", "image": "nginx:1"}, {"name": "b"}]}
    ev = K8sAuditEvent({**AUDIT, "requestObject": {"spec": spec}})
    assert ev.get("ka.req.pod.containers.image") is None
    assert ev.get("ka.req.pod.containers.image.repository") is None
    assert ev.get("ka.req.container.image") == "nginx:1"  # only containers[0] is read


def test_container_image_repository_cuts_at_first_colon() -> None:
    ev = K8sAuditEvent(AUDIT)
    assert ev.get("ka.req.pod.containers.image.repository") == ("reg", "busybox")


def test_add_capabilities_is_one_json_value_per_container() -> None:
    # getValuesRecursive stops at the 'add' key: the array itself is the value
    ev = K8sAuditEvent(AUDIT)
    assert ev.get("ka.req.pod.containers.add_capabilities") == ('["NET_ADMIN","SYS_TIME"]',)


def test_effective_run_as_user_reads_plugin_keys() -> None:
    # readFromContainerEffectively: containers[i].runAsUser, else spec.runAsUser, else "0"
    # (not securityContext, which run_as_user reads)
    ev = K8sAuditEvent(AUDIT)
    assert ev.get("ka.req.pod.containers.eff_run_as_user") == ("5", "3")
    assert ev.get("ka.req.pod.containers.run_as_user") == ("9",)
    spec = {"containers": [{"name": "a"}]}
    ev2 = K8sAuditEvent({**AUDIT, "requestObject": {"spec": spec}})
    assert ev2.get("ka.req.pod.containers.eff_run_as_user") == ("0",)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("jevt.value[/verb]", "create"),
        ("jevt.value[verb]", "create"),  # one leading '/' is optional
        ("json.value[/arr]", "[10,20,30]"),
        ("jevt.value[/arr/1]", "20"),
        ("jevt.value[/arr/01]", "20"),  # fastjson reads indexes with strconv.Atoi
        ("jevt.value[/arr/-1]", None),
        ("jevt.value[/arr/3]", None),
        ("jevt.value[/a~1b/m~0n]", "slash-tilde"),
        ("jevt.value[/responseStatus/code]", "201"),
        ("jevt.value[/objectRef/nope]", None),
    ],
)
def test_json_pointer(field: str, value: str | None) -> None:
    assert K8sAuditEvent(AUDIT).get(field) == value


def test_json_pointer_in_conditions() -> None:
    assert _eval("jevt.value[verb] = create", source="k8s_audit") is True
    assert _eval("jevt.value[/arr/01] = 20", source="k8s_audit") is True


# -- escapes, NUL, outputs, loader details -----------------------------------------------------


def test_backslash_blank_escape_becomes_one_backslash() -> None:
    # escaping.cpp unescape_str: case ' ' falls through to case '\\' (the blank is dropped)
    from stockade.engines.falco.ast import Check, Literal
    from stockade.engines.falco.parser import parse

    node = parse('proc.cmdline = "a\\ b"')
    assert isinstance(node, Check) and node.rhs == Literal("a\\b", True)
    assert _eval('proc.cmdline = "a\\ b"', {**SYSCALL, "proc.cmdline": "a\\b"}) is True


def test_nul_byte_only_for_byte_buffers() -> None:
    got = _eval('proc.name = "c\\x00t"')
    assert isinstance(got, str) and "NUL" in got
    assert _eval('evt.buffer = "a\\x00b"', {**SYSCALL, "evt.buffer": "a\x00b"}) is True


def test_output_transformers_compute_like_conditions() -> None:
    rs = RuleSet()
    out = '%join("-", (ka.verb, ka.user.name)) %len(ka.user.groups) %concat(ka.verb, "!") %toupper(ka.verb)'
    assert rs.load_items([_rule("ka.verb=create", "k8s_audit", output=out)])
    (alert,) = list(Engine(rs).evaluate(K8sAuditEvent(AUDIT)))
    assert alert.output == "create-alice 2 create! CREATE"


def test_null_tags_is_not_a_sequence(tmp_path: Path) -> None:
    # decode_seq: a present 'tags:' (a null node) fails "Value is not a sequence"
    rs = _load_text(tmp_path, _RULE_YAML + "  tags:\n")
    assert not rs.ok and rs.errors[0].message == "Value is not a sequence"
    assert _load_text(tmp_path, _RULE_YAML + "  exceptions:\n").ok  # a null 'exceptions:' is allowed


def test_indexed_ancestor_from_a_given_chain() -> None:
    ev = {**SYSCALL, "proc.aname": ["bash", "sshd", "systemd"]}
    assert _eval("proc.aname[1] = bash", ev) is True
    assert _eval("proc.aname[3] = systemd", ev) is True
    assert _eval("proc.aname[4] exists", ev) is False
    assert _eval("proc.aname[0] = cat", ev) is True  # the process itself
    assert _eval("proc.aname = sshd", ev) is True  # any ancestor


def test_json_null_is_a_value_not_a_missing_field() -> None:
    # fastjson's Get returns a non-nil null value, which jsonValueAsString prints as "null";
    # only a missing key (or a null on the way to it) makes the field missing
    ev = K8sAuditEvent(
        {
            "auditID": "x",
            "objectRef": {"resource": "pods", "subresource": None},
            "annotations": {"authorization.k8s.io/decision": None},
            "impersonatedUser": None,
            "requestObject": {"spec": {"containers": [{"image": "a", "securityContext": {"privileged": None}}]}},
        }
    )
    assert ev.get("ka.target.subresource") == "null"
    assert ev.get("ka.auth.decision") == "null"
    assert ev.get("ka.impuser.name") is None
    assert ev.get("ka.target.name") is None
    assert ev.get("ka.req.pod.containers.privileged") == ("null",)


# -- list operators and transformer lists (libs parser.cpp) -------------------------------------


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        # parse_list_value_or_transformer: a bare identifier is a one-value list
        ("proc.name in cat", True),
        ("proc.name in dog", False),
        ("proc.name intersects cat", True),
        ("evt.type in open", True),
        # list operators are plain prefixes (no blank needed): "inside" is "in side"
        ("proc.name in(cat)", True),
        ("proc.name inside", False),
        ("proc.name inside or proc.name incat", True),
    ],
)
def test_list_operator_with_identifier(cond: str, expected: bool) -> None:
    assert _eval(cond) is expected


def test_single_item_list_referenced_without_parentheses(tmp_path: Path) -> None:
    # after text substitution "proc.name in cats" becomes "proc.name in  cat " (valid); with two
    # items it becomes "proc.name in  cat, dog " (a parse error)
    one = "- list: cats\n  items: [cat]\n" + _RULE_YAML.replace("evt.type=open", "proc.name in cats")
    assert _load_text(tmp_path, one).ok
    two = "- list: cats\n  items: [cat, dog]\n" + _RULE_YAML.replace("evt.type=open", "proc.name in cats")
    rs = _load_text(tmp_path, two)
    assert not rs.ok and rs.errors[0].code == "LOAD_ERR_COMPILE_CONDITION"


@pytest.mark.parametrize(
    "cond",
    [
        'join("-", (proc.name, bare)) = x',  # TransformerListArg: no bare words
        'join("-", (proc.name, ("a"))) = x',  # nor nested lists
        "proc.name contains(x)",  # word operators need a blank after them
    ],
)
def test_transformer_list_and_operator_parse_errors(cond: str) -> None:
    got = _eval(cond)
    assert isinstance(got, str) and got.startswith("error:")


@pytest.mark.parametrize(
    ("cond", "source"),
    [
        # thread checks read proc.aname[N] with sinsp_numparser (a number or a compile error)
        ("proc.aname[x] = a", "syscall"),
        ("proc.apid[0x1] = 1", "syscall"),
        # plugin fields declared with an index argument
        ("ka.req.pod.containers.image[x] intersects (a)", "k8s_audit"),
        ("ka.req.role.rules.verbs[a] exists", "k8s_audit"),
    ],
)
def test_index_arguments_must_be_numbers(cond: str, source: str) -> None:
    got = _eval(cond, source=source)
    assert isinstance(got, str) and "is not a valid number" in got


def test_index_arguments() -> None:
    assert _eval('proc.aname["2"] = x', {**SYSCALL, "proc.aname[2]": "x"}) is True  # quoted argument
    assert _eval("ka.req.pod.containers.image[1] intersects (busybox)", source="k8s_audit") is True
    assert _eval("ka.req.pod.containers.image[2] exists", source="k8s_audit") is False


_EXC_RULE = _RULE_YAML + "  exceptions:\n  - name: e\n    fields: [proc.name]\n    values: [[dog]]\n"


@pytest.mark.parametrize(
    ("appended", "message", "warning"),
    [
        # rule_loader_collector.cpp append(): a new exception needs non-empty values
        ("  - name: e2\n    fields: [proc.name]\n", "must have values property", True),
        ("  - name: e2\n    fields: [proc.name]\n    values: []\n", "must have values property", False),
        # an existing exception may only gain values
        ("  - name: e\n    comps: [=]\n    values: [[cat]]\n", "append exception comps", False),
        ("  - name: e\n    fields: [proc.name]\n    values: [[cat]]\n", "append exception fields", False),
    ],
)
def test_appending_exceptions(tmp_path: Path, appended: str, message: str, warning: bool) -> None:
    text = _EXC_RULE + "- rule: r\n  exceptions:\n" + appended + "  override:\n    exceptions: append\n"
    rs = _load_text(tmp_path, text)
    assert not rs.ok
    assert rs.errors[0].code == "LOAD_ERR_VALIDATE" and message in rs.errors[0].message
    # rule_loader_reader.cpp warns LOAD_APPEND_NO_VALUES only when the 'values' key is absent
    assert ("LOAD_APPEND_NO_VALUES" in {w.code for w in rs.warnings}) is warning


def test_appending_values_to_an_existing_exception(tmp_path: Path) -> None:
    more = "- rule: r\n  exceptions:\n  - name: e\n    values: [[cat]]\n  override:\n    exceptions: append\n"
    text = _EXC_RULE + more
    rs = _load_text(tmp_path, text)
    assert rs.ok, [e.describe() for e in rs.errors]
    assert not Engine(rs).match(FieldsEvent(SYSCALL, "syscall", SYSCALL_SCHEMA))  # cat is now excepted


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        # sinsp_utils::glob_match is fnmatch(3) without flags: '*' crosses '/', brackets are
        # POSIX bracket expressions (']' first is literal, [:class:], '!' or '^' negate)
        ("/var/*", "/var/run/file.txt", True),
        ("[[:digit:]]x", "1x", True),
        ("[[:alpha:]]", "7", False),
        ("[]a]", "]", True),
        ("[!]]", "]", False),
        ("[a-]", "-", True),
        ("a\\*", "a*", True),
        ("a\\*", "ab", False),
        ("x[", "x[", True),
    ],
)
def test_glob_bracket_expressions(pattern: str, value: str, expected: bool) -> None:
    quoted = pattern.replace("\\", "\\\\")
    assert _eval(f'fd.name glob "{quoted}"', {**SYSCALL, "fd.name": value}) is expected


def test_ancestor_pids_are_numbers() -> None:
    # proc.apid is a PT_PID field: values compare as numbers, each ancestor in turn
    ev = {**SYSCALL, "proc.ppid": 1, "proc.apid[2]": "7"}
    assert _eval("proc.apid = 1", ev) is True
    assert _eval("proc.apid in (7, 8)", ev) is True
    assert _eval("proc.apid[2] > 10", ev) is False  # 7 > 10 as numbers ("7" > "10" as text)
    assert _eval("proc.apid[0] = 42", ev) is True
    got = _eval("proc.apid contains 1", ev)
    assert isinstance(got, str) and "not supported for numeric filters" in got


def test_volume_hostpath_missing_without_volumes() -> None:
    # getArray(requestObject.spec.volumes) fails: the field is not available (not "false")
    ev = K8sAuditEvent({"auditID": "1", "requestObject": {"spec": {}}})
    assert ev.get("ka.req.volume.hostpath[/var/run/docker.sock]") is None
    ev2 = K8sAuditEvent({"auditID": "1", "requestObject": {"spec": {"volumes": [{"hostPath": {"path": "/x/y"}}]}}})
    assert ev2.get("ka.req.volume.hostpath[/x*]") == "true"
    assert ev2.get("ka.req.volume.hostpath[/x]") == "false"


def test_ancestor_field_against_val() -> None:
    ev = {**SYSCALL, "proc.pname": "bash", "proc.aname[2]": "cat", "proc.ppid": 1, "proc.vpid": 1}
    assert _eval("proc.aname = val(proc.name)", ev) is True  # the grandparent is also "cat"
    assert _eval("proc.aname[1] = val(proc.name)", ev) is False
    assert _eval("proc.apid = val(proc.vpid)", ev) is True


# -- nesting depth (libs parser.cpp depth_guard; Falco sets the limit to 1000) -------------------


@pytest.mark.parametrize(
    ("template", "levels", "ok"),
    [
        # each parenthesis nests parse_check, the embedded expression, parse_or, parse_and and
        # parse_not (5 levels); a comparison 3 more: 198 levels fit in 1000, 199 do not
        ("({})", 198, True),
        ("({})", 199, False),
        ("not ({})", 198, True),
        ("not ({})", 199, False),
        ("proc.name=cat and ({})", 190, True),
        ("proc.name=dog or ({})", 190, True),
    ],
)
def test_depth_limit(template: str, levels: int, ok: bool) -> None:
    cond = "proc.name=cat"
    for _ in range(levels):
        cond = template.format(cond)
    got = _eval(cond)
    if ok:
        assert isinstance(got, bool)
    else:
        assert got == "error: exceeded max depth limit of 1000"


def test_repeated_not_toggles() -> None:
    assert _eval("not " * 2001 + "proc.name=dog") is True
    assert _eval("not " * 2000 + "proc.name=dog") is False


# -- regex: RE2 in POSIX syntax, full match (libs: the 'regex' operator) -------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("c.t", "cat", True),
        ("[[:alpha:]]+", "cat", True),  # POSIX classes inside brackets
        ("[^[:digit:]]+", "cat", True),
        ("[[:digit:]]+", "cat", False),
        ("[]a]*cat", "]acat", True),
        ("a.b", "a\nb", False),  # '.' does not match a newline (RE2 default)
        ("ca", "cat", False),  # anchored at both ends
    ],
)
def test_regex_matches(pattern: str, value: str, expected: bool) -> None:
    assert _eval(f'proc.cmdline regex "{pattern}"', {**SYSCALL, "proc.cmdline": value}) is expected


@pytest.mark.parametrize("pattern", ["(c)a\\\\1", "\\\\w+", "(?i)cat", "(?:c)at", "c.*?t", "("])
def test_regex_rejects_perl_syntax(pattern: str) -> None:
    # POSIX syntax has no back-references, Perl classes, (?...) groups or non-greedy operators
    got = _eval(f'proc.name regex "{pattern}"')
    assert isinstance(got, str) and "invalid regex pattern" in got


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        # value parser: an address field takes addresses, a network field takes addr/len
        ("fd.sip = 10.1.2.3", True),
        ("fd.sip in (10.1.2.3, ::1)", True),
        ("fd.snet in (fe80::/10, 10.0.0.0/8)", True),
        ("fd.sip in (10.0.0.0/8)", "error: unrecognized IP address 10.0.0.0/8"),
        ("fd.snet = 10.1.2.3", "error: unrecognized IP network 10.1.2.3"),
    ],
)
def test_ip_values_by_field_type(cond: str, expected: bool | str) -> None:
    assert _eval(cond, {**SYSCALL, "evt.type": "connect", "fd.sip": "10.1.2.3", "fd.snet": "10.1.2.3"}) == expected


# -- value warnings (libs sinsp_filter_compiler::check_value_and_add_warnings; falco engine tests
# exceptions_values_rhs_field_ambiguous*) ----------------------------------------------------------


def _warnings(cond: str, exceptions: list[dict[str, Any]] | None = None) -> list[str]:
    rs = RuleSet()
    rule = _rule(cond)
    if exceptions:
        rule["exceptions"] = exceptions
    assert rs.load_items([rule]), [e.describe() for e in rs.errors]
    return [w.message for w in rs.warnings if w.code == "LOAD_COMPILE_CONDITION"]


@pytest.mark.parametrize(
    ("cond", "values", "message"),
    [
        ("evt.type = open", [["proc.pname"]], "'proc.pname' may be a valid field misused as a const string value"),
        # the exception value is quoted in the condition because of its blank: still warned
        ("evt.type = open", [["proc.pname "]], "'proc.pname ' may be a valid field misused as a const string value"),
        (
            'evt.type = open and proc.name = "proc.pname"',
            None,
            "'proc.pname' may be a valid field misused as a const string value",
        ),
        (
            'evt.type = open and proc.name = "tolower(x)"',
            None,
            "'tolower(x)' may be a valid field transformer misused as a const string value",
        ),
        (
            'evt.type = open and proc.name regex "^abc.*"',
            None,
            "regex check with '^abc.*' may be optimized with simpler operators such as "
            "'=', 'contains', 'startswith', 'endswith'",
        ),
    ],
)
def test_value_warnings(cond: str, values: list[list[str]] | None, message: str) -> None:
    exceptions = [{"name": "e", "fields": ["proc.name"], "comps": ["="], "values": values}] if values else None
    assert message in _warnings(cond, exceptions)


def test_regex_with_syntax_in_the_middle_is_not_warned() -> None:
    assert _warnings('evt.type = open and proc.name regex "a.b"') == []


@pytest.mark.parametrize(
    ("value", "ok", "message"),
    [
        ("false", True, ""),
        ("False", True, ""),
        ("OFF", True, ""),
        ("n", True, ""),
        ("fAlSe", False, "Can't decode YAML scalar value"),  # yaml-cpp: flexible case only
        ('""', False, "Value must be non-empty"),  # decode_val_generic checks emptiness first
        ("", False, "Mapping for key 'enabled' is empty"),
    ],
)
def test_enabled_bool_decoding(tmp_path: Path, value: str, ok: bool, message: str) -> None:
    rs = _load_text(tmp_path, _RULE_YAML + f"  enabled: {value}\n")
    assert rs.ok is ok
    if not ok:
        assert rs.errors[0].message == message

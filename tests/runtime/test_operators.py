"""Every condition operator on typed fields (syscall and k8s_audit field tables)."""

from __future__ import annotations

from typing import Any

import pytest

from stockade.engines.falco.engine import Engine
from stockade.engines.falco.events import FieldsEvent
from stockade.engines.falco.fields import SYSCALL_SCHEMA
from stockade.engines.falco.k8saudit import K8sAuditEvent
from stockade.engines.falco.loader import RuleSet

SYSCALL_EVENT = {
    "evt.type": "open",
    "proc.name": "cat",
    "fd.name": "/etc/Passwd",
    "evt.buffer": "hello world",
    "proc.pid": 42,
}
AUDIT_EVENT = {
    "auditID": "1",
    "verb": "get",
    "user": {"username": "u", "groups": ["a", "b"]},
    "objectRef": {"resource": "pods"},
    "responseStatus": {"code": 403},
}


def _eval(cond: str, source: str) -> bool | str:
    rs = RuleSet()
    rule = {"rule": "r", "desc": "d", "condition": cond, "output": "o", "priority": "INFO", "source": source}
    if not rs.load_items([rule]):
        return "error: " + rs.errors[0].message
    ev: Any = (
        FieldsEvent(SYSCALL_EVENT, "syscall", SYSCALL_SCHEMA) if source == "syscall" else K8sAuditEvent(AUDIT_EVENT)
    )
    return bool(Engine(rs).match(ev))


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ('proc.name glob "c*t"', True),
        ('proc.name glob "C*"', False),
        ('proc.name iglob "C*"', True),
        ('fd.name regex "/etc/[A-Z].*"', True),
        ('fd.name regex "etc"', False),  # anchored at both ends
        ("fd.name startswith /etc", True),
        ("fd.name endswith wd", True),
        ("fd.name contains etc/P", True),
        ("fd.name icontains ETC/p", True),
        ("evt.buffer bcontains 776f726c64", True),
        ("evt.buffer bstartswith 68656c", True),
        ("proc.pid in (41, 42)", True),
        ("proc.pid > 41", True),
        ("proc.pid <= 41", False),
        ("proc.pname != bash", False),  # missing field: false for every operator
        ("not proc.pname = bash", True),
        ("proc.name intersects (cat, dog)", True),
        ("proc.name == oneof (cat, dog)", True),
        ("proc.name startswith anyof (x, c)", True),
        ("proc.name startswith allof (x, c)", False),
        ("proc.name = val(proc.name)", True),
        ("proc.name = val(proc.pname)", False),
        ("toupper(proc.name) = CAT", True),
        ("len(fd.name) > 5", True),
        ("basename(fd.name) = Passwd", True),
        ("fd.name pmatch (/etc)", True),
        ("fd.name exists", True),
    ],
)
def test_syscall_operators(cond: str, expected: bool) -> None:
    assert _eval(f"evt.type=open and {cond}", "syscall") is expected


@pytest.mark.parametrize(
    ("cond", "message"),
    [
        ("evt.buffer bcontains zz", "'zz' is not a valid hex string"),
        ("proc.pid contains 4", "'contains' operator not supported for numeric filters"),
        ("proc.name bcontains 00", "'bcontains' operator not supported for string filters"),
        ("proc.pid = 1.0", "'1.0' is not a valid number"),
        ("proc.nosuch = 1", "filter_check called with nonexistent field proc.nosuch"),
    ],
)
def test_syscall_operator_errors(cond: str, message: str) -> None:
    assert _eval(f"evt.type=open and {cond}", "syscall") == f"error: {message}"


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ("ka.user.groups in (a, b, c)", True),  # subset
        ("ka.user.groups in (a)", False),
        ("ka.user.groups intersects (b, z)", True),
        ("ka.user.groups exists", True),
        ("ka.impuser.name exists", False),
        ("ka.response.code < 5", True),  # string comparison: "403" < "5"
        ("ka.response.code >= 400", True),
        ("ka.verb in (get, list) and ka.target.resource = pods", True),
    ],
)
def test_k8s_audit_operators(cond: str, expected: bool) -> None:
    assert _eval(cond, "k8s_audit") is expected


def test_list_field_rejects_scalar_operators() -> None:
    assert _eval("ka.user.groups = a", "k8s_audit") == "error: '=' operator not supported for list filters"

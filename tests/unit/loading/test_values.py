"""Values must be what the API server stores (go-yaml v2 / YAML 1.1 via sigs.k8s.io/yaml)."""

from __future__ import annotations

import math

import pytest

from stockade.loading.yamlsource import RawDoc, YamlDocError, parse_document, split_documents


def value(text: str) -> object:
    doc = parse_document(RawDoc(1, f"v: {text}\n"))
    assert isinstance(doc, dict)
    return doc["v"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True), ("Yes", True), ("YES", True), ("y", True), ("Y", True), ("on", True), ("ON", True),
        ("true", True), ("no", False), ("n", False), ("off", False), ("Off", False), ("false", False),
        ("'yes'", "yes"), ('"on"', "on"), ("yEs", "yEs"),
        ("0400", 256), ("0644", 420), ("0x1F", 31), ("0b101", 5), ("0o17", 15), ("1_000", 1000), ("-12", -12),
        ("08", 8), ("1e3", 1000), ("1.5", 1.5), ("80:80", "80:80"), ("2001-12-14", "2001-12-14"),
        ("~", None), ("null", None), ("", None), ("!!str 12", "12"), ("!Ref foo", "foo"),
    ],
)  # fmt: skip
def test_scalars_resolve_like_the_api_server(text: str, expected: object) -> None:
    got = value(text)
    assert got == expected and type(got) is type(expected)


def test_special_floats() -> None:
    assert value(".inf") == math.inf and value("-.Inf") == -math.inf and math.isnan(value(".nan"))  # type: ignore[arg-type]


def test_privileged_yes_is_true() -> None:
    doc = parse_document(RawDoc(1, "securityContext:\n  privileged: yes\n  runAsUser: 0\n"))
    assert doc == {"securityContext": {"privileged": True, "runAsUser": 0}}


def test_merge_keys_apply() -> None:
    doc = parse_document(RawDoc(1, "base: &b {privileged: true, a: 1}\nc:\n  <<: *b\n  a: 2\n"))
    assert doc["c"] == {"privileged": True, "a": 2}


def test_non_string_keys_become_json_strings_without_colliding() -> None:
    assert parse_document(RawDoc(1, "1: a\ntrue: b\non: c\n")) == {"1": "a", "true": "c"}


def test_billion_laughs_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(YamlDocError, match="alias expansion exceeds"):
        parse_document(RawDoc(1, "\n".join(lines) + "\n"))


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(YamlDocError, match="recursive alias"):
        parse_document(RawDoc(1, "a: &a [*a]\n"))


def test_oversized_document_is_refused_before_parsing() -> None:
    big = "a: " + "x" * (9 * 1024 * 1024) + "\n"
    with pytest.raises(YamlDocError, match="over the 8 MiB limit"):
        parse_document(RawDoc(1, big))


def test_syntax_error_has_line_relative_to_document() -> None:
    with pytest.raises(YamlDocError) as e:
        parse_document(RawDoc(1, "a: 1\nb: [1, 2\nc: 3\n"))
    assert e.value.line == 3


def test_split_keeps_first_lines_and_ignores_markers_inside_values() -> None:
    docs = list(split_documents("a: 1\n---\nb: |\n  ---\n  x\n--- \nc: 3\n...\n"))
    assert [d.start_line for d in docs] == [1, 2, 6]
    assert parse_document(docs[1]) == {"b": "---\nx\n"}


def test_crd_schema_is_elided_but_lines_are_kept() -> None:
    text = (
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: x.acme.io\n"
        "spec:\n  scope: Cluster\n  versions:\n  - name: v1\n    schema:\n      openAPIV3Schema:\n"
        "        type: object\n        properties:\n          a: {type: string}\n    served: true\n"
    )
    doc = parse_document(RawDoc(1, text))
    assert doc["spec"]["scope"] == "Cluster"
    assert doc["spec"]["versions"] == [{"name": "v1", "schema": {"openAPIV3Schema": {}}, "served": True}]

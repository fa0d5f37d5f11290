"""Kubernetes label selectors (``metav1.LabelSelector``) as frozen, hashable values.

Semantics follow apimachinery's ``Requirement.Matches``: ``matchLabels`` and every expression are
ANDed, an empty selector matches everything, ``NotIn`` matches an object that lacks the key, and
``Exists``/``DoesNotExist`` test presence only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")

# apimachinery IsQualifiedName / IsValidLabelValue: what ValidateLabelSelector accepts.
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _check_key(key: str, where: str) -> str:
    prefix, slash, name = key.rpartition("/")
    ok = bool(_NAME.match(name)) and len(name) <= 63
    if slash:
        ok = ok and bool(prefix) and len(prefix) <= 253 and bool(_DNS1123_SUBDOMAIN.match(prefix))
    if not ok:
        raise SelectorError(f"{where}: {key!r} is not a valid label key")
    return key


def _check_value(value: str, where: str) -> str:
    if value and (len(value) > 63 or not _NAME.match(value)):
        raise SelectorError(f"{where}: {value!r} is not a valid label value")
    return value


class SelectorError(ValueError):
    """A selector the API server would reject."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key op values`` term."""

    key: str
    operator: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this term."""
        op = self.operator
        if op == "In":
            return self.key in labels and labels[self.key] in self.values
        if op == "NotIn":
            # An absent key satisfies NotIn (apimachinery; cyclonus gets this wrong).
            return self.key not in labels or labels[self.key] not in self.values
        if op == "Exists":
            return self.key in labels
        return self.key not in labels

    def __str__(self) -> str:
        if self.operator in ("Exists", "DoesNotExist"):
            return f"{'!' if self.operator == 'DoesNotExist' else ''}{self.key}"
        op = "in" if self.operator == "In" else "notin"
        return f"{self.key} {op} ({','.join(sorted(self.values))})"


@dataclass(frozen=True, slots=True)
class Selector:
    """A parsed label selector; equal selectors compare and hash equal (used to deduplicate)."""

    requirements: tuple[Requirement, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the selector matches every object."""
        return not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies every requirement."""
        return all(r.matches(labels) for r in self.requirements)

    def keys(self) -> frozenset[str]:
        """The label keys this selector looks at."""
        return frozenset(r.key for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements) or "{}"

    @classmethod
    def parse(cls, raw: Any, where: str = "selector") -> Selector:
        """Parse ``{matchLabels, matchExpressions}``; ``None`` and ``{}`` select everything."""
        if raw is None:
            return EVERYTHING
        if not isinstance(raw, Mapping):
            raise SelectorError(f"{where}: must be a mapping")
        unknown = sorted(str(k) for k in raw if k not in ("matchLabels", "matchExpressions"))
        if unknown:
            # A misspelt key would otherwise leave an empty selector that matches everything.
            raise SelectorError(f"{where}: unknown field {unknown[0]!r}")
        reqs: list[Requirement] = []
        ml = raw.get("matchLabels")
        if ml is not None:
            if not isinstance(ml, Mapping):
                raise SelectorError(f"{where}.matchLabels: must be a mapping")
            for k, v in ml.items():
                key = _check_key(str(k), f"{where}.matchLabels")
                value = _check_value(_label_value(v), f"{where}.matchLabels[{key}]")
                reqs.append(Requirement(key, "In", frozenset({value})))
        exprs = raw.get("matchExpressions")
        if exprs is not None:
            if not isinstance(exprs, list):
                raise SelectorError(f"{where}.matchExpressions: must be a list")
            for i, e in enumerate(exprs):
                at = f"{where}.matchExpressions[{i}]"
                if not isinstance(e, Mapping) or "key" not in e or "operator" not in e:
                    raise SelectorError(f"{at}: needs key and operator")
                extra = sorted(str(k) for k in e if k not in ("key", "operator", "values"))
                if extra:
                    raise SelectorError(f"{at}: unknown field {extra[0]!r}")
                op = e["operator"]
                if op not in _OPERATORS:
                    raise SelectorError(f"{at}: unknown operator {op!r}")
                values = e.get("values") or []
                if not isinstance(values, list):
                    raise SelectorError(f"{at}.values: must be a list")
                if op in ("In", "NotIn") and not values:
                    raise SelectorError(f"{at}: operator {op} needs at least one value")
                if op in ("Exists", "DoesNotExist") and values:
                    raise SelectorError(f"{at}: operator {op} takes no values")
                key = _check_key(str(e["key"]), f"{at}.key")
                vals = frozenset(_check_value(_label_value(v), f"{at}.values") for v in values)
                reqs.append(Requirement(key, op, vals))
        # Canonical order so that equal selectors written differently deduplicate.
        reqs.sort(key=lambda r: (r.key, r.operator, sorted(r.values)))
        return cls(tuple(reqs))


def _label_value(v: Any) -> str:
    # YAML may turn `true`/`1` into non-strings; the API server only stores strings.
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


EVERYTHING = Selector(())
"""The empty selector: matches every object."""

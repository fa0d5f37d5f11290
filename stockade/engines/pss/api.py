"""Levels, policy versions and the namespace labels that select them.

The parsing rules follow the API server's Pod Security admission: level and version values are
exact and case-sensitive, ``latest`` means the newest policy this engine knows, and a version
newer than that is evaluated as the newest one.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

NEWEST_MINOR = 37
"""The newest policy version this engine implements (v1.37, as upstream at kubernetes 1.37)."""


class Level(enum.Enum):
    """A Pod Security Standards level, ordered privileged < baseline < restricted."""

    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"

    @property
    def rank(self) -> int:
        """0, 1, 2 for privileged, baseline, restricted."""
        return _RANK[self]

    def __str__(self) -> str:
        return self.value


_RANK = {Level.PRIVILEGED: 0, Level.BASELINE: 1, Level.RESTRICTED: 2}
_LEVELS = {lv.value: lv for lv in Level}
# Go's regexp "$" is end of text; Python's also matches before a final newline, hence \Z.
_VERSION = re.compile(r"v1\.(0|[1-9][0-9]*)\Z")
_GO_INT_MAX = 2**63 - 1


def parse_level(text: str) -> Level:
    """The level named exactly ``text``; raises ValueError otherwise (case-sensitive)."""
    try:
        return _LEVELS[text]
    except (KeyError, TypeError):
        raise ValueError(f"invalid level {text!r}: must be one of privileged, baseline, restricted") from None


@dataclass(frozen=True, slots=True, order=True)
class Version:
    """A policy version: ``v1.<minor>``, or ``latest`` when ``minor`` is None."""

    minor: int | None = None

    @property
    def is_latest(self) -> bool:
        """True for ``latest``."""
        return self.minor is None

    @property
    def effective_minor(self) -> int:
        """The minor version the checks are evaluated at (``latest`` and newer are capped)."""
        m = self.minor
        return NEWEST_MINOR if m is None or m > NEWEST_MINOR else m

    def __str__(self) -> str:
        return "latest" if self.minor is None else f"v1.{self.minor}"


LATEST = Version(None)


def parse_version(text: str) -> Version:
    """``latest`` or ``v1.<n>`` (no leading zeros, no patch); raises ValueError otherwise."""
    if text == "latest":
        return LATEST
    m = _VERSION.match(text) if isinstance(text, str) else None
    # a minor that does not fit Go's int fails upstream's strconv.Atoi
    if m is None or len(m.group(1)) > 19 or int(m.group(1)) > _GO_INT_MAX:
        raise ValueError(f'invalid version {text!r}: must be "latest" or "v1.<minor>"')
    return Version(int(m.group(1)))


@dataclass(frozen=True, slots=True)
class LevelVersion:
    """A level at a version, printed like the API server does (``restricted:latest``)."""

    level: Level
    version: Version = LATEST

    def __str__(self) -> str:
        return f"{self.level.value}:{self.version}"

    @property
    def is_privileged(self) -> bool:
        """True when nothing is checked."""
        return self.level is Level.PRIVILEGED

    def equivalent(self, other: LevelVersion) -> bool:
        """Upstream's ``LevelVersion.Equivalent``: both privileged, or the same level and version.

        Versions compare as written: ``latest`` and ``v1.37`` differ even though they evaluate
        alike (that is what decides upstream's exempt-namespace notice).
        """
        if self.is_privileged and other.is_privileged:
            return True
        return self.level is other.level and self.version == other.version


PRIVILEGED_LATEST = LevelVersion(Level.PRIVILEGED, LATEST)


@dataclass(frozen=True, slots=True)
class Policy:
    """The three admission modes of a namespace."""

    enforce: LevelVersion = PRIVILEGED_LATEST
    audit: LevelVersion = PRIVILEGED_LATEST
    warn: LevelVersion = PRIVILEGED_LATEST

    @property
    def fully_privileged(self) -> bool:
        """True when all three modes are privileged."""
        return self.enforce.is_privileged and self.audit.is_privileged and self.warn.is_privileged


DEFAULT_POLICY = Policy()
"""Upstream's defaults when the configuration sets none: privileged:latest for every mode."""

LABEL_PREFIX = "pod-security.kubernetes.io/"
ENFORCE_LABEL = LABEL_PREFIX + "enforce"
ENFORCE_VERSION_LABEL = LABEL_PREFIX + "enforce-version"
AUDIT_LABEL = LABEL_PREFIX + "audit"
AUDIT_VERSION_LABEL = LABEL_PREFIX + "audit-version"
WARN_LABEL = LABEL_PREFIX + "warn"
WARN_VERSION_LABEL = LABEL_PREFIX + "warn-version"


LEVEL_ERROR = "must be one of privileged, baseline, restricted"
VERSION_ERROR = 'must be "latest" or "v1.x"'


def label_error(key: str, value: object, detail: str) -> str:
    """A label error worded like the API server's field error (``Invalid value: "x": ...``)."""
    return f"metadata.labels[{key}]: Invalid value: {go_quote(value)}: {detail}"


_GO_SHORT_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(value: object) -> str:
    """Go's ``%q`` for a string (strconv.Quote); other values are quoted as their ``str``."""
    # quotes and backslashes escaped, short escapes for \a\b\f\n\r\t\v, \xNN for other ASCII
    # controls, \uNNNN for other non-printable characters
    text = value if isinstance(value, str) else str(value)
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _GO_SHORT_ESCAPES:
            out.append(_GO_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif not ch.isprintable():
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


@dataclass(frozen=True, slots=True)
class LabelPolicy:
    """The policy a namespace's labels give, with the label errors the API server would report."""

    policy: Policy
    errors: tuple[str, ...] = ()
    has_enforce_label: bool = False
    """True when the namespace carries an enforce level label (valid or not)."""


def policy_from_labels(labels: object, defaults: Policy = DEFAULT_POLICY) -> LabelPolicy:
    """Parse ``pod-security.kubernetes.io/*`` labels on top of the cluster ``defaults``.

    Upstream rules: a missing label keeps the default; an invalid enforce level becomes
    ``restricted`` (fail closed), an invalid audit or warn level ``privileged`` (fail open), an
    invalid version ``latest``. When a valid enforce level is stricter than the warn level and no
    warn level label exists, warn follows enforce (and its version unless a warn-version label
    exists). Audit is never defaulted that way.
    """
    if not isinstance(labels, Mapping) or not labels:
        return LabelPolicy(defaults, (), False)
    errors: list[str] = []

    def level(key: str, current: Level, fallback: Level) -> tuple[Level, bool]:
        if key not in labels:
            return current, False
        try:
            return parse_level(labels[key]), True
        except ValueError:
            errors.append(label_error(key, labels[key], LEVEL_ERROR))
            return fallback, False

    def version(key: str, current: Version) -> Version:
        if key not in labels:
            return current
        try:
            return parse_version(labels[key])
        except ValueError:
            errors.append(label_error(key, labels[key], VERSION_ERROR))
            return LATEST

    enforce_level, enforce_valid = level(ENFORCE_LABEL, defaults.enforce.level, Level.RESTRICTED)
    enforce_version = version(ENFORCE_VERSION_LABEL, defaults.enforce.version)
    audit_level, _ = level(AUDIT_LABEL, defaults.audit.level, Level.PRIVILEGED)
    audit_version = version(AUDIT_VERSION_LABEL, defaults.audit.version)
    warn_level, _ = level(WARN_LABEL, defaults.warn.level, Level.PRIVILEGED)
    warn_version = version(WARN_VERSION_LABEL, defaults.warn.version)
    if WARN_LABEL not in labels and enforce_valid and enforce_level.rank > warn_level.rank:
        warn_level = enforce_level
        if WARN_VERSION_LABEL not in labels:
            warn_version = enforce_version
    policy = Policy(
        enforce=LevelVersion(enforce_level, enforce_version),
        audit=LevelVersion(audit_level, audit_version),
        warn=LevelVersion(warn_level, warn_version),
    )
    return LabelPolicy(policy, tuple(errors), ENFORCE_LABEL in labels)

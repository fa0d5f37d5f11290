"""Reading events: audit log lines and EventLists, field-format JSON lines, followed files."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from stockade.engines.falco.events import Event, FieldsEvent
from stockade.engines.falco.fields import Schema
from stockade.engines.falco.k8saudit import K8sAuditEvent


@dataclass
class ReadStats:
    """Counts of what a reader saw; ``bad`` lines are skipped, never fatal."""

    lines: int = 0
    events: int = 0
    bad: int = 0
    problems: list[str] = field(default_factory=list)

    def note(self, where: str, msg: str) -> None:
        """Record a skipped line (first few kept for reporting)."""
        self.bad += 1
        if len(self.problems) < 20:
            self.problems.append(f"{where}: {msg}")


def audit_objects(doc: Any) -> Iterator[Any]:
    """Audit Events from one JSON document: an Event, an ``EventList`` or a JSON array of them."""
    if isinstance(doc, dict) and doc.get("kind") == "EventList" and isinstance(doc.get("items"), list):
        yield from doc["items"]
    elif isinstance(doc, list):
        yield from doc
    else:
        yield doc


def looks_like_audit(doc: Any) -> bool:
    """Whether a JSON document is an audit Event/EventList (for ``--event-format`` auto-detection)."""
    if isinstance(doc, list):
        return bool(doc) and all(looks_like_audit(d) for d in doc)
    return isinstance(doc, dict) and ("auditID" in doc or doc.get("kind") in ("Event", "EventList"))


class EventFactory:
    """Builds engine events from decoded JSON, numbering them like Falco's ``evt.num``."""

    def __init__(self, fmt: str, source: str = "syscall", schema: Schema | None = None) -> None:
        self.fmt = fmt
        self.source = source
        self.schema = schema
        self.num = 0

    def make(self, doc: Any) -> Iterator[Event]:
        """Events from one decoded JSON document."""
        if self.fmt == "k8s-audit" or (self.fmt == "auto" and looks_like_audit(doc)):
            odd = 0
            for obj in audit_objects(doc):
                self.num += 1
                # still evaluated (it matches nothing: no ka.* field), but reported like the
                # k8saudit plugin's "data not recognized as a k8s audit event"
                if not (isinstance(obj, dict) and ("auditID" in obj or obj.get("kind") == "Event")):
                    odd += 1
                yield K8sAuditEvent(obj, self.num)
            if odd:
                raise ValueError(
                    "not a k8s audit event (no auditID, kind is not Event)"
                    if odd == 1
                    else f"{odd} items are not k8s audit events (no auditID, kind is not Event)"
                )
        else:
            self.num += 1
            if isinstance(doc, dict):
                if isinstance(doc.get("output_fields"), dict) and "rule" in doc and "priority" in doc:
                    # a Falco JSON alert: replay the fields it carries
                    doc = doc["output_fields"]
                yield FieldsEvent(doc, self.source, self.schema, self.num)
            else:
                raise ValueError("a fields event must be a JSON object")


MAX_DOCUMENT = 64 * 1024 * 1024


def _parse_line(text: str) -> list[Any] | None:
    try:
        return [json.loads(text)]
    except ValueError:
        return _concatenated(text)


def read_lines(lines: Iterable[str], factory: EventFactory, name: str, stats: ReadStats) -> Iterator[Event]:
    """Events from JSON lines; a line that is not JSON is counted and skipped.

    A document spread over several lines (pretty-printed JSON, e.g. an ``EventList`` saved
    from ``kubectl``) is gathered until it parses; a line that parses on its own ends such a
    gathering, so one truncated line never swallows the events after it.
    """
    pending: list[str] = []
    pending_at = 0
    pending_size = 0

    def give_up() -> None:
        nonlocal pending, pending_size
        if pending:
            stats.note(f"{name}:{pending_at}", "not JSON (incomplete document)")
        pending = []
        pending_size = 0

    for i, raw_line in enumerate(lines, 1):
        stats.lines += 1
        line = raw_line.strip()
        if not line:
            continue
        docs = _parse_line(line)
        if docs is not None and pending and not (line[0] == "{" and isinstance(docs[0], dict)):
            # inside a pretty-printed document a line may be a complete JSON scalar on its own
            docs = None
        if docs is None and pending:
            pending.append(line)
            pending_size += len(line)
            docs = _parse_line("\n".join(pending))
            if docs is None:
                if pending_size > MAX_DOCUMENT:
                    give_up()
                continue
            pending = []
            pending_size = 0
        elif docs is not None and pending:
            give_up()
        elif docs is None:
            if line[0] in "{[":
                pending, pending_at, pending_size = [line], i, len(line)
            else:
                # files are decoded with errors="replace": say why the line is unreadable
                stats.note(f"{name}:{i}", "not UTF-8 text" if "\ufffd" in line else "not JSON")
            continue
        for doc in docs:
            try:
                for ev in factory.make(doc):
                    stats.events += 1
                    yield ev
            except ValueError as e:
                stats.note(f"{name}:{i}", str(e))
    give_up()


_DECODER = json.JSONDecoder()


def _concatenated(line: str) -> list[Any] | None:
    """Several JSON values on one line (files joined without a final newline), or ``None``."""
    out: list[Any] = []
    pos = 0
    try:
        while pos < len(line):
            doc, end = _DECODER.raw_decode(line, pos)
            out.append(doc)
            pos = end
            while pos < len(line) and line[pos].isspace():
                pos += 1
    except ValueError:
        return None
    return out if len(out) > 1 else None


def follow(fh: IO[str], stop: Callable[[], bool], interval: float = 0.2) -> Iterator[str]:
    """Lines of a growing file, like ``tail -f`` (from the current content on)."""
    buf = ""
    while not stop():
        chunk = fh.readline()
        if not chunk:
            time.sleep(interval)
            continue
        buf += chunk
        if buf.endswith("\n"):
            yield buf
            buf = ""

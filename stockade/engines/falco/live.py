"""A live host source: process executions on this machine as syscall-style ``execve`` events.

Two ways to notice a new process:

* the kernel's process-event connector (netlink ``NETLINK_CONNECTOR``, ``CN_IDX_PROC``): the
  kernel reports every exec as it happens. Needs CAP_NET_ADMIN in the initial network namespace;
  when the subscription is refused we fall back to polling.
* polling ``/proc`` every ``interval`` seconds: new pids are read as they appear. A process that
  starts and exits between two polls is missed, and one that execs again keeps its pid so the
  second exec is only seen through a changed command line.

Both read the process details from ``/proc/<pid>`` afterwards, so a process that exits before it
is read is reported with what could be read (or not at all). Fields: ``proc.pid``,
``proc.name``, ``proc.exe``, ``proc.exepath``, ``proc.cmdline``, ``proc.args``, ``proc.cwd``,
``proc.tty``, ``proc.ppid``, ``proc.pname``, ``proc.pexepath``, ``proc.pcmdline``,
``proc.aname[N]``/``proc.apid[N]`` (the parent chain), ``user.uid``, ``user.name``,
``container.id`` (``host`` outside containers), ``evt.type`` (``execve``), ``evt.num``.
"""

from __future__ import annotations

import os
import pwd
import re
import socket
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

from stockade.engines.falco.events import FieldsEvent
from stockade.engines.falco.fields import SYSCALL_SCHEMA

_CONTAINER_ID_RE = re.compile(r"([0-9a-f]{64})")
_NETLINK_CONNECTOR = 11
_CN_IDX_PROC = 1
_CN_VAL_PROC = 1
_PROC_CN_MCAST_LISTEN = 1
_PROC_EVENT_EXEC = 0x00000002


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return None


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(comm, ppid, tty_nr) from /proc/<pid>/stat."""
    raw = _read(f"/proc/{pid}/stat")
    if raw is None:
        return None
    lp, rp = raw.find("("), raw.rfind(")")
    if lp < 0 or rp < 0:
        return None
    comm = raw[lp + 1 : rp]
    rest = raw[rp + 2 :].split()
    try:
        return comm, int(rest[1]), int(rest[4])
    except (IndexError, ValueError):
        return None


def _argv(pid: int) -> list[str]:
    raw = _read(f"/proc/{pid}/cmdline")
    if not raw:
        return []
    return [a for a in raw.split("\0")][:-1] if raw.endswith("\0") else raw.split("\0")


def _link(pid: int, name: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/{name}")
    except OSError:
        return None


def _uid(pid: int) -> int | None:
    raw = _read(f"/proc/{pid}/status")
    if raw is None:
        return None
    for line in raw.splitlines():
        if line.startswith("Uid:"):
            try:
                return int(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


def container_id(pid: int) -> str:
    """The 12-hex container id from the cgroup path, or ``host``."""
    raw = _read(f"/proc/{pid}/cgroup") or ""
    m = _CONTAINER_ID_RE.search(raw)
    return m.group(1)[:12] if m else "host"


def _user_name(uid: int | None) -> str | None:
    if uid is None:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def process_fields(pid: int, num: int = 1) -> dict[str, Any] | None:
    """Falco-named fields of a running process, or ``None`` when it is gone."""
    st = _stat(pid)
    if st is None:
        return None
    comm, ppid, tty = st
    argv = _argv(pid)
    exepath = _link(pid, "exe")
    name = comm
    if argv:
        # comm is cut at 15 characters; the executable's own name is more useful when longer
        base = os.path.basename(argv[0])
        if len(comm) == 15 and base.startswith(comm):
            name = base
    uid = _uid(pid)
    f: dict[str, Any] = {
        "evt.type": "execve",
        "evt.dir": "<",
        "evt.num": num,
        "evt.rawtime": time.time_ns(),
        "proc.pid": pid,
        "proc.vpid": pid,
        "proc.name": name,
        "proc.exe": argv[0] if argv else name,
        "proc.exepath": exepath or "",
        "proc.args": " ".join(argv[1:]),
        "proc.cmdline": " ".join([name, *argv[1:]]),
        "proc.cwd": (_link(pid, "cwd") or "") + "/",
        "proc.tty": tty,
        "proc.ppid": ppid,
        "user.uid": uid,
        "user.name": _user_name(uid),
        "user.loginuid": -1,
        "container.id": container_id(pid),
    }
    # the parent chain: proc.aname[1] is the parent, [2] the grandparent...
    cur = ppid
    names: list[str] = []
    for depth in range(1, 16):
        if cur <= 0:
            break
        pst = _stat(cur)
        if pst is None:
            break
        pcomm, pppid, _ = pst
        f[f"proc.aname[{depth}]"] = pcomm
        f[f"proc.apid[{depth}]"] = cur
        names.append(pcomm)
        if depth == 1:
            f["proc.pname"] = pcomm
            pargv = _argv(cur)
            f["proc.pexe"] = pargv[0] if pargv else pcomm
            f["proc.pexepath"] = _link(cur, "exe") or ""
            f["proc.pcmdline"] = " ".join([pcomm, *pargv[1:]])
        cur = pppid
    f["proc.aname"] = names
    if f["container.id"] == "host":
        f["container.name"] = "host"
    return f


class ProcConnector:
    """Exec notifications from the kernel's process-event connector."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_CONNECTOR)
        try:
            self.sock.bind((os.getpid(), _CN_IDX_PROC))
            # nlmsghdr(16) + cn_msg(20) + op(4)
            payload = struct.pack("=I", _PROC_CN_MCAST_LISTEN)
            cn = struct.pack("=IIIIHH", _CN_IDX_PROC, _CN_VAL_PROC, 0, 0, len(payload), 0) + payload
            msg = struct.pack("=IHHII", 16 + len(cn), 3, 0, 0, os.getpid()) + cn  # NLMSG_DONE
            self.sock.send(msg)
        except OSError:
            self.sock.close()
            raise
        self.sock.settimeout(0.2)

    def pids(self) -> list[int]:
        """Pids that exec'ed since the last call (waits up to 0.2 s)."""
        out: list[int] = []
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return out
        while data:
            if len(data) < 16:
                break
            nl_len = struct.unpack_from("=I", data, 0)[0]
            body = data[16 : max(16, nl_len)]
            if len(body) >= 20 + 16:
                what = struct.unpack_from("=I", body, 20)[0]
                if what == _PROC_EVENT_EXEC and len(body) >= 20 + 16 + 8:
                    pid = struct.unpack_from("=i", body, 20 + 16)[0]
                    out.append(pid)
            if nl_len <= 0:
                break
            data = data[(nl_len + 3) & ~3 :]
        return out

    def close(self) -> None:
        """Release the socket."""
        self.sock.close()


class HostWatcher:
    """Yields an ``execve`` event for every new process (connector, or ``/proc`` polling)."""

    def __init__(self, mode: str = "auto", interval: float = 0.1) -> None:
        self.interval = interval
        self.num = 0
        self.known: dict[int, str] = {}
        self.connector: ProcConnector | None = None
        self.mode = "poll"
        if mode in ("auto", "connector"):
            try:
                self.connector = ProcConnector()
                self.mode = "connector"
            except OSError:
                if mode == "connector":
                    raise
        self._snapshot(initial=True)

    def _snapshot(self, initial: bool = False) -> list[int]:
        new: list[int] = []
        seen: set[int] = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            seen.add(pid)
            cmd = _read(f"/proc/{pid}/cmdline") or ""
            old = self.known.get(pid)
            if old is None or old != cmd:
                self.known[pid] = cmd
                if not initial and (old is None or cmd):
                    new.append(pid)
        for pid in list(self.known):
            if pid not in seen:
                del self.known[pid]
        return new

    def _event(self, pid: int) -> FieldsEvent | None:
        f = process_fields(pid, self.num + 1)
        if f is None:
            return None
        self.num += 1
        return FieldsEvent(f, "syscall", SYSCALL_SCHEMA, self.num)

    def events(self, stop: Callable[[], bool]) -> Iterator[FieldsEvent]:
        """Events until ``stop()`` is true."""
        me = os.getpid()
        while not stop():
            if self.connector is not None:
                pids = self.connector.pids()
                # the connector reports the exec; /proc polling keeps our pid table in step
                for pid in pids:
                    self.known[pid] = _read(f"/proc/{pid}/cmdline") or ""
            else:
                time.sleep(self.interval)
                pids = self._snapshot()
            for pid in pids:
                if pid == me:
                    continue
                ev = self._event(pid)
                if ev is not None:
                    yield ev

    def close(self) -> None:
        """Stop listening."""
        if self.connector is not None:
            self.connector.close()

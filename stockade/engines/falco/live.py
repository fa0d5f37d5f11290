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

With ``network=True`` the watcher also reads ``/proc/net/tcp{,6}`` every ``network_interval``
seconds and reports each new outbound established TCP connection as a ``connect`` event
(``fd.sip``/``fd.sport`` the remote end, ``fd.cip``/``fd.cport`` the local one, the owning
process found through ``/proc/*/fd``). Connections that open and close between two looks, UDP,
and connections whose owner cannot be read are missed (or reported without ``proc.*``).
"""

from __future__ import annotations

import ipaddress
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


def _loginuid(pid: int) -> int:
    raw = (_read(f"/proc/{pid}/loginuid") or "").strip()
    try:
        v = int(raw)
    except ValueError:
        return -1
    return -1 if v == 4294967295 else v


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
        "user.loginuid": _loginuid(pid),
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


def _hex_addr(text: str, v6: bool) -> tuple[str, int]:
    """An address of /proc/net/tcp (``0100007F:1F90``) as (ip, port)."""
    ip_hex, port_hex = text.split(":")
    raw = bytes.fromhex(ip_hex)
    if v6:
        # four little-endian 32-bit words
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        ip = str(ipaddress.IPv6Address(raw))
        mapped = ipaddress.IPv6Address(raw).ipv4_mapped
        if mapped is not None:
            ip = str(mapped)
    else:
        ip = str(ipaddress.IPv4Address(raw[::-1]))
    return ip, int(port_hex, 16)


def tcp_sockets() -> tuple[dict[int, tuple[str, int, str, int]], set[int]]:
    """Established TCP sockets by inode (local ip, port, remote ip, port), and listening ports."""
    established: dict[int, tuple[str, int, str, int]] = {}
    listening: set[int] = set()
    for name, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        text = _read(name)
        if not text:
            continue
        for line in text.splitlines()[1:]:
            parts = line.split()
            if len(parts) < 10:
                continue
            try:
                lip, lport = _hex_addr(parts[1], v6)
                rip, rport = _hex_addr(parts[2], v6)
                inode = int(parts[9])
            except ValueError:
                continue
            if parts[3] == "0A":
                listening.add(lport)
            elif parts[3] == "01" and inode:
                established[inode] = (lip, lport, rip, rport)
    return established, listening


def socket_owners(inodes: set[int]) -> dict[int, int]:
    """Which pid holds each socket inode (scans /proc/*/fd; only called for new sockets)."""
    wanted = {f"socket:[{i}]": i for i in inodes}
    found: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{entry}/fd/{fd}")
            except OSError:
                continue
            inode = wanted.get(target)
            if inode is not None and inode not in found:
                found[inode] = int(entry)
        if len(found) == len(wanted):
            break
    return found


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

    def __init__(
        self,
        mode: str = "auto",
        interval: float = 0.1,
        network: bool = False,
        network_interval: float = 1.0,
        include_loopback: bool = False,
    ) -> None:
        self.interval = interval
        self.num = 0
        self.network = network
        self.network_interval = network_interval
        self.include_loopback = include_loopback
        self._next_net = 0.0
        self._seen_sockets: set[int] = set(tcp_sockets()[0]) if network else set()
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

    def _connections(self) -> list[FieldsEvent]:
        """``connect`` events for outbound TCP connections established since the last look."""
        established, listening = tcp_sockets()
        new = {i: a for i, a in established.items() if i not in self._seen_sockets}
        self._seen_sockets = set(established)
        outbound = {}
        for inode, (lip, lport, rip, rport) in new.items():
            if lport in listening:
                continue  # accepted by a local server: inbound
            if not self.include_loopback and ipaddress.ip_address(rip).is_loopback:
                continue
            outbound[inode] = (lip, lport, rip, rport)
        if not outbound:
            return []
        owners = socket_owners(set(outbound))
        out = []
        for inode, (lip, lport, rip, rport) in outbound.items():
            pid = owners.get(inode)
            f = process_fields(pid, self.num + 1) if pid is not None else None
            if f is None:
                f = {"evt.num": self.num + 1, "evt.rawtime": time.time_ns(), "container.id": "host"}
            net = "tcp6" if ":" in rip else "tcp"
            f.update(
                {
                    "evt.type": "connect",
                    "evt.dir": "<",
                    "evt.res": "SUCCESS",
                    "evt.rawres": 0,
                    "fd.type": "ipv6" if net == "tcp6" else "ipv4",
                    "fd.typechar": "6" if net == "tcp6" else "4",
                    "fd.l4proto": "tcp",
                    "fd.sockfamily": "ip",
                    "fd.connected": True,
                    "fd.name": f"{lip}:{lport}->{rip}:{rport}",
                    "fd.cip": lip,
                    "fd.cport": lport,
                    "fd.lip": lip,
                    "fd.lport": lport,
                    "fd.sip": rip,
                    "fd.sport": rport,
                    "fd.rip": rip,
                    "fd.rport": rport,
                    "fd.ip": rip,
                    "fd.port": rport,
                    "fd.net": rip,
                    "fd.snet": rip,
                    "fd.cnet": lip,
                    "fd.rnet": rip,
                    "fd.lnet": lip,
                }
            )
            self.num += 1
            out.append(FieldsEvent(f, "syscall", SYSCALL_SCHEMA, self.num))
        return out

    def events(self, stop: Callable[[], bool]) -> Iterator[FieldsEvent]:
        """Events until ``stop()`` is true."""
        me = os.getpid()
        while not stop():
            if self.network and time.monotonic() >= self._next_net:
                self._next_net = time.monotonic() + self.network_interval
                yield from self._connections()
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

"""Field tables: which fields each event source offers, their type and whether they take an arg.

Types: ``str`` (charbuf), ``num`` (integers), ``bool``, ``ip`` (an address), ``net`` (an address
tested for network membership: ``fd.net``, ``fd.snet``, ...), ``buf`` (bytes), ``list`` (a
list-valued field: only ``in``, ``intersects`` and ``exists`` apply), ``anc`` (an ancestor field:
without an index it is tested against every ancestor), ``any`` (type decided by the value: used
for sources we do not know, whose events name their own fields).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldInfo:
    """One field of a source: its value type and what it accepts as ``[arg]``."""

    name: str
    type: str
    arg: str = "none"  # none | optional | required | index (optional, a number)
    deprecated: bool = False


class UnknownField(Exception):
    """A field name is not offered by the source."""


class Schema:
    """The fields of one event source (strict), or any field at all (``lax``)."""

    def __init__(
        self,
        source: str,
        fields: dict[str, FieldInfo],
        prefixes: dict[str, FieldInfo] | None = None,
        lax: bool = False,
    ) -> None:
        self.source = source
        self.fields = fields
        self.prefixes = prefixes or {}
        self.lax = lax

    def lookup(self, name: str, arg: str | None) -> FieldInfo:
        """The field's info; raise :class:`UnknownField` (with Falco's message) when unknown."""
        info = self.fields.get(name)
        if info is None:
            for prefix, pinfo in self.prefixes.items():
                if name.startswith(prefix) and len(name) > len(prefix):
                    info = pinfo
                    break
        if info is None:
            if self.lax:
                return FieldInfo(name, "any", "optional")
            raise UnknownField(f"filter_check called with nonexistent field {name}")
        if arg is None and info.arg == "required":
            raise UnknownField(f"filter_check called with nonexistent field {name}: argument required")
        if arg is not None and info.arg == "none":
            raise UnknownField(
                f"filter_check called with nonexistent field {name}[{arg}]: field does not take an argument"
            )
        if arg is not None and info.arg == "index" and not _is_index(arg):
            # libsinsp reads ancestor indexes with sscanf("%d%c") and plugin index arguments as
            # numbers: anything else does not compile
            raise UnknownField(f"{name}[{arg}]: {arg} is not a valid number")
        if info.type == "anc" and arg is not None:
            return FieldInfo(info.name, "str", "optional")
        if info.type == "ancn" and arg is not None:
            return FieldInfo(info.name, "num", "optional")
        return info

    def knows(self, name: str) -> bool:
        """Whether ``name`` is a field of this source (used for rhs-looks-like-a-field warnings)."""
        if name in self.fields:
            return True
        return any(name.startswith(p) and len(name) > len(p) for p in self.prefixes)


def _is_index(arg: str) -> bool:
    """A decimal number (an optional sign, digits, nothing else)."""
    body = arg[1:] if arg[:1] in "+-" else arg
    return body.isascii() and body.isdigit()


def _table(spec: str, default_arg: str = "none") -> dict[str, FieldInfo]:
    out: dict[str, FieldInfo] = {}
    for line in spec.split("\n"):
        line = line.strip()
        if not line:
            continue
        typ, *names = line.split()
        arg = default_arg
        if ":" in typ:
            typ, arg = typ.split(":")
        for n in names:
            out[n] = FieldInfo(n, typ, arg)
    return out


# The syscall fields (libsinsp filterchecks plus the container plugin), by type.
_SYSCALL = _table(
    """
    num evt.num evt.cpu evt.rawres evt.count evt.count.error evt.count.error.file evt.count.error.net
    num evt.count.error.memory evt.count.error.other evt.count.exit evt.rawtime evt.rawtime.s
    num evt.rawtime.ns evt.reltime evt.reltime.s evt.reltime.ns evt.latency evt.latency.s
    num evt.latency.ns evt.deltatime evt.deltatime.s evt.deltatime.ns evt.buflen evt.pluginid
    num evt.hostid
    str evt.time evt.time.s evt.time.iso8601 evt.datetime evt.datetime.s evt.type evt.dir
    str evt.args evt.res evt.info evt.plugininfo evt.pluginname evt.source evt.asynctype
    str evt.category evt.latency.human evt.hostname
    bool evt.failed evt.is_io evt.is_io_read evt.is_io_write evt.is_wait evt.is_syslog
    bool evt.is_open_read evt.is_open_write evt.is_open_exec evt.is_open_create
    num:optional evt.around
    buf evt.buffer
    str:optional evt.type.is evt.abspath evt.abspath.src evt.abspath.dst
    num proc.pid proc.ppid proc.vpid proc.pvpid proc.sid proc.vpgid proc.pgid proc.tty
    num proc.loginshellid proc.nthreads proc.nchilds proc.fdopencount proc.fdlimit proc.vmsize
    num proc.vmrss proc.vmswap proc.pfmajor proc.pfminor proc.duration proc.ppid.duration
    num proc.pid.ts proc.ppid.ts proc.start_ts proc.exe_ino proc.exe_ino.ctime
    num proc.exe_ino.mtime proc.exe_ino.ctime_duration_proc_start
    num proc.exe_ino.ctime_duration_pidns_start proc.pidns_init_start_ts proc.cmdnargs
    num proc.cmdlenargs proc.sid.exe.ino
    str proc.name proc.exe proc.exepath proc.cmdline proc.pcmdline proc.pname proc.pexe
    str proc.pexepath proc.args proc.cwd proc.sname proc.sid.exe proc.sid.exepath
    str proc.vpgid.name proc.vpgid.exe proc.vpgid.exepath proc.pgid.name proc.pgid.exe
    str proc.pgid.exepath proc.exeline proc.fdopenlimit proc.fdusage
    bool proc.is_exe_writable proc.is_exe_upper_layer proc.is_exe_lower_layer
    bool proc.is_exe_from_memfd proc.is_sid_leader proc.is_vpgid_leader proc.is_pgid_leader
    bool proc.is_container_healthcheck proc.is_container_liveness_probe
    bool proc.is_container_readiness_probe
    str:optional proc.env
    str proc.stdin.type proc.stdout.type proc.stderr.type proc.stdin.name proc.stdout.name
    str proc.stderr.name proc.cmdline.argv0
    anc:index proc.aname proc.aexe proc.aexepath proc.acmdline
    ancn:index proc.apid
    anc:optional proc.aenv
    num thread.tid thread.vtid thread.ioctl_request thread.exectime thread.totexectime
    num thread.vmsize thread.vmrss thread.pfmajor thread.pfminor thread.cgroups
    str thread.cap_permitted thread.cap_inheritable thread.cap_effective thread.nametid
    bool thread.ismain
    str:optional thread.cgroup
    num fd.num fd.dev fd.dev.major fd.dev.minor fd.ino fd.uid fd.gid fd.rport fd.lport
    num fd.sport fd.cport fd.dport
    num:optional fd.port
    str fd.type fd.typechar fd.name fd.directory fd.filename fd.sockfamily fd.l4proto
    str fd.cip.name fd.sip.name fd.lip.name fd.rip.name fd.nameraw fd.cproto fd.sproto
    str fd.lproto fd.rproto fd.containername fd.containerdirectory fd.uid fd.gid
    str:optional fd.types
    bool fd.connected fd.name_changed fd.is_server fd.is_upper_layer fd.is_lower_layer
    ip fd.cip fd.sip fd.lip fd.rip
    ip:optional fd.ip
    net fd.cnet fd.snet fd.lnet fd.rnet
    net:optional fd.net
    num user.uid user.loginuid group.gid
    str user.name user.homedir user.shell user.loginname group.name
    str container.id container.full_id container.name container.image container.image.id
    str container.image.repository container.image.tag container.image.digest container.type
    str container.ip container.cni.json container.mounts container.host_pid
    str container.label container.host_network container.host_ipc container.user
    num container.start_ts container.duration container.memory_limit container.cpu_shares
    num container.cpu_quota container.cpu_period
    bool container.privileged container.healthcheck container.liveness_probe
    bool container.readiness_probe
    str:optional container.mount container.mount.source container.mount.dest
    str:optional container.mount.mode container.mount.rdwr container.mount.propagation
    str:optional container.label
    str k8s.pod.name k8s.pod.id k8s.pod.uid k8s.pod.sandbox_id k8s.pod.full_sandbox_id
    str k8s.pod.ip k8s.pod.cni.json k8s.ns.name k8s.rc.name k8s.rs.name k8s.svc.name
    str k8s.deployment.name
    str:optional k8s.pod.label k8s.pod.labels k8s.ns.label
    str fs.path.name fs.path.nameraw fs.path.source fs.path.sourceraw fs.path.target
    str fs.path.targetraw
    str syscall.type
    num span.id
    """
)
_SYSCALL_PREFIXES = {
    "evt.arg.": FieldInfo("evt.arg", "str"),
    "evt.rawarg.": FieldInfo("evt.rawarg", "any"),
}
# evt.arg[N] and evt.rawarg[...] (indexed forms)
_SYSCALL["evt.arg"] = FieldInfo("evt.arg", "str", "required")
_SYSCALL["evt.rawarg"] = FieldInfo("evt.rawarg", "any", "required")

# The k8saudit plugin's fields plus the json plugin's.
_K8S = _table(
    """
    str ka.auditid ka.stage ka.auth.decision ka.auth.reason ka.user.name ka.impuser.name
    str ka.verb ka.uri ka.target.name ka.target.namespace ka.target.resource
    str ka.target.subresource ka.target.pod.name ka.req.binding.role ka.req.configmap.name
    str ka.req.configmap.obj ka.req.container.image ka.req.container.image.repository
    str ka.req.pod.host_ipc ka.req.pod.host_network ka.req.container.host_network
    str ka.req.pod.host_pid ka.req.container.privileged ka.req.pod.run_as_user
    str ka.req.pod.run_as_group ka.req.pod.fs_group ka.req.service.type ka.resp.name
    str ka.response.code ka.response.reason ka.useragent
    list ka.user.groups ka.req.binding.subjects ka.req.role.rules ka.req.pod.supplemental_groups
    list ka.sourceips
    list:index ka.req.role.rules.apiGroups ka.req.role.rules.nonResourceURLs
    list:index ka.req.role.rules.verbs ka.req.role.rules.resources ka.req.service.ports
    list:index ka.req.pod.volumes.hostpath ka.req.pod.volumes.flexvolume_driver
    list:index ka.req.pod.volumes.volume_type
    str:required ka.uri.param ka.req.binding.subject.has_name ka.req.volume.hostpath
    str jevt.rawtime jevt.obj jevt.time jevt.time.iso8601 json.obj json.rawtime
    num evt.num evt.rawtime
    str evt.time evt.time.iso8601 evt.source evt.pluginname
    str:required jevt.value json.value
    """
)
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
CONTAINER_ATTRS = (
    "image",
    "image.repository",
    "name",
    "privileged",
    "allow_privilege_escalation",
    "read_only_fs",
    "run_as_user",
    "run_as_group",
    "eff_run_as_user",
    "eff_run_as_group",
    "proc_mount",
    "add_capabilities",
    "host_port",
    "command",
    "args",
)
for _lst in CONTAINER_LISTS:
    for _attr in CONTAINER_ATTRS:
        _n = f"ka.req.pod.{_lst}.{_attr}"
        _K8S[_n] = FieldInfo(_n, "list", "index")

SYSCALL_SCHEMA = Schema("syscall", _SYSCALL, _SYSCALL_PREFIXES)
K8S_AUDIT_SCHEMA = Schema("k8s_audit", _K8S)


def lax_schema(source: str) -> Schema:
    """A schema accepting any field name (for sources whose events name their own fields)."""
    return Schema(source, {}, lax=True)


# Fields a rule dispatches on: an event is only tested against rules that could match its value.
DISPATCH_FIELDS: dict[str, tuple[str, ...]] = {
    "syscall": ("evt.type",),
    "k8s_audit": ("ka.target.resource", "ka.verb"),
}

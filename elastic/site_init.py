"""What ``elastic init`` finds on this machine, and the starter site.yaml it writes.

Layer: I/O at the edges only: ``find_lrms`` runs each LRM's version command (through
``CommandRunner``: an argument list, a short timeout) and ``find_libvirt`` asks libvirt
read-only under a deadline; ``starter_site`` is pure (findings in, YAML text out). The
text is YAML with a comment on every line an admin must look at, and it must pass
``elastic validate`` as written: a test validates each kind it can write.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from elastic.deadline import DeadlineExceeded, call_with_deadline
from lrm_adapters._command import CommandRunner
from lrm_adapters.base import LRMError

#: seconds any one probe (a version command, the libvirt connection) may take
PROBE_TIMEOUT_S = 5.0
DEFAULT_LIBVIRT_URI = "qemu:///system"


@dataclass(frozen=True)
class LrmSpec:
    """How to recognise an LRM, and what its starter VO looks like."""

    kind: str
    argv: tuple[str, ...]  # the version command; its binary is what PATH must have
    match_key: str  # the job attribute a VO is recognised by, on this LRM
    host_var: str  # the template variable naming the LRM's server
    server: str  # what that server is called, for the comment
    secret: tuple[str, str] | None = None  # (name, a usual path) of the secret it needs


LRM_SPECS = (
    LrmSpec("sge", ("qconf", "-help"), "project", "qmaster", "SGE qmaster"),
    LrmSpec(
        "slurm",
        ("sinfo", "--version"),
        "account",
        "slurmctld",
        "slurmctld host",
        ("munge_key", "/etc/munge/munge.key"),
    ),
    LrmSpec(
        "htcondor",
        ("condor_status", "-version"),
        "account",
        "condor_host",
        "central manager",
        ("condor_token", "/etc/elastic/secrets/condor_token"),
    ),
    LrmSpec("pbs", ("pbsnodes", "--version"), "queue", "pbs_server", "PBS server"),
)
SPECS = {spec.kind: spec for spec in LRM_SPECS}


@dataclass(frozen=True)
class FoundLrm:
    kind: str
    path: str  # where the command was found
    version: str  # the first line it printed ("" if none)

    @property
    def pbs_flavor(self) -> str:
        """OpenPBS and PBS Pro print ``pbs_version = ...``; Torque prints ``Version: ...``."""
        return "openpbs" if "pbs_version" in self.version else "torque"


@dataclass(frozen=True)
class FoundLibvirt:
    uri: str
    hostname: str
    cores: int
    memory_mb: int


def find_lrms(path: str | None = None) -> list[FoundLrm]:
    """The LRMs whose commands are on ``path`` (the process's PATH by default), in the
    order above; each version command is run so the comment can say what was found."""
    runner = CommandRunner(timeout_s=PROBE_TIMEOUT_S)
    found = []
    for spec in LRM_SPECS:
        binary = shutil.which(spec.argv[0], path=path)
        if binary is None:
            continue
        try:  # qconf -help exits 1 on some releases: any exit code will do
            text = runner.run([binary, *spec.argv[1:]], ok_codes=range(256))
        except LRMError as exc:
            text = f"({exc})"
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        found.append(FoundLrm(spec.kind, binary, lines[0][:80] if lines else ""))
    return found


def find_libvirt(uri: str = DEFAULT_LIBVIRT_URI) -> FoundLibvirt | str:
    """The hypervisor at ``uri``, read-only, within PROBE_TIMEOUT_S; or why not (a line)."""
    try:
        import libvirt
    except ImportError:
        return "libvirt-python is not installed (elastic[libvirt])"

    def ask() -> FoundLibvirt:
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors are exceptions
        connection = libvirt.openReadOnly(uri)
        try:
            info = connection.getInfo()  # [model, memory MiB, cpus, ...]
            return FoundLibvirt(uri, connection.getHostname(), int(info[2]), int(info[1]))
        finally:
            connection.close()

    try:
        return call_with_deadline(ask, PROBE_TIMEOUT_S)
    except DeadlineExceeded:
        return f"{uri} did not answer within {PROBE_TIMEOUT_S:g} s"
    except libvirt.libvirtError as exc:
        return f"{uri}: {exc.get_error_message() or exc}"


def dns_name(text: str, fallback: str, limit: int = 20) -> str:
    """``text`` as a site or VO name (lowercase letter first, then letters, digits and
    dashes), short enough that ``<site>-<vo>-<serial>`` stays a valid host name."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower().split(".")[0]).strip("-")
    name = re.sub(r"^[^a-z]+", "", name)[:limit].rstrip("-")
    return name or fallback


@dataclass(frozen=True)
class StarterAnswers:
    lrm: str
    site_name: str
    vo: str
    found_lrm: FoundLrm | None
    libvirt: FoundLibvirt | None
    libvirt_problem: str = ""  # why no hypervisor is listed, when none is


def starter_site(answers: StarterAnswers, now: datetime | None = None) -> str:
    """The starter site.yaml: one VO on the chosen LRM, the local hypervisor if one
    answered, EC2 as a commented example. Every value an admin must check says CHANGE."""
    spec = SPECS[answers.lrm]
    at = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    found = answers.found_lrm
    seen = (
        f"{found.path} ({found.version or 'no version printed'})"
        if found
        else f"{spec.argv[0]} NOT on PATH: run elastic where the LRM's commands are"
    )
    vo = answers.vo
    lines = [
        f"# elastic site file, written by `elastic init` on {socket.gethostname()} at {at}.",
        f"# LRM: {answers.lrm}, found as {seen}.",
        "# Check every line marked CHANGE, then: elastic validate -c THIS_FILE && elastic plan",
        "# (README: site.yaml reference lists every key and its default).",
        "site:",
        f"  name: {answers.site_name}  # short DNS-safe; workers are <site>-<vo>-<serial>",
        "  state: ./var/elastic.db  # the ledger: a SQLite file, or a postgresql:// URL",
        "",
        "lrm:",
        f"  kind: {answers.lrm}",
        "  timeout_s: 30  # of every LRM command",
        *_lrm_options(answers),
        "",
        "vos:",
        f"  - name: {vo}  # CHANGE: one entry per virtual organization",
        f"    match: {{{spec.match_key}: [{vo}]}}  # CHANGE: how its jobs are recognised",
        f"    flavor: {_flavor(answers.libvirt)}  # one worker VM",
        f"    image: {{libvirt: {vo}-base.qcow2}}  # CHANGE: base volume in the host's pool",
        "    min_nodes: 0",
        "    max_nodes: 4",
        "    cloud: {allowed: false}  # true, with max_nodes and max_hourly_cost, to burst",
        "    context:",
        f"      template: {answers.lrm}  # cloud-init template that joins it to the LRM",
        "      vars:",
        f"        {spec.host_var}: {server_guess(answers.lrm)}  # CHANGE: the {spec.server}",
        *_secrets(spec),
        "",
        *_local(answers),
        "",
        "# ec2:  # to burst to Amazon EC2: credentials from boto3's usual chain",
        "#   region: us-east-1",
        f"#   instance_types: {{{vo}: [c5.xlarge]}}",
        "#   prices: {c5.xlarge: 0.17}",
        "#   max_instances: 4",
        "#   max_hourly_cost: 1.0",
        "",
        "policy:",
        "  pass_interval_s: 60",
        "  idle_timeout_local_s: 900",
        "  idle_timeout_cloud_s: 300",
    ]
    return "\n".join(lines) + "\n"


def _lrm_options(answers: StarterAnswers) -> list[str]:
    if answers.lrm == "sge":
        root = os.environ.get("SGE_ROOT", "/var/lib/gridengine")
        return [
            "  options:",
            f"    sge_root: {root}  # CHANGE: SGE_ROOT of the commands",
            "    sge_cell: default",
            "    queue: all.q  # the cluster queue whose host list workers join",
        ]
    if answers.lrm == "slurm":
        return ["  options:", "    join: dynamic  # or power_save (docs/slurm.md)"]
    if answers.lrm == "pbs":
        flavor = answers.found_lrm.pbs_flavor if answers.found_lrm else "torque"
        return ["  options:", f"    flavor: {flavor}  # torque, or openpbs (OpenPBS, PBS Pro)"]
    return []


def _reserved(host: FoundLibvirt) -> tuple[int, int]:
    """Cores and MiB kept for the hypervisor itself."""
    return (2 if host.cores > 4 else 0), min(4096, host.memory_mb // 4)


def _flavor(host: FoundLibvirt | None) -> str:
    """4 cores and 8 GiB, or less so that a worker fits the hypervisor found."""
    cores, memory_mb = 4, 8192
    if host is not None:
        kept_cores, kept_mb = _reserved(host)
        cores = max(1, min(cores, host.cores - kept_cores))
        memory_mb = max(512, min(memory_mb, host.memory_mb - kept_mb))
    return f"{{cores: {cores}, memory_mb: {memory_mb}, disk_gb: 20}}"


def _local(answers: StarterAnswers) -> list[str]:
    host = answers.libvirt
    if host is None:
        why = answers.libvirt_problem or "not asked"
        return [
            f"# no local hypervisor listed: {why}",
            "local:",
            "  hosts: []  # CHANGE: {name, uri, cores, memory_mb} per libvirt host",
        ]
    reserved_cores, reserved_mb = _reserved(host)
    domain = "\n      domain_type: test" if host.uri.startswith("test:") else ""
    return [
        f"# found: libvirt {host.uri} on {host.hostname} ({host.cores} cores, "
        f"{host.memory_mb} MiB)",
        "local:",
        "  hosts:",
        f"    - name: {dns_name(host.hostname, 'hv1', 63)}",
        f'      uri: "{host.uri}"',
        f"      cores: {host.cores}",
        f"      memory_mb: {host.memory_mb}",
        f"      reserved_cores: {reserved_cores}  # kept for the host itself",
        f"      reserved_memory_mb: {reserved_mb}",
        "      pool: default  # CHANGE: the storage pool with the VOs' base images" + domain,
    ]


def _secrets(spec: LrmSpec) -> list[str]:
    if spec.secret is None:
        return []
    name, path = spec.secret
    return [
        "      secrets:  # files only, never inline; readable by elastic alone (0600)",
        f"        {name}: {path}  # CHANGE: see docs/{spec.kind}.md",
    ]


def server_guess(kind: str) -> str:
    """The LRM's server: SGE names its qmaster in ``$SGE_ROOT/$SGE_CELL/common/
    act_qmaster``; for the others this machine's name (the LRM's commands run here,
    often on its server). No DNS query, so init stays quick."""
    if kind == "sge":
        root = os.environ.get("SGE_ROOT", "/var/lib/gridengine")
        cell = os.environ.get("SGE_CELL", "default")
        try:
            named = Path(root, cell, "common", "act_qmaster").read_text().split()
        except OSError:
            named = []
        if named:
            return named[0]
    return socket.gethostname() or "lrm-server.example"

"""site.yaml: the whole site policy, parsed and validated.

Layer: bottom (imports only pydantic and ruamel.yaml). ``load_site`` is the one
way in; every problem in a file is reported together, each as
``file:line: key.path: message``, because an admin fixing a file one error per
run is an admin who stops using the tool. Unknown keys are errors: a typo in a
limit must not silently leave the limit unset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError

from elastic.instance_sizes import AWS_INSTANCE_SIZES

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"


class ConfigError(Exception):
    """A site.yaml that cannot be used; ``problems`` holds one line per mistake."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(problems))


class _Strict(BaseModel):
    """Unknown keys refused; each field's docstring is its description, which the
    generated site.yaml reference (elastic/config_reference.py, docs/site-yaml.md) prints."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


# SQLAlchemy URL schemes the ledger is tested on; ``postgres`` is the common alias that
# ``Ledger.open`` maps to psycopg 3 like ``postgresql``. Anything else (a mistyped scheme, a
# driver that is not installed) would fail only at the first pass, so it fails here.
STATE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg", "postgres")


def is_database_url(state: str) -> bool:
    """A ``site.state`` with ``://`` is an SQLAlchemy URL, never a file name."""
    return "://" in state


class SiteInfo(_Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    """Short DNS-safe name; node ids, which are also the workers' host names, are
    `<site>-<vo>-<serial>`."""
    state: str = "./var/elastic.db"
    """The ledger: a file path (SQLite, relative to the site file) or an SQLAlchemy URL
    (`postgresql://...`)."""
    templates_dir: str | None = None
    """A folder of the site's own templates (relative to the site file), searched before
    the ones elastic ships: a file there with a packaged template's name (e.g.
    `cloud-init/sge.yaml.j2`) replaces it, a new name adds one; upgrades never touch it."""

    @field_validator("state")
    @classmethod
    def _known_database(cls, state: str) -> str:
        if is_database_url(state):
            scheme = state.split("://", 1)[0].lower()
            if scheme not in STATE_SCHEMES:
                raise ValueError(
                    f"unknown database URL scheme {scheme!r}; use a file path or one of "
                    + ", ".join(f"{s}://" for s in STATE_SCHEMES)
                )
        return state


class ProbeOptions(_Strict):
    """What the DRMAA probe job (``vos[].probe``) needs; every real LRM takes these.

    The upper-case keys are passed as they are to the probe's child process, whose
    libdrmaa reads them at start (``LD_PRELOAD`` cannot be set later)."""

    DRMAA_LIBRARY_PATH: str | None = None
    """The libdrmaa of the `vos[].probe` job, passed as it is to the probe's process
    (with the LRM's own variables)."""
    LD_PRELOAD: str | None = None
    """Passed as it is to the probe's process (SGE under some Pythons needs libjemalloc)."""
    probe_timeout_s: Annotated[float, Field(gt=0)] = 300.0
    """How long a probe job may take to run on a new node before the probe fails."""

    def probe_env(self) -> dict[str, str]:
        """The probe's environment: the DRMAA keys given, plus the LRM's own."""
        given = {"DRMAA_LIBRARY_PATH": self.DRMAA_LIBRARY_PATH, "LD_PRELOAD": self.LD_PRELOAD}
        return {k: v for k, v in given.items() if v is not None} | self.lrm_env()

    def lrm_env(self) -> dict[str, str]:
        """Environment every command of this LRM runs with."""
        return {}


class SgeOptions(ProbeOptions):
    sge_root: str = "/var/lib/gridengine"
    """`SGE_ROOT` of every command (the key may be spelt `SGE_ROOT` too)."""
    sge_cell: str = "default"
    """`SGE_CELL` of every command (the key may be spelt `SGE_CELL` too)."""
    queue: str = "all.q"
    """The cluster queue whose host list each VO's `@<vo>` host group joins."""

    @model_validator(mode="before")
    @classmethod
    def _environment_spelling(cls, data: Any) -> Any:
        """``SGE_ROOT``/``SGE_CELL`` (the environment's spelling, as sites copy it from
        their settings.sh) are ``sge_root``/``sge_cell``; given both ways, they must agree."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for upper, lower in (("SGE_ROOT", "sge_root"), ("SGE_CELL", "sge_cell")):
            if upper not in data:
                continue
            value = data.pop(upper)
            if lower in data and data[lower] != value:
                raise ValueError(f"{upper} ({value!r}) and {lower} ({data[lower]!r}) differ")
            data[lower] = value
        return data

    def lrm_env(self) -> dict[str, str]:
        return {"SGE_ROOT": self.sge_root, "SGE_CELL": self.sge_cell}


class SlurmOptions(ProbeOptions):
    slurm_conf: str | None = None
    """`SLURM_CONF` of every command; unset: Slurm's default."""
    join: Literal["dynamic", "power_save"] = "dynamic"
    """`dynamic`: elastic registers dynamic nodes (`scontrol create`); `power_save`:
    Slurm's ResumeProgram/SuspendProgram call elastic for `State=CLOUD` nodes
    (docs/slurm.md)."""

    def lrm_env(self) -> dict[str, str]:
        return {"SLURM_CONF": self.slurm_conf} if self.slurm_conf is not None else {}


class PbsOptions(ProbeOptions):
    flavor: Literal["torque", "openpbs"] = "torque"
    """`torque`, or `openpbs` for OpenPBS and PBS Pro: which commands and outputs are
    read, and how a node's VO is set."""


class HTCondorOptions(ProbeOptions):
    collector: str | None = None
    """`host[:port]` of the collector; unset: the local HTCondor configuration's."""


class ReplayOptions(_Strict):
    speedup: Annotated[float, Field(gt=0)] = 1.0
    """Workload seconds per second of wall clock."""


class _LrmBase(_Strict):
    """Which resource manager to observe and how to reach it."""

    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    """Timeout of every LRM command, in seconds."""


class SgeLrm(_LrmBase):
    kind: Literal["sge"]
    """Son of Grid Engine (also SGE 6.2 and UGE): docs/sge.md."""
    options: SgeOptions = Field(default_factory=SgeOptions)
    """Options of `kind: sge`."""


class SlurmLrm(_LrmBase):
    kind: Literal["slurm"]
    """Slurm 21.08 and newer: docs/slurm.md."""
    options: SlurmOptions = Field(default_factory=SlurmOptions)
    """Options of `kind: slurm`."""


class PbsLrm(_LrmBase):
    kind: Literal["pbs"]
    """Torque, OpenPBS or PBS Pro: docs/pbs.md."""
    options: PbsOptions = Field(default_factory=PbsOptions)
    """Options of `kind: pbs`."""


class HTCondorLrm(_LrmBase):
    kind: Literal["htcondor"]
    """HTCondor through the htcondor2 bindings: docs/htcondor.md."""
    options: HTCondorOptions = Field(default_factory=HTCondorOptions)
    """Options of `kind: htcondor`."""


class ReplayLrm(_LrmBase):
    kind: Literal["replay"]
    """A recorded workload played back (the demo and the tests); no real LRM."""
    workload: str
    """A YAML job list or an SWF trace, relative to the site file."""
    options: ReplayOptions = Field(default_factory=ReplayOptions)
    """Options of `kind: replay`."""


#: ``lrm``: one model per kind, so each LRM's options are its own (typed, defaulted,
#: unknown keys refused) and ``lrm.options.join: dynamc`` is a validate error, not a
#: traceback at the first pass.
LrmConfig = Annotated[
    SgeLrm | SlurmLrm | PbsLrm | HTCondorLrm | ReplayLrm, Field(discriminator="kind")
]
OPTIONS_OF: dict[str, type[_Strict]] = {
    "sge": SgeOptions,
    "slurm": SlurmOptions,
    "pbs": PbsOptions,
    "htcondor": HTCondorOptions,
    "replay": ReplayOptions,
}
LRM_KINDS = tuple(OPTIONS_OF)
OptionsT = TypeVar("OptionsT", bound=_Strict)


class MatchRule(_Strict):
    """How a job is recognised as this VO's; any listed field matching is enough.

    Values are shell-style patterns (``atlas*``), compared with fnmatch.
    """

    user: list[str] = Field(default_factory=list)
    """Patterns for the job's user (every LRM; HTCondor's `Owner`)."""
    group: list[str] = Field(default_factory=list)
    """Patterns for the job's unix group (SGE, PBS)."""
    project: list[str] = Field(default_factory=list)
    """Patterns for the SGE project, the Slurm QOS, the PBS Pro project or the HTCondor
    proxy VO (`x509UserProxyVOName`)."""
    account: list[str] = Field(default_factory=list)
    """Patterns for the Slurm account, the PBS account or the HTCondor accounting group."""
    queue: list[str] = Field(default_factory=list)
    """Patterns for the SGE queue, the Slurm partition or the PBS queue."""
    feature: list[str] = Field(default_factory=list)
    """Patterns for the Slurm constraint features a job asks for."""

    def is_empty(self) -> bool:
        fields = (self.user, self.group, self.project, self.account, self.queue, self.feature)
        return not any(fields)


class Flavor(_Strict):
    cores: Annotated[int, Field(ge=1)]
    """Cores of one worker (its VM's vCPUs)."""
    memory_mb: Annotated[int, Field(ge=64)]
    """Memory of one worker, in MiB."""
    disk_gb: Annotated[int, Field(ge=1)] = 10
    """Disk of one worker, in GB."""


class Images(_Strict):
    libvirt: str | None = None
    """Base volume in each libvirt host's storage pool; a worker's disk is a copy-on-write
    volume backed by it."""
    ec2: str | None = None
    """AMI id of the VO's EC2 workers."""


class VoCloud(_Strict):
    allowed: bool = False
    """May the VO's demand go to EC2."""
    max_nodes: Annotated[int, Field(ge=0)] = 0
    """Most EC2 workers the VO holds at once."""
    max_hourly_cost: Annotated[float, Field(ge=0)] = 0.0
    """Most the VO's EC2 workers may cost per hour together (by `ec2.prices`)."""
    self_retire_idle_s: Annotated[int, Field(ge=0)] = 1800
    """A cloud worker with no job this long powers itself off once the controller's
    heartbeat is stale (docs/deadman.md)."""
    max_lifetime_s: Annotated[int, Field(gt=0)] | None = None
    """A cloud worker older than this (seconds since boot) powers itself off when it runs
    no job; unset: no limit."""


class Context(_Strict):
    template: str = "sge"
    """The cloud-init template, `cloud-init/<template>.yaml.j2`: `sge`, `slurm`, `pbs`,
    `htcondor` or a site's own (docs/contextualization.md)."""
    vars: dict[str, Any] = Field(default_factory=dict)
    """Per-VO values the template reads (each LRM's page lists its template's)."""
    secrets: dict[str, str] = Field(default_factory=dict)
    """Name -> file path (relative to the site file); the file is read when a worker's
    user-data is rendered, so no secret is written in site.yaml."""


class VoConfig(_Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    """VO name (lowercase, DNS-safe); part of its workers' host names."""
    match: MatchRule
    """How its jobs are recognised: any pattern of any field matching is enough; the
    first VO in file order whose rule matches wins."""
    flavor: Flavor
    """The size of one worker."""
    image: Images = Field(default_factory=Images)
    """The VO's image per provider (docs/contextualization.md: building a VO image)."""
    min_nodes: Annotated[int, Field(ge=0)] = 0
    """Workers kept even with no demand."""
    max_nodes: Annotated[int, Field(ge=0)] = 10
    """Most workers the VO holds, counting every VM (local and cloud, booting to failed)."""
    share: Annotated[float, Field(gt=0)] = 1.0
    """Weight when VOs contend for local capacity and cloud budget."""
    cloud: VoCloud = Field(default_factory=VoCloud)
    """Whether, and within which limits, the VO bursts to EC2."""
    context: Context = Field(default_factory=Context)
    """How a new worker is contextualized (cloud-init)."""
    probe: bool = False
    """Run a DRMAA probe job on each new node before it counts as ready; needs
    `DRMAA_LIBRARY_PATH` (and for SGE under some Pythons `LD_PRELOAD`) in `lrm.options`."""

    @model_validator(mode="after")
    def _limits_agree(self) -> VoConfig:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"min_nodes ({self.min_nodes}) is above max_nodes ({self.max_nodes})")
        if self.match.is_empty():
            raise ValueError(
                "match needs at least one of user, group, project, account, queue, feature"
            )
        return self


class HostConfig(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    """The host's name in elastic (unique): where the ledger says a VM is."""
    uri: str
    """libvirt URI (`qemu:///system`, `qemu+ssh://host/system`, `test:///...`);
    `{site_dir}` is replaced by the site file's folder."""
    cores: Annotated[int, Field(ge=1)]
    """Cores of the host."""
    memory_mb: Annotated[int, Field(ge=64)]
    """Memory of the host, in MiB."""
    reserved_cores: Annotated[int, Field(ge=0)] = 0
    """Cores kept for the host itself, never given to workers."""
    reserved_memory_mb: Annotated[int, Field(ge=0)] = 0
    """Memory kept for the host itself, in MiB."""
    pool: str = "default"
    """libvirt storage pool that holds the VOs' base images and the workers' volumes."""
    network: str = "default"
    """libvirt network of the workers' NIC; empty: no NIC."""
    domain_type: Literal["kvm", "qemu", "test"] | None = None
    """libvirt domain type; unset: `test` for `test:///` URIs, else `kvm`."""
    kernel: str | None = None
    """Direct kernel boot (tests, diskless workers): the kernel's path on the host; unset:
    boot from the disk image."""
    initrd: str | None = None
    """Direct kernel boot: the initrd's path on the host."""
    cmdline: str = "console=ttyS0"
    """Direct kernel boot: the kernel command line."""

    @model_validator(mode="after")
    def _reserve_fits(self) -> HostConfig:
        if self.reserved_cores >= self.cores:
            raise ValueError("reserved_cores leaves no cores for workers")
        if self.reserved_memory_mb >= self.memory_mb:
            raise ValueError("reserved_memory_mb leaves no memory for workers")
        return self


class LocalConfig(_Strict):
    hosts: list[HostConfig] = Field(default_factory=list)
    """Local libvirt hypervisors, where workers go before EC2."""


class InstanceSize(_Strict):
    vcpus: Annotated[int, Field(ge=1)]
    """vCPUs of the instance type (what the LRM may give its jobs as cores)."""
    memory_mb: Annotated[int, Field(ge=64)]
    """Memory of the instance type, in MiB."""


class Ec2Config(_Strict):
    region: str = "us-east-1"
    """AWS region."""
    endpoint_url: str | None = None
    """Another EC2 endpoint; `embedded` starts a local moto server (demo and tests)."""
    instance_types: dict[str, list[str]] = Field(default_factory=dict)
    """VO -> instance types, preferred first (the next one on a capacity error)."""
    subnets: list[str] = Field(default_factory=list)
    """Subnets to launch in, tried in turn after every instance type failed for capacity;
    empty: the default subnet."""
    security_group_ids: list[str] = Field(default_factory=list)
    """Security groups of every worker."""
    key_name: str | None = None
    """EC2 key pair of every worker."""
    spot: bool = False
    """Launch spot instances."""
    max_instances: Annotated[int, Field(ge=0)] = 0
    """Most EC2 workers of the whole site at once (0: no cloud)."""
    prices: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    """Instance type -> hourly price; every type in `instance_types` needs one."""
    instance_sizes: dict[str, InstanceSize] = Field(default_factory=dict)
    """Instance type -> its vCPUs and memory; every type in `instance_types` needs one,
    here or in elastic's table of AWS's published sizes (c5, c6i, m5: docs/sizing.md),
    which these entries extend and override."""
    worker_sizing: Literal["flavor", "jobs"] = "flavor"
    """`flavor`: every EC2 worker of a VO has its flavor, on the first type listed, and
    each type must carry that flavor; `jobs`: each pass chooses every worker's type to fit
    the pending jobs at the least cost per core-hour used, the worker has its type's
    vCPUs and memory, and the VO's largest type must carry its flavor."""
    max_hourly_cost: Annotated[float, Field(ge=0)] = 0.0
    """Most all EC2 workers together may cost per hour (0: no cloud)."""
    connect_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    """botocore's connect timeout: a frozen endpoint costs at most about
    `max_attempts` x (connect + read)."""
    read_timeout_s: Annotated[float, Field(gt=0)] = 20.0
    """botocore's read timeout."""
    max_attempts: Annotated[int, Field(ge=1)] = 4
    """botocore's attempts per call (retries included)."""

    @model_validator(mode="after")
    def _every_type_priced(self) -> Ec2Config:
        for vo, types in self.instance_types.items():
            for instance_type in types:
                if instance_type not in self.prices:
                    raise ValueError(
                        f"instance type {instance_type} of VO {vo} has no entry in ec2.prices"
                    )
                if self.size_of(instance_type) is None:
                    raise ValueError(
                        f"instance type {instance_type} of VO {vo} has no entry in "
                        "ec2.instance_sizes (vcpus, memory_mb) and is not in elastic's table"
                    )
        return self

    def size_of(self, instance_type: str) -> InstanceSize | None:
        """The type's size: the site's own entry first, else AWS's published figures."""
        if instance_type in self.instance_sizes:
            return self.instance_sizes[instance_type]
        known = AWS_INSTANCE_SIZES.get(instance_type)
        return InstanceSize(vcpus=known[0], memory_mb=known[1]) if known else None

    def undersized(self, vo: str, flavor: Flavor) -> str | None:
        """Why the VO's types cannot carry its flavor, or None. A worker priced as a type
        smaller than what the LRM is told it holds would be billed for 8 vCPUs and asked
        to run 32 cores of jobs; with `worker_sizing: jobs` smaller types are fine (they
        carry smaller jobs), but a flavor-sized job still needs one type to fit."""
        sized = [(t, s) for t in self.instance_types.get(vo, []) if (s := self.size_of(t))]

        def short(size: InstanceSize) -> bool:
            return size.vcpus < flavor.cores or size.memory_mb < flavor.memory_mb

        carry = f"VO {vo}'s flavor ({flavor.cores} cores, {flavor.memory_mb} MB)"
        if self.worker_sizing == "flavor":
            for name, size in sized:
                if short(size):
                    return (
                        f"instance type {name} ({size.vcpus} vCPUs, {size.memory_mb} MB) "
                        f"cannot carry {carry}"
                    )
            return None
        if sized and all(short(size) for _, size in sized):
            name, size = max(sized, key=lambda pair: (pair[1].vcpus, pair[1].memory_mb))
            return (
                f"no instance type can carry {carry}: the largest, {name}, has "
                f"{size.vcpus} vCPUs, {size.memory_mb} MB"
            )
        return None


#: seconds, or ``auto``: derived from the measured boot time (elastic/planning/thresholds.py)
AutoSeconds = Annotated[int, Field(ge=0)] | Literal["auto"]


class Policy(_Strict):
    """When passes run and how far each may go; docs/reliability.md says what each fail-safe
    key does with a fault."""

    pass_interval_s: Annotated[int, Field(ge=1)] = 60
    """Seconds between the passes of `elastic daemon`."""
    orphan_grace_s: Annotated[int, Field(ge=0)] = 600
    """A VM with elastic's tags and no live ledger row is destroyed after this long, and
    only once the LRM was read and shows it running nothing."""
    dark_timeout_s: Annotated[int, Field(ge=0)] = 600
    """A ready or draining node the LRM shows down or does not list for this long is
    failed, removed from the LRM and destroyed."""
    lrm_vanish_fraction: Annotated[float, Field(gt=0, le=1)] = 0.5
    """A reading that loses at least this share of the registered nodes (and at least
    `lrm_vanish_min_nodes` of them) is implausible: the pass is degraded, no scale-down."""
    lrm_vanish_min_nodes: Annotated[int, Field(ge=1)] = 2
    """The fewest lost registered nodes that make a reading implausible."""
    lrm_vanish_min_jobs: Annotated[int, Field(ge=1)] = 20
    """A reading with an empty queue (nothing running or pending) where the last one had
    this many running is implausible."""
    lrm_vanish_grace_s: Annotated[int, Field(ge=0)] = 900
    """How long an implausible reading stops scale-down; after that the missing nodes are
    dark nodes."""
    lrm_grace_s: Annotated[int, Field(ge=0)] = 0
    """An unreadable LRM's last good reading may drive boots (never scale-down) this long
    (0: off)."""
    burst_when_local_unreadable: bool = False
    """May the demand an unreadable libvirt host would have served go to EC2 (false: an
    unreadable host is not a full one)."""
    boot_backoff_s: Annotated[int, Field(ge=0)] = 60
    """Failed boots of a VO on a target (a host, an EC2 instance type) wait
    `boot_backoff_s` x 2^(failures-1) before the target is tried again."""
    boot_backoff_max_s: Annotated[int, Field(ge=0)] = 3600
    """The longest such wait."""
    boot_failures_before_failover: Annotated[int, Field(ge=1)] = 2
    """After this many failed boots on a target, the demand goes to the next host, then
    EC2."""
    act_deadline_s: Annotated[float, Field(gt=0)] = 120.0
    """All acting of one pass must answer within this; a hung call is abandoned, its
    intent left for the next pass, and the pass ends degraded."""
    boot_timeout_s: Annotated[int, Field(ge=1)] = 900
    """A node that has not joined the LRM this long after its boot is destroyed."""
    idle_timeout_local_s: AutoSeconds = 900
    """Idle time before a local worker is drained; `auto`: the local boot p95 (what draining
    it costs its VO's next job), and never less than the cloud idle timeout."""
    idle_timeout_cloud_s: AutoSeconds = 300
    """Idle time before a cloud worker is drained; `auto`: the EC2 boot p95 (at least the
    60 s billing minimum), the rent-or-buy break-even of replacing it (docs/thresholds.md)."""
    drain_timeout_s: Annotated[int, Field(ge=0)] = 3600
    """How long a drain may wait for running jobs before it is reported."""
    max_boots_per_pass: Annotated[int, Field(ge=0)] = 20
    """Boots per pass, all VOs together."""
    max_early_drains_per_pass: Annotated[int, Field(ge=0)] = 20
    """Drains before a node's idle timeout (`reclaim_idle`, `repatriate_cloud`) per pass;
    idle-timeout drains are not capped."""
    cloud_burst_after_s: AutoSeconds = 0
    """Burst to EC2 only for jobs pending at least this long (rent-or-buy); `auto`: the EC2
    boot p95, the break-even wait (docs/thresholds.md)."""
    cloud_boot_s: Annotated[int, Field(ge=0)] = 180
    """Seconds from an EC2 request to a worker taking jobs (boot, cloud-init, LRM join):
    cores that running jobs free sooner, by their walltimes, are waited for, not rented."""
    reclaim_idle: bool = True
    """When a VO finds no local room, drain other VOs' spare idle local workers before
    their idle timeout (false: each VO keeps its idle workers until their timeout)."""
    repatriate_cloud: bool = True
    """Drain an idle cloud worker at once, before its idle timeout, when a spare idle local
    worker of its VO or free host room could take its VO's next jobs; and destroy a booting
    one not yet joined when local room found this pass is up no later than it plus the burst
    delay."""
    heartbeat_timeout_s: Annotated[int, Field(ge=60)] = 900
    """Cloud workers count the controller dead when its heartbeat tag is older than this
    (at least twice `pass_interval_s`; docs/deadman.md)."""

    @model_validator(mode="after")
    def _heartbeat_outlasts_a_pass(self) -> Policy:
        # the heartbeat is renewed once a pass: one slow pass must not power workers off
        if self.heartbeat_timeout_s < 2 * self.pass_interval_s:
            raise ValueError(
                f"heartbeat_timeout_s ({self.heartbeat_timeout_s}) must be at least twice "
                f"pass_interval_s ({self.pass_interval_s})"
            )
        return self


class MetricsConfig(_Strict):
    """Prometheus metrics (docs/metrics.md): the daemon serves them, run-once writes them."""

    listen: str | None = "127.0.0.1:9464"
    """`host:port` where `elastic daemon` serves `/metrics`; null: not served."""
    textfile: str | None = None
    """The file `elastic run-once` writes the metrics to (node_exporter's textfile
    collector, `*.prom`); unset: none."""

    @field_validator("listen")
    @classmethod
    def _host_port(cls, listen: str | None) -> str | None:
        if listen is None:
            return None
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"listen must be host:port (e.g. 127.0.0.1:9464), not {listen!r}")
        return listen


class ReservationsConfig(_Strict):
    """Advance reservations (docs/reservations.md): how far ahead their nodes are booted.

    A reservation's nodes are booted from ``start - lead``, where lead is the provider's
    boot-to-ready time (the p95 of the ledger's history, ``boot_estimate_s`` until there
    is one) plus ``register_s`` plus ``margin_s``."""

    boot_estimate_s: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: {"libvirt": 300, "ec2": 300}
    )
    """Boot-to-ready seconds per provider (`libvirt`, `ec2`) until the ledger has a history
    of boots to take the p95 of."""

    @field_validator("boot_estimate_s")
    @classmethod
    def _providers(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - {"libvirt", "ec2"})
        if unknown:
            raise ValueError(f"boot_estimate_s keys are libvirt and ec2, not {', '.join(unknown)}")
        return {"libvirt": 300, "ec2": 300, **value}

    register_s: Annotated[int, Field(ge=0)] = 60
    """Seconds from a VM's boot to the LRM listing it, added to the lead."""
    margin_s: Annotated[int, Field(ge=0)] = 300
    """Seconds of margin added to the lead."""
    hold_ahead_s: Annotated[int, Field(ge=0)] = 3600
    """For this long before its lead, a reservation's local room is kept free of new queue
    boots, so that idle queue workers on it have time to time out and leave."""
    drain_ahead_s: Annotated[int, Field(ge=0)] = 14400
    """The farthest before its lead that a reservation drains queue workers on the room
    it needs (idle ones, and busy ones whose jobs' walltimes end before the lead: none is
    killed), and the run time assumed for a job without a walltime. A worker is drained
    once a job starting on it could run past the lead; its room is kept from then on."""


class Site(_Strict):
    """The validated site policy. ``source`` is the file it came from."""

    site: SiteInfo
    """The site's name and its ledger."""
    lrm: LrmConfig
    """The local resource manager elastic observes and registers workers in."""
    vos: list[VoConfig]
    """The virtual organizations, each with its own workers; order matters for matching."""
    local: LocalConfig = Field(default_factory=LocalConfig)
    """Local hypervisors."""
    ec2: Ec2Config | None = None
    """Amazon EC2 (or a compatible endpoint); unset: no cloud."""
    policy: Policy = Field(default_factory=Policy)
    """Timeouts, limits per pass and fail-safe thresholds."""
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    """Prometheus metrics (docs/metrics.md)."""
    reservations: ReservationsConfig = Field(default_factory=ReservationsConfig)
    """Advance reservations (docs/reservations.md)."""
    source: str = Field(default="", exclude=True)
    """The file this site was read from (set by the loader, never written in site.yaml)."""

    @field_validator("vos")
    @classmethod
    def _vo_names_unique(cls, vos: list[VoConfig]) -> list[VoConfig]:
        names = [vo.name for vo in vos]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"VO names must be unique; repeated: {', '.join(duplicates)}")
        return vos

    @model_validator(mode="after")
    def _cross_references(self) -> Site:
        if self.ec2 is not None:
            known = {vo.name for vo in self.vos}
            for vo_name in self.ec2.instance_types:
                if vo_name not in known:
                    raise ValueError(f"ec2.instance_types names unknown VO {vo_name!r}")
            for vo in (v for v in self.vos if v.cloud.allowed):  # else its types are moot
                if (problem := self.ec2.undersized(vo.name, vo.flavor)) is not None:
                    raise ValueError(f"ec2.instance_types: {problem}")
        hosts = [h.name for h in self.local.hosts]
        if len(set(hosts)) != len(hosts):
            raise ValueError("local.hosts names must be unique")
        return self

    def vo(self, name: str) -> VoConfig:
        for vo in self.vos:
            if vo.name == name:
                return vo
        raise KeyError(name)

    def lrm_options(self, wanted: type[OptionsT]) -> OptionsT:
        """The LRM's options as the model a caller needs (``SlurmOptions`` for
        slurm-resume); a site of another LRM is the user's mistake, a ConfigError."""
        options = self.lrm.options
        if not isinstance(options, wanted):
            kinds = ", ".join(k for k, model in OPTIONS_OF.items() if issubclass(model, wanted))
            where = Path(self.source).name or "site.yaml"
            problem = f"{where}: lrm.kind is {self.lrm.kind}; this needs {kinds}"
            raise ConfigError(Path(self.source), [problem])
        return options

    def host(self, name: str) -> HostConfig | None:
        for host in self.local.hosts:
            if host.name == name:
                return host
        return None

    def state_is_url(self) -> bool:
        return is_database_url(self.site.state)

    def state_path(self) -> Path:
        """The ledger file, relative paths taken from the site file's folder.

        Only for a file ledger: a URL run through ``Path`` would quietly become a SQLite
        file named after it, so a URL raises ValueError (use ``state_url``).
        """
        if self.state_is_url():
            raise ValueError(f"site.state of {self.site.name} is a database URL, not a file")
        return self.resolve(self.site.state)

    def state_url(self) -> str:
        """What ``Ledger.open`` takes: the URL as written, or the resolved ledger file."""
        return self.site.state if self.state_is_url() else str(self.state_path())

    def state_side_file(self, suffix: str) -> Path:
        """A local file that belongs to this site's ledger (its lock, the replay state).

        Next to a ledger file, ``<state><suffix>``, as before; for a database URL, in the
        site file's folder, ``.elastic-<site name><suffix>``: a lock must be a local file
        even when the ledger is on a server.
        """
        if self.state_is_url():
            return self.resolve(f".elastic-{self.site.name}{suffix}")
        return Path(str(self.state_path()) + suffix)

    def resolve(self, relative: str) -> Path:
        path = Path(relative)
        if not path.is_absolute() and self.source:
            path = Path(self.source).parent / path
        return path


def _line_of(document: Any, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest key in ``loc`` that exists in the YAML."""
    node = document
    line: int | None = None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            pos = node.lc.key(part)
            line = pos[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            pos = node.lc.item(part)
            line = pos[0] + 1
            node = node[part]
        else:
            break
    return line


def _key_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in {"function-after", "function-before"} or "[" in str(part):
            continue
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key (check the spelling)"
    if kind == "missing":
        return "required key is missing"
    if kind in {"greater_than_equal", "greater_than"}:
        sign = "≥" if kind == "greater_than_equal" else ">"
        bound = ctx.get("ge", ctx.get("gt"))
        return f"must be {sign} {bound}"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        return "must be one of " + ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected"))))
    if kind == "union_tag_invalid":
        return "must be one of " + ", ".join(
            re.findall(r"'([^']*)'", str(ctx.get("expected_tags")))
        )
    if kind == "union_tag_not_found":
        return "required key is missing"
    if kind in {"float_parsing", "float_type", "int_parsing", "int_type"}:
        return "must be a number" if kind.startswith("float") else "must be a whole number"
    return str(error["msg"])


def _problem_loc(error: dict[str, Any]) -> tuple[int | str, ...]:
    """Where in the file a problem is: ``lrm``'s errors carry the kind that chose its
    model (``lrm.sge.options``), which is no key of the file; a kind that chose none is
    a problem of ``lrm.kind``."""
    loc = tuple(error["loc"])
    if loc[:1] == ("lrm",) and len(loc) > 1 and loc[1] in LRM_KINDS:
        loc = loc[:1] + loc[2:]
    if error["type"] in {"union_tag_invalid", "union_tag_not_found"}:
        loc = (*loc, "kind")
    return loc


@dataclass(frozen=True)
class Positions:
    """Where each key of a site file is: the checks that run on a valid Site
    (``elastic.checks``) point at a line as the schema errors do."""

    name: str  # the file's name, as problems print it
    document: Any  # ruamel's round-trip tree, which knows each key's line

    def line(self, *loc: int | str) -> int:
        """The line of the deepest key of ``loc`` the file has (1 if none)."""
        return _line_of(self.document, loc) or 1

    def at(self, *loc: int | str) -> str:
        """``file:line: key.path``, the head of a problem line."""
        return f"{self.name}:{self.line(*loc)}: {_key_path(loc)}"


def parse_site(text: str, source: str = "site.yaml") -> Site:
    """Validate YAML text; raises ConfigError listing every problem with its line."""
    return parse_site_positions(text, source)[0]


def parse_site_positions(text: str, source: str = "site.yaml") -> tuple[Site, Positions]:
    """``parse_site``, and where each key is, for the checks of ``elastic validate``."""
    name = Path(source).name if source else "site.yaml"
    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 0
        raise ConfigError(Path(source), [f"{name}:{line}: not valid YAML: {exc.problem}"]) from exc
    except ReaderError as exc:  # a character YAML does not allow (NUL, BEL ...): no mark
        line = text[: exc.position].count("\n") + 1
        problem = f"{name}:{line}: not valid YAML: character {exc.character!r} is not allowed"
        raise ConfigError(Path(source), [problem]) from exc
    if not isinstance(document, dict):
        raise ConfigError(Path(source), [f"{name}:1: the file must be a mapping of sections"])
    try:
        site = Site.model_validate(_plain(document))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = _problem_loc(dict(error))
            line = _line_of(document, loc) or 1
            problems.append(f"{name}:{line}: {_key_path(loc)}: {_describe(dict(error))}")
        raise ConfigError(Path(source), problems) from exc
    return site.model_copy(update={"source": str(source)}), Positions(name, document)


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers to plain dicts and lists for pydantic."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def load_site(path: Path | str) -> Site:
    return load_site_positions(path)[0]


def load_site_positions(path: Path | str) -> tuple[Site, Positions]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, [f"{path}: cannot read: {exc.strerror}"]) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problem = f"{path.name}:{line}: not UTF-8 text (byte {data[exc.start]:#04x})"
        raise ConfigError(path, [problem]) from exc
    return parse_site_positions(text, str(path))


def find_site_file(explicit: str | None) -> Path:
    """``--config``, else ./site.yaml, else /etc/elastic/site.yaml."""
    if explicit:
        return Path(explicit)
    for candidate in (Path("site.yaml"), Path("/etc/elastic/site.yaml")):
        if candidate.exists():
            return candidate
    return Path("site.yaml")

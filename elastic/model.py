"""Plain data shared by every layer: jobs, nodes, hosts, observations and actions.

Layer: bottom. Imports nothing from elastic. Everything here is a frozen dataclass
so an observation or a plan can be passed around, compared in tests and logged
without anyone mutating it behind the planner's back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

#: how a frozen class sets its own fields, bypassing its refusing ``__setattr__``
_set_fields = object.__setattr__


class NodeState(StrEnum):
    """Life of a worker node as elastic records it (the ledger's view)."""

    REQUESTED = "requested"  # intent written, provider not yet called
    BOOTING = "booting"  # the provider accepted the VM
    JOINING = "joining"  # registered with the LRM, waiting for it to report in
    READY = "ready"  # the LRM sees it
    DRAINING = "draining"  # no new jobs; running ones finish
    RETIRING = "retiring"  # being removed from the LRM and destroyed
    GONE = "gone"
    FAILED = "failed"
    ORPHAN = "orphan"  # a VM with our tags and no live ledger row, kept for orphan_grace_s


#: States in which a node holds (or will hold) a VM and counts as capacity.
CAPACITY_STATES = frozenset(
    {NodeState.REQUESTED, NodeState.BOOTING, NodeState.JOINING, NodeState.READY}
)
#: States in which the node still exists somewhere and must not be forgotten.
EXISTING_STATES = CAPACITY_STATES | {
    NodeState.DRAINING,
    NodeState.RETIRING,
    NodeState.FAILED,
    NodeState.ORPHAN,
}


class LrmNodeState(StrEnum):
    """A node as the resource manager reports it."""

    IDLE = "idle"
    BUSY = "busy"
    DRAINING = "draining"  # draining with jobs still running
    DRAINED = "drained"  # draining and empty
    DOWN = "down"  # down, offline, unreachable
    ABSENT = "absent"  # the LRM was read and does not list the node
    UNKNOWN = "unknown"  # listed in an unknown state, or the LRM could not be read


def lrm_activity(draining: bool, busy: bool) -> LrmNodeState:
    """The state of a node the LRM shows up, from whether it takes new jobs and runs any.

    The one rule every adapter and the simulator apply, so "drained" always means
    disabled *and* empty: a disabled node that still runs a job is DRAINING, and
    only DRAINED or IDLE may ever count as empty.
    """
    if draining:
        return LrmNodeState.DRAINING if busy else LrmNodeState.DRAINED
    return LrmNodeState.BUSY if busy else LrmNodeState.IDLE


def is_idle(state: NodeState, lrm_state: LrmNodeState, running: int) -> bool:
    """Idle: ready in the ledger, idle in the LRM, running nothing. The one idle rule: it
    starts a node's idle clock (reconcile) and makes it a candidate to reuse or retire."""
    return state is NodeState.READY and lrm_state is LrmNodeState.IDLE and running == 0


class ProviderKind(StrEnum):
    LIBVIRT = "libvirt"
    EC2 = "ec2"


@dataclass(frozen=True, init=False)
class Job:
    """A pending (or running) job as the LRM reports it.

    ``count`` stands for identical instances (array tasks) so that a 100k-task
    array is one object, not 100k. ``cores`` and ``memory_mb`` are per instance;
    an instance spanning ``nodes`` hosts splits them evenly across the hosts.

    The parsers build one per job record, a million of them for the biggest queues:
    the ``__init__`` below sets all fields at once, where a frozen dataclass's own sets
    each through ``object.__setattr__`` (4.2 us against 1.9 us a job, measured). It
    must list the fields in order with their defaults; a test holds it to that.
    """

    id: str
    cores: int = 1
    memory_mb: int = 0
    vo: str | None = None
    count: int = 1
    nodes: int = 1
    walltime_s: int | None = None
    runnable: bool = True
    running: bool = False
    user: str | None = None
    group: str | None = None
    project: str | None = None
    queue: str | None = None
    account: str | None = None
    features: tuple[str, ...] = ()  # node features the job asks for (Slurm --constraint)
    submit_time: float | None = None
    start_time: float | None = None  # when a running job started
    #: the execution hosts a running job runs on (empty when the LRM does not say)
    hosts: tuple[str, ...] = ()
    reason: str = ""  # why it is not runnable, when it is not

    def __init__(
        self,
        id: str,
        cores: int = 1,
        memory_mb: int = 0,
        vo: str | None = None,
        count: int = 1,
        nodes: int = 1,
        walltime_s: int | None = None,
        runnable: bool = True,
        running: bool = False,
        user: str | None = None,
        group: str | None = None,
        project: str | None = None,
        queue: str | None = None,
        account: str | None = None,
        features: tuple[str, ...] = (),
        submit_time: float | None = None,
        start_time: float | None = None,
        hosts: tuple[str, ...] = (),
        reason: str = "",
    ) -> None:
        _set_fields(
            self,
            "__dict__",
            {
                "id": id,
                "cores": cores,
                "memory_mb": memory_mb,
                "vo": vo,
                "count": count,
                "nodes": nodes,
                "walltime_s": walltime_s,
                "runnable": runnable,
                "running": running,
                "user": user,
                "group": group,
                "project": project,
                "queue": queue,
                "account": account,
                "features": features,
                "submit_time": submit_time,
                "start_time": start_time,
                "hosts": hosts,
                "reason": reason,
            },
        )

    @property
    def cores_per_node(self) -> int:
        return -(-self.cores // max(1, self.nodes))

    @property
    def memory_mb_per_node(self) -> int:
        return -(-self.memory_mb // max(1, self.nodes))


@dataclass(frozen=True)
class LrmNode:
    """An execution host in the LRM's own listing."""

    name: str
    state: LrmNodeState
    cores: int = 0
    memory_mb: int = 0
    running_jobs: int = 0
    vo: str | None = None


@dataclass(frozen=True)
class LrmReservation:
    """An advance reservation as the LRM reports it (Slurm ``scontrol show reservation``,
    SGE ``qrstat``, PBS ``pbs_rstat``): who may use it, when, and what it holds. Times
    are epoch seconds; ``nodes`` are expanded host names where the LRM names them."""

    name: str
    start: float
    end: float
    nodes: tuple[str, ...] = ()
    node_count: int = 0
    #: cores (SGE slots, PBS ncpus) when the LRM counts those rather than nodes
    cores: int = 0
    users: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    partition: str = ""
    #: the LRM's own word (Slurm ACTIVE/INACTIVE, SGE r/w, PBS RESV_CONFIRMED ...)
    state: str = ""
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueSnapshot:
    """One consistent read of an LRM: what waits and where things run."""

    jobs: tuple[Job, ...] = ()
    nodes: tuple[LrmNode, ...] = ()
    #: the LRM's advance reservations (empty where the adapter does not read them)
    reservations: tuple[LrmReservation, ...] = ()

    def node(self, name: str) -> LrmNode | None:
        for node in self.nodes:
            if node.name == name:
                return node
        return None


@dataclass(frozen=True)
class Host:
    """A local hypervisor with what is still free on it for new workers."""

    name: str
    cores_total: int
    memory_mb_total: int
    cores_free: int
    memory_mb_free: int
    reachable: bool = True
    error: str = ""  # why it could not be read, when it could not


@dataclass(frozen=True)
class VMRef:
    """Where a worker's VM lives: enough for a provider to find and destroy it."""

    node_id: str
    provider: ProviderKind
    location: str  # hypervisor host name, or EC2 region
    instance_id: str = ""  # libvirt domain name or EC2 instance id
    vo: str = ""
    instance_type: str = ""
    running: bool = True
    launched_at: float | None = None
    #: the provider has ended it (EC2 shutting-down/terminated): the VM is as good as gone
    terminated: bool = False
    #: why the provider stopped or ended it, in the provider's words (EC2 StateReason)
    state_reason: str = ""


@dataclass(frozen=True)
class Inventory:
    """What a provider holds now. ``vms`` are only those carrying our tags."""

    provider: ProviderKind
    hosts: tuple[Host, ...] = ()
    vms: tuple[VMRef, ...] = ()


@dataclass(frozen=True)
class NodeSpec:
    """What one worker is: its name, VO, where it runs and its shape.

    The one definition of a node's identity. A planned boot, the request a provider
    gets, the ledger's record and the planner's merged view are each a NodeSpec plus
    what that stage adds, so a field is added once and travels through every stage;
    the simulator's nodes carry one too.
    """

    id: str
    vo: str
    provider: ProviderKind
    location: str  # hypervisor host name, or EC2 region
    cores: int
    memory_mb: int
    instance_type: str = ""
    hourly_cost: float = 0.0

    @property
    def node_id(self) -> str:
        """The name actions, requests and events call the node by."""
        return self.id

    def spec(self) -> NodeSpec:
        """The identity alone, without what a later stage added."""
        return NodeSpec(**spec_fields(self))


def spec_fields(node: NodeSpec) -> dict[str, Any]:
    """The NodeSpec fields of ``node``, to build the next stage's type from it."""
    return {f.name: getattr(node, f.name) for f in fields(NodeSpec)}


@dataclass(frozen=True, kw_only=True)
class BootRequest(NodeSpec):
    """Everything a provider needs to create one worker; idempotent per ``id``."""

    hostname: str
    site: str
    disk_gb: int
    image: str
    user_data: str = ""
    instance_types: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class NodeRecord(NodeSpec):
    """One node as the ledger records it: what elastic asked for and where it stands."""

    state: NodeState
    created_at: float
    state_since: float
    instance_id: str = ""
    boot_deadline: float | None = None
    idle_since: float | None = None
    reason: str = ""
    #: first pass the LRM showed this READY node down or absent; None while it is up
    dark_since: float | None = None
    #: running jobs at the last trusted reading: an ABSENT node that ran jobs is not empty
    last_running: int = 0


@dataclass(frozen=True)
class Intent:
    """An action opened in the ledger before its side effect and closed after it."""

    id: int
    node_id: str
    kind: str
    opened_at: float
    closed_at: float | None
    outcome: str | None
    detail: str


@dataclass(frozen=True, kw_only=True)
class WorkerNode(NodeRecord):
    """The merged view of one managed worker: its ledger record plus the LRM's reading.

    This is what the planner sees of a node. ``lrm_state`` is ABSENT when the
    LRM was read and does not list the node, UNKNOWN (the default) when it could
    not be read or reports a state it cannot vouch for: such a node is never retired.
    """

    lrm_state: LrmNodeState = LrmNodeState.UNKNOWN
    running_jobs: int = 0
    #: when the walltimes of the jobs running on it end, at the latest (epoch seconds);
    #: None when it runs nothing, or runs a job whose end the LRM does not bound
    busy_until: float | None = None

    @property
    def idle(self) -> bool:
        return is_idle(self.state, self.lrm_state, self.running_jobs)

    @classmethod
    def of(
        cls,
        record: NodeRecord,
        lrm_state: LrmNodeState = LrmNodeState.UNKNOWN,
        running: int = 0,
        busy_until: float | None = None,
    ) -> WorkerNode:
        """A ledger row merged with the LRM's view of it."""
        values = {f.name: getattr(record, f.name) for f in fields(NodeRecord)}
        return cls(**values, lrm_state=lrm_state, running_jobs=running, busy_until=busy_until)


@dataclass(frozen=True)
class BootBackoff:
    """Consecutive boot failures of one VO on one target, and when to try it again.

    The target is a local host, or for EC2 an instance type (``location``): a bad
    AMI fails on every type, a capacity shortage on one.
    """

    vo: str
    provider: ProviderKind
    location: str
    failures: int
    until: float
    last_error: str = ""

    def active(self, now: float) -> bool:
        return now < self.until


class ReservationState(StrEnum):
    """Life of a reservation (Haizea's lease, for a batch site)."""

    REFUSED = "refused"  # admission said no, with the reason; final
    ACCEPTED = "accepted"  # admitted; nothing to do before start - lead
    PREPARING = "preparing"  # inside its lead time: its nodes are being booted
    READY = "ready"  # every node it needs is up in the LRM, before the start
    ACTIVE = "active"  # between start and end
    DONE = "done"  # ended; its nodes went back to normal idle handling; final
    FAILED = "failed"  # ended without all its nodes up at any time during it; final
    CANCELLED = "cancelled"  # final


#: states in which a reservation still holds (or will hold) room
OPEN_RESERVATION_STATES = frozenset(
    {
        ReservationState.ACCEPTED,
        ReservationState.PREPARING,
        ReservationState.READY,
        ReservationState.ACTIVE,
    }
)


@dataclass(frozen=True)
class Reservation:
    """``nodes`` workers of ``vo``'s flavor, up in the LRM from ``start`` until ``end``.

    Requested through elastic (``source`` "elastic", stored in the ledger) or read from
    the LRM (``source`` "slurm", "sge": its own name and, for Slurm, the node names it
    holds). ``burst``: the nodes may go to EC2 when local room cannot be freed in time.
    """

    id: str
    vo: str
    nodes: int
    start: float
    end: float
    source: str = "elastic"
    name: str = ""
    burst: bool = True
    state: ReservationState = ReservationState.ACCEPTED
    reason: str = ""
    created_at: float = 0.0
    #: nodes of the VO up in the LRM at the start (None before the start)
    ready_at_start: int | None = None
    #: seconds after the start the last node came up (0: on time; None: not yet)
    late_s: float | None = None
    #: the LRM's node names the reservation holds (Slurm), when it names them
    lrm_nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Observation:
    """Everything the planner may know, gathered in one pass.

    ``lrm_ok`` is False when the LRM could not be read: then there is no demand
    to act on and nothing may be retired.
    """

    jobs: tuple[Job, ...]
    nodes: tuple[WorkerNode, ...]
    hosts: tuple[Host, ...]
    lrm_ok: bool = True
    cloud_ok: bool = True
    local_ok: bool = True
    next_serial: int = 1
    #: False when the LRM reading is implausible (registered nodes vanished, running
    #: jobs dropped to none) or is the last good one kept from an earlier pass: boots
    #: may follow it, nothing may be drained or destroyed on it
    scale_down_ok: bool = True
    backoffs: tuple[BootBackoff, ...] = ()
    #: open reservations, from the ledger and the LRM
    reservations: tuple[Reservation, ...] = ()
    #: measured boot-to-ready seconds per provider (p95 of the ledger's history), where
    #: there is a history; the lead time of a reservation is planned from it
    boot_p95_s: dict[ProviderKind, float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Boot(NodeSpec):
    """Create the worker ``id`` for ``vo`` on ``location`` (a host, or an EC2 region)."""

    reason: str
    #: the reservation this node is booted ahead for ("" for the queue's demand)
    reservation: str = ""

    kind = "boot"


@dataclass(frozen=True)
class Drain:
    node_id: str
    vo: str
    reason: str
    #: the reservation whose room the drain frees ("" for the queue's own scale-down)
    reservation: str = ""

    kind = "drain"


@dataclass(frozen=True)
class Destroy:
    node_id: str
    vo: str
    reason: str
    #: the node never joined the LRM by its boot deadline: a boot failure of its target
    never_joined: bool = False

    kind = "destroy"


@dataclass(frozen=True)
class Probe:
    """Run the VO's probe job (``probe: true``) on a node that joined the LRM: the node
    stays JOINING until one ran; the engine adds it after planning (a dry run lists it)."""

    node_id: str
    vo: str
    reason: str

    kind = "probe"


@dataclass(frozen=True)
class PowerUp:
    """Ask the LRM to power a node up now (Slurm ``state=power_up``): on a ``join:
    power_save`` site the LRM then calls elastic's ResumeProgram, which boots it within
    every limit. Used ahead of a reservation's start, where Slurm alone would wait for
    the reservation's jobs."""

    node_id: str
    vo: str
    reason: str

    kind = "power-up"


Action = Boot | Drain | Destroy | Probe | PowerUp


@dataclass(frozen=True)
class Unplaceable:
    """Jobs the site cannot serve, reported rather than silently dropped."""

    job_id: str
    vo: str | None
    reason: str
    count: int = 1


class Cause(StrEnum):
    """Why a wanted node was not booted, or an idle node was kept: one binding limit each.

    The figures that go with each cause are in ``Reason.figures``; the planning package
    (``elastic.planning.reasons``) builds every reason and its words.
    """

    LRM_UNREAD = "lrm_unread"
    VO_MAX_NODES = "vo_max_nodes"
    BOOT_BUDGET = "boot_budget"
    BACKOFF = "backoff"
    NO_LOCAL_IMAGE = "no_local_image"
    NO_LOCAL_HOSTS = "no_local_hosts"
    NO_LOCAL_ROOM = "no_local_room"
    LOCAL_UNREADABLE = "local_unreadable"
    HOSTS_UNREADABLE = "hosts_unreadable"
    BURST_DELAY = "burst_delay"
    FREEING_SOON = "freeing_soon"
    CLOUD_NOT_ALLOWED = "cloud_not_allowed"
    NO_CLOUD = "no_cloud"
    CLOUD_UNREADABLE = "cloud_unreadable"
    NO_INSTANCE_TYPES = "no_instance_types"
    NO_CLOUD_IMAGE = "no_cloud_image"
    VO_CLOUD_MAX_NODES = "vo_cloud_max_nodes"
    SITE_MAX_INSTANCES = "site_max_instances"
    VO_CLOUD_BUDGET = "vo_cloud_budget"
    SITE_CLOUD_BUDGET = "site_cloud_budget"
    # idle nodes kept
    IDLE_BELOW_TIMEOUT = "idle_below_timeout"
    NEEDED = "needed"
    MIN_NODES = "min_nodes"
    SCALE_DOWN_HELD = "scale_down_held"
    TAKES_CLOUD_WORK = "takes_cloud_work"
    RESERVED = "reserved"
    # a reservation's node that could not be placed
    RESERVATION_AT_RISK = "reservation_at_risk"


@dataclass(frozen=True)
class Reason:
    """One cause with its figures (``limit``, ``held``, ``until`` ...) and the same in words."""

    cause: Cause
    text: str
    figures: dict[str, float | int | str] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Short:
    """``count`` wanted nodes of a VO not booted this pass, for one binding ``reason``;
    ``also`` says why the other provider could not take them either, when it matters."""

    count: int
    reason: Reason
    also: Reason | None = None

    def words(self) -> str:
        also = f" (and {self.also.text})" if self.also is not None else ""
        return f"{self.count} short: {self.reason.text}{also}"


@dataclass(frozen=True)
class Kept:
    """An idle node not drained this pass, and why."""

    node_id: str
    reason: Reason


@dataclass(frozen=True)
class VoDecision:
    """One line per VO per pass: what the planner saw and why it did what it did.

    ``wanted`` new nodes = booted (local + cloud) less ``reserved`` + ``reclaimed`` (room
    freed from another VO's idle workers, booted next pass) + the counts in ``short``;
    ``covered`` is what booting and idle nodes already hold of ``nodes_needed``.
    ``reserved`` of the boots are for the VO's reservations (not its queue), and
    ``at_risk`` says which reservation nodes found no place, and why.
    """

    vo: str
    pending_jobs: int
    nodes_needed: int
    nodes_alive: int
    boots_local: int
    boots_cloud: int
    drains: int
    destroys: int
    covered: int = 0
    wanted: int = 0
    reclaimed: int = 0
    short: tuple[Short, ...] = ()
    kept: tuple[Kept, ...] = ()
    #: a pass-wide hold (the LRM unread): nothing was decided for this VO
    hold: Reason | None = None
    reserved: int = 0
    at_risk: tuple[Short, ...] = ()

    @property
    def short_count(self) -> int:
        return sum(s.count for s in self.short)

    def summary(self) -> str:
        notes = [s.words() for s in self.short]
        notes += [f"reservation at risk: {s.words()}" for s in self.at_risk]
        if self.reserved:
            notes.insert(0, f"{self.reserved} booted for reservations")
        if self.reclaimed:
            notes.insert(0, f"{self.reclaimed} wait for local room freed from idle workers")
        if self.hold is not None:
            notes.insert(0, self.hold.text)
        return (
            f"vo={self.vo} pending={self.pending_jobs} need={self.nodes_needed} "
            f"alive={self.nodes_alive} covered={self.covered} want={self.wanted} "
            f"boot_local={self.boots_local} boot_cloud={self.boots_cloud} "
            f"drain={self.drains} destroy={self.destroys}"
            + (f" ({'; '.join(notes)})" if notes else "")
        )


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = ()
    unplaceable: tuple[Unplaceable, ...] = ()
    decisions: tuple[VoDecision, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def boots(self) -> tuple[Boot, ...]:
        return tuple(a for a in self.actions if isinstance(a, Boot))

    @property
    def drains(self) -> tuple[Drain, ...]:
        return tuple(a for a in self.actions if isinstance(a, Drain))

    @property
    def destroys(self) -> tuple[Destroy, ...]:
        return tuple(a for a in self.actions if isinstance(a, Destroy))

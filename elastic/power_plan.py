"""Which nodes Slurm asks to resume elastic boots, and where; each of the others with why not.

Layer: pure. Imports only model, config, placement and planner. In ``join: power_save``
Slurm decides *when* a node is needed, but the site's limits are elastic's to keep: a
resumed node costs the same room and money as a planned one. So a resume request goes
through the planner's own steps (``held_cores``, ``place_local``, ``cloud_room``,
``place_cloud``, one boot budget): VO ``max_nodes`` over the nodes still live in the
ledger, local hosts first by share with every placement taking its room (two nodes of one
call never get the same room), then EC2 within the VO's and the site's node and cost
limits, the VO's image present for the provider it lands on, at most
``policy.max_boots_per_pass`` boots. What does not fit is refused with the limit that
bound it, in figures, because the admin reads the reason in ``scontrol show node`` and
must be able to tell a full host from a spent budget without opening the log.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass

from elastic.config import Site, VoConfig
from elastic.model import LIVE_STATES, Boot, NodeState, Observation, ProviderKind, WorkerNode
from elastic.placement import (
    CloudRoom,
    HostRoom,
    Placement,
    best_fit,
    place_cloud,
    place_local,
    rooms_of,
)
from elastic.planner import cloud_room, held_cores

REASON = "Slurm ResumeProgram"


@dataclass(frozen=True)
class Refusal:
    """A node elastic will not boot; ``reason`` names the binding limit with its figures."""

    node_id: str
    vo: str
    reason: str


@dataclass(frozen=True)
class ResumePlan:
    boots: tuple[Boot, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    already: tuple[str, ...] = ()  # live in the ledger and not failed: nothing to do


@dataclass
class _Stage:
    """What placement left: the rooms, the cloud room and the boot budget after this call."""

    rooms: list[HostRoom]
    cloud: CloudRoom
    budget: int


def plan_resume(observation: Observation, requests: Mapping[str, str], site: Site) -> ResumePlan:
    """Boots for the nodes ``requests`` names (node -> VO) that every limit allows. Pure.

    ``observation.nodes`` are the ledger's nodes (live ones count against the limits,
    whatever Slurm thinks of them), ``observation.hosts`` the local inventory's hosts,
    ``local_ok`` False when it could not be read, ``cloud_ok`` False when EC2 cannot be
    used. Jobs are not read: Slurm has already decided that these nodes are needed.
    """
    live = [n for n in observation.nodes if n.state in LIVE_STATES]
    known = {n.id: n for n in live}
    vos = {vo.name for vo in site.vos}
    refusals: list[Refusal] = []
    already: list[str] = []
    candidates: list[tuple[str, str]] = []
    for node, vo in requests.items():
        record = known.get(node)
        if vo not in vos:
            refusals.append(Refusal(node, vo, f"no VO named {vo} in site.yaml"))
        elif record is not None and record.state is NodeState.FAILED:
            refusals.append(Refusal(node, vo, f"node {node} failed and is not yet destroyed"))
        elif record is not None:
            already.append(node)
        else:
            candidates.append((node, vo))
    wanted, capped = _cap_max_nodes(site, candidates, live)
    refusals += capped
    placed, stage = _place(site, observation, live, wanted)
    boots: list[Boot] = []
    for node, vo in wanted:
        if placed[vo]:
            boots.append(_boot(site, node, placed[vo].popleft()))
        else:
            refusals.append(Refusal(node, vo, _why(site, site.vo(vo), observation, stage)))
    order = {node: i for i, node in enumerate(requests)}
    refusals.sort(key=lambda r: order[r.node_id])
    return ResumePlan(tuple(boots), tuple(refusals), tuple(already))


def _cap_max_nodes(
    site: Site, candidates: list[tuple[str, str]], live: list[WorkerNode]
) -> tuple[list[tuple[str, str]], list[Refusal]]:
    """VO ``max_nodes`` over the live nodes, as the planner counts them: a node being
    destroyed still holds its VM until it is gone. First asked, first served."""
    count: dict[str, int] = defaultdict(int)
    for worker in live:
        count[worker.vo] += 1
    taken: dict[str, int] = defaultdict(int)
    wanted: list[tuple[str, str]] = []
    refused: list[Refusal] = []
    for node, vo in candidates:
        limit = site.vo(vo).max_nodes
        if count[vo] + taken[vo] < limit:
            taken[vo] += 1
            wanted.append((node, vo))
            continue
        before = f", {taken[vo]} resumed by this call" if taken[vo] else ""
        reason = f"VO {vo} max_nodes {limit} reached ({count[vo]} live{before})"
        refused.append(Refusal(node, vo, reason))
    return wanted, refused


def _place(
    site: Site, observation: Observation, live: list[WorkerNode], wanted: list[tuple[str, str]]
) -> tuple[dict[str, deque[Placement]], _Stage]:
    """The planner's placement for these wants: local by share, then EC2, one budget."""
    wants: dict[str, int] = defaultdict(int)
    for _, vo in wanted:
        wants[vo] += 1
    budget = [site.policy.max_boots_per_pass]
    rooms: list[HostRoom] = []
    placements: list[Placement] = []
    if observation.local_ok:
        rooms = rooms_of(observation.hosts)
        held = held_cores(site, live, ProviderKind.LIBVIRT)
        placements += place_local(site, wants, rooms, held, budget)
    room = cloud_room(site, live)
    if observation.cloud_ok:
        held = held_cores(site, live, ProviderKind.EC2)
        placements += place_cloud(site, wants, room, held, budget)
    placed: dict[str, deque[Placement]] = defaultdict(deque)
    for placement in placements:  # local ones first, so they go to the first nodes asked
        placed[placement.vo].append(placement)
    return placed, _Stage(rooms, room, budget[0])


def _boot(site: Site, node: str, placed: Placement) -> Boot:
    flavor = site.vo(placed.vo).flavor
    where = f"EC2 {placed.instance_type}" if placed.cloud else f"local host {placed.location}"
    return Boot(
        node_id=node,
        vo=placed.vo,
        provider=ProviderKind.EC2 if placed.cloud else ProviderKind.LIBVIRT,
        location=placed.location,
        cores=flavor.cores,
        memory_mb=flavor.memory_mb,
        reason=f"{REASON}; placed on {where}",
        instance_type=placed.instance_type,
        hourly_cost=placed.hourly_cost,
    )


def _why(site: Site, vo: VoConfig, observation: Observation, stage: _Stage) -> str:
    """The limit that kept a node of ``vo`` out, judged on what this call's placements left.

    Rooms and budgets only shrink while a call places nodes, so what did not fit at its
    turn does not fit at the end either; the boot budget binds only where room was left.
    """
    local = _why_not_local(vo, observation, stage.rooms)
    cloud = _why_not_cloud(site, vo, observation.cloud_ok, stage.cloud)
    if stage.budget <= 0 and (local is None or cloud is None):
        limit = site.policy.max_boots_per_pass
        return f"policy.max_boots_per_pass {limit} reached ({limit} placed by this call)"
    return " and ".join(r for r in (local, cloud) if r) or "not placed"


def _why_not_local(vo: VoConfig, observation: Observation, rooms: list[HostRoom]) -> str | None:
    if not observation.local_ok:
        return "local hypervisors could not be read"
    if not observation.hosts:
        return "no local hypervisor"
    if not vo.image.libvirt:
        return f"VO {vo.name} has no libvirt image"
    if best_fit(rooms, vo.flavor.cores, vo.flavor.memory_mb) is not None:
        return None
    cores, memory_mb = max(((r.cores_free, r.memory_mb_free) for r in rooms), default=(0, 0))
    return (
        f"no local room (largest free {cores} cores/{memory_mb} MB, "
        f"flavor {vo.flavor.cores} cores/{vo.flavor.memory_mb} MB)"
    )


def _why_not_cloud(site: Site, vo: VoConfig, cloud_ok: bool, room: CloudRoom) -> str | None:
    ec2 = site.ec2
    if not vo.cloud.allowed:
        return f"VO {vo.name} may not burst"
    if ec2 is None or not cloud_ok:
        return "EC2 is not available to this site"
    types = ec2.instance_types.get(vo.name, [])
    if not types:
        return f"VO {vo.name} has no ec2.instance_types"
    if not vo.image.ec2:
        return f"VO {vo.name} has no EC2 image"
    left = room.vo_nodes.get(vo.name, 0)
    if left < 1:
        used = vo.cloud.max_nodes - left
        return f"VO {vo.name} cloud.max_nodes {vo.cloud.max_nodes} reached ({used} in use)"
    if room.instances < 1:
        used = ec2.max_instances - room.instances
        return f"site ec2.max_instances {ec2.max_instances} reached ({used} in use)"
    price = ec2.prices[types[0]]
    vo_left = room.vo_cost.get(vo.name, 0.0)
    if price > vo_left + 1e-9:
        spent = vo.cloud.max_hourly_cost - vo_left
        limit = vo.cloud.max_hourly_cost
        return f"cloud budget: VO {vo.name} {_usd(spent)} of {_usd(limit)}, next {_usd(price)}"
    if price > room.hourly_cost + 1e-9:
        spent = ec2.max_hourly_cost - room.hourly_cost
        limit = ec2.max_hourly_cost
        return f"cloud budget: site {_usd(spent)} of {_usd(limit)}, next {_usd(price)}"
    return None


def _usd(per_hour: float) -> str:
    return f"${per_hour:.2f}/h"

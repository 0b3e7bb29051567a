"""Which nodes Slurm asks to resume elastic boots, and where; each of the others with why not.

Layer: pure. In ``join: power_save``
Slurm decides *when* a node is needed, but the site's limits are elastic's to keep: a
resumed node costs the same room and money as a planned one. So a resume request goes
through the planner's own steps and pass state (``scale_up.place_local``, then
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
from dataclasses import dataclass, replace

from elastic.config import Site
from elastic.model import (
    EXISTING_STATES,
    Boot,
    Cause,
    NodeState,
    Observation,
    ProviderKind,
    WorkerNode,
)
from elastic.planning import reasons
from elastic.planning.capacity import Placement
from elastic.planning.scale_up import place_cloud, place_local
from elastic.planning.state import PassState, View

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


def plan_resume(observation: Observation, requests: Mapping[str, str], site: Site) -> ResumePlan:
    """Boots for the nodes ``requests`` names (node -> VO) that every limit allows. Pure.

    ``observation.nodes`` are the ledger's nodes (live ones count against the limits,
    whatever Slurm thinks of them), ``observation.hosts`` the local inventory's hosts,
    ``local_ok`` False when it could not be read, ``cloud_ok`` False when EC2 cannot be
    used. Jobs are not read: Slurm has already decided that these nodes are needed.
    """
    live = [n for n in observation.nodes if n.state in EXISTING_STATES]
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
    state = _place(site, replace(observation, jobs=()), wanted)
    placed: dict[str, deque[Placement]] = defaultdict(deque)
    for placement in state.placements:  # local ones first, so they go to the first asked
        placed[placement.vo].append(placement)
    boots: list[Boot] = []
    for node, vo in wanted:
        if placed[vo]:
            boots.append(_boot(site, node, placed[vo].popleft()))
        else:
            refusals.append(Refusal(node, vo, _why(state, vo)))
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
        reason = reasons.vo_max_nodes(vo, limit, count[vo], this_call=taken[vo])
        refused.append(Refusal(node, vo, reason.text))
    return wanted, refused


def _place(site: Site, observation: Observation, wanted: list[tuple[str, str]]) -> PassState:
    """The planner's placement for these wants: local by share, then EC2, one budget."""
    view = View.of(observation, site, now=0.0)
    state = PassState.start(view)
    for vo in site.vos:
        state.want(vo.name, sum(1 for _, wanted_vo in wanted if wanted_vo == vo.name))
    place_local(state, view)
    place_cloud(state, view)
    return state


def _boot(site: Site, node: str, placed: Placement) -> Boot:
    flavor = site.vo(placed.vo).flavor
    where = f"EC2 {placed.instance_type}" if placed.cloud else f"local host {placed.location}"
    return Boot(
        id=node,
        vo=placed.vo,
        provider=ProviderKind.EC2 if placed.cloud else ProviderKind.LIBVIRT,
        location=placed.location,
        cores=flavor.cores,
        memory_mb=flavor.memory_mb,
        reason=f"{REASON}; placed on {where}",
        instance_type=placed.instance_type,
        hourly_cost=placed.hourly_cost,
    )


def _why(state: PassState, vo: str) -> str:
    """The limits that kept a node of ``vo`` out, as placement said no at its last turn:
    rooms and budgets only shrink while a call places nodes, so what did not fit then
    does not fit at the end either; the boot budget binds alone where room was left."""
    binding, _ = state.binding(vo)
    if binding.cause is Cause.BOOT_BUDGET:
        return binding.text
    said = [r for r in (state.local_no.get(vo), state.cloud_no.get(vo)) if r is not None]
    return " and ".join(r.text for r in said) or "not placed"

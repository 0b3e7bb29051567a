"""elastic as Slurm's ResumeProgram / SuspendProgram for ``State=CLOUD`` nodes.

Layer: entry point over the engine's parts. In this mode (``lrm.options.join:
power_save``) Slurm decides *when* a node is needed and calls::

    ResumeProgram=/usr/local/bin/elastic-slurm-resume   # runs: elastic slurm-resume <hostlist>
    SuspendProgram=/usr/local/bin/elastic-slurm-suspend # runs: elastic slurm-suspend <hostlist>

and elastic decides *whether* and *where* the node's VM goes: the site's limits
and placement are the planner's (``elastic.planning.resume``: VO and cloud limits, the
budget, a local hypervisor with room first, else EC2 if the VO may burst), and a
node they refuse is set DOWN in Slurm with the reason, so Slurm stops waiting for
it and the admin sees why. A placed node is booted with the VO's
contextualization and recorded exactly as a planned boot: the same ``Actuator``
writes the intent, calls the provider and closes the intent, so the ledger, the
event log and crash recovery are the same as in ``elastic daemon``. The node's VO
is the VO whose name is one of the node's Slurm features. Slurm is the planner for the
queue there: a pass on a power-save site boots nothing for it, and only powers advance
reservations' nodes up ahead of their start (``elastic.planning.power_save``).
"""

from __future__ import annotations

import argparse
import logging
import re
from dataclasses import dataclass

from elastic.actuation import ActionResult
from elastic.config import Site, SlurmOptions, load_site
from elastic.deadline import call_with_deadline
from elastic.engine import Engine, site_lock
from elastic.model import Destroy, Host, Observation, ProviderKind, WorkerNode
from elastic.planning.resume import Refusal, plan_resume
from lrm_adapters._command import CommandRunner
from lrm_adapters.base import LRMError, checked_name
from lrm_adapters.slurm import reason_text

log = logging.getLogger(__name__)


def slurm_runner(site: Site) -> CommandRunner:
    env = site.lrm_options(SlurmOptions).lrm_env()
    return CommandRunner(timeout_s=site.lrm.timeout_s, env=env)


def expand(runner: CommandRunner, hostlist: str) -> list[str]:
    return runner.run(["scontrol", "show", "hostnames", hostlist]).split()


def node_vo(runner: CommandRunner, site: Site, node: str) -> str:
    text = runner.run(["scontrol", "-o", "show", "node", node])
    match = re.search(r"AvailableFeatures=(\S*)", text)
    features = set(match.group(1).split(",")) if match else set()
    for vo in site.vos:
        if vo.name in features:
            return vo.name
    raise ValueError(f"node {node} has no feature naming a VO of site.yaml ({sorted(features)})")


def mark_down(runner: CommandRunner, node: str, reason: str) -> None:
    """Tell Slurm a node will not come, with elastic's reason for ``scontrol show node``.

    DOWN alone requeues the node's jobs but leaves it POWERING_UP, and at ResumeTimeout
    Slurm would replace the reason with "ResumeTimeout reached"; a forced power-down then
    makes it DOWN+POWERED_DOWN at once, keeping the reason until an admin resumes it.
    Slurm's SuspendProgram call for it finds no ledger row and does nothing.
    """
    name = checked_name(node)
    text = reason_text(f"elastic: {reason}")
    for state in ("down", "power_down_force"):
        runner.run(["scontrol", "update", f"nodename={name}", f"state={state}", f"reason={text}"])


def observe(engine: Engine) -> Observation:
    """The ledger and the local inventory, each read once for the whole call: the
    placements of one call then share one view of the room, as a planned pass does."""
    hosts: tuple[Host, ...] = ()
    local_ok = True
    local = engine.providers.get(ProviderKind.LIBVIRT)
    if local is not None:
        try:
            # bounded as a pass's observation is: Slurm waits on this call
            hosts = call_with_deadline(local.inventory, engine.site.lrm.timeout_s + 5.0).hosts
        except Exception as exc:  # an unread hypervisor is not an empty one: no local boots
            log.warning("resume: local inventory could not be read: %s", exc)
            local_ok = False
    return Observation(
        jobs=(),
        nodes=tuple(WorkerNode.of(r) for r in engine.ledger.nodes()),  # LRM not read
        hosts=hosts,
        local_ok=local_ok,
        cloud_ok=ProviderKind.EC2 in engine.providers,
    )


@dataclass(frozen=True)
class ResumeOutcome:
    results: list[ActionResult]
    refusals: list[Refusal]


def resume(engine: Engine, nodes: list[str], runner: CommandRunner) -> ResumeOutcome:
    """Boot what the site's limits allow; every other node DOWN in Slurm, with why."""
    requests: dict[str, str] = {}
    refusals: list[Refusal] = []
    for node in nodes:
        try:
            requests[node] = node_vo(runner, engine.site, node)
        except (ValueError, LRMError) as exc:
            refusals.append(Refusal(node, "", str(exc)))
    decided = plan_resume(observe(engine), requests, engine.site)
    for node in decided.already:
        log.info("resume %s: already live in the ledger", node)
    refusals += decided.refusals
    for refusal in refusals:
        log.warning("resume %s refused: %s", refusal.node_id, refusal.reason)
        try:
            mark_down(runner, refusal.node_id, refusal.reason)
        except LRMError as exc:
            log.error("resume %s: could not mark it down in Slurm: %s", refusal.node_id, exc)
    actuator = engine.actuator(engine.clock())
    return ResumeOutcome(actuator.run(decided.boots), refusals)


def suspend(engine: Engine, nodes: list[str]) -> list[ActionResult]:
    live = {n.id: n for n in engine.ledger.nodes()}
    destroys = tuple(
        Destroy(node, live[node].vo, "Slurm SuspendProgram") for node in nodes if node in live
    )
    actuator = engine.actuator(engine.clock())
    return actuator.run(destroys)


def run_power(verb: str, hostlist: str, engine: Engine) -> int:
    """Exit 0 when every node was booted or destroyed, 4 when any was refused or failed."""
    runner = slurm_runner(engine.site)
    nodes = expand(runner, hostlist)
    refused: list[Refusal] = []
    with site_lock(engine.site).acquire(timeout=120):
        if verb == "resume":
            outcome = resume(engine, nodes, runner)
            results, refused = outcome.results, outcome.refusals
        else:
            results = suspend(engine, nodes)
    for result in results:
        state = "done" if result.ok else f"FAILED: {result.error}"
        log.info("slurm %s %s: %s", verb, result.action.node_id, state)
    return 0 if all(r.ok for r in results) and not refused else 4


def cmd_power(args: argparse.Namespace) -> int:
    from elastic.wiring import build_engine

    return run_power(args.verb, args.hostlist, build_engine(load_site(args.config)))


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for verb, what in (("resume", "boot and record"), ("suspend", "destroy and retire")):
        parser = subparsers.add_parser(
            f"slurm-{verb}", help=f"Slurm {verb.title()}Program: {what} the nodes of a hostlist"
        )
        parser.add_argument("hostlist", help="Slurm hostlist, e.g. cloud[1-4]")
        parser.set_defaults(func=cmd_power, verb=verb)

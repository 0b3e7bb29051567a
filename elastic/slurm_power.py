"""elastic as Slurm's ResumeProgram / SuspendProgram for ``State=CLOUD`` nodes.

Layer: entry point over the engine's parts. In this mode (``lrm.options.join:
power_save``) Slurm decides *when* a node is needed and calls::

    ResumeProgram=/usr/local/bin/elastic-slurm-resume   # runs: elastic slurm-resume <hostlist>
    SuspendProgram=/usr/local/bin/elastic-slurm-suspend # runs: elastic slurm-suspend <hostlist>

and elastic decides *where* the node's VM goes (a local hypervisor with room
first, else EC2 if the VO may burst), boots it with the VO's contextualization
and records it, exactly as a planned boot: the same ``Actuator`` writes the
intent, calls the provider and closes the intent, so the ledger, the event log
and crash recovery are the same as in ``elastic daemon``. The node's VO is the
VO whose name is one of the node's Slurm features. Do not also run
``elastic daemon`` for a power-save site: Slurm is the planner there.
"""

from __future__ import annotations

import argparse
import logging
import re

from elastic.actuation import ActionResult, Actuator
from elastic.config import Site, load_site
from elastic.engine import Engine, site_lock
from elastic.model import Boot, Destroy, NodeState, ProviderKind
from elastic.placement import best_fit, rooms_of
from lrm_adapters._command import CommandRunner

log = logging.getLogger(__name__)


def slurm_runner(site: Site) -> CommandRunner:
    options = site.lrm.options
    env = {"SLURM_CONF": options["slurm_conf"]} if "slurm_conf" in options else {}
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


def placement(engine: Engine, vo_name: str) -> tuple[ProviderKind, str, str, float]:
    """Local host with room first, else EC2 when the VO may burst."""
    vo = engine.site.vo(vo_name)
    local = engine.providers.get(ProviderKind.LIBVIRT)
    if local is not None and vo.image.libvirt:
        room = best_fit(rooms_of(local.inventory().hosts), vo.flavor.cores, vo.flavor.memory_mb)
        if room is not None:
            return ProviderKind.LIBVIRT, room.name, "", 0.0
    ec2 = engine.site.ec2
    types = ec2.instance_types.get(vo_name, []) if ec2 else []
    if ec2 is not None and types and vo.cloud.allowed and ProviderKind.EC2 in engine.providers:
        return ProviderKind.EC2, ec2.region, types[0], ec2.prices[types[0]]
    raise ValueError(f"no local room and no cloud allowed for VO {vo_name}")


def resume(engine: Engine, nodes: list[str], runner: CommandRunner) -> list[ActionResult]:
    now = engine.clock()
    boots = []
    for node in nodes:
        record = engine.ledger.get(node)
        if record is not None and record.state not in {NodeState.GONE, NodeState.FAILED}:
            log.info("resume %s: already %s", node, record.state)
            continue
        vo = node_vo(runner, engine.site, node)
        kind, location, instance_type, price = placement(engine, vo)
        flavor = engine.site.vo(vo).flavor
        boots.append(
            Boot(
                node,
                vo,
                kind,
                location,
                flavor.cores,
                flavor.memory_mb,
                "Slurm ResumeProgram",
                instance_type,
                price,
            )
        )
    actuator = Actuator(
        engine.site, engine.ledger, engine.lrm, engine.providers, engine.render_user_data, now
    )
    return actuator.run(tuple(boots))


def suspend(engine: Engine, nodes: list[str]) -> list[ActionResult]:
    live = {n.id: n for n in engine.ledger.nodes()}
    destroys = tuple(
        Destroy(node, live[node].vo, "Slurm SuspendProgram") for node in nodes if node in live
    )
    actuator = Actuator(
        engine.site,
        engine.ledger,
        engine.lrm,
        engine.providers,
        engine.render_user_data,
        engine.clock(),
    )
    return actuator.run(destroys)


def run_power(verb: str, hostlist: str, engine: Engine) -> int:
    runner = slurm_runner(engine.site)
    nodes = expand(runner, hostlist)
    with site_lock(engine.site).acquire(timeout=120):
        results = resume(engine, nodes, runner) if verb == "resume" else suspend(engine, nodes)
    for result in results:
        state = "done" if result.ok else f"FAILED: {result.error}"
        log.info("slurm %s %s: %s", verb, result.action.node_id, state)
    return 0 if all(r.ok for r in results) else 4


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

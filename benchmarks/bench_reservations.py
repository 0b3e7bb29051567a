"""Advance reservations measured (issue 14): reserved nodes up by the start, lateness,
best-effort waits and cost, for elastic's lead-time rule against booting at the start
(Slurm's behaviour for CLOUD nodes) and holding the room from the booking on; and the
best-effort waits of the same queue with no reservation at all (what they cost the queue).

Workloads: two synthetic ones (three VOs; Poisson with bursts) and the first 3,000 jobs of
the NASA iPSC/860 trace, each with reservations of 8-64 workers booked 1-6 h ahead by a
seeded generator (``elastic.sim.reservations.generate``), over 3 seeds, local hosts at
0.75 of the workload's peak demand, the simulator's jittered boots (libvirt 60 s, EC2 120 s,
+-20 %). Run: ``.venv/bin/python -m benchmarks.bench_reservations`` (about a minute).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

from elastic.config import Site, load_site
from elastic.sim.compare import scaled_site
from elastic.sim.engine import SimConfig
from elastic.sim.reservations import POLICIES, Outcome, generate, run
from elastic.sim.workload import SimJob, from_swf, scenario, spread

REPO = Path(__file__).resolve().parents[1]
SEEDS = (1, 2, 3)
RESERVATIONS = 6
TARGET_ON_TIME = 0.99
NO_RESERVATIONS = "no reservations"


def workloads(site: Site) -> dict[str, tuple[list[SimJob], float]]:
    names = [vo.name for vo in site.vos]
    trace = REPO / "benchmarks/traces/NASA-iPSC-1993-3.1-cln.swf.gz"
    nasa, left_out = spread(from_swf(trace, site.vos, 3000), site.vos)
    print(f"NASA: {len(nasa)} jobs, {left_out} left out (no worker count holds them)")
    span = max(j.submit for j in nasa)
    return {
        "three-vos 12 h": (scenario("three-vos", names, seed=1, hours=12), 12 * 3600.0),
        "poisson 12 h": (scenario("poisson", names, seed=1, hours=12), 12 * 3600.0),
        "NASA 3,000 jobs": (nasa, span),
    }


def main() -> int:
    base = load_site(REPO / "benchmarks/site-bench.yaml")
    rows: list[tuple[str, Outcome]] = []
    started = time.time()
    for label, (jobs, span) in workloads(base).items():
        site = scaled_site(base, jobs, 0.75)
        for seed in SEEDS:
            booked = generate(site, span, RESERVATIONS, seed)
            for name in POLICIES:
                rows.append((label, run(name, site, jobs, booked, SimConfig(seed=seed))))
            # the best-effort waits before: the same queue with no reservation at all
            alone = run("elastic", site, jobs, [], SimConfig(seed=seed))
            rows.append((label, replace(alone, policy=NO_RESERVATIONS)))
    print(table(rows))
    print(f"\n{len(rows)} runs in {time.time() - started:.0f} s")
    elastic = [o for _, o in rows if o.policy == "elastic"]
    share = sum(o.on_time * o.reserved_nodes for o in elastic) / sum(
        o.reserved_nodes for o in elastic
    )
    verdict = "MET" if share >= TARGET_ON_TIME else "MISSED"
    print(f"target: reserved nodes up by the start >= 99 %: {share:.1%} {verdict}")
    return 0


def table(rows: list[tuple[str, Outcome]]) -> str:
    """Per workload and policy, summed over the seeds."""
    lines = [
        "| workload | policy | reserved nodes | up by the start | mean late | worst late "
        "| best-effort mean / p95 wait | cloud cost |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    keys = dict.fromkeys((w, o.policy) for w, o in rows)
    for workload, policy in keys:
        group = [o for w, o in rows if (w, o.policy) == (workload, policy)]
        nodes = sum(o.reserved_nodes for o in group)
        up = sum(o.on_time * o.reserved_nodes for o in group) / max(1, nodes)
        late = sum(o.mean_late_s for o in group) / len(group)
        worst = max(o.worst_late_s for o in group)
        wait = sum(o.mean_wait_s for o in group) / len(group)
        p95 = sum(o.p95_wait_s for o in group) / len(group)
        cost = sum(o.cloud_cost for o in group)
        served = f"{nodes} | {up:.1%} | {late:.0f} s | {worst:.0f} s" if nodes else "- | - | - | -"
        lines.append(
            f"| {workload} | {policy} | {served} | {wait:.0f} s / {p95:.0f} s | ${cost:,.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

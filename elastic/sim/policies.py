"""Every policy the simulator compares, by name: elastic, its ablations, the baselines.

Layer: a registry (no decisions of its own).
"""

from __future__ import annotations

from elastic.sim import ablations
from elastic.sim.baselines import BASELINES, Factory

ABLATIONS: dict[str, Factory] = {
    "elastic-noreclaim": ablations.without_reclaim,
    "elastic-norepatr": ablations.without_repatriation,
    "elastic-localonly": ablations.local_only,
    "elastic-noburstdelay": ablations.without_burst_delay,
}
POLICIES: dict[str, Factory] = {"elastic": ablations.elastic, **BASELINES, **ABLATIONS}
#: where the static cluster exists from the start, its workers are ready at once
READY_AT_START = ("static",)

"""Reservations in the simulator (issue 14): elastic's lead time has the nodes up by the
start where booting at the start (Slurm's way for CLOUD nodes) is late by a boot, and
holding the room from the booking costs more."""

from __future__ import annotations

from elastic.model import Reservation
from elastic.sim.engine import SimConfig
from elastic.sim.reservations import generate, run
from elastic.sim.workload import SimJob
from tests.factories import make_site

SITE = make_site(
    local={"hosts": [{"name": "h", "uri": "sim://", "cores": 32, "memory_mb": 256000}]},
    policy={"cloud_burst_after_s": 0},
)
QUEUE = [SimJob(i, "cms", 4, 1, 600.0 * i, 900.0) for i in range(20)]
BOOKED = [Reservation("r-1", "atlas", 12, 7200.0, 10800.0, created_at=1800.0)]


def test_elastic_is_on_time_booting_at_the_start_is_late_by_a_boot():
    config = SimConfig(seed=3)
    elastic = run("elastic", SITE, QUEUE, BOOKED, config)
    at_start = run("boot-at-start", SITE, QUEUE, BOOKED, config)
    all_day = run("hold-all-day", SITE, QUEUE, BOOKED, config)
    assert (elastic.on_time, elastic.mean_late_s) == (1.0, 0.0)
    assert at_start.on_time < 0.5 and at_start.mean_late_s >= 60  # a local boot at least
    assert all_day.on_time == 1.0 and all_day.cloud_cost > elastic.cloud_cost
    assert elastic.unfinished == at_start.unfinished == 0


def test_the_generator_is_seeded_and_books_ahead():
    first = generate(SITE, 12 * 3600, 5, seed=7)
    assert first == generate(SITE, 12 * 3600, 5, seed=7)
    assert all(3600 <= r.start - r.created_at <= 6 * 3600 for r in first)
    assert all(8 <= r.nodes <= 64 and 3600 <= r.end - r.start <= 3 * 3600 for r in first)

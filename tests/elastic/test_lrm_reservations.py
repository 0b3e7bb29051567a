"""LRM reservations taken in as elastic's (issue 14): VO by the match rules, size in the
VO's workers, changes followed, a vanished one cancelled, an unread LRM cancelling nothing."""

from __future__ import annotations

from elastic.lrm_reservations import size_of, sync
from elastic.model import LrmReservation, Reservation, ReservationState
from tests.factories import make_site

SITE = make_site(
    vos=[
        {
            "name": "atlas",
            "match": {"account": ["atlas"], "user": ["alice"]},
            "flavor": {"cores": 4, "memory_mb": 8000},
        },
        {"name": "cms", "match": {"group": ["cms*"]}, "flavor": {"cores": 8, "memory_mb": 16000}},
    ],
    ec2=None,
)
NOW = 1000.0


def lrm(name="r1", **kw) -> LrmReservation:
    return LrmReservation(name, NOW + 600, NOW + 4200, **kw)


def test_vo_by_users_accounts_then_groups_and_size_in_workers():
    read = [
        lrm("a", nodes=("cloud1", "cloud2"), users=("root",), accounts=("atlas",)),
        lrm("b", cores=20, groups=("cms-prod",)),
        lrm("maint", node_count=3, users=("root",)),
    ]
    synced = sync("slurm", read, [], SITE.vos, NOW)
    a, b = synced.reservations
    assert (a.id, a.vo, a.nodes, a.lrm_nodes, a.source) == (
        "slurm:a",
        "atlas",
        2,
        ("cloud1", "cloud2"),
        "slurm",
    )
    assert (b.vo, b.nodes) == ("cms", 3)  # 20 slots / 8 cores per cms worker
    assert synced.unmatched == ("maint",)
    assert [m for _, m in synced.writes] == [
        "read from slurm: 2 node(s) of atlas",
        "read from slurm: 3 node(s) of cms",
    ]


def test_unchanged_is_not_written_changed_is_and_gone_is_cancelled():
    first = sync("sge", [lrm(users=("alice",), cores=8)], [], SITE.vos, NOW)
    (stored,) = first.reservations
    stored = Reservation(**{**vars(stored), "state": ReservationState.PREPARING})
    same = sync("sge", [lrm(users=("alice",), cores=8)], [stored], SITE.vos, NOW + 60)
    assert same.writes == () and same.reservations == (stored,)
    bigger = sync("sge", [lrm(users=("alice",), cores=16)], [stored], SITE.vos, NOW + 60)
    ((changed, words),) = bigger.writes
    assert (changed.nodes, changed.state, words) == (
        4,
        ReservationState.PREPARING,
        "changed in sge: 4 node(s) of atlas",
    )
    gone = sync("sge", [], [stored], SITE.vos, NOW + 60)
    ((cancelled, words),) = gone.writes
    assert cancelled.state is ReservationState.CANCELLED and "no longer lists" in words
    assert gone.reservations == ()


def test_an_unread_lrm_cancels_nothing_and_other_sources_stand():
    mine = Reservation("slurm:r1", "atlas", 2, NOW, NOW + 60, source="slurm")
    own = Reservation("r-1", "atlas", 1, NOW, NOW + 60)
    unread = sync("slurm", None, [mine, own], SITE.vos, NOW)
    assert unread.writes == () and set(unread.reservations) == {mine, own}
    emptied = sync("slurm", [], [mine, own], SITE.vos, NOW)
    assert [r.id for r, _ in emptied.writes] == ["slurm:r1"]
    assert emptied.reservations == (own,)


def test_an_ended_reservation_is_not_taken_in():
    ended = LrmReservation("old", NOW - 7200, NOW - 3600, users=("alice",), node_count=1)
    assert sync("slurm", [ended], [], SITE.vos, NOW).reservations == ()
    assert size_of(LrmReservation("x", 0, 1), SITE.vos[0]) == 0
    # SGE reserves slots on the hosts that serve them: 8 slots are two 4-core workers
    sge = LrmReservation("y", 0, 1, nodes=("vm",), node_count=1, cores=8)
    assert (size_of(sge, SITE.vos[0], "sge"), size_of(sge, SITE.vos[0], "slurm")) == (2, 1)

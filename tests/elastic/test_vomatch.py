"""A job's VO, decided once in observation, and the rule that decided it."""

from __future__ import annotations

from elastic.model import Job, QueueSnapshot
from elastic.vomatch import label_snapshot, match_vo, vo_of
from tests.factories import make_site

FLAVOR = {"cores": 4, "memory_mb": 8000}
VOS = make_site(
    vos=[
        {"name": "atlas", "match": {"account": ["atlas"], "queue": ["atl*"]}, "flavor": FLAVOR},
        {"name": "cms", "match": {"user": ["cms*"], "feature": ["cms-gpu"]}, "flavor": FLAVOR},
        {"name": "any", "match": {"group": ["*"]}, "flavor": FLAVOR},
    ],
    ec2={"instance_types": {}},
).vos


def test_the_matching_rule_is_named_with_the_jobs_value_behind_a_wildcard():
    assert match_vo(Job("1", account="atlas"), VOS) == ("atlas", "match.account=atlas")
    assert match_vo(Job("2", queue="atlas-long"), VOS) == (
        "atlas",
        "match.queue=atl* (queue atlas-long)",
    )
    assert match_vo(Job("3", user="cmsprod"), VOS) == ("cms", "match.user=cms* (user cmsprod)")
    assert match_vo(Job("4", features=("ib", "cms-gpu")), VOS) == ("cms", "match.feature=cms-gpu")


def test_the_first_vo_in_file_order_wins():
    job = Job("5", user="cmsprod", account="atlas", group="users")
    assert match_vo(job, VOS) == ("atlas", "match.account=atlas")
    assert vo_of(Job("6", group="users"), VOS) == "any"


def test_no_match_says_what_was_tried():
    assert match_vo(Job("7", user="alice", project="x"), VOS) == (
        None,
        "no VO's match rule fits (user alice, project x)",
    )
    assert match_vo(Job("8"), VOS) == (None, "no VO's match rule fits (no attributes)")


def test_a_reading_is_labelled_once_nodes_untouched():
    snapshot = QueueSnapshot(jobs=(Job("1", account="atlas"), Job("2", user="alice")))
    labelled = label_snapshot(snapshot, VOS)
    assert [j.vo for j in labelled.jobs] == ["atlas", None]
    assert labelled.nodes == snapshot.nodes

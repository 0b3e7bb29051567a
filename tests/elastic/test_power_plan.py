"""plan_resume: Slurm's resume requests within the planner's limits (issue 10, "Slurm power
saving obeys the same limits"). One test per limit; each fails when that limit's check is
removed, because each sets up a request that only that limit stops."""

from __future__ import annotations

from typing import Any

from elastic.config import Site
from elastic.model import NodeState, Observation, ProviderKind
from elastic.planning.resume import ResumePlan, plan_resume
from tests.factories import host, make_site, node, with_atlas

LOCAL, EC2 = ProviderKind.LIBVIRT, ProviderKind.EC2
FULL = host(cores=2, memory_mb=4096)  # smaller than the 4-core/8000 MB flavor
ROOMY = (host(),)  # 16 cores, 64000 MB


def resume(site: Site, names: list[str], nodes=(), hosts=ROOMY, **kw: Any) -> ResumePlan:
    observation = Observation(jobs=(), nodes=tuple(nodes), hosts=tuple(hosts), **kw)
    return plan_resume(observation, dict.fromkeys(names, "atlas"), site)


def refused(decided: ResumePlan) -> dict[str, str]:
    return {r.node_id: r.reason for r in decided.refusals}


def test_local_host_with_room_first_then_nothing_refused():
    decided = resume(make_site(), ["cloud1"])
    (boot,) = decided.boots
    assert (boot.node_id, boot.provider, boot.location) == ("cloud1", LOCAL, "hv1")
    assert (boot.cores, boot.memory_mb) == (4, 8000) and not decided.refusals


def test_vo_max_nodes_counts_the_live_nodes_of_the_ledger():
    site = with_atlas({"max_nodes": 4})
    live = [node(f"n{i}") for i in range(3)]
    decided = resume(site, ["cloud1", "cloud2"], nodes=live)
    assert [b.node_id for b in decided.boots] == ["cloud1"]
    assert refused(decided) == {
        "cloud2": "VO atlas max_nodes 4 reached (3 live, 1 resumed by this call)"
    }


def test_vo_max_nodes_reached_refuses_every_node_asked():
    site = with_atlas({"max_nodes": 4})
    live = [node(f"n{i}", state=NodeState.DRAINING) for i in range(4)]  # VMs still held
    decided = resume(site, ["cloud1"], nodes=live)
    assert not decided.boots
    assert refused(decided) == {"cloud1": "VO atlas max_nodes 4 reached (4 live)"}


def test_two_nodes_of_one_call_never_share_room_the_second_bursts():
    decided = resume(make_site(), ["cloud1", "cloud2"], hosts=[host(cores=4, memory_mb=8000)])
    assert [(b.node_id, b.provider) for b in decided.boots] == [("cloud1", LOCAL), ("cloud2", EC2)]
    assert decided.boots[1].instance_type == "c5.xlarge" and decided.boots[1].hourly_cost == 0.2


def test_two_nodes_of_one_call_never_share_room_the_second_is_refused():
    site = with_atlas({"cloud": {"allowed": False}})
    decided = resume(site, ["cloud1", "cloud2"], hosts=[host(cores=4, memory_mb=12000)])
    assert [(b.node_id, b.provider) for b in decided.boots] == [("cloud1", LOCAL)]
    assert refused(decided) == {
        "cloud2": "no local room (largest free 0 cores/4000 MB, flavor 4 cores/8000 MB) "
        "and VO atlas may not burst"
    }


def test_vo_that_may_not_burst_is_refused_when_no_local_room():
    site = with_atlas({"cloud": {"allowed": False}})
    decided = resume(site, ["cloud1"], hosts=[FULL])
    assert refused(decided) == {
        "cloud1": "no local room (largest free 2 cores/4096 MB, flavor 4 cores/8000 MB) "
        "and VO atlas may not burst"
    }


def test_vo_cloud_max_nodes():
    site = with_atlas({"cloud": {"max_nodes": 2}})
    live = [node(f"e{i}", provider=EC2, cost=0.2) for i in range(2)]
    decided = resume(site, ["cloud1"], nodes=live, hosts=[FULL])
    assert not decided.boots
    assert refused(decided)["cloud1"].endswith("VO atlas cloud.max_nodes 2 reached (2 in use)")


def test_vo_cloud_budget():
    site = with_atlas({"cloud": {"max_hourly_cost": 2.0}}, ec2={"prices": {"c5.xlarge": 0.34}})
    live = [node("e1", provider=EC2, cost=1.86)]
    decided = resume(site, ["cloud1"], nodes=live, hosts=[FULL])
    assert not decided.boots
    assert refused(decided)["cloud1"].endswith(
        "and cloud budget: VO atlas $1.86/h of $2.00/h, next $0.34/h"
    )


def test_site_max_instances_counts_every_vo():
    site = make_site(ec2={"max_instances": 1})
    live = [node("e1", "cms", provider=EC2, cost=0.2)]
    decided = resume(site, ["cloud1"], nodes=live, hosts=[FULL])
    assert not decided.boots
    assert refused(decided)["cloud1"].endswith("site ec2.max_instances 1 reached (1 in use)")


def test_site_cloud_budget_counts_every_vo():
    site = make_site(ec2={"max_hourly_cost": 0.5})
    live = [node("e1", "cms", provider=EC2, cost=0.4)]
    decided = resume(site, ["cloud1"], nodes=live, hosts=[FULL])
    assert not decided.boots
    assert refused(decided)["cloud1"].endswith(
        "cloud budget: site $0.40/h of $0.50/h, next $0.20/h"
    )


def test_cloud_limits_count_this_calls_own_boots():
    site = with_atlas({"cloud": {"max_hourly_cost": 0.5}})
    decided = resume(site, ["cloud1", "cloud2", "cloud3"], hosts=[FULL])
    assert [b.provider for b in decided.boots] == [EC2, EC2]
    assert refused(decided)["cloud3"].endswith("VO atlas $0.40/h of $0.50/h, next $0.20/h")


def test_max_boots_per_pass_bounds_one_call():
    site = make_site(policy={"max_boots_per_pass": 2})
    decided = resume(site, ["cloud1", "cloud2", "cloud3"])
    assert [b.node_id for b in decided.boots] == ["cloud1", "cloud2"]
    assert refused(decided) == {"cloud3": "policy.max_boots_per_pass 2 reached this pass"}


def test_vo_without_a_libvirt_image_goes_to_ec2_despite_local_room():
    site = with_atlas({"image": {"libvirt": None}})
    (boot,) = resume(site, ["cloud1"]).boots
    assert boot.provider is EC2


def test_vo_without_an_ec2_image_is_refused_the_cloud():
    site = with_atlas({"image": {"ec2": None}})
    decided = resume(site, ["cloud1"], hosts=[FULL])
    assert not decided.boots
    assert refused(decided)["cloud1"].endswith("and VO atlas has no EC2 image")


def test_unread_local_inventory_means_no_local_boot():
    decided = resume(make_site(), ["cloud1"], local_ok=False)
    (boot,) = decided.boots
    assert boot.provider is EC2


def test_no_ec2_provider_means_no_cloud_boot():
    decided = resume(make_site(), ["cloud1"], hosts=[FULL], cloud_ok=False)
    assert refused(decided)["cloud1"].endswith("and EC2 could not be read this pass")


def test_node_already_live_is_left_alone_and_a_failed_one_is_refused():
    live = [node("cloud1"), node("cloud2", state=NodeState.FAILED)]
    decided = resume(make_site(), ["cloud1", "cloud2"], nodes=live)
    assert decided.already == ("cloud1",) and not decided.boots
    assert refused(decided) == {"cloud2": "node cloud2 failed and is not yet destroyed"}


def test_gone_nodes_hold_nothing():
    site = with_atlas({"max_nodes": 1})
    decided = resume(site, ["cloud1"], nodes=[node("cloud1", state=NodeState.GONE)])
    assert [b.node_id for b in decided.boots] == ["cloud1"]


def test_unknown_vo_is_refused():
    observation = Observation(jobs=(), nodes=(), hosts=(host(),))
    decided = plan_resume(observation, {"cloud1": "lhcb"}, make_site())
    assert refused(decided) == {"cloud1": "no VO named lhcb in site.yaml"}

"""Slurm's reason codes as demand or not: every code Slurm has is decided, on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrm_adapters.slurm_reasons import REASONS, Demand, is_demand, reason_demand

#: every reason string of SchedMD/slurm src/common/job_state_reason.c (see SOURCES.md)
SLURM_CODES = (
    (Path(__file__).parent.parent / "fixtures" / "slurm" / "slurm_job_state_reason_codes.txt")
    .read_text()
    .split()
)


def test_every_reason_code_slurm_has_is_decided_in_the_table():
    assert len(SLURM_CODES) > 200
    assert [code for code in SLURM_CODES if code not in REASONS] == []


@pytest.mark.parametrize(
    "code",
    ["Resources", "Priority", "None", "PartitionNodeLimit", "Constraints", "NodeDown"],
)
def test_waiting_for_room_is_demand(code: str):
    assert is_demand(code, named_nodes=False)


@pytest.mark.parametrize(
    "code",
    [
        "AssocGrpCpuLimit",
        "AssocGrpJobsLimit",
        "AssocMaxNodePerJobLimit",
        "QOSMaxCpuPerUserLimit",
        "QOSGrpGRES",
        "MaxJobsPerAccount",
        "AccountingPolicy",
        "Dependency",
        "BeginTime",
        "JobHeldUser",
        "Licenses",
        "PartitionConfig",
        "PartitionDown",
        "PartitionTimeLimit",
        "Reservation",
        "BurstBufferResources",
        "MaxPoweredUpNodes",
    ],
)
def test_limits_holds_and_partition_refusals_are_not_demand(code: str):
    assert not is_demand(code, named_nodes=False)


def test_req_node_not_avail_is_demand_only_when_the_job_names_no_node():
    assert is_demand("ReqNodeNotAvail,_UnavailableNodes:cn[1-2]", named_nodes=False)
    assert not is_demand("ReqNodeNotAvail,_UnavailableNodes:wn-db-05", named_nodes=True)


def test_a_code_newer_than_the_table_in_a_limit_family_is_not_demand():
    for code in ("AssocGrpFrobLimit", "QOSMaxFrobPerJob", "MaxFrobPerAccount", "MaxFrobPerUser"):
        assert code not in REASONS
        assert reason_demand(code) is Demand.NO


def test_an_unknown_code_keeps_the_old_behaviour_demand():
    assert "SomethingNew" not in REASONS
    assert is_demand("SomethingNew", named_nodes=False)
    assert is_demand("", named_nodes=False)  # no reason given: as None

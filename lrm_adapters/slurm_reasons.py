"""Slurm's pending-job reason codes, each decided once: could a new worker node let it run?

Layer: pure data and one lookup; imports nothing of elastic. The codes are Slurm's own
list (``src/common/job_state_reason.c`` at SchedMD/slurm 284c3b95f0, and the squeue
man page's JOB REASON CODES, ``doc/html/job_reason_codes.shtml``): every code there is
in exactly one group below, and the group says why. A job whose reason is not demand
stays in the snapshot (``runnable=False``, with its reason) so ``elastic plan`` can say
why it waits, but no node is booted for it.
"""

from __future__ import annotations

import re
from enum import Enum


class Demand(Enum):
    """What one pending reason means to the planner."""

    YES = "a new node can let the job start"
    NO = "a new node cannot let the job start"
    UNLESS_NAMED = "demand unless the job names the nodes it must run on"


def _group(decision: Demand, names: str) -> dict[str, Demand]:
    return dict.fromkeys(names.split(), decision)


#: every reason code of Slurm 17.02 to 25.11, by group
REASONS: dict[str, Demand] = {
    # waiting for room: more nodes are exactly what it needs, or the scheduler has not
    # yet looked (None, SchedDefer) and would then find room on a new node
    **_group(Demand.YES, "None Resources Priority SchedDefer Constraints MpiPortsBusy"),
    # PartitionNodeLimit is also "more nodes than the partition holds now", which a new
    # dynamic node in the partition fixes (slurmctld _part_access_check: min_nodes >
    # total_nodes); the planner's own VO limits bound what it boots for a true MaxNodes
    **_group(Demand.YES, "PartitionNodeLimit"),
    # reasons of a previous run of a requeued job: pending again, it waits like any other
    # and its old node is gone (NodeDown)
    **_group(
        Demand.YES,
        "NodeDown NonZeroExitCode RaisedSignal TimeLimit InactiveLimit JobLaunchFailure "
        "SystemFailure OutOfMemory",
    ),
    # Slurm builds the UnavailableNodes list from the nodes the job requires, or, when it
    # names none, from its partition's nodes that are down or drained: only in the second
    # case can a new node help (node_scheduler.c, ESLURM_NODE_NOT_AVAIL)
    **_group(Demand.UNLESS_NAMED, "ReqNodeNotAvail"),
    # held, or waiting for another job or a time: nothing to do with room
    **_group(
        Demand.NO,
        "JobHeldAdmin JobHeldUser JobHoldMaxRequeue Dependency DependencyNeverSatisfied "
        "BeginTime DeadLine",
    ),
    # the job has its nodes and is starting, or its last run is still being cleaned up
    **_group(Demand.NO, "Prolog Cleaning FedJobLock"),
    # cluster-wide resources a node does not bring: licenses, burst buffers, IMEX channels
    **_group(
        Demand.NO,
        "Licenses BurstBufferResources BurstBufferStageIn BurstBufferOperation NvidiaImexChannels",
    ),
    # the partition refuses the job whatever its size: down, inactive, time limit, config
    **_group(
        Demand.NO,
        "PartitionDown PartitionInactive PartitionTimeLimit PartitionConfig "
        "AccountNotAllowed QOSNotAllowed InvalidAccount InvalidQOS BadConstraints",
    ),
    # an advanced reservation it asked for, not yet open, or gone
    **_group(Demand.NO, "Reservation ReservationDeleted ReservationInvalid"),
    # Slurm's own power saving allows no more nodes up (SuspendExcNodes/MaxPoweredUpNodes)
    **_group(Demand.NO, "MaxPoweredUpNodes"),
    # accounting limits of the association or QOS (the Assoc*, QOS*, Max*PerAccount and
    # Max*PerUser families are also matched by pattern below, for codes added later)
    **_group(
        Demand.NO,
        "AccountingPolicy AssociationJobLimit AssociationResourceLimit AssociationTimeLimit "
        "QOSUsageThreshold QOSJobLimit QOSResourceLimit QOSTimeLimit JobArrayTaskLimit "
        "MaxMemPerLimit",
    ),
    **_group(
        Demand.NO,
        "AssocGrpCpuLimit AssocGrpCPUMinutesLimit AssocGrpCPURunMinutesLimit "
        "AssocGrpJobsLimit AssocGrpMemLimit AssocGrpNodeLimit AssocGrpSubmitJobsLimit "
        "AssocGrpWallLimit AssocMaxJobsLimit AssocMaxCpuPerJobLimit "
        "AssocMaxCpuMinutesPerJobLimit AssocMaxNodePerJobLimit "
        "AssocMaxWallDurationPerJobLimit AssocMaxSubmitJobLimit AssocGrpUnknown "
        "AssocGrpUnknownMinutes AssocGrpUnknownRunMinutes AssocMaxUnknownPerJob "
        "AssocMaxUnknownPerNode AssocMaxUnknownMinutesPerJob AssocMaxCpuPerNode "
        "AssocGrpMemMinutes AssocGrpMemRunMinutes AssocMaxMemPerJob AssocMaxMemPerNode "
        "AssocMaxMemMinutesPerJob AssocGrpNodeMinutes AssocGrpNodeRunMinutes "
        "AssocMaxNodeMinutesPerJob AssocGrpEnergy AssocGrpEnergyMinutes "
        "AssocGrpEnergyRunMinutes AssocMaxEnergyPerJob AssocMaxEnergyPerNode "
        "AssocMaxEnergyMinutesPerJob AssocGrpGRES AssocGrpGRESMinutes "
        "AssocGrpGRESRunMinutes AssocMaxGRESPerJob AssocMaxGRESPerNode "
        "AssocMaxGRESMinutesPerJob AssocGrpLicense AssocGrpLicenseMinutes "
        "AssocGrpLicenseRunMinutes AssocMaxLicensePerJob AssocMaxLicenseMinutesPerJob "
        "AssocGrpBB AssocGrpBBMinutes AssocGrpBBRunMinutes AssocMaxBBPerJob "
        "AssocMaxBBPerNode AssocMaxBBMinutesPerJob AssocGrpBilling AssocGrpBillingMinutes "
        "AssocGrpBillingRunMinutes AssocMaxBillingPerJob AssocMaxBillingPerNode "
        "AssocMaxBillingMinutesPerJob",
    ),
    **_group(
        Demand.NO,
        "QOSGrpCpuLimit QOSGrpCPUMinutesLimit QOSGrpCPURunMinutesLimit QOSGrpJobsLimit "
        "QOSGrpMemLimit QOSGrpNodeLimit QOSGrpSubmitJobsLimit QOSGrpWallLimit "
        "QOSMaxCpuPerJobLimit QOSMaxCpuMinutesPerJobLimit QOSMaxNodePerJobLimit "
        "QOSMaxWallDurationPerJobLimit QOSMaxCpuPerUserLimit QOSMaxJobsPerUserLimit "
        "QOSMaxNodePerUserLimit QOSMaxSubmitJobPerUserLimit QOSMinCpuNotSatisfied "
        "QOSGrpUnknown QOSGrpUnknownMinutes QOSGrpUnknownRunMinutes QOSMaxUnknownPerJob "
        "QOSMaxUnknownPerNode QOSMaxUnknownPerUser QOSMaxUnknownMinutesPerJob QOSMinUnknown "
        "QOSMaxCpuPerNode QOSGrpMemoryMinutes QOSGrpMemoryRunMinutes QOSMaxMemoryPerJob "
        "QOSMaxMemoryPerNode QOSMaxMemoryPerUser QOSMaxMemoryMinutesPerJob QOSMinMemory "
        "QOSGrpNodeMinutes QOSGrpNodeRunMinutes QOSMaxNodeMinutesPerJob QOSMinNode "
        "QOSGrpEnergy QOSGrpEnergyMinutes QOSGrpEnergyRunMinutes QOSMaxEnergyPerJob "
        "QOSMaxEnergyPerNode QOSMaxEnergyPerUser QOSMaxEnergyMinutesPerJob QOSMinEnergy "
        "QOSGrpGRES QOSGrpGRESMinutes QOSGrpGRESRunMinutes QOSMaxGRESPerJob "
        "QOSMaxGRESPerNode QOSMaxGRESPerUser QOSMaxGRESMinutesPerJob QOSMinGRES "
        "QOSGrpLicense QOSGrpLicenseMinutes QOSGrpLicenseRunMinutes QOSMaxLicensePerJob "
        "QOSMaxLicensePerUser QOSMaxLicenseMinutesPerJob QOSMinLicense QOSGrpBB "
        "QOSGrpBBMinutes QOSGrpBBRunMinutes QOSMaxBBPerJob QOSMaxBBPerNode QOSMaxBBPerUser "
        "QOSMinBB QOSGrpBilling QOSGrpBillingMinutes QOSGrpBillingRunMinutes "
        "QOSMaxBillingPerJob QOSMaxBillingPerNode QOSMaxBillingPerUser "
        "QOSMaxBillingMinutesPerJob QOSMinBilling",
    ),
    **_group(
        Demand.NO,
        "MaxBBPerAccount MaxCpuPerAccount MaxEnergyPerAccount MaxGRESPerAccount "
        "MaxNodePerAccount MaxLicensePerAccount MaxMemoryPerAccount MaxUnknownPerAccount "
        "MaxJobsPerAccount MaxSubmitJobsPerAccount MaxBillingPerAccount "
        "MaxBBRunMinsPerAccount MaxBillingRunMinsPerAccount MaxCpuRunMinsPerAccount "
        "MaxEnergyRunMinsPerAccount MaxGRESRunMinsPerAccount MaxNodeRunMinsPerAccount "
        "MaxLicenseRunMinsPerAccount MaxMemoryRunMinsPerAccount MaxUnknownRunMinsPerAccount "
        "MaxBBRunMinsPerUser MaxBillingRunMinsPerUser MaxCpuRunMinsPerUser "
        "MaxEnergyRunMinsPerUser MaxGRESRunMinsPerUser MaxNodeRunMinsPerUser "
        "MaxLicenseRunMinsPerUser MaxMemoryRunMinsPerUser MaxUnknownRunMinsPerUser",
    ),
    # older spellings (Slurm 14.x-16.x) still printed by sites that never upgraded
    **_group(
        Demand.NO,
        "QOSGrpCPUMinsLimit QOSGrpCPURunMinsLimit QOSGrpMemoryLimit QOSGrpNodesLimit "
        "QOSMaxCpusPerJobLimit QOSMaxCpusMinsPerJobLimit QOSMaxNodesPerJobLimit "
        "QOSMaxCpusPerUserLimit QOSMaxNodesPerUserLimit QOSMinCPUsNotSatisfied "
        "AssocGrpCPUMinsLimit AssocGrpCPURunMinsLimit AssocGrpMemoryLimit "
        "AssocGrpNodesLimit AssocMaxCpusPerJobLimit AssocMaxCpusMinsPerJobLimit "
        "AssocMaxNodesPerJobLimit",
    ),
}

#: limit families Slurm names by prefix/suffix, for codes newer than the table
_LIMIT_FAMILY = re.compile(r"^(?:Assoc|QOS)[A-Z]|^Max\w+Per(?:Account|User)$")


def reason_demand(reason: str) -> Demand:
    """How the planner reads ``reason``, the code only (``ReqNodeNotAvail``, not its text).

    A code this table does not know is demand unless it belongs to one of the limit
    families: that is today's behaviour and the safe side for an autoscaler. A wrong
    "demand" boots a node that the VO and site limits bound, that shows in ``elastic
    plan`` with its job, and that the idle timeout retires; a wrong "not demand" leaves
    the job waiting for ever with nothing booted and no word why.
    """
    known = REASONS.get(reason)
    if known is not None:
        return known
    return Demand.NO if _LIMIT_FAMILY.match(reason) else Demand.YES


def is_demand(reason: str, named_nodes: bool) -> bool:
    """Whether a pending job with this reason (its first code) is demand.

    ``named_nodes`` is whether the job names the nodes it must run on (``--nodelist``:
    ``ReqNodeList`` / ``required_nodes``), which decides ``ReqNodeNotAvail``."""
    demand = reason_demand(reason.split(",")[0].strip())
    if demand is Demand.UNLESS_NAMED:
        return not named_nodes
    return demand is Demand.YES

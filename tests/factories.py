"""Builders for sites, jobs and nodes used across the unit tests."""

from __future__ import annotations

from typing import Any

from elastic.config import Site, parse_site
from elastic.model import (
    BootRequest,
    Host,
    Job,
    LrmNodeState,
    NodeRecord,
    NodeState,
    ProviderKind,
    WorkerNode,
)

BASE_SITE: dict[str, Any] = {
    "site": {"name": "t"},
    "lrm": {"kind": "sge"},
    "vos": [
        {
            "name": "atlas",
            "match": {"project": ["atlas"]},
            "flavor": {"cores": 4, "memory_mb": 8000},
            "image": {"libvirt": "atlas.qcow2", "ec2": "ami-atlas"},
            "max_nodes": 20,
            "share": 2,
            "cloud": {"allowed": True, "max_nodes": 10, "max_hourly_cost": 10.0},
        },
        {
            "name": "cms",
            "match": {"project": ["cms"]},
            "flavor": {"cores": 4, "memory_mb": 8000},
            "image": {"libvirt": "cms.qcow2", "ec2": "ami-cms"},
            "max_nodes": 20,
            "share": 1,
            "cloud": {"allowed": True, "max_nodes": 10, "max_hourly_cost": 10.0},
        },
    ],
    "local": {
        "hosts": [
            {"name": "hv1", "uri": "test:///default", "cores": 16, "memory_mb": 64000},
        ]
    },
    "ec2": {
        "region": "eu-west-1",
        "instance_types": {"atlas": ["c5.xlarge"], "cms": ["c5.xlarge"]},
        "prices": {"c5.xlarge": 0.2},
        "max_instances": 20,
        "max_hourly_cost": 4.0,
    },
    "policy": {
        "max_boots_per_pass": 50,
        "idle_timeout_local_s": 600,
        "idle_timeout_cloud_s": 300,
        "boot_timeout_s": 900,
    },
}


REPLACED_KEYS = {"instance_types"}  # maps keyed by VO: merged, they would name absent VOs


def site_yaml(**overrides: Any) -> str:
    """BASE_SITE with top-level sections replaced or deep-merged by ``overrides``, as the
    site.yaml text a CLI test passes with ``-c``."""
    import yaml

    return yaml.safe_dump(_merge(BASE_SITE, overrides))


def make_site(**overrides: Any) -> Site:
    """BASE_SITE with top-level sections replaced or deep-merged by ``overrides``."""
    return parse_site(site_yaml(**overrides), "site.yaml")


def with_atlas(atlas: dict[str, Any] | None = None, **overrides: Any) -> Site:
    """BASE_SITE with the atlas VO's keys changed by ``atlas`` (merged), cms as it is."""
    atlas_vo, cms = BASE_SITE["vos"]
    return make_site(vos=[_merge(atlas_vo, atlas or {}), cms], **overrides)


def _merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        merged = dict(base)
        for key, value in extra.items():
            replace_whole = key in REPLACED_KEYS or key not in base
            merged[key] = value if replace_whole else _merge(base[key], value)
        return merged
    return extra


def jobs(vo: str, n: int, cores: int = 4, memory_mb: int = 1000, **kw: Any) -> list[Job]:
    return [
        Job(id=f"{vo}.{i}", cores=cores, memory_mb=memory_mb, vo=vo, project=vo, **kw)
        for i in range(n)
    ]


def node(
    id: str,
    vo: str = "atlas",
    *,
    state: NodeState = NodeState.READY,
    lrm: LrmNodeState = LrmNodeState.IDLE,
    provider: ProviderKind = ProviderKind.LIBVIRT,
    running: int = 0,
    idle_since: float | None = 0.0,
    cores: int = 4,
    cost: float = 0.0,
    boot_deadline: float | None = None,
    memory_mb: int = 8000,
) -> WorkerNode:
    return WorkerNode(
        id=id,
        vo=vo,
        provider=provider,
        location="hv1" if provider is ProviderKind.LIBVIRT else "eu-west-1",
        state=state,
        lrm_state=lrm,
        cores=cores,
        memory_mb=memory_mb,
        created_at=0.0,
        state_since=0.0,
        running_jobs=running,
        idle_since=idle_since,
        hourly_cost=cost,
        boot_deadline=boot_deadline,
    )


def host(name: str = "hv1", cores: int = 16, memory_mb: int = 64000) -> Host:
    return Host(name, cores, memory_mb, cores, memory_mb)


def record(
    node_id: str,
    state: NodeState = NodeState.READY,
    *,
    vo: str = "atlas",
    provider: ProviderKind = ProviderKind.EC2,
    location: str = "r",
    cores: int = 4,
    memory_mb: int = 8000,
    at: float = 0.0,
    **kw: Any,
) -> NodeRecord:
    """A ledger row as elastic writes it when it asks for a node."""
    return NodeRecord(
        id=node_id,
        vo=vo,
        provider=provider,
        location=location,
        state=state,
        cores=cores,
        memory_mb=memory_mb,
        created_at=at,
        state_since=at,
        **kw,
    )


def boot_request(
    node_id: str,
    provider: ProviderKind,
    location: str,
    image: str,
    *,
    cores: int = 4,
    memory_mb: int = 8000,
    disk_gb: int = 10,
    user_data: str = "",
) -> BootRequest:
    """What the actuator hands a provider for one node of atlas on site ``t``."""
    return BootRequest(
        id=node_id,
        hostname=node_id,
        vo="atlas",
        site="t",
        provider=provider,
        location=location,
        cores=cores,
        memory_mb=memory_mb,
        disk_gb=disk_gb,
        image=image,
        user_data=user_data,
    )

"""The real Slurm started by scripts/services/slurm-up."""

from __future__ import annotations

import pytest

from lrm_adapters._command import CommandRunner
from lrm_adapters.slurm import SlurmAdapter
from tests.factories import make_site
from tests.integration.conftest import answering_service

VOS = [
    {
        "name": "atlas",
        "match": {"account": ["atlas"]},
        "flavor": {"cores": 2, "memory_mb": 1000},
        "image": {"libvirt": "x"},
    },
    {
        "name": "cms",
        "match": {"account": ["cms"]},
        "flavor": {"cores": 2, "memory_mb": 1000},
        "image": {"libvirt": "x"},
    },
]


@pytest.fixture(scope="session")
def slurm_env() -> dict[str, str]:
    return answering_service("slurm", ["sinfo"])


@pytest.fixture
def slurm(slurm_env: dict[str, str]) -> SlurmAdapter:
    site = make_site(vos=VOS, ec2={"instance_types": {}})
    return SlurmAdapter(CommandRunner(20, {"SLURM_CONF": slurm_env["SLURM_CONF"]}), site.vos)

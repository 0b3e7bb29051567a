"""The real Son of Grid Engine started by scripts/services/sge-up."""

from __future__ import annotations

import pytest

from lrm_adapters._command import CommandRunner
from lrm_adapters.sge import SgeAdapter
from tests.factories import make_site


@pytest.fixture
def sge(sge_env: dict[str, str]) -> SgeAdapter:
    runner = CommandRunner(20, {k: v for k, v in sge_env.items() if k.startswith("SGE_")})
    return SgeAdapter(runner, make_site().vos)

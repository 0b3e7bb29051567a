"""Build the LRM adapter, the providers and the renderer a site.yaml names.

Layer: composition root (imports adapters and providers lazily, so a site
that uses only SGE and libvirt never imports boto3 or the HTCondor bindings). Each
optional library a site needs is asked for here first (``elastic.extras.require``), so a
slim install that lacks one says which extra to install before anything runs.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from typing import cast

from elastic.actuation import UserDataRenderer
from elastic.config import ProbeOptions, Site
from elastic.engine import Engine
from elastic.extras import require
from elastic.ledger import Ledger
from elastic.model import ProviderKind
from elastic.providers.base import Provider
from elastic.vomatch import vo_of
from lrm_adapters._command import CommandRunner
from lrm_adapters.base import LRMAdapter, LRMError

log = logging.getLogger(__name__)


def build_lrm(site: Site) -> LRMAdapter:
    if site.lrm.kind == "replay":  # the played LRM runs a job on its VO's nodes
        from lrm_adapters.replay import from_site as replay_from_site

        return replay_from_site(site, route=lambda job: vo_of(job, site.vos))
    if site.lrm.kind == "htcondor":
        require("htcondor")
    module = importlib.import_module(f"lrm_adapters.{site.lrm.kind}")
    from_site = cast(Callable[[Site], LRMAdapter], module.from_site)
    return from_site(site)


def build_providers(site: Site) -> dict[ProviderKind, Provider]:
    providers: dict[ProviderKind, Provider] = {}
    if site.local.hosts:
        require("libvirt")
        from elastic.providers.libvirt import LibvirtProvider

        providers[ProviderKind.LIBVIRT] = LibvirtProvider(site)
    if site.ec2 is not None:
        require("ec2")
        if site.ec2.endpoint_url == "embedded":
            require("demo")
        from elastic.providers.ec2 import Ec2Provider

        providers[ProviderKind.EC2] = Ec2Provider(site)
    return providers


def user_data_renderer() -> UserDataRenderer:
    def render(site: Site, vo: str, hostname: str, node_id: str, *, cloud: bool = False) -> str:
        from elastic.contextualize import render_user_data

        return render_user_data(site, vo, hostname, node_id, cloud=cloud)

    return render


def drmaa_probe(site: Site) -> Callable[[str], bool]:
    """Runs ``python -m lrm_adapters.drmaa_jobs probe HOST`` in a child process, because
    libdrmaa may need LD_PRELOAD at process start (``ProbeOptions``: DRMAA_LIBRARY_PATH,
    LD_PRELOAD, and the LRM's own environment, e.g. SGE_ROOT/SGE_CELL)."""
    require("drmaa")
    options = site.lrm_options(ProbeOptions)
    env = options.probe_env()
    timeout = options.probe_timeout_s
    runner = CommandRunner(timeout_s=timeout + 30, env=env)

    def probe(hostname: str) -> bool:
        argv = [
            sys.executable,
            "-m",
            "lrm_adapters.drmaa_jobs",
            "probe",
            hostname,
            "--timeout",
            str(int(timeout)),
        ]
        try:
            runner.run(argv)
        except LRMError as exc:
            log.warning("probe job on %s failed: %s", hostname, exc)
            return False
        return True

    return probe


def build_engine(site: Site) -> Engine:
    if site.state_is_url() and site.site.state.lower().startswith("postgres"):
        require("postgresql")
    # the adapter and providers first: a missing extra stops here, before the ledger is
    # opened (and perhaps upgraded) for a pass that cannot run
    lrm = build_lrm(site)
    providers = build_providers(site)
    probe = drmaa_probe(site) if any(vo.probe for vo in site.vos) else None
    return Engine(
        site=site,
        ledger=Ledger.open(site.state_url()),
        lrm=lrm,
        providers=providers,
        render_user_data=user_data_renderer(),
        probe=probe,
    )

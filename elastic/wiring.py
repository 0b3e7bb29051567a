"""Build the LRM adapter, the providers and the renderer a site.yaml names.

Layer: composition root (imports adapters and providers lazily, so a site
that uses only SGE and libvirt never imports boto3 or the HTCondor bindings).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

from elastic.actuation import UserDataRenderer
from elastic.config import Site
from elastic.engine import Engine
from elastic.ledger import Ledger
from elastic.model import ProviderKind
from elastic.providers.base import Provider
from lrm_adapters.base import LRMAdapter


def build_lrm(site: Site) -> LRMAdapter:
    module = importlib.import_module(f"lrm_adapters.{site.lrm.kind}")
    from_site = cast(Callable[[Site], LRMAdapter], module.from_site)
    return from_site(site)


def build_providers(site: Site) -> dict[ProviderKind, Provider]:
    providers: dict[ProviderKind, Provider] = {}
    if site.local.hosts:
        from elastic.providers.libvirt import LibvirtProvider

        providers[ProviderKind.LIBVIRT] = LibvirtProvider(site)
    if site.ec2 is not None:
        from elastic.providers.ec2 import Ec2Provider

        providers[ProviderKind.EC2] = Ec2Provider(site)
    return providers


def user_data_renderer() -> UserDataRenderer:
    def render(site: Site, vo: str, hostname: str, node_id: str) -> str:
        from elastic.contextualize import render_user_data

        return render_user_data(site, vo, hostname, node_id)

    return render


def build_engine(site: Site) -> Engine:
    return Engine(
        site=site,
        ledger=Ledger.open(site.state_path()),
        lrm=build_lrm(site),
        providers=build_providers(site),
        render_user_data=user_data_renderer(),
    )

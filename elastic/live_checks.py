"""``elastic validate --online``: what only the live site can tell about a site file.

Layer: I/O at the edge, beside the CLI (the adapter, the providers' connections; it
reads, never changes anything). Each check says which one failed and points at the key
of the site file it concerns: the LRM answers a read-only listing through its adapter;
each libvirt host answers and has the storage pool and every VO's base image; EC2
accepts the credentials and knows every VO's AMI. A failure is an error finding: a site
that cannot reach its LRM or a hypervisor runs only degraded passes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from elastic.checks import Finding
from elastic.config import Positions, Site
from elastic.deadline import call_with_deadline
from elastic.providers.base import ProviderError

log = logging.getLogger(__name__)


def check_online(site: Site, at: Positions) -> list[Finding]:
    return [*check_lrm(site, at), *check_libvirt_hosts(site, at), *check_ec2(site, at)]


def _why(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def check_lrm(site: Site, at: Positions) -> Iterator[Finding]:
    """The adapter's snapshot: the listing every pass starts with, so nothing is changed."""
    from elastic.wiring import build_lrm

    try:
        adapter = build_lrm(site)
        snapshot = call_with_deadline(adapter.snapshot, site.lrm.timeout_s + 5)
    except Exception as exc:  # any failure, a timeout (DeadlineExceeded) too, is the answer
        yield Finding(
            at.at("lrm", "kind"),
            f"online: the LRM ({site.lrm.kind}) does not answer: {_why(exc)}",
            error=True,
        )
        return
    log.info(
        "online: LRM %s answers (%d jobs, %d nodes)",
        site.lrm.kind,
        len(snapshot.jobs),
        len(snapshot.nodes),
    )


def check_libvirt_hosts(site: Site, at: Positions) -> Iterator[Finding]:
    if not site.local.hosts:
        return
    import libvirt

    from elastic.providers.libvirt import LibvirtProvider

    provider = LibvirtProvider(site)
    images = {vo.image.libvirt: vo.name for vo in site.vos if vo.image.libvirt}
    try:
        for i, host in enumerate(site.local.hosts):
            try:
                connection = provider.connection(host.name)
            except ProviderError as exc:
                yield Finding(at.at("local", "hosts", i, "uri"), f"online: {exc}", error=True)
                continue
            try:
                pool = connection.storagePoolLookupByName(host.pool)
            except libvirt.libvirtError as exc:
                yield Finding(
                    at.at("local", "hosts", i, "pool"),
                    f"online: host {host.name} has no storage pool {host.pool}: {_why(exc)}",
                    error=True,
                )
                continue
            yield from _images(at, i, host.name, host.pool, pool, images, libvirt.libvirtError)
    finally:
        provider.close()


def _images(
    at: Positions,
    i: int,
    host: str,
    pool_name: str,
    pool: Any,
    images: dict[str, str],
    error: type[Exception],
) -> Iterator[Finding]:
    if not pool.isActive():
        yield Finding(
            at.at("local", "hosts", i, "pool"),
            f"online: pool {pool_name} on {host} is inactive (the first boot starts it); "
            "its images are not checked",
        )
        return
    for image, vo in images.items():
        try:
            pool.storageVolLookupByName(image)
        except error:
            yield Finding(
                at.at("local", "hosts", i, "pool"),
                f"online: host {host}: pool {pool_name} has no volume {image} (image.libvirt "
                f"of VO {vo})",
                error=True,
            )


def check_ec2(site: Site, at: Positions) -> Iterator[Finding]:
    if site.ec2 is None:
        return
    from botocore.exceptions import BotoCoreError, ClientError

    from elastic.providers.ec2 import Ec2Provider

    amis = {vo.image.ec2: vo.name for vo in site.vos if vo.cloud.allowed and vo.image.ec2}
    client = Ec2Provider(site).client
    try:  # the credentials: a call every account may make
        client.describe_regions()
    except (BotoCoreError, ClientError) as exc:
        yield Finding(at.at("ec2"), f"online: EC2 refuses the credentials: {_why(exc)}", error=True)
        return
    for ami, vo in amis.items():
        try:
            found = client.describe_images(ImageIds=[ami])["Images"]
        except (BotoCoreError, ClientError) as exc:
            found, why = [], _why(exc)
        else:
            why = "not found"
        if not found:
            i = next(n for n, v in enumerate(site.vos) if v.name == vo)
            yield Finding(
                at.at("vos", i, "image", "ec2"),
                f"online: AMI {ami} of VO {vo}: {why}",
                error=True,
            )

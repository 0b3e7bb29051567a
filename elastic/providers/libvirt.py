"""Local hypervisors through libvirt-python: the first place new workers go.

Layer: provider I/O. One lazily opened connection per configured host URI
(``qemu:///system``, ``qemu+ssh://host/system``, ``test:///…``), reopened when it
drops. A domain is ours because its XML carries elastic's ``<metadata>``
element (node id, VO, site, host), never because of its name. A worker is a
copy-on-write qcow2 volume backed by the VO's base image, a NoCloud seed ISO
and a domain from the ``libvirt/domain.xml.j2`` template (the site's ``templates_dir``
first, then elastic's); every step looks for
what a previous, interrupted attempt left, so booting the same node twice
yields one VM and destroying twice is harmless.

Capacity is elastic's own accounting: configured cores and memory, minus the
reserve, minus what running domains hold. (libvirt's test driver starts any
number of domains, so nothing else would stop an overcommit there.)

A ``test:///`` URI may contain ``{site_dir}``, replaced by the site file's
folder, so a site can ship its own test-driver host description.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libvirt
from jinja2 import Environment, StrictUndefined

from elastic.config import HostConfig, Site
from elastic.contextualize import render_meta_data
from elastic.model import BootRequest, Host, Inventory, ProviderKind, VMRef
from elastic.providers.base import ProviderError
from elastic.seed_iso import build_seed_iso
from elastic.template_files import loader

log = logging.getLogger(__name__)

NAMESPACE = "https://elastic.invalid/xmlns/node/1"
_TAG = f"{{{NAMESPACE}}}"
GIB = 1024**3


@dataclass(frozen=True)
class DomainTag:
    node_id: str
    vo: str
    site: str
    host: str


def domain_tag(domain: Any) -> DomainTag | None:
    """Our metadata on a domain, or None for anything elastic did not make."""
    try:
        text = domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NAMESPACE)
    except libvirt.libvirtError:
        return None
    root = ET.fromstring(text)  # noqa: S314 - XML from our own libvirt metadata
    values = {child.tag.replace(_TAG, ""): (child.text or "") for child in root}
    if not values.get("id"):
        return None
    return DomainTag(
        values["id"], values.get("vo", ""), values.get("site", ""), values.get("host", "")
    )


class LibvirtProvider:
    """Provider over the site's ``local.hosts``."""

    kind = ProviderKind.LIBVIRT

    def __init__(self, site: Site) -> None:
        libvirt.registerErrorHandler(_quiet, None)  # errors arrive as exceptions; no stderr noise
        self.site = site
        self.hosts = {h.name: h for h in site.local.hosts}
        self._connections: dict[str, Any] = {}
        self._templates = Environment(
            loader=loader(site), undefined=StrictUndefined, autoescape=True
        )

    def uri(self, host: HostConfig) -> str:
        site_dir = str(Path(self.site.source).resolve().parent) if self.site.source else "."
        return host.uri.replace("{site_dir}", site_dir)

    def connection(self, name: str) -> Any:
        """The open connection to a host, (re)opened when needed."""
        connection = self._connections.get(name)
        if connection is not None:
            try:
                if connection.isAlive():
                    return connection
            except libvirt.libvirtError:
                pass
            log.warning("libvirt connection to %s dropped; reopening", name)
        host = self.hosts[name]
        try:
            connection = libvirt.open(self.uri(host))
        except libvirt.libvirtError as exc:
            raise ProviderError(f"cannot connect to {name} ({host.uri}): {exc}") from exc
        self._connections[name] = connection
        return connection

    def close(self) -> None:
        for connection in self._connections.values():
            try:
                connection.close()
            except libvirt.libvirtError:
                log.debug("closing a libvirt connection failed", exc_info=True)
        self._connections.clear()

    def _domain_type(self, host: HostConfig) -> str:
        if host.domain_type:
            return host.domain_type
        return "test" if host.uri.startswith("test:") else "kvm"

    def inventory(self) -> Inventory:
        hosts: list[Host] = []
        vms: list[VMRef] = []
        for name, config in self.hosts.items():
            try:
                host, ours = self._host_inventory(name, config)
            except (ProviderError, libvirt.libvirtError) as exc:
                log.error("host %s unreachable: %s", name, exc)
                hosts.append(
                    Host(name, config.cores, config.memory_mb, 0, 0, False, error=str(exc))
                )
                continue
            hosts.append(host)
            vms.extend(ours)
        return Inventory(ProviderKind.LIBVIRT, tuple(hosts), tuple(vms))

    def _host_inventory(self, name: str, config: HostConfig) -> tuple[Host, list[VMRef]]:
        connection = self.connection(name)
        used_cores = used_memory_mb = 0
        ours: list[VMRef] = []
        for domain in connection.listAllDomains():
            tag = domain_tag(domain)
            shared_test_driver = config.uri.startswith("test:") and tag is not None
            if shared_test_driver and tag is not None and tag.host != name:
                continue  # test:///default is one in-memory host shared by all connections
            if domain.isActive():
                _, _, memory_kib, vcpus, _ = domain.info()
                used_cores += vcpus
                used_memory_mb += memory_kib // 1024
            if tag is not None and tag.site == self.site.site.name:
                ours.append(
                    VMRef(
                        tag.node_id,
                        ProviderKind.LIBVIRT,
                        name,
                        domain.name(),
                        tag.vo,
                        running=bool(domain.isActive()),
                    )
                )
        free_cores = config.cores - config.reserved_cores - used_cores
        free_memory = config.memory_mb - config.reserved_memory_mb - used_memory_mb
        host = Host(name, config.cores, config.memory_mb, max(0, free_cores), max(0, free_memory))
        return host, ours

    def _pool(self, connection: Any, config: HostConfig) -> Any:
        try:
            pool = connection.storagePoolLookupByName(config.pool)
            if not pool.isActive():
                pool.create(0)
            return pool
        except libvirt.libvirtError as exc:
            raise ProviderError(f"storage pool {config.pool} on {config.name}: {exc}") from exc

    def _volume(self, pool: Any, name: str, xml: str) -> Any:
        try:
            return pool.storageVolLookupByName(name)
        except libvirt.libvirtError:
            return pool.createXML(xml, 0)

    def _disk(self, pool: Any, request: BootRequest) -> Any:
        try:
            base = pool.storageVolLookupByName(request.image)
        except libvirt.libvirtError as exc:
            raise ProviderError(
                f"base image {request.image!r} not found in pool {pool.name()}"
            ) from exc
        xml = self._templates.get_template("libvirt/volume.xml.j2").render(
            name=f"{request.node_id}.qcow2",
            capacity_bytes=max(request.disk_gb * GIB, base.info()[1]),
            backing_path=base.path(),
        )
        return self._volume(pool, f"{request.node_id}.qcow2", xml)

    def _seed(self, connection: Any, pool: Any, request: BootRequest) -> Any:
        image = build_seed_iso(
            request.user_data,
            render_meta_data(request.node_id, request.hostname),
        )
        name = f"{request.node_id}-seed.iso"
        xml = self._templates.get_template("libvirt/volume.xml.j2").render(
            name=name, capacity_bytes=len(image), backing_path=None
        )
        volume = self._volume(pool, name, xml)
        stream = connection.newStream(0)
        try:
            volume.upload(stream, 0, len(image), 0)
            stream.send(image)
            stream.finish()
        except libvirt.libvirtError as exc:
            stream.abort()
            if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                raise
            log.debug("%s: driver cannot upload; seed volume left empty", pool.name())
        return volume

    def _host(self, name: str) -> tuple[HostConfig, Any]:
        """A configured host and its open connection."""
        config = self.hosts.get(name)
        if config is None:
            raise ProviderError(f"no local host named {name!r} in site.yaml")
        return config, self.connection(config.name)

    def boot(self, request: BootRequest) -> VMRef:
        config, connection = self._host(request.location)
        try:
            domain = self._existing(connection, request.node_id)
            if domain is None:
                pool = self._pool(connection, config)
                disk = self._disk(pool, request)
                seed = self._seed(connection, pool, request)
                domain = connection.defineXML(self._domain_xml(config, request, disk, seed))
            if not domain.isActive():
                domain.create()
        except libvirt.libvirtError as exc:
            raise ProviderError(f"boot {request.node_id} on {config.name}: {exc}") from exc
        log.info("booted %s on %s", request.node_id, config.name)
        return VMRef(request.node_id, ProviderKind.LIBVIRT, config.name, domain.name(), request.vo)

    def _existing(self, connection: Any, node_id: str) -> Any:
        try:
            domain = connection.lookupByName(node_id)
        except libvirt.libvirtError:
            return None
        tag = domain_tag(domain)
        if tag is None or tag.node_id != node_id:
            raise ProviderError(f"a domain named {node_id} exists but is not elastic's")
        return domain

    def _domain_xml(self, config: HostConfig, request: BootRequest, disk: Any, seed: Any) -> str:
        domain_type = self._domain_type(config)
        return self._templates.get_template("libvirt/domain.xml.j2").render(
            domain_type=domain_type,
            name=request.node_id,
            node_id=request.node_id,
            vo=request.vo,
            site=request.site,
            host=config.name,
            namespace=NAMESPACE,
            cores=request.cores,
            memory_mb=request.memory_mb,
            disk_path=disk.path(),
            seed_path=seed.path(),
            network=config.network,
            kernel=config.kernel,
            initrd=config.initrd,
            cmdline=config.cmdline,
            console_log=None if domain_type == "test" else console_log_path(request.node_id),
        )

    def destroy(self, vm: VMRef) -> None:
        config, connection = self._host(vm.location)
        try:
            domain = self._existing(connection, vm.node_id)
            if domain is not None:
                if domain.isActive():
                    domain.destroy()
                domain.undefine()
            pool = self._pool(connection, config)
            for name in (f"{vm.node_id}.qcow2", f"{vm.node_id}-seed.iso"):
                try:
                    pool.storageVolLookupByName(name).delete(0)
                except libvirt.libvirtError:
                    continue  # already gone
        except libvirt.libvirtError as exc:
            raise ProviderError(f"destroy {vm.node_id} on {config.name}: {exc}") from exc
        log.info("destroyed %s on %s", vm.node_id, config.name)


def _quiet(context: object, error: object) -> None:
    """libvirt's default handler prints every error to stderr, even handled ones."""


def console_log_path(node_id: str) -> str:
    return f"/var/log/libvirt/qemu/{node_id}-console.log"

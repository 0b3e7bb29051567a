"""Small in-memory stand-ins for unit tests of the engine (never for integration tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from elastic.config import Site
from elastic.model import BootRequest, Host, Inventory, ProviderKind, VMRef
from elastic.providers.base import ProviderError


@dataclass
class FakeProvider:
    """Holds VMs in a dict; hosts shrink as VMs are booted on them."""

    kind: ProviderKind
    hosts: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (cores, memory)
    vms: dict[str, VMRef] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    fail_boot: bool = False
    fail_inventory: bool = False
    boots: int = 0
    destroys: int = 0

    def inventory(self) -> Inventory:
        if self.fail_inventory:
            raise ProviderError("inventory unavailable")
        hosts = []
        for name, (cores, memory) in self.hosts.items():
            used = [self.sizes[v.node_id] for v in self.vms.values() if v.location == name]
            hosts.append(
                Host(
                    name,
                    cores,
                    memory,
                    cores - sum(c for c, _ in used),
                    memory - sum(m for _, m in used),
                )
            )
        return Inventory(self.kind, tuple(hosts), tuple(self.vms.values()))

    def boot(self, request: BootRequest) -> VMRef:
        if self.fail_boot:
            raise ProviderError("boot refused")
        if request.node_id not in self.vms:
            self.boots += 1
            self.vms[request.node_id] = VMRef(
                request.node_id, self.kind, request.location, f"vm-{request.node_id}", request.vo
            )
            self.sizes[request.node_id] = (request.cores, request.memory_mb)
        return self.vms[request.node_id]

    def destroy(self, vm: VMRef) -> None:
        if self.vms.pop(vm.node_id, None) is not None:
            self.destroys += 1


def fake_providers(site: Site) -> dict[ProviderKind, FakeProvider]:
    local = FakeProvider(
        ProviderKind.LIBVIRT,
        {
            h.name: (h.cores - h.reserved_cores, h.memory_mb - h.reserved_memory_mb)
            for h in site.local.hosts
        },
    )
    return {ProviderKind.LIBVIRT: local, ProviderKind.EC2: FakeProvider(ProviderKind.EC2)}


def plain_user_data(
    site: Site, vo: str, hostname: str, node_id: str, *, cloud: bool = False
) -> str:
    return f"#cloud-config\nhostname: {hostname}\n"

"""The contract every VM provider keeps, and its typed errors.

Layer: provider boundary (imports elastic.model only). A provider creates,
finds and destroys worker VMs. It never reads a queue: that is an LRM
adapter's job.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from elastic.model import BootRequest, Inventory, ProviderKind, VMRef


class ProviderError(Exception):
    """A provider call failed; the action is recorded as failed and retried later."""


class CapacityError(ProviderError):
    """The provider has no room for this VM now (insufficient capacity, a limit)."""


@runtime_checkable
class Provider(Protocol):
    """Create, find and destroy worker VMs.

    Contract:
    - ``inventory()`` lists hosts with free capacity and the VMs that are ours,
      recognised by elastic's metadata/tags on the VM, never by name alone.
    - ``boot(request)`` is idempotent per ``request.node_id``: booting the same
      request twice yields one VM (a retry after a crash must not leak a VM).
    - ``destroy(vm)`` is idempotent: destroying a VM that is gone is not an error.
    - Failures raise ``ProviderError`` (``CapacityError`` for no room).
    """

    kind: ProviderKind

    def inventory(self) -> Inventory: ...

    def boot(self, request: BootRequest) -> VMRef: ...

    def destroy(self, vm: VMRef) -> None: ...

"""A real boot: one worker through LibvirtProvider on qemu:///system (QEMU under TCG).

The guest (scripts/services/libvirtd-up) is a Debian kernel with a busybox initramfs that
mounts the NoCloud seed elastic built and prints its user-data on the serial console, which
libvirt writes to a file. The test compares that with what elastic rendered, then destroys
the worker and checks that neither the domain nor its volumes are left.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import libvirt
import pytest

from elastic.contextualize import render_user_data
from elastic.model import ProviderKind, VMRef
from elastic.providers.libvirt import LibvirtProvider, console_log_path
from tests.factories import boot_request, make_site
from tests.integration.conftest import require, service_env

pytestmark = [pytest.mark.qemu, pytest.mark.libvirt, pytest.mark.slow]
NODE = "t-atlas-07001"


@pytest.fixture
def provider():
    env = service_env("libvirtd")
    try:
        libvirt.open(env["LIBVIRT_URI"]).close()
    except libvirt.libvirtError as exc:
        require(False, f"libvirtd does not answer: {exc}")
    host = {
        "name": "real",
        "uri": env["LIBVIRT_URI"],
        "cores": 2,
        "memory_mb": 4096,
        "pool": env["LIBVIRT_POOL"],
        "network": "",
        "domain_type": "qemu",
        "kernel": env["GUEST_KERNEL"],
        "initrd": env["GUEST_INITRD"],
        "cmdline": "console=ttyS0 quiet",
    }
    vos = [
        {
            "name": "atlas",
            "match": {"project": ["atlas"]},
            "flavor": {"cores": 1, "memory_mb": 256, "disk_gb": 1},
            "image": {"libvirt": env["GUEST_BASE_IMAGE"]},
            "context": {"template": "sge", "vars": {"qmaster": "qm.example", "packages": ["htop"]}},
        }
    ]
    made = LibvirtProvider(make_site(local={"hosts": [host]}, vos=vos, ec2={"instance_types": {}}))
    yield made
    made.destroy(VMRef(NODE, ProviderKind.LIBVIRT, "real", NODE))
    made.close()


def test_the_vm_receives_exactly_the_rendered_user_data(provider):
    user_data = render_user_data(provider.site, "atlas", NODE, NODE)
    image = provider.site.vos[0].image.libvirt
    request = boot_request(
        NODE,
        ProviderKind.LIBVIRT,
        "real",
        image,
        cores=1,
        memory_mb=256,
        disk_gb=1,
        user_data=user_data,
    )
    vm = provider.boot(request)
    log = Path(console_log_path(NODE))
    deadline = time.monotonic() + 90
    text = ""
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if "ELASTIC-USER-DATA-END" in text:
            break
        time.sleep(0.5)
    match = re.search(r"ELASTIC-USER-DATA-BEGIN\r?\n(.*)ELASTIC-USER-DATA-END", text, re.S)
    assert match, f"no user-data on the console:\n{text[-2000:]}"
    assert match.group(1).replace("\r\n", "\n") == user_data

    provider.destroy(vm)
    provider.destroy(vm)
    connection = provider.connection("real")
    with pytest.raises(libvirt.libvirtError):
        connection.lookupByName(NODE)
    pool = connection.storagePoolLookupByName(provider.hosts["real"].pool)
    pool.refresh(0)
    assert not [v for v in pool.listVolumes() if v.startswith(NODE)]

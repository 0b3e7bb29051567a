"""LibvirtProvider through libvirt-python against libvirt's test driver: domain XML,
volumes and metadata are checked by libvirt itself."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest

from elastic.contextualize import render_user_data
from elastic.model import ProviderKind, VMRef
from elastic.providers.base import ProviderError
from elastic.providers.libvirt import LibvirtProvider, domain_tag
from elastic.seed_iso import build_seed_iso, read_seed_iso
from tests.factories import boot_request, make_site

pytestmark = pytest.mark.libvirt
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def provider(tmp_path: Path):
    host_xml = tmp_path / "hv1.xml"
    shutil.copy(REPO / "hosts/testhost-hv1.xml", host_xml)
    hosts = [
        {
            "name": "hv1",
            "uri": f"test://{host_xml}",
            "cores": 16,
            "memory_mb": 65536,
            "reserved_cores": 2,
            "reserved_memory_mb": 4096,
        },
        {"name": "broken", "uri": f"test://{tmp_path}/missing.xml", "cores": 8, "memory_mb": 8192},
    ]
    site = make_site(
        local={"hosts": hosts},
        vos=[
            {
                "name": "atlas",
                "match": {"project": ["atlas"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
                "image": {"libvirt": "atlas-base.qcow2"},
                "context": {"vars": {"qmaster": "qm"}},
            }
        ],
        ec2={"instance_types": {}},
    )
    made = LibvirtProvider(site)
    yield made
    made.close()


def request(
    provider: LibvirtProvider, node_id: str = "t-atlas-00001", image: str = "atlas-base.qcow2"
):
    user_data = render_user_data(provider.site, "atlas", node_id, node_id)
    return boot_request(
        node_id, ProviderKind.LIBVIRT, "hv1", image, disk_gb=20, user_data=user_data
    )


def volumes(provider: LibvirtProvider) -> list[str]:
    return sorted(provider.connection("hv1").storagePoolLookupByName("default").listVolumes())


def test_boot_defines_a_tagged_domain_on_a_cow_disk_with_a_seed(provider):
    vm = provider.boot(request(provider))
    assert (vm.location, vm.instance_id) == ("hv1", "t-atlas-00001")
    connection = provider.connection("hv1")
    domain = connection.lookupByName("t-atlas-00001")
    assert domain.isActive()
    assert domain_tag(domain).node_id == "t-atlas-00001" and domain_tag(domain).vo == "atlas"
    pool = connection.storagePoolLookupByName("default")
    disk = ET.fromstring(pool.storageVolLookupByName("t-atlas-00001.qcow2").XMLDesc())
    assert disk.findtext("backingStore/path") == "/var/lib/libvirt/images/atlas-base.qcow2"
    assert disk.find("target/format").get("type") == "qcow2"
    assert "t-atlas-00001-seed.iso" in volumes(provider)
    xml = ET.fromstring(domain.XMLDesc())
    sources = [d.find("source").get("file") for d in xml.findall("devices/disk")]
    assert sources[0].endswith("t-atlas-00001.qcow2") and sources[1].endswith("-seed.iso")


def test_inventory_counts_capacity_and_finds_only_ours(provider):
    provider.boot(request(provider))
    foreign = provider.connection("hv1").defineXML(
        "<domain type='test'><name>other</name><memory unit='MiB'>2048</memory><vcpu>2</vcpu>"
        "<os><type>hvm</type></os></domain>"
    )
    foreign.create()
    inventory = provider.inventory()
    hv1 = next(h for h in inventory.hosts if h.name == "hv1")
    assert (hv1.cores_free, hv1.memory_mb_free) == (16 - 2 - 4 - 2, 65536 - 4096 - 8000 - 2048)
    assert [vm.node_id for vm in inventory.vms] == ["t-atlas-00001"]
    broken = next(h for h in inventory.hosts if h.name == "broken")
    assert broken.reachable is False


def test_boot_twice_is_one_vm_and_destroy_twice_is_fine(provider):
    provider.boot(request(provider))
    provider.boot(request(provider))
    assert len(provider.inventory().vms) == 1
    assert volumes(provider).count("t-atlas-00001.qcow2") == 1
    vm = VMRef("t-atlas-00001", ProviderKind.LIBVIRT, "hv1", "t-atlas-00001", "atlas")
    provider.destroy(vm)
    provider.destroy(vm)
    assert provider.inventory().vms == ()
    assert volumes(provider) == ["atlas-base.qcow2", "cms-base.qcow2"]
    with pytest.raises(libvirt.libvirtError):
        provider.connection("hv1").lookupByName("t-atlas-00001")


def test_missing_base_image_and_foreign_namesake_are_errors(provider):
    with pytest.raises(ProviderError, match=r"base image 'nope\.qcow2' not found"):
        provider.boot(request(provider, image="nope.qcow2"))
    provider.connection("hv1").defineXML(
        "<domain type='test'><name>t-atlas-00002</name><memory>1024</memory>"
        "<os><type>hvm</type></os></domain>"
    )
    with pytest.raises(ProviderError, match="is not elastic's"):
        provider.boot(request(provider, node_id="t-atlas-00002"))


def test_a_dropped_connection_is_reopened(provider):
    provider.connection("hv1").close()
    assert provider.inventory().hosts[0].reachable


def test_hosts_sharing_test_default_are_kept_apart(tmp_path):
    hosts = [
        {"name": n, "uri": "test:///default", "cores": 8, "memory_mb": 16000} for n in ("a", "b")
    ]
    site = make_site(local={"hosts": hosts}, ec2={"instance_types": {}})
    provider = LibvirtProvider(site)
    connection = provider.connection("a")
    pool = connection.storagePoolLookupByName("default-pool")
    pool.createXML(
        "<volume><name>base.qcow2</name><capacity>1024</capacity>"
        "<target><format type='qcow2'/></target></volume>",
        0,
    )
    boot = boot_request(
        "t-atlas-00009",
        ProviderKind.LIBVIRT,
        "a",
        "base.qcow2",
        cores=2,
        memory_mb=1000,
        disk_gb=1,
        user_data="#cloud-config\n{}\n",
    )
    hosts_config = {
        h.name: h.model_copy(update={"pool": "default-pool"}) for h in provider.hosts.values()
    }
    provider.hosts = hosts_config
    try:
        provider.boot(boot)
        vms = provider.inventory().vms
        assert [(vm.node_id, vm.location) for vm in vms] == [("t-atlas-00009", "a")]
    finally:
        provider.destroy(VMRef("t-atlas-00009", ProviderKind.LIBVIRT, "a", "t-atlas-00009"))
        pool.storageVolLookupByName("base.qcow2").delete(0)
        provider.close()


def test_seed_iso_round_trip():
    image = build_seed_iso("#cloud-config\nhostname: x\n", "instance-id: x\n")
    assert read_seed_iso(image) == {
        "user-data": "#cloud-config\nhostname: x\n",
        "meta-data": "instance-id: x\n",
    }
    assert b"cidata" in image

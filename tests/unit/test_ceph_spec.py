"""What cephadm is given for a site's storage hosts (components/storage/ceph_spec.py): the
monitors' placement, the OSD specs from each host's disks, RGW and its ingress, image names."""

from ipaddress import IPv4Address, IPv4Network

import pytest
import yaml

from components.config import Host, Mirrors
from components.storage import ceph_spec

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEIgO/dzTZOvOMzn17n7MLN9qToaAnFd+WvPmNwBPC24"


def storage_host(number: int, disks: int = 2) -> Host:
    return Host.model_validate(
        {
            "name": f"ceph-{number}",
            "address": f"10.10.2.{10 + number}",
            "roles": ["storage"],
            "hostKey": KEY,
            "disks": [
                {"device": f"/dev/nvme{d}n1", "sizeGb": 7680, "media": "nvme"} for d in range(disks)
            ],
        }
    )


MIRRORS = Mirrors.model_validate(
    {
        "internalDomains": ["bank.internal"],
        "imageRegistry": "registry.bank.internal/deepseek",
        "chartRepository": "https://charts.bank.internal/stable",
        "aptMirror": "https://apt.bank.internal/ubuntu",
        "kubernetesAptRepo": "https://apt.bank.internal/kubernetes/core/stable/v1.31/deb/",
    }
)


def test_images_are_the_upstream_names_on_the_internal_registry():
    assert ceph_spec.ceph_image(MIRRORS, "v18.2.4") == (
        "registry.bank.internal/deepseek/quay.io/ceph/ceph:v18.2.4"
    )
    assert ceph_spec.mirrored(MIRRORS, ceph_spec.HAPROXY_IMAGE) == (
        "registry.bank.internal/deepseek/quay.io/ceph/haproxy:2.3"
    )
    assert ceph_spec.package_version("v18.2.4") == "18.2.4"
    assert ceph_spec.package_version("19.2.1") == "19.2.1"


@pytest.mark.parametrize(
    ("hosts", "monitors"), [(1, 1), (2, 1), (3, 3), (4, 3), (5, 5), (6, 5), (9, 5)]
)
def test_monitors_are_an_odd_number_of_at_most_five_starting_with_the_first_host(hosts, monitors):
    storage = [storage_host(n) for n in range(1, hosts + 1)]
    chosen = ceph_spec.monitor_hosts(storage)
    assert len(chosen) == monitors
    assert chosen[0] is storage[0]
    assert ceph_spec.monitor_addresses(storage)[0] == "10.10.2.11:6789"


def test_the_monitor_placement_always_names_every_monitor_host():
    storage = [storage_host(n) for n in range(1, 5)]
    assert ceph_spec.monitor_spec(storage) == {
        "service_type": "mon",
        "placement": {"hosts": ["ceph-1", "ceph-2", "ceph-3"]},
    }


def test_one_osd_service_per_host_and_device_class_naming_its_disks_and_their_class():
    mixed = Host.model_validate(
        {
            **storage_host(1, disks=2).model_dump(by_alias=True, mode="json"),
            "disks": [
                {"device": "/dev/nvme0n1", "sizeGb": 7680, "media": "nvme"},
                {"device": "/dev/sda", "sizeGb": 16000, "media": "hdd"},
                {"device": "/dev/nvme1n1", "sizeGb": 7680, "media": "nvme"},
                {"device": "/dev/sdb", "sizeGb": 16000, "media": "hdd"},
            ],
        }
    )
    storage = [mixed, storage_host(2, disks=1), storage_host(3, disks=0)]
    documents = list(yaml.safe_load_all(ceph_spec.specs_yaml(ceph_spec.cluster_specs(storage))))
    assert documents[0]["service_type"] == "mon"
    assert documents[1:] == [
        {
            "service_type": "osd",
            "service_id": "ceph-1-nvme",
            "placement": {"hosts": ["ceph-1"]},
            "spec": {
                "data_devices": {"paths": ["/dev/nvme0n1", "/dev/nvme1n1"]},
                "crush_device_class": "nvme",
            },
        },
        {
            "service_type": "osd",
            "service_id": "ceph-1-hdd",
            "placement": {"hosts": ["ceph-1"]},
            "spec": {
                "data_devices": {"paths": ["/dev/sda", "/dev/sdb"]},
                "crush_device_class": "hdd",
            },
        },
        {
            "service_type": "osd",
            "service_id": "ceph-2-nvme",
            "placement": {"hosts": ["ceph-2"]},
            "spec": {"data_devices": {"paths": ["/dev/nvme0n1"]}, "crush_device_class": "nvme"},
        },
    ]
    assert ceph_spec.expected_osds(storage) == 5
    assert ceph_spec.service_names(ceph_spec.cluster_specs(storage)) == [
        "mon",
        "osd.ceph-1-nvme",
        "osd.ceph-1-hdd",
        "osd.ceph-2-nvme",
    ]


def _with_media(number: int, *media: str) -> Host:
    raw = storage_host(number, disks=0).model_dump(by_alias=True, mode="json")
    raw["disks"] = [
        {"device": f"/dev/sd{chr(97 + n)}", "sizeGb": 1000, "media": m} for n, m in enumerate(media)
    ]
    return Host.model_validate(raw)


@pytest.mark.parametrize(
    ("media", "classes", "fast", "backup"),
    [
        (("nvme",), ("nvme",), "nvme", "nvme"),  # no HDD: backups on the data's class
        (("hdd", "nvme"), ("nvme", "hdd"), "nvme", "hdd"),
        (("ssd", "hdd", "nvme"), ("nvme", "ssd", "hdd"), "nvme", "hdd"),
        (("hdd", "ssd"), ("ssd", "hdd"), "ssd", "hdd"),
        (("hdd",), ("hdd",), "hdd", "hdd"),  # the dr stack: HDD only
        ((), (), None, None),
    ],
)
def test_the_fastest_class_holds_the_data_and_hdd_the_backups(media, classes, fast, backup):
    hosts = [_with_media(1, *media), _with_media(2, *media[:1])]
    assert ceph_spec.device_classes(hosts) == classes
    assert ceph_spec.fastest_class(hosts) == fast
    assert ceph_spec.backup_class(hosts) == backup
    assert ceph_spec.rule_name("replicated-host", "hdd") == "replicated-host-hdd"


def test_ceph_releases_name_their_package_repositories():
    assert ceph_spec.ceph_release("v18.2.4") == "reef"
    assert ceph_spec.ceph_release("16.2.15") == "pacific"
    assert ceph_spec.ceph_release("v19.2.1") == "squid"
    assert ceph_spec.ceph_release("v99.1.0") is None


def test_rgw_on_every_host_behind_an_ingress_on_the_virtual_ip():
    storage = [storage_host(n) for n in range(1, 4)]
    rgw, ingress = ceph_spec.rgw_specs(
        "dc-a", storage, 8080, IPv4Address("10.10.2.10"), IPv4Network("10.10.0.0/22")
    )
    names = ["ceph-1", "ceph-2", "ceph-3"]
    assert rgw == {
        "service_type": "rgw",
        "service_id": "dc-a",
        "placement": {"hosts": names},
        # RGW binds the hosts' own addresses, haproxy the virtual IP: both on 8080.
        "networks": ["10.10.0.0/22"],
        "spec": {"rgw_frontend_port": 8080},
    }
    assert ingress["service_id"] == "rgw.dc-a"
    assert ingress["placement"] == {"hosts": names}
    assert ingress["spec"] == {
        "backend_service": "rgw.dc-a",
        "virtual_ip": "10.10.2.10/22",
        "frontend_port": 8080,
        "monitor_port": 1967,
    }
    assert ceph_spec.service_names([rgw, ingress]) == ["rgw.dc-a", "ingress.rgw.dc-a"]
    assert ceph_spec.rgw_endpoint(IPv4Address("10.10.2.10"), 8080) == "http://10.10.2.10:8080"


def test_the_specs_are_yaml_documents_in_order():
    storage = [storage_host(n) for n in range(1, 4)]
    specs = ceph_spec.cluster_specs(storage)
    text = ceph_spec.specs_yaml(specs)
    assert text.count("\n---\n") == len(specs) - 1
    assert list(yaml.safe_load_all(text)) == specs

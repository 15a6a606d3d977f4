"""What cephadm is given for a site's storage hosts: the image names on the internal registry,
the monitors' placement, the OSD service specs from each host's disks (each OSD's CRUSH
device class from its disk's `media`), the RGW service and its ingress (haproxy + keepalived
on the site's RGW virtual IP); and where data lands by device class: the RBD pool and RGW's
default placement on the fastest class, the backup placement (`backups`) on HDD when there
is one. Pure: the CephCluster component passes the results to the scripts that apply them.

cephadm's service specification format: https://docs.ceph.com/en/reef/cephadm/services/
(`service_type`, `service_id`, `placement.hosts`, `spec`); OSDs from explicit device paths:
https://docs.ceph.com/en/reef/cephadm/services/osd/ (`data_devices.paths`); RGW behind an
ingress: https://docs.ceph.com/en/reef/cephadm/services/rgw/#high-availability-service-for-rgw.
"""

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network

import yaml

from components.config import Host, Mirrors

CEPH_REPOSITORY = "quay.io/ceph/ceph"
"""Upstream name of Ceph's container image (the internal registry serves it under its name)."""
HAPROXY_IMAGE = "quay.io/ceph/haproxy:2.3"
KEEPALIVED_IMAGE = "quay.io/ceph/keepalived:2.2.4"
"""The images cephadm's ingress service runs: its defaults in reef (18.2) and squid (19.2)
(`DEFAULT_HAPROXY_IMAGE`, `DEFAULT_KEEPALIVED_IMAGE` in cephadm), pulled from the mirror."""
MIRRORED_REGISTRIES = ("quay.io", "docker.io")
"""Upstream registries whose pulls podman sends to the internal registry: every image cephadm
names by default lives on one of them (its monitoring stack's too, which is not deployed)."""
MON_PORT = 6789
"""The monitors' msgr v1 port: what ceph-csi's `monitors` list names."""
MAX_MONITORS = 5
"""More monitors slow every map update; five survive two lost hosts (Ceph's advice)."""
INGRESS_MONITOR_PORT = 1967
"""haproxy's status port on the storage hosts (the port cephadm's documentation uses)."""


DEVICE_CLASSES = ("nvme", "ssd", "hdd")
"""CRUSH device classes, fastest first: a disk's `media` is its OSD's class."""
BACKUP_DEVICE_CLASS = "hdd"
"""Where backups land when the site has it: a medium other than the fast class the data
they copy lives on, and the cheapest per terabyte."""
DEFAULT_PLACEMENT = "default-placement"
"""RGW's placement target of a bucket created without one (the model store's)."""
BACKUP_PLACEMENT = "backups"
"""RGW's placement target of the buckets that hold other sites' backups."""
CEPH_RELEASES = {
    "15": "octopus",
    "16": "pacific",
    "17": "quincy",
    "18": "reef",
    "19": "squid",
    "20": "tentacle",
}
"""Ceph's release names by major version: its package repositories are named for them
(download.ceph.com/debian-reef)."""


def ceph_release(ceph_version: str) -> str | None:
    """The release name of a Ceph version (v18.2.4 → reef); None for an unknown major."""
    return CEPH_RELEASES.get(package_version(ceph_version).split(".")[0])


def package_version(ceph_version: str) -> str:
    """The version of Ceph's Debian packages of a release tag: v18.2.4 → 18.2.4 (cephadm on
    the hosts must be of the image's release)."""
    return ceph_version.removeprefix("v")


def mirrored(mirrors: Mirrors, upstream: str) -> str:
    """Where the internal registry serves an upstream image (as the metal layer's containerd
    mirrors name it: the upstream name under the registry)."""
    return f"{mirrors.image_registry}/{upstream}"


def ceph_image(mirrors: Mirrors, ceph_version: str) -> str:
    return mirrored(mirrors, f"{CEPH_REPOSITORY}:{ceph_version}")


def monitor_hosts(hosts: Sequence[Host]) -> tuple[Host, ...]:
    """The storage hosts that run a monitor: an odd number (a majority of an even count is no
    more resilient than one fewer), at most `MAX_MONITORS`, in config order (the first host,
    which bootstraps the cluster, is always one)."""
    count = min(len(hosts), MAX_MONITORS)
    if count % 2 == 0:
        count -= 1
    return tuple(hosts[:count])


def monitor_addresses(hosts: Sequence[Host]) -> list[str]:
    """`<address>:6789` of each monitor, as ceph-csi's `monitors` lists them."""
    return [f"{host.address}:{MON_PORT}" for host in monitor_hosts(hosts)]


def device_classes(hosts: Sequence[Host]) -> tuple[str, ...]:
    """The device classes of the hosts' disks, fastest first."""
    present = {disk.media for host in hosts for disk in host.disks}
    return tuple(c for c in DEVICE_CLASSES if c in present)


def fastest_class(hosts: Sequence[Host]) -> str | None:
    """Where the RBD pool (the Kubernetes volumes) and RGW's default placement (the model
    store) live: the fastest class present. None without disks."""
    classes = device_classes(hosts)
    return classes[0] if classes else None


def backup_class(hosts: Sequence[Host]) -> str | None:
    """Where the backup placement's data pool lives: HDD when the site has it, else the
    fastest class (the same medium as the data: the 3-2-1 audit says so)."""
    classes = device_classes(hosts)
    return BACKUP_DEVICE_CLASS if BACKUP_DEVICE_CLASS in classes else fastest_class(hosts)


def rule_name(base: str, device_class: str) -> str:
    """The replicated CRUSH rule (failure domain host) over one device class's OSDs."""
    return f"{base}-{device_class}"


def osd_specs(host: Host) -> list[dict]:
    """One OSD service per host and device class: its declared disks of that class, by path,
    and nothing else (cephadm would otherwise take every empty device it finds), created with
    that CRUSH device class (`crush_device_class`: config says what a disk is, where Ceph
    would guess from the rotational flag, and call an NVMe drive `ssd`)."""
    return [
        {
            "service_type": "osd",
            "service_id": f"{host.name}-{device_class}",
            "placement": {"hosts": [host.name]},
            "spec": {
                "data_devices": {
                    "paths": [d.device for d in host.disks if d.media == device_class]
                },
                "crush_device_class": device_class,
            },
        }
        for device_class in device_classes([host])
    ]


def monitor_spec(hosts: Sequence[Host]) -> dict:
    """The monitors' placement, always naming every monitor host: `ceph orch apply` replaces
    a service's placement, so a partial one would remove the monitors it leaves out."""
    return {"service_type": "mon", "placement": {"hosts": [h.name for h in monitor_hosts(hosts)]}}


def cluster_specs(hosts: Sequence[Host]) -> list[dict]:
    """The monitors, then one OSD service per storage host and device class of its disks."""
    return [monitor_spec(hosts), *(spec for host in hosts for spec in osd_specs(host))]


def expected_osds(hosts: Sequence[Host]) -> int:
    """One OSD per declared disk."""
    return sum(len(host.disks) for host in hosts)


def rgw_service_id(site_name: str) -> str:
    return site_name


def rgw_specs(
    site_name: str,
    hosts: Sequence[Host],
    port: int,
    virtual_ip: IPv4Address,
    node_network: IPv4Network,
) -> list[dict]:
    """RGW on every storage host, and cephadm's ingress in front of it: keepalived holds the
    site's RGW virtual IP on one of the hosts, haproxy there spreads requests over the RGWs.
    Both listen on `port`: RGW binds the hosts' own addresses in the node network (`networks`)
    and haproxy the virtual IP, so the two never collide on a host."""
    names = [host.name for host in hosts]
    rgw = rgw_service_id(site_name)
    return [
        {
            "service_type": "rgw",
            "service_id": rgw,
            "placement": {"hosts": names},
            "networks": [str(node_network)],
            "spec": {"rgw_frontend_port": port},
        },
        {
            "service_type": "ingress",
            "service_id": f"rgw.{rgw}",
            "placement": {"hosts": names},
            "spec": {
                "backend_service": f"rgw.{rgw}",
                "virtual_ip": f"{virtual_ip}/{node_network.prefixlen}",
                "frontend_port": port,
                "monitor_port": INGRESS_MONITOR_PORT,
            },
        },
    ]


def rgw_endpoint(virtual_ip: IPv4Address, port: int) -> str:
    return f"http://{virtual_ip}:{port}"


def service_names(specs: Sequence[dict]) -> list[str]:
    """The names `ceph orch ls` gives the services of `specs` (`<type>.<id>`, or the type)."""
    return [
        f"{s['service_type']}.{s['service_id']}" if "service_id" in s else s["service_type"]
        for s in specs
    ]


def specs_yaml(specs: Sequence[dict]) -> str:
    """The documents `ceph orch apply -i` reads, in order."""
    return yaml.safe_dump_all(list(specs), sort_keys=False, default_flow_style=False)

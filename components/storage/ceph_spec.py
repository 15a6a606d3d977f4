"""What cephadm is given for a site's storage hosts: the image names on the internal registry,
the monitors' placement, the OSD service specs from each host's disks, the RGW service and
its ingress (haproxy + keepalived on the site's RGW virtual IP). Pure: the CephCluster
component passes the results to the scripts that apply them.

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


def osd_spec(host: Host) -> dict:
    """One OSD service per host: its declared disks, by path, and nothing else (cephadm would
    otherwise take every empty device it finds)."""
    return {
        "service_type": "osd",
        "service_id": host.name,
        "placement": {"hosts": [host.name]},
        "spec": {"data_devices": {"paths": [disk.device for disk in host.disks]}},
    }


def monitor_spec(hosts: Sequence[Host]) -> dict:
    """The monitors' placement, always naming every monitor host: `ceph orch apply` replaces
    a service's placement, so a partial one would remove the monitors it leaves out."""
    return {"service_type": "mon", "placement": {"hosts": [h.name for h in monitor_hosts(hosts)]}}


def cluster_specs(hosts: Sequence[Host]) -> list[dict]:
    """The monitors, then one OSD service per storage host that has disks."""
    return [monitor_spec(hosts), *(osd_spec(host) for host in hosts if host.disks)]


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

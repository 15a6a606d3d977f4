"""The NetworkPolicies of the data layer's own namespaces (ceph-csi's and Velero's), which its
components make only at the sites that run them (the baseline's namespaces exist at every
site): default-deny, DNS and the API server like every namespace, and the one way out each
needs: ceph-csi's pods to the site's Ceph (monitors and OSDs on the storage hosts), Velero's
server, node agent and repository-maintenance jobs to the target site's RGW address. Pure:
policy name → NetworkPolicy spec."""

from ipaddress import IPv4Address

from components import contracts
from components.config import Site
from components.network_policy import api_server_egress, default_deny, dns_egress, ip_blocks, tcp


def isolation(site: Site) -> dict[str, dict]:
    """What every namespace of ours has: nothing in or out, DNS, and the API server (each of
    these namespaces runs a controller that watches it)."""
    return {
        "default-deny": default_deny(),
        "allow-dns": dns_egress(),
        "allow-api-server": api_server_egress(site),
    }


def ceph_csi_policies(site: Site) -> dict[str, dict]:
    """ceph-csi's namespace. The provisioner (pod network) creates, resizes and deletes RBD
    images: it talks to the monitors (msgr2 3300, legacy 6789) and to the OSDs and managers
    (6800-7300) of the site's storage hosts, and nowhere else. The node plugin runs on the
    host network, where pod NetworkPolicies do not apply; its mounts are the kernel's."""
    storage_hosts = [f"{host.address}/32" for host in site.hosts_with_role("storage")]
    low, high = contracts.CEPH_DAEMON_PORTS
    return {
        **isolation(site),
        "allow-ceph": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": ip_blocks(storage_hosts),
                    "ports": [
                        *tcp(*contracts.CEPH_MON_PORTS),
                        {"protocol": "TCP", "port": low, "endPort": high},
                    ],
                }
            ],
        },
    }


def velero_policies(site: Site, target_address: IPv4Address, target_port: int) -> dict[str, dict]:
    """Velero's namespace: the server, the node agent and the kopia maintenance jobs write to
    and read from the backup location, the target site's RGW address and port, only."""
    return {
        **isolation(site),
        "allow-backup-target": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": ip_blocks([f"{target_address}/32"]), "ports": tcp(target_port)},
            ],
        },
    }

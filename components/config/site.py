"""One data center: its address plan, hosts, load-balancer pool and model store."""

from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Literal

from pydantic import Field

from components.config.base import DnsLabel, Model, internal_network
from components.config.gateway import LoadBalancer
from components.config.metal import Host, HostRole, RerunToken
from components.config.serving import ModelStore
from components.config.storage import SiteStorage


class Network(Model):
    """A site's address plan."""

    node_cidr: IPv4Network
    pod_cidr: IPv4Network
    service_cidr: IPv4Network
    api_vip: IPv4Address
    ntp_servers: list[IPv4Address] = Field(min_length=1)
    """Internal time servers (chrony); etcd and TLS need synchronized clocks."""
    egress_allow_list: list[
        Annotated[
            IPv4Network,
            internal_network(
                "opens egress to", "list only the internal networks workloads must reach"
            ),
        ]
    ] = []
    """Destinations outside the cluster that workloads may reach (mirrors, RGW, IdP)."""


class Site(Model):
    """One data center."""

    name: DnsLabel
    jurisdiction: str = Field(pattern=r"^[A-Z]{2}$")
    """ISO 3166-1 alpha-2 country whose law governs the data held here."""
    region: DnsLabel
    zone: DnsLabel
    role: Literal["active", "dr"]
    network: Network
    hosts: list[Host] = Field(min_length=1)
    load_balancer: LoadBalancer | None = None
    """Where the gateway's address comes from (required when the stack has a gateway)."""
    remeasure: RerunToken | None = None
    """Change it to run the preflight measurements of every host of the site again."""
    model_store: ModelStore | None = None
    """Where this site's serving pods fetch model weights, when not from the site's own Ceph
    RGW (a site without storage hosts, or a store the bank runs apart): an S3 endpoint inside
    the site, so weights never cross a site boundary at serving time."""
    storage: SiteStorage | None = None
    """The site's Ceph settings (required where the site has hosts with role `storage`)."""

    def hosts_with_role(self, role: HostRole) -> list[Host]:
        return [host for host in self.hosts if role in host.roles]

"""Rules about the gateway: it exists when models are served, has an address at every site
from a pool that fits the site's network, and reaches only networks the site allows."""

import ipaddress
from collections.abc import Iterator

from components.config import PlatformConfig
from components.validation.issues import ConfigIssue


def check_gateway(config: PlatformConfig) -> Iterator[ConfigIssue]:
    yield from _gateway_rules(config)


def _gateway_rules(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """The gateway is the only way in: it must exist when models are served, have an
    address at every site, and reach only networks the site allows."""
    gateway = config.gateway
    if gateway is None:
        if config.models:
            yield ConfigIssue(
                "gateway",
                "(not set)",
                "models are served but no gateway authenticates the callers",
                "add deepseek-onprem:gateway (hostname, identityProvider, clientNetworks, "
                "caCertificate)",
            )
        return
    names_seen: set[str] = set()
    for t, tenant in enumerate(gateway.tenants):
        if tenant.name in names_seen:
            yield ConfigIssue(
                f"gateway.tenants[{t}].name",
                tenant.name,
                "tenant listed twice",
                "give each tenant one entry with its rate limit",
            )
        names_seen.add(tenant.name)
    for s, site in enumerate(config.sites):
        net = site.network
        for network in gateway.identity_provider.networks:
            if not any(network.subnet_of(a) for a in net.egress_allow_list):
                yield ConfigIssue(
                    "gateway.identityProvider.networks",
                    str(network),
                    f"is not on site {site.name}'s egress allow-list, so the gateway could "
                    "not fetch the provider's signing keys",
                    f"add it to sites[{s}].network.egressAllowList",
                )
        if site.role == "active":
            for peer in config.sites:
                if peer is site or peer.role != "active" or peer.load_balancer is None:
                    continue
                address = ipaddress.ip_network(f"{peer.load_balancer.gateway_address}/32")
                if not any(address.subnet_of(a) for a in net.egress_allow_list):
                    yield ConfigIssue(
                        f"sites[{s}].network.egressAllowList",
                        f"{len(net.egress_allow_list)} networks",
                        f"site {site.name}'s gateway fails over to {peer.name}'s gateway at "
                        f"{address.network_address}, which its egress allow-list does not hold",
                        f"add {peer.name}'s load-balancer pool to the list",
                    )
        lb = site.load_balancer
        path = f"sites[{s}].loadBalancer"
        if lb is None:
            yield ConfigIssue(
                path,
                "(not set)",
                f"site {site.name} has a gateway but no address for it",
                "set loadBalancer.addresses (and mode: l2, bgp or sdn)",
            )
            continue
        for a, pool in enumerate(lb.addresses):
            for field, cidr in (("podCidr", net.pod_cidr), ("serviceCidr", net.service_cidr)):
                if pool.overlaps(cidr):
                    yield ConfigIssue(
                        f"{path}.addresses[{a}]",
                        str(pool),
                        f"overlaps the site's {field} {cidr}",
                        "take load-balancer addresses from the data-center network",
                    )
            if lb.mode == "l2" and not pool.subnet_of(net.node_cidr):
                yield ConfigIssue(
                    f"{path}.addresses[{a}]",
                    str(pool),
                    f"in l2 mode MetalLB answers ARP on the node network {net.node_cidr}, "
                    "and this pool is outside it",
                    "take the pool from the node network, or use mode: bgp",
                )
            taken = [str(net.api_vip)] + [str(h.address) for h in site.hosts]
            clash = [address for address in taken if ipaddress.ip_address(address) in pool]
            if clash:
                yield ConfigIssue(
                    f"{path}.addresses[{a}]",
                    str(pool),
                    f"holds addresses already in use ({', '.join(clash)})",
                    "use a range no host and not the API VIP uses",
                )
        if lb.mode == "bgp" and (lb.local_asn is None or not lb.peers):
            yield ConfigIssue(
                path,
                lb.mode,
                "bgp mode needs the cluster's ASN and at least one router to peer with",
                "set localAsn and peers (address, asn), or use mode: l2",
            )

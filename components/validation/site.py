"""Rules about sites and their address plans: unique names, disjoint node, pod and service
networks inside a site and across the sites routed together, the API VIP and every host inside
the node network."""

import ipaddress
from collections.abc import Iterator

from components.config import PlatformConfig, Site
from components.validation.issues import ConfigIssue


def check_sites(config: PlatformConfig) -> Iterator[ConfigIssue]:
    yield from _unique_names(config)
    for s, site in enumerate(config.sites):
        yield from _site_networks(s, site)
    yield from _cross_site_networks(config)


def _unique_names(config: PlatformConfig) -> Iterator[ConfigIssue]:
    first_site: dict[str, int] = {}
    for s, site in enumerate(config.sites):
        if site.name in first_site:
            yield ConfigIssue(
                f"sites[{s}].name",
                site.name,
                f"site name already used by sites[{first_site[site.name]}]",
                "give every site a unique name",
            )
        first_site.setdefault(site.name, s)


def _site_networks(s: int, site: Site) -> Iterator[ConfigIssue]:
    net = site.network
    base = f"sites[{s}].network"
    cidrs = {"nodeCidr": net.node_cidr, "podCidr": net.pod_cidr, "serviceCidr": net.service_cidr}
    names = list(cidrs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if cidrs[a].overlaps(cidrs[b]):
                yield ConfigIssue(
                    f"{base}.{b}",
                    str(cidrs[b]),
                    f"overlaps {base}.{a} ({cidrs[a]})",
                    "node, pod and service networks must be disjoint; pick a free range",
                )
    if net.pod_cidr.prefixlen > 22:
        yield ConfigIssue(
            f"{base}.podCidr",
            str(net.pod_cidr),
            "too small: each node takes a /24 from the pod network",
            "use a /22 or larger (a /16 is usual)",
        )
    for cidr_name in ("podCidr", "serviceCidr"):
        if net.api_vip in cidrs[cidr_name]:
            yield ConfigIssue(
                f"{base}.apiVip",
                str(net.api_vip),
                f"is inside {base}.{cidr_name} ({cidrs[cidr_name]})",
                "put the API VIP in the node network, outside pod and service ranges",
            )
    if net.api_vip not in net.node_cidr:
        yield ConfigIssue(
            f"{base}.apiVip",
            str(net.api_vip),
            f"is outside the node network {net.node_cidr}",
            "kube-vip announces the VIP on the node network: pick a free address there",
        )
    for h, host in enumerate(site.hosts):
        if host.address not in net.node_cidr:
            yield ConfigIssue(
                f"sites[{s}].hosts[{h}].address",
                str(host.address),
                f"is outside the site's node network {net.node_cidr} ({base}.nodeCidr)",
                f"give the host an address in {net.node_cidr}, or widen nodeCidr",
            )
    for e, cidr in enumerate(net.egress_allow_list):
        for cidr_name in ("podCidr", "serviceCidr"):
            if cidr.overlaps(cidrs[cidr_name]):
                yield ConfigIssue(
                    f"{base}.egressAllowList[{e}]",
                    str(cidr),
                    f"overlaps {base}.{cidr_name}; in-cluster traffic is governed by "
                    "NetworkPolicy, not the egress allow-list",
                    "list only destinations outside the cluster",
                )


def _cross_site_networks(config: PlatformConfig) -> Iterator[ConfigIssue]:
    # Sites are routed together over the SDN fabric: their node, pod and service ranges
    # must not collide or cross-site replication and failover traffic is misrouted.
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for s, site in enumerate(config.sites):
        net = site.network
        for name, cidr in (
            ("nodeCidr", net.node_cidr),
            ("podCidr", net.pod_cidr),
            ("serviceCidr", net.service_cidr),
        ):
            path = f"sites[{s}].network.{name}"
            for other_path, other in seen:
                if cidr.overlaps(other) and not other_path.startswith(f"sites[{s}]."):
                    yield ConfigIssue(
                        path,
                        str(cidr),
                        f"overlaps {other_path} ({other}); the sites are routed together",
                        "give each site its own node, pod and service ranges",
                    )
            seen.append((path, cidr))

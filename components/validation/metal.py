"""Rules about the hosts: unique names, addresses and SSH host keys across all sites, GPUs where
a node pool needs them, and a worker role where there are GPUs."""

from collections.abc import Iterator

from components.config import Host, PlatformConfig
from components.validation.issues import ConfigIssue


def check_hosts(config: PlatformConfig) -> Iterator[ConfigIssue]:
    yield from _unique_names_and_addresses(config)
    yield from _unique_host_keys(config)
    for s, site in enumerate(config.sites):
        yield from _host_roles(s, site.hosts)


def _unique_names_and_addresses(config: PlatformConfig) -> Iterator[ConfigIssue]:
    names: dict[str, str] = {}
    addresses: dict[str, str] = {}
    for s, site in enumerate(config.sites):
        vip_path = f"sites[{s}].network.apiVip"
        addresses.setdefault(str(site.network.api_vip), vip_path)
        for h, host in enumerate(site.hosts):
            path = f"sites[{s}].hosts[{h}]"
            if host.name in names:
                yield ConfigIssue(
                    f"{path}.name",
                    host.name,
                    f"host name already used by {names[host.name]}",
                    "give every host a unique name across all sites",
                )
            names.setdefault(host.name, path)
            key = str(host.address)
            if key in addresses:
                yield ConfigIssue(
                    f"{path}.address",
                    key,
                    f"address already used by {addresses[key]}",
                    "give every host and API VIP its own address",
                )
            addresses.setdefault(key, f"{path}.address")


def _unique_host_keys(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """Two hosts pinned to one host key is a copy-paste error: the connection to one of them
    is pinned to the other's key, so it either fails or trusts a machine that holds that key."""
    seen: dict[tuple[str, ...], str] = {}
    for s, site in enumerate(config.sites):
        for h, host in enumerate(site.hosts):
            path = f"sites[{s}].hosts[{h}].hostKey"
            # The key is its base64 body, which names its type (config refuses a body whose
            # type differs from the label): another label in front is not another key.
            key = tuple(host.host_key.split()[1:2])
            if key in seen:
                yield ConfigIssue(
                    path,
                    host.host_key,
                    f"host key already pinned for {seen[key]}: every host has its own key",
                    f"paste this host's own key (`ssh-keyscan -t ed25519 {host.address}`)",
                )
            seen.setdefault(key, path)


def _host_roles(s: int, hosts: list[Host]) -> Iterator[ConfigIssue]:
    for h, host in enumerate(hosts):
        if host.node_pool != "general" and host.gpu is None:
            yield ConfigIssue(
                f"sites[{s}].hosts[{h}].gpu",
                None,
                f"host {host.name} is in node pool {host.node_pool}, which needs GPUs",
                "declare the host's gpu (model and count), or set nodePool: general",
            )
        if host.gpu and "worker" not in host.roles:
            yield ConfigIssue(
                f"sites[{s}].hosts[{h}].roles",
                list(host.roles),
                "the host declares GPUs but no worker role, so no model could use them",
                "add role worker, or remove the gpu entry",
            )

"""Rules about the data layer: enough storage hosts for Ceph's replicas at every site."""

from collections.abc import Iterator

from components.config import PlatformConfig
from components.validation.issues import ConfigIssue


def check_storage(config: PlatformConfig) -> Iterator[ConfigIssue]:
    for s, site in enumerate(config.sites):
        storage = site.hosts_with_role("storage")
        if len(storage) < 3:
            yield ConfigIssue(
                f"sites[{s}].hosts",
                f"{len(storage)} storage hosts",
                "Ceph keeps 3 replicas on 3 different hosts",
                "give the site at least 3 hosts with role storage",
            )

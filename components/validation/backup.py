"""Rules about where each site's backups go (`backup.targets`): another site of this stack, in
the same jurisdiction, that runs Ceph (its RGW holds the backups), and whose RGW address the
source site's egress allow-list holds (Velero's only way out)."""

import ipaddress
from collections.abc import Iterator

from components.config import PlatformConfig
from components.config.storage import BACKUP_BUCKET_PREFIX, BUCKET_NAME_MAX
from components.validation.issues import ConfigIssue

BASE = "backup.targets"


def check_backup_targets(config: PlatformConfig) -> Iterator[ConfigIssue]:
    if config.backup is None:
        return
    sites = {site.name: (s, site) for s, site in enumerate(config.sites)}
    names = ", ".join(sites)
    for source, target in config.backup.targets.items():
        path = f"{BASE}.{source}"
        if source not in sites:
            yield ConfigIssue(
                path,
                target,
                f"{source} is not a site of this stack",
                f"name the source by its site name ({names})",
            )
            continue
        if target not in sites:
            yield ConfigIssue(
                path,
                target,
                f"{target} is not a site of this stack, so no RGW of ours would hold "
                f"{source}'s backups",
                f"name another site of this stack ({names})",
            )
            continue
        s, source_site = sites[source]
        _, target_site = sites[target]
        bucket = f"{BACKUP_BUCKET_PREFIX}{source}"
        if len(bucket) > BUCKET_NAME_MAX:
            yield ConfigIssue(
                path,
                target,
                f"{source}'s backups land at {target} in bucket {bucket} (RGW user of the same "
                f"name), {len(bucket)} characters: a bucket name has at most {BUCKET_NAME_MAX}",
                f"shorten the site's name to {BUCKET_NAME_MAX - len(BACKUP_BUCKET_PREFIX)} "
                "characters or fewer",
            )
        if target == source:
            yield ConfigIssue(
                path,
                target,
                f"{source}'s backups would stay at {source}: no off-site copy",
                "name another site of the same jurisdiction",
            )
            continue
        if target_site.jurisdiction != source_site.jurisdiction:
            yield ConfigIssue(
                path,
                target,
                f"{target} is in jurisdiction {target_site.jurisdiction}, {source} in "
                f"{source_site.jurisdiction}: the backups would leave {source}'s jurisdiction",
                f"name a site in {source_site.jurisdiction}",
            )
        if not target_site.hosts_with_role("storage") or target_site.storage is None:
            yield ConfigIssue(
                path,
                target,
                f"{target} runs no Ceph (no hosts with role storage and storage.rgwVirtualIp), "
                "so it has no RGW for the backups",
                "name a site with storage hosts and an RGW address",
            )
            continue
        address = ipaddress.ip_network(f"{target_site.storage.rgw_virtual_ip}/32")
        allowed = source_site.network.egress_allow_list
        if not any(address.subnet_of(network) for network in allowed):
            yield ConfigIssue(
                f"sites[{s}].network.egressAllowList",
                f"{len(allowed)} networks",
                f"{source}'s backups go to {target}'s RGW at {address.network_address}, which "
                f"{source}'s egress allow-list does not hold",
                f"add {address} ({target}'s RGW) to the list",
            )

"""Rules about the data layer: Ceph's storage hosts, their disks and the RGW address at each
site, the capacity against what the stack keeps there (with the numbers), a site without a backup
target, and the 3-2-1 audit's refusals (`components/storage/protection.py`). (The targets
themselves are checked in `backup.py`, the data-lake sync in `data_lake.py`.)"""

import json
from collections.abc import Iterator

from components.config import Host, PlatformConfig, Site
from components.storage.capacity import site_capacity
from components.storage.protection import audit, refusals
from components.validation.backup import check_backup_targets
from components.validation.issues import ConfigIssue

DISK_EXAMPLE = "[{device: /dev/nvme0n1, sizeGb: 7680, media: nvme}]"


def check_storage(config: PlatformConfig) -> Iterator[ConfigIssue]:
    layout = []
    for s, site in enumerate(config.sites):
        layout += _storage_hosts(config, s, site)
        layout += _disks(s, site)
        layout += _rgw_virtual_ip(s, site)
    yield from layout
    yield from _model_cache_apart(config)
    targets = [*_sites_without_target(config)]
    yield from targets
    targets += check_backup_targets(config)
    for s, site in enumerate(config.sites):
        if not any(i.path.startswith(f"sites[{s}].") for i in layout):
            yield from _capacity(config, s, site)
    # The audit reads the hosts and targets checked above: with one of them wrong its
    # shortfalls would only repeat that problem.
    if not layout and not targets:
        yield from _protection(config)


def _storage_hosts(config: PlatformConfig, s: int, site: Site) -> Iterator[ConfigIssue]:
    storage = site.hosts_with_role("storage")
    copies = config.storage.replica_size
    if storage and len(storage) < copies:
        yield ConfigIssue(
            f"sites[{s}].hosts",
            f"{len(storage)} storage hosts",
            f"Ceph keeps {copies} replicas (storage.replicaSize), each on another host: "
            f"{copies} copies need {copies} storage hosts; {site.name} has {len(storage)}: "
            f"{', '.join(h.name for h in storage)}",
            f"give {site.name} at least {copies} hosts with role storage",
        )
    if storage and site.storage is None:
        yield ConfigIssue(
            f"sites[{s}].storage",
            "(not set)",
            f"{site.name} has storage hosts ({', '.join(h.name for h in storage)}) but no "
            "storage settings: its RGW, the site's model store, needs a virtual IP",
            f"set sites[{s}].storage.rgwVirtualIp to a free address in {site.network.node_cidr}",
        )
    if not storage and site.storage is not None:
        yield ConfigIssue(
            f"sites[{s}].storage",
            json.dumps({"rgwVirtualIp": str(site.storage.rgw_virtual_ip)}),
            f"{site.name} has no host with role storage: no Ceph runs there to use it",
            f"add storage hosts to {site.name}, or remove sites[{s}].storage",
        )


def _disks(s: int, site: Site) -> Iterator[ConfigIssue]:
    for h, host in enumerate(site.hosts):
        path = f"sites[{s}].hosts[{h}]"
        if "storage" in host.roles and not host.disks:
            yield ConfigIssue(
                f"{path}.disks",
                "(none)",
                f"storage host {host.name} gives Ceph no disk: each OSD is a whole disk",
                f"list its data devices, e.g. disks: {DISK_EXAMPLE}",
            )
        if host.disks and "storage" not in host.roles:
            yield ConfigIssue(
                f"{path}.disks",
                f"{len(host.disks)} disks",
                f"{host.name} has roles {', '.join(host.roles)}: only hosts with role storage "
                "give disks to Ceph",
                f"add role storage to {host.name}, or remove its disks",
            )
        yield from _devices_named_twice(path, host)


def _devices_named_twice(path: str, host: Host) -> Iterator[ConfigIssue]:
    """The same name twice. (`/dev/sdb` and a `/dev/disk/by-id/...` name of the same disk
    cannot be told apart from config: only the host knows.)"""
    first: dict[str, int] = {}
    for d, disk in enumerate(host.disks):
        if disk.device in first:
            yield ConfigIssue(
                f"{path}.disks[{d}].device",
                disk.device,
                f"named twice on {host.name} (disks[{first[disk.device]}] too): one device is "
                "one OSD",
                "list each device once",
            )
        first.setdefault(disk.device, d)


def _model_cache_apart(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """The cache and a GPU host's preflight directory (where fio writes its test file) are
    apart: inside the cache the file would sit among the weights, and a cache inside it would
    be written over by fio."""
    cache = config.storage.model_cache.path
    for s, site in enumerate(config.sites):
        for h, host in enumerate(site.hosts):
            preflight = host.preflight_dir
            if host.gpu is None or not (_inside(preflight, cache) or _inside(cache, preflight)):
                continue
            yield ConfigIssue(
                "storage.modelCache.path",
                cache,
                f"overlaps {host.name}'s preflightDir {preflight} "
                f"(sites[{s}].hosts[{h}].preflightDir): fio's test file and the cached "
                "weights would share a directory",
                "give the model cache and the preflight measurements directories apart",
            )


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory + "/")


def _rgw_virtual_ip(s: int, site: Site) -> Iterator[ConfigIssue]:
    if site.storage is None:
        return
    vip = site.storage.rgw_virtual_ip
    path = f"sites[{s}].storage.rgwVirtualIp"
    fix = f"pick a free address in {site.network.node_cidr}"
    net = site.network
    if vip not in net.node_cidr:
        yield ConfigIssue(
            path,
            str(vip),
            f"is outside the site's node network {net.node_cidr}: keepalived announces it there",
            fix,
        )
    for own, address in (
        ("network address", net.node_cidr.network_address),
        ("broadcast address", net.node_cidr.broadcast_address),
    ):
        if vip == address and net.node_cidr.prefixlen < 31:
            yield ConfigIssue(path, str(vip), f"is the {own} of {net.node_cidr}: no host's", fix)
    for h, host in enumerate(site.hosts):
        if host.address == vip:
            yield ConfigIssue(
                path, str(vip), f"is the address of {host.name} (sites[{s}].hosts[{h}])", fix
            )
    if vip == net.api_vip:
        yield ConfigIssue(path, str(vip), f"is the API VIP (sites[{s}].network.apiVip)", fix)
    pool = site.load_balancer.addresses if site.load_balancer else []
    for a, network in enumerate(pool):
        if vip in network:
            yield ConfigIssue(
                path,
                str(vip),
                f"is inside the load-balancer pool {network} "
                f"(sites[{s}].loadBalancer.addresses[{a}]): MetalLB may hand it out",
                f"{fix}, outside the pool",
            )


def _capacity(config: PlatformConfig, s: int, site: Site) -> Iterator[ConfigIssue]:
    """Per device class: each holds what lands on it (capacity.py), no class another's."""
    capacity = site_capacity(config, site)
    if capacity is None:
        return
    for c in capacity.short:
        short = c.planned_gb - c.usable_gb
        yield ConfigIssue(
            f"sites[{s}].hosts",
            f"{c.usable_gb:,.0f} GB usable on {c.device_class}",
            f"{site.name}'s Ceph cannot hold what the stack keeps on its {c.device_class} "
            f"OSDs, {short:,.0f} GB short. Usable: {c.usable_arithmetic()}. "
            f"Planned: {c.planned_arithmetic()}",
            f"add {c.device_class} disks to {site.name}'s storage hosts (evenly: copies sit on "
            "different hosts), or keep less: storage.revisionsKept, backup.retentionDays, "
            "storage.headroomPercent",
        )


def _sites_without_target(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """With `backup` set, every site that keeps data names where its backups go. (The
    targets themselves are checked in `backup.py`.)"""
    backup = config.backup
    if backup is None:
        return
    for site in config.sites:
        holds_data = site.hosts_with_role("storage") or config.models
        if not holds_data or site.name in backup.targets:
            continue
        others = [
            o.name
            for o in config.sites
            if o.name != site.name
            and o.jurisdiction == site.jurisdiction
            and o.hosts_with_role("storage")
        ]
        fix = (
            f"add backup.targets.{site.name}: {others[0]}"
            if others
            else f"this stack has no other site of {site.jurisdiction} with storage hosts: "
            "add one, or remove backup (a target in another stack is not built)"
        )
        yield ConfigIssue(
            "backup.targets",
            json.dumps(backup.targets),
            f"{site.name} keeps data (Ceph volumes, served model weights, etcd) but names no "
            "backup target",
            fix,
        )


def _protection(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """The 3-2-1 shortfalls this stack's settings can close (the others wait for a part not
    built: the program warns about them and exports them in `dataProtection`)."""
    for path, fix, missing in refusals(audit(config)):
        if path == "storage.replicaSize":
            value: object = config.storage.replica_size
        else:
            value = json.dumps(config.backup.targets) if config.backup else "(not set)"
        yield ConfigIssue(
            path,
            value,
            "3-2-1 (3 copies, 2 media, 1 off-site) does not hold for " + "; ".join(missing),
            fix,
        )

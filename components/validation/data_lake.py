"""Rules about the optional HDFS data-lake sync (`backup.dataLake`): it runs between active
sites of this stack in one jurisdiction, its namenodes are the bank's own hosts, each site's
part of the lake is apart from the others' (each is copied to the same path at the other
sites), and the networks it reaches are on every syncing site's egress allow-list."""

import posixpath
from collections.abc import Iterator

from components.config import PlatformConfig, inside_domains
from components.config.storage import CRONJOB_NAME_MAX, DATA_LAKE_SYNC_JOB_PREFIX
from components.validation.issues import ConfigIssue

BASE = "backup.dataLake"


def check_data_lake(config: PlatformConfig) -> Iterator[ConfigIssue]:
    data_lake = config.backup.data_lake if config.backup else None
    if data_lake is None:
        return
    sites = {site.name: (s, site) for s, site in enumerate(config.sites)}
    active = sorted(name for name, (_, site) in sites.items() if site.role == "active")
    for name in data_lake.namenodes:
        if name not in sites or sites[name][1].role != "active":
            yield ConfigIssue(
                f"{BASE}.namenodes.{name}",
                data_lake.namenodes[name],
                f"{name} is not an active site of this stack; the lake is synced between "
                "active sites only",
                f"name active sites only ({', '.join(active) or 'none here'})",
            )
    syncing = [name for name in data_lake.namenodes if name in active]
    if len(data_lake.namenodes) < 2:
        yield ConfigIssue(
            f"{BASE}.namenodes",
            f"{len(data_lake.namenodes)} sites",
            "a sync needs a lake at two sites at least",
            "name the lake of each active site, or remove backup.dataLake",
        )
    yield from _job_names(config, syncing)
    yield from _one_namenode_each(config)
    yield from _internal_namenodes(config)
    yield from _one_jurisdiction(config, syncing)
    yield from _apart(config)
    yield from _networks_on_egress_lists(config, syncing)


def _job_names(config: PlatformConfig, syncing: list[str]) -> Iterator[ConfigIssue]:
    """Each other site's job pulls a peer's part in a CronJob named for the peer."""
    data_lake = config.backup.data_lake
    for name in syncing:
        job = f"{DATA_LAKE_SYNC_JOB_PREFIX}{name}"
        if len(job) > CRONJOB_NAME_MAX:
            yield ConfigIssue(
                f"{BASE}.namenodes.{name}",
                data_lake.namenodes[name],
                f"the other sites copy {name}'s part in CronJob {job}, {len(job)} characters: "
                f"Kubernetes refuses a CronJob name longer than {CRONJOB_NAME_MAX}",
                f"shorten the site's name to {CRONJOB_NAME_MAX - len(DATA_LAKE_SYNC_JOB_PREFIX)} "
                "characters or fewer",
            )


def _one_namenode_each(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """Two sites naming one namenode have one lake: each site's job would copy the other's
    part onto itself, and no second copy would exist anywhere."""
    data_lake = config.backup.data_lake
    first: dict[tuple[str, int], str] = {}
    for name in data_lake.namenodes:
        location = data_lake.location(name)
        namenode = (location.host, location.port)
        if namenode in first:
            yield ConfigIssue(
                f"{BASE}.namenodes.{name}",
                data_lake.namenodes[name],
                f"names namenode {location.host}:{location.port}, as {first[namenode]} does: "
                "one HDFS is one copy, and the sync would copy each part onto itself",
                "name each site's own namenode (the lake's part in that data center)",
            )
        first.setdefault(namenode, name)


def _internal_namenodes(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """The lake's data goes to and comes from these hosts: the bank's own, like every source
    `validation/mirrors.py` checks."""
    data_lake = config.backup.data_lake
    domains = list(config.mirrors.internal_domains)
    allowed = ", ".join(domains)
    for name in data_lake.namenodes:
        host = data_lake.location(name).host
        if not inside_domains(host, domains):
            yield ConfigIssue(
                f"{BASE}.namenodes.{name}",
                data_lake.namenodes[name],
                f"namenode {host} is not inside the internal domains ({allowed}, "
                "mirrors.internalDomains)",
                f"name the bank's own namenode by its name under {allowed}",
            )


def _one_jurisdiction(config: PlatformConfig, syncing: list[str]) -> Iterator[ConfigIssue]:
    """Each site receives the others' data: they must all be under one law."""
    jurisdictions = {site.name: site.jurisdiction for site in config.sites}
    found = sorted({jurisdictions[name] for name in syncing})
    if len(found) > 1:
        named = ", ".join(f"{name} ({jurisdictions[name]})" for name in syncing)
        yield ConfigIssue(
            f"{BASE}.namenodes",
            named,
            "the sync would copy each site's data into another jurisdiction",
            "sync only sites of one jurisdiction",
        )


def _inside(path: str, directory: str) -> bool:
    return directory == "/" or path == directory or path.startswith(directory + "/")


def _apart(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """Each site's job writes the others' parts at its own namenode: with overlapping parts,
    a site's job would overwrite what that site itself writes, and the two jobs would undo each
    other's copies (DistCp -update makes a target file equal to its source, newer or not)."""
    data_lake = config.backup.data_lake
    names = list(data_lake.namenodes)
    for i, name in enumerate(names):
        path = data_lake.location(name).path
        for other in names[i + 1 :]:
            other_path = data_lake.location(other).path
            if _inside(path, other_path) or _inside(other_path, path):
                yield ConfigIssue(
                    f"{BASE}.namenodes.{other}",
                    data_lake.namenodes[other],
                    f"its path {other_path} overlaps {name}'s {path}: each site's part is "
                    "copied to the same path at the other sites, so the two copies would "
                    "overwrite each other's data",
                    "give each site its own directory, e.g. "
                    + " and ".join(posixpath.join(path, n) for n in (name, other)),
                )


def _networks_on_egress_lists(config: PlatformConfig, syncing: list[str]) -> Iterator[ConfigIssue]:
    """The job's NetworkPolicy opens egress to these networks; the policy pack allows egress
    only to each site's egress allow-list, so a network off it is refused here, before any
    resource exists."""
    data_lake = config.backup.data_lake
    for s, site in enumerate(config.sites):
        if site.name not in syncing:
            continue
        allow_list = site.network.egress_allow_list
        for n, network in enumerate(data_lake.networks):
            if not any(network.subnet_of(allowed) for allowed in allow_list):
                yield ConfigIssue(
                    f"{BASE}.networks[{n}]",
                    str(network),
                    f"is not on site {site.name}'s egress allow-list, so its sync job could "
                    "not reach the lake there",
                    f"add it to sites[{s}].network.egressAllowList",
                )

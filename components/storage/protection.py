"""The 3-2-1 audit: every dataset the stack keeps, with its copies, and whether it holds 3
copies on 2 media with 1 off-site, every copy in the dataset's jurisdiction. Pure: read from
the validated config; validation refuses what the stack's own settings can fix, and the
program exports the whole audit (`dataProtection`) and warns about the rest.

How copies count. A copy is a whole, independent instance of the data a single failure
does not take with another: Ceph's replicas on different hosts (failure domain `host`: the
guide's DRBD pair, replaced), etcd's members, the GPU hosts' caches, a backup at another
site. Replicas and members share one limit, said in each such copy's note: they protect
against lost devices and hosts, not against a deletion or a bad write, which reaches every
replica at once. The copy at another site (a backup, a separate upload) is what survives
that.

What a medium is: the storage system and the device class that hold a copy, written
`<system>/<device classes>`: `ceph/nvme` (RBD or RGW's default placement: RADOS objects on
the same OSDs, so one medium), `ceph/hdd` (RGW's `backups` placement at a site with HDDs:
its pool's CRUSH rule takes the HDD OSDs only, components/storage/ceph_spec.py, the same
functions the Ceph steps are given their classes by), `ceph/hdd+nvme` (a pool over mixed
classes: its replicas may all land on one class, so it is not a second medium beside either),
`host-disk` (a host's local filesystem: etcd's data, the model cache). Two copies are on
different media when their systems differ, or both are Ceph on device classes that do not
overlap: a defect of one system (a Ceph bug, a full or lost pool) or of one device class
(drives of one model and firmware failing together, at two sites alike) does not reach the
other.

What must be built before a shortfall can be closed is said per shortfall (`waits_for`):
such a shortfall is a warning, not a refusal, until that part exists."""

from dataclasses import dataclass, field

from components import contracts
from components.config import PlatformConfig, Site
from components.config.storage import BACKUP_COPY_BUCKET, MODEL_COPY_BUCKET_PREFIX
from components.storage import ceph_spec

RULE_COPIES, RULE_MEDIA, RULE_OFF_SITE, RULE_JURISDICTION = (
    "copies",
    "media",
    "off-site",
    "jurisdiction",
)
REPLICA_LIMIT = (
    "replicas survive lost disks and hosts, not a deletion or a bad write, which reaches every "
    "replica at once"
)
NOT_BUILT_OTHER_STACK = (
    "a backup target in another stack: not built (this stack has no other site of the same "
    "jurisdiction)"
)
NOT_BUILT_DEVICE_CLASS = (
    "disks of another device class than the data's at the backup target (media: hdd on its "
    "storage hosts: its backup placement then keeps the backups on them): not built"
)
NOT_BUILT_BUCKET_REPLICATION = (
    "a copy of the model bucket at another site on another medium (the bucket copies, "
    "components/storage/bucket_copies.py, made where the site has a backup target): not built"
)
NOT_BUILT_BACKUP_COPY = (
    "a copy of the backups at their source site (the bucket copies, made where the source "
    "runs Ceph) or at a third site (the DR stack's copy): not built"
)


@dataclass(frozen=True)
class Medium:
    system: str
    classes: frozenset[str] = frozenset()

    def __str__(self) -> str:
        if not self.classes:
            return self.system
        return f"{self.system}/{'+'.join(sorted(self.classes))}"

    def same_as(self, other: "Medium") -> bool:
        """One failure of a system or a device class can reach both."""
        if self.system != other.system:
            return False
        return not self.classes or not other.classes or bool(self.classes & other.classes)


HOST_DISK = Medium("host-disk")


@dataclass(frozen=True)
class Copy:
    store: str
    """What holds it, e.g. `etcd members (control-plane hosts)`."""
    site: str | None
    """None: outside every site of the config (e.g. the stack's encrypted config)."""
    jurisdiction: str | None
    medium: Medium
    count: int
    note: str = ""

    @property
    def counted(self) -> bool:
        """A copy whose place config does not name is listed, not counted."""
        return self.site is not None

    def output(self) -> dict[str, object]:
        return {
            "store": self.store,
            "site": self.site,
            "jurisdiction": self.jurisdiction,
            "medium": str(self.medium),
            "count": self.count,
            "counted": self.counted,
            "note": self.note,
        }


@dataclass(frozen=True)
class Shortfall:
    rule: str
    text: str
    fix: str
    path: str
    """The config key the fix sets."""
    waits_for: str | None = None
    """What must be built before any setting closes it; None: the stack's settings can."""


@dataclass(frozen=True)
class Dataset:
    name: str
    home: str | None
    """The site it belongs to; None for a dataset of the whole stack (the gateway CA)."""
    jurisdiction: str | tuple[str, ...]
    """Where its copies may be: the home site's jurisdiction, or the stack's."""
    copies: tuple[Copy, ...]
    shortfalls: tuple[Shortfall, ...] = field(default=())

    @property
    def holds321(self) -> bool:
        return not self.shortfalls

    def output(self) -> dict[str, object]:
        counted = [c for c in self.copies if c.counted]
        return {
            "dataset": self.name,
            "home": self.home or "stack",
            "copies": [c.output() for c in self.copies],
            "copyCount": sum(c.count for c in counted),
            "media": sorted({str(c.medium) for c in counted}),
            "offSite": _off_site(self.home, counted),
            "holds321": self.holds321,
            "missing": [s.text for s in self.shortfalls],
            "waitsFor": sorted({s.waits_for for s in self.shortfalls if s.waits_for}),
        }


def distinct_media(copies: list[Copy]) -> int:
    """Media that no single failure reaches together: copies whose media overlap (the same
    system, a shared device class) are one group."""
    groups: list[list[Medium]] = []
    for medium in {c.medium for c in copies}:
        joined = [g for g in groups if any(medium.same_as(m) for m in g)]
        merged = [medium, *(m for g in joined for m in g)]
        groups = [g for g in groups if g not in joined] + [merged]
    return len(groups)


def _off_site(home: str | None, copies: list[Copy]) -> bool:
    sites = {c.site for c in copies}
    return len(sites) > 1 if home is None else bool(sites - {home})


def judge(
    copies: tuple[Copy, ...],
    home: str | None,
    jurisdictions: tuple[str, ...],
    remedy: dict[str, tuple[str, str, str | None]],
) -> tuple[Shortfall, ...]:
    """The 3-2-1 shortfalls of a dataset's copies; `remedy`: rule → (path, fix, waits_for)."""
    counted = [c for c in copies if c.counted]
    shortfalls = []
    total = sum(c.count for c in counted)
    if total < 3:
        shortfalls.append((RULE_COPIES, f"3 copies (has {total})"))
    media = distinct_media(counted)
    if media < 2:
        shown = ", ".join(sorted({str(c.medium) for c in counted})) or "none"
        shortfalls.append((RULE_MEDIA, f"2 media (only {shown})"))
    if not _off_site(home, counted):
        where = f"all at {home}" if home else "all at one site"
        shortfalls.append((RULE_OFF_SITE, f"an off-site copy ({where})"))
    result = []
    for rule, text in shortfalls:
        path, fix, waits_for = remedy[rule]
        result.append(Shortfall(rule, text, fix, path, waits_for))
    for c in copies:
        if c.jurisdiction is not None and c.jurisdiction not in jurisdictions:
            result.append(
                Shortfall(
                    RULE_JURISDICTION,
                    f"copies in {'/'.join(jurisdictions)} only: {c.store} is at {c.site} "
                    f"({c.jurisdiction})",
                    f"point it at a site of {'/'.join(jurisdictions)}",
                    remedy[RULE_JURISDICTION][0],
                )
            )
    return tuple(result)


def ceph_medium(site: Site) -> Medium:
    """The medium of a site's RBD pool and RGW's default placement: the fastest device class
    of its OSDs (their CRUSH rule takes that class only)."""
    fast = ceph_spec.fastest_class(site.hosts_with_role("storage"))
    return Medium("ceph", frozenset({fast} if fast else ()))


def backup_medium(site: Site) -> Medium:
    """The medium of RGW's backup placement at a site (where other sites' backups and etcd
    snapshots land: their buckets are made on it): HDD where the site has it, else the
    fastest class, the same medium as the default placement."""
    backup = ceph_spec.backup_class(site.hosts_with_role("storage"))
    return Medium("ceph", frozenset({backup} if backup else ()))


class _Stack:
    """What the audit reads off the config, once."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config
        self.sites = {site.name: site for site in config.sites}
        self.index = {site.name: s for s, site in enumerate(config.sites)}
        self.jurisdictions = tuple(sorted({site.jurisdiction for site in config.sites}))
        self.replicas = config.storage.replica_size

    def has_ceph(self, name: str) -> bool:
        return name in self.sites and bool(self.sites[name].hosts_with_role("storage"))

    def target(self, name: str) -> Site | None:
        """The site holding `name`'s backups, when config names a usable one."""
        backup = self.config.backup
        target = backup.targets.get(name) if backup else None
        if target is None or target == name or not self.has_ceph(target):
            return None
        return self.sites[target]

    def candidates(self, site: Site) -> list[Site]:
        """Other sites of the same jurisdiction: where its backups could go."""
        return [
            s
            for s in self.config.sites
            if s.name != site.name and s.jurisdiction == site.jurisdiction
        ]

    def backup_remedy(self, site: Site, media_waits_for: str | None) -> dict:
        """Fixes through `backup.targets` (refusals) or, in a stack with no other site of
        the jurisdiction, the part not built (warnings)."""
        path = "backup.targets" if self.config.backup else "backup"
        candidates = self.candidates(site)
        if self.target(site.name) is None:
            if not candidates:
                off = (path, "", NOT_BUILT_OTHER_STACK)
                return {r: off for r in (RULE_COPIES, RULE_MEDIA, RULE_OFF_SITE)} | {
                    RULE_JURISDICTION: (path, "", None)
                }
            other = next((c for c in candidates if self.has_ceph(c.name)), candidates[0])
            ceph = "" if self.has_ceph(other.name) else f" and give {other.name} storage hosts"
            fix = f"set backup.targets.{site.name}: {other.name}{ceph}"
            return {r: (path, fix, None) for r in (RULE_COPIES, RULE_MEDIA, RULE_OFF_SITE)} | {
                RULE_JURISDICTION: (path, fix, None)
            }
        target_path = f"backup.targets.{site.name}"
        return {
            RULE_COPIES: ("storage.replicaSize", "set storage.replicaSize: 3", None),
            RULE_MEDIA: (target_path, "", media_waits_for),
            RULE_OFF_SITE: (target_path, f"point {target_path} at another site", None),
            RULE_JURISDICTION: (target_path, "point it at a site of the same jurisdiction", None),
        }


def audit(config: PlatformConfig) -> tuple[Dataset, ...]:
    """Every dataset of the stack with its copies and 3-2-1 shortfalls."""
    stack = _Stack(config)
    datasets: list[Dataset] = []
    for site in config.sites:
        datasets.append(_cluster_state(stack, site))
        if stack.has_ceph(site.name):
            if config.models:
                datasets.append(_model_weights(stack, site))
            datasets.extend(_volumes(stack, site))
    if config.gateway is not None:
        datasets.append(_gateway_ca(stack))
    datasets.extend(_backups(stack))
    return tuple(datasets)


def _ceph_copy(
    stack: _Stack, site: Site, store: str, note: str = "", *, backups: bool = False
) -> Copy:
    """A copy in the site's Ceph: on RGW's backup placement (`backups`), or on the default
    placement and RBD pool."""
    replicas = f"{stack.replicas} replicas on {stack.replicas} hosts: {REPLICA_LIMIT}"
    return Copy(
        store,
        site.name,
        site.jurisdiction,
        backup_medium(site) if backups else ceph_medium(site),
        stack.replicas,
        f"{note}; {replicas}" if note else replicas,
    )


def _backup_placement(site: Site) -> str:
    """Where a bucket of the backup placement keeps its objects, in words."""
    device_class = ceph_spec.backup_class(site.hosts_with_role("storage"))
    return f"on RGW placement {ceph_spec.BACKUP_PLACEMENT}, its pool on {device_class}"


def _etcd_members(site: Site) -> Copy:
    members = len(site.hosts_with_role("control-plane"))
    return Copy(
        "etcd members (control-plane hosts)",
        site.name,
        site.jurisdiction,
        HOST_DISK,
        members,
        f"each of the {members} members holds the whole state: they survive losing a "
        "minority of members, not a deletion, which reaches every member at once",
    )


def etcd_snapshot_targets(config: PlatformConfig) -> dict[str, str]:
    """Site → the site whose RGW keeps its etcd snapshots: every site with control planes
    and a usable backup target. The program builds the snapshots exactly there
    (components/platform.py reads this), so the audit counts them only where they exist."""
    stack = _Stack(config)
    return {
        site.name: target.name
        for site in config.sites
        if site.hosts_with_role("control-plane") and (target := stack.target(site.name)) is not None
    }


def bucket_copy_targets(config: PlatformConfig) -> dict[str, str]:
    """Site → its backup target, for every site whose buckets are copied across
    (components/storage/bucket_copies.py): a site with Ceph (its model bucket; the bucket that
    keeps the copy of its backups) and a usable target. The program builds the copies exactly
    there (components/platform.py reads this), so the audit counts them only where they
    exist."""
    stack = _Stack(config)
    return {
        site.name: target.name
        for site in config.sites
        if stack.has_ceph(site.name) and (target := stack.target(site.name)) is not None
    }


def _etcd_snapshots(stack: _Stack, site: Site) -> list[Copy]:
    target_name = etcd_snapshot_targets(stack.config).get(site.name)
    if target_name is None:
        return []
    target = stack.sites[target_name]
    backup = stack.config.backup
    return [
        _ceph_copy(
            stack,
            target,
            f"etcd snapshots of {site.name} in {target.name}'s RGW",
            f"{_backup_placement(target)}; every {backup.etcd_snapshot_hours} h from each "
            f"control plane, kept {backup.retention_days} days, encrypted (AES-256, the site's "
            "key)",
            backups=True,
        )
    ]


def _cluster_state(stack: _Stack, site: Site) -> Dataset:
    copies = (_etcd_members(site), *_etcd_snapshots(stack, site))
    remedy = stack.backup_remedy(site, media_waits_for=NOT_BUILT_DEVICE_CLASS)
    return Dataset(
        f"cluster-state/{site.name}",
        site.name,
        site.jurisdiction,
        copies,
        judge(copies, site.name, (site.jurisdiction,), remedy),
    )


def _volumes(stack: _Stack, site: Site) -> list[Dataset]:
    """Each workload namespace's volume claims on `ceph-rbd`, and Velero's (kopia) copy of
    them in the target's RGW. (A claim on `local-path` has one copy on its node's disk
    instead of the Ceph replicas, plus the same backup.)"""
    target = stack.target(site.name)
    datasets = []
    remedy = stack.backup_remedy(site, media_waits_for=NOT_BUILT_DEVICE_CLASS)
    for namespace in contracts.WORKLOAD_NAMESPACES:
        copies = [
            _ceph_copy(
                stack,
                site,
                f"RBD images of {namespace}'s claims (ceph-rbd)",
                "no claims are declared in config yet",
            )
        ]
        if target is not None:
            backup = stack.config.backup
            copies.append(
                _ceph_copy(
                    stack,
                    target,
                    f"Velero backups (kopia) in {target.name}'s RGW",
                    f"{_backup_placement(target)}; schedule {backup.schedule}, kept "
                    f"{backup.retention_days} days, encrypted",
                    backups=True,
                )
            )
        datasets.append(
            Dataset(
                f"volumes/{site.name}/{namespace}",
                site.name,
                site.jurisdiction,
                tuple(copies),
                judge(tuple(copies), site.name, (site.jurisdiction,), remedy),
            )
        )
    return datasets


def _served(config: PlatformConfig, site: str) -> set[tuple[str, str, str]]:
    """(model, precision, revision) of every weights revision the site serves."""
    served = set()
    for deployment in config.models:
        d = deployment.at_site(site)
        served.add((d.model, d.precision, d.revision))
        if d.canary:
            served.add((d.model, d.precision, d.canary.revision))
    return served


def _model_weights(stack: _Stack, site: Site) -> Dataset:
    """The site's model bucket: its RGW replicas, the GPU hosts' caches of the served
    revisions, and the same weights in another site's bucket of the jurisdiction, where that
    site serves them too (each site's serving needs them in its own bucket: an upload of
    their own, not a replica, so a deletion here does not reach it)."""
    config = stack.config
    bucket = config.storage.model_bucket
    copies = [_ceph_copy(stack, site, f"RGW bucket {bucket}", "every revision kept")]
    caches = []
    for deployment in config.models:
        gpu = deployment.at_site(site.name).gpu_model
        caches.append(
            sum(
                1 for h in site.hosts if h.gpu and h.gpu.model == gpu and h.node_pool == "inference"
            )
        )
    if min(caches, default=0) > 0:
        copies.append(
            Copy(
                f"model cache on the GPU hosts ({config.storage.model_cache.path})",
                site.name,
                site.jurisdiction,
                HOST_DISK,
                min(caches),
                "the served revisions (and canaries) only, on each inference host whose GPUs "
                "serve the model; the fewest hosts of any model counted",
            )
        )
    served = _served(config, site.name)
    for other in stack.candidates(site):
        if stack.has_ceph(other.name) and served <= _served(config, other.name):
            copies.append(
                _ceph_copy(
                    stack,
                    other,
                    f"the same weights in {other.name}'s bucket {bucket}",
                    f"uploaded there for serving at {other.name}, not replicated from here",
                )
            )
    copied_to = bucket_copy_targets(config).get(site.name)
    if copied_to is not None and config.backup is not None:
        target = stack.sites[copied_to]
        copies.append(
            _ceph_copy(
                stack,
                target,
                f"copy of the bucket in {target.name}'s RGW "
                f"({MODEL_COPY_BUCKET_PREFIX}{site.name})",
                f"{_backup_placement(target)}; every revision kept, by rclone copy on "
                f"schedule {config.backup.copy_schedule}: nothing is deleted or overwritten "
                "there from here (a revision deleted here stays there until someone removes "
                "it)",
                backups=True,
            )
        )
        remedy = stack.backup_remedy(site, media_waits_for=NOT_BUILT_DEVICE_CLASS)
    elif stack.candidates(site):
        remedy = stack.backup_remedy(site, media_waits_for=NOT_BUILT_DEVICE_CLASS)
    else:
        waits = ("storage", "", NOT_BUILT_BUCKET_REPLICATION)
        remedy = {RULE_COPIES: waits, RULE_MEDIA: waits, RULE_OFF_SITE: waits}
        remedy[RULE_JURISDICTION] = ("storage", "", None)
    shortfalls = list(judge(tuple(copies), site.name, (site.jurisdiction,), remedy))
    kept = config.storage.revisions_kept
    uncached = [c for c in copies if c.medium != HOST_DISK]
    if (
        kept > 1
        and distinct_media(uncached) < 2
        and not any(s.rule == RULE_MEDIA for s in shortfalls)
    ):
        shown = ", ".join(sorted({str(c.medium) for c in uncached}))
        path, fix, waits_for = remedy[RULE_MEDIA]
        shortfalls.append(
            Shortfall(
                RULE_MEDIA,
                f"2 media for the {kept - 1} earlier revision(s) per model kept for rollback "
                f"(only {shown}: the GPU hosts cache the served revisions alone; "
                "storage.revisionsKept: 1 would drop them, and the rollback they allow)",
                fix,
                "storage.revisionsKept" if waits_for else path,
                waits_for,
            )
        )
    return Dataset(
        f"model-weights/{site.name}",
        site.name,
        site.jurisdiction,
        tuple(copies),
        tuple(shortfalls),
    )


def _gateway_ca(stack: _Stack) -> Dataset:
    """The gateway CA's key and certificate: the stack's encrypted config (and state), the
    Secret in each site's cluster (held by its etcd), and the etcd snapshots off the site."""
    copies = [
        Copy(
            "stack config and state (gatewayCaPrivateKey, a Pulumi secret)",
            None,
            None,
            Medium("pulumi-config"),
            1,
            "where the stack's config repository and state backend live is not in config: "
            "listed, not counted",
        )
    ]
    for site in stack.config.sites:
        members = _etcd_members(site)
        copies.append(
            Copy(
                f"Secret in {site.name}'s cluster (cert-manager): etcd members",
                site.name,
                site.jurisdiction,
                HOST_DISK,
                members.count,
                members.note,
            )
        )
        copies.extend(_etcd_snapshots(stack, site))
    first = stack.config.sites[0]
    remedy = stack.backup_remedy(first, media_waits_for=NOT_BUILT_DEVICE_CLASS)
    return Dataset(
        "gateway-ca",
        None,
        stack.jurisdictions,
        tuple(copies),
        judge(tuple(copies), None, stack.jurisdictions, remedy),
    )


def _backups(stack: _Stack) -> list[Dataset]:
    """The backups themselves (Velero's restore points, etcd snapshots): each target's
    backup bucket, whose history exists nowhere else."""
    datasets = []
    for site in stack.config.sites:
        sources = sorted(
            name
            for name in stack.sites
            if (target := stack.target(name)) is not None and target.name == site.name
        )
        if not sources:
            continue
        copied = bucket_copy_targets(stack.config)
        copies = (
            _ceph_copy(
                stack,
                site,
                f"backup bucket in {site.name}'s RGW (of {', '.join(sources)})",
                f"{_backup_placement(site)}; restore points older than the live data exist "
                "only here and in their copies",
                backups=True,
            ),
            # Each source copies its own backups back from here (bucket_copies.py).
            *(
                _ceph_copy(
                    stack,
                    stack.sites[source],
                    f"copy of {source}'s backups in {source}'s RGW ({BACKUP_COPY_BUCKET})",
                    f"on RGW's default placement; rclone sync on schedule "
                    f"{stack.config.backup.copy_schedule}: mirrors the expiry here, deleting "
                    "a bounded number of objects per run (--max-delete)",
                )
                for source in sources
                if copied.get(source) == site.name and stack.config.backup is not None
            ),
        )
        # The remedy of media waits for other disks where a copy exists (both on one class).
        media = NOT_BUILT_DEVICE_CLASS if len(copies) > 1 else NOT_BUILT_BACKUP_COPY
        remedy = {
            RULE_COPIES: ("storage.replicaSize", "set storage.replicaSize: 3", None),
            RULE_MEDIA: ("backup", "", media),
            RULE_OFF_SITE: ("backup", "", NOT_BUILT_BACKUP_COPY),
            RULE_JURISDICTION: ("backup.targets", "", None),
        }
        shortfalls = judge(copies, site.name, (site.jurisdiction,), remedy)
        uncopied = [source for source in sources if copied.get(source) != site.name]
        if len(copies) > 1 and uncopied:
            # The copies of some sources make the dataset look off-site; the rest have none.
            shortfalls += (
                Shortfall(
                    RULE_OFF_SITE,
                    f"an off-site copy of the backups of {', '.join(uncopied)} (no Ceph there "
                    "to keep one)",
                    "",
                    "backup",
                    NOT_BUILT_BACKUP_COPY,
                ),
            )
        datasets.append(
            Dataset(
                f"backups/{site.name}",
                site.name,
                site.jurisdiction,
                copies,
                shortfalls,
            )
        )
    return datasets


def refusals(datasets: tuple[Dataset, ...]) -> list[tuple[str, str, list[str]]]:
    """Shortfalls the stack's settings can close, grouped by (path, fix): each group is one
    refusal, with the datasets and what each misses."""
    groups: dict[tuple[str, str], list[str]] = {}
    for d in datasets:
        for s in d.shortfalls:
            if s.waits_for is None:
                groups.setdefault((s.path, s.fix), []).append(f"{d.name} (missing {s.text})")
    return [(path, fix, missing) for (path, fix), missing in groups.items()]


def gaps(datasets: tuple[Dataset, ...]) -> list[str]:
    """Shortfalls that wait for a part not built, one warning per part."""
    groups: dict[str, dict[str, list[str]]] = {}
    for d in datasets:
        for s in d.shortfalls:
            if s.waits_for is not None:
                groups.setdefault(s.waits_for, {}).setdefault(d.name, []).append(s.text)
    return [
        f"3-2-1 does not hold for {len(missing)} dataset(s) until {part}: "
        + "; ".join(f"{name} lacks {' and '.join(texts)}" for name, texts in missing.items())
        for part, missing in groups.items()
    ]

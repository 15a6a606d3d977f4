"""What a site's Ceph can hold and what the stack plans to keep there, per device class, in GB
(10^9 bytes, as disk vendors and `sizeGb` count). Pure: preview refuses a site whose plan does
not fit on one of its classes.

Each device class is a capacity of its own: its pools' CRUSH rule (components/storage/
ceph_spec.py) places their copies on that class's OSDs only. On the fastest class: the model
weights (RGW's default placement) and the volume claims (the RBD pool). On the backup class
(HDD where the site has it, else the fastest): what other sites back up here (the `backups`
placement: their volume claims × restore points, their etcd snapshots).

Usable = what Ceph can place with one copy per host (failure domain `host`) on the class's
disks, divided among `storage.replicaSize` copies, minus `storage.headroomPercent` kept free
(Ceph stops writes at 95 % full, and a lost host's data must re-replicate somewhere). With
hosts of equal size that is raw ÷ copies × (1 − headroom); with unequal hosts it is less,
since a host holds at most one copy of each object: the space of a host larger than the
per-copy share stays unused (`per_copy_gb`); with fewer hosts than copies it is nothing.

Planned = the model weights served at the site × the revisions kept and the declared volume
claims, plus what other sites back up here, plus the cross-site copies (bucket_copies.py): on
the backup class the model buckets of the sites that copy theirs here, on the fastest the copy
of this site's own backups and etcd snapshots read back from its target."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from components.catalog import MODELS, PRECISION_BYTES
from components.config import Backup, PlatformConfig, Site
from components.storage import ceph_spec
from components.storage.protection import bucket_copy_targets

GB = 10**9
ETCD_SNAPSHOT_MAX_GB = 2 * 2**30 / GB
"""etcd's default backend quota (`--quota-backend-bytes`, 2 GiB; kubeadm keeps the default):
no snapshot of a member is larger, so it bounds each kept snapshot."""
DECLARED_VOLUME_CLAIMS_GB = 0.0
"""Volume claims the stack declares: none yet (no config key names one; the layers that add
claims add their size here)."""


def per_copy_gb(host_raw_gb: Sequence[float], copies: int) -> float:
    """The most data Ceph can place with `copies` copies, each on another host: the largest
    D with Σ min(host, D) ≥ copies × D (a host holds at most one copy of each object, so at
    most D). Equal hosts: raw ÷ copies; fewer hosts than copies: 0."""
    hosts = sorted((gb for gb in host_raw_gb if gb > 0), reverse=True)
    if len(hosts) < copies:
        return 0.0
    rest = sum(hosts)
    # Cap the largest hosts one at a time while one of them is larger than the share.
    for capped in range(copies):
        share = rest / (copies - capped)
        if hosts[capped] <= share:
            return share
        rest -= hosts[capped]
    raise AssertionError("unreachable: the last share is at least the next host")


def usable_gb(per_copy: float, headroom_percent: float) -> float:
    return per_copy * (1 - headroom_percent / 100)


def weights_gb(model: str, precision: str) -> float:
    """One revision of a model's weights: parameters × bytes per weight."""
    return MODELS[model].parameters_b * PRECISION_BYTES[precision]


@dataclass(frozen=True)
class Term:
    """One part of what a site keeps."""

    what: str
    gb: float
    arithmetic: str
    """How `gb` was computed, with the inputs named."""


@dataclass(frozen=True)
class ClassCapacity:
    """One device class of a site's Ceph: its disks, and what lands on it."""

    device_class: str
    host_raw_gb: tuple[tuple[str, int], ...]
    """Storage host → the sum of its disks of this class (hosts without any left out)."""
    copies: int
    headroom_percent: int
    per_copy_gb: float
    usable_gb: float
    planned: tuple[Term, ...]

    @property
    def raw_gb(self) -> int:
        return sum(gb for _, gb in self.host_raw_gb)

    @property
    def planned_gb(self) -> float:
        return sum(term.gb for term in self.planned)

    @property
    def fits(self) -> bool:
        return self.planned_gb <= self.usable_gb

    @property
    def balanced(self) -> bool:
        return math.isclose(self.per_copy_gb, self.raw_gb / self.copies)

    def usable_arithmetic(self) -> str:
        hosts = ", ".join(f"{name} {gb:,}" for name, gb in self.host_raw_gb)
        text = (
            f"{self.raw_gb:,} GB raw of {self.device_class} on {len(self.host_raw_gb)} storage "
            f"hosts ({hosts})"
        )
        if len(self.host_raw_gb) < self.copies:
            text += (
                f": fewer hosts than {self.copies} copies, each on another host, so 0 GB "
                f"(give {self.copies} storage hosts {self.device_class} disks)"
            )
        elif self.balanced:
            text += f" ÷ {self.copies} copies = {self.per_copy_gb:,.0f} GB"
        else:
            text += (
                f" holds {self.per_copy_gb:,.0f} GB per copy with {self.copies} copies on "
                f"different hosts, not {self.raw_gb / self.copies:,.0f} (raw ÷ copies): a host "
                "holds one copy of each object at most, so a host above that share is not "
                "filled"
            )
        return f"{text}, minus {self.headroom_percent} % headroom = {self.usable_gb:,.0f} GB"

    def planned_arithmetic(self) -> str:
        terms = "; ".join(f"{t.what} {t.gb:,.0f} GB ({t.arithmetic})" for t in self.planned)
        return f"{self.planned_gb:,.0f} GB planned on {self.device_class}: {terms or 'nothing'}"

    def output(self) -> dict[str, object]:
        return {
            "rawGb": self.raw_gb,
            "usableGb": round(self.usable_gb),
            "plannedGb": round(self.planned_gb),
            "planned": {t.what: round(t.gb, 1) for t in self.planned},
            "arithmetic": f"usable: {self.usable_arithmetic()}; {self.planned_arithmetic()}",
        }


@dataclass(frozen=True)
class SiteCapacity:
    """A site's Ceph, one capacity per device class (fastest first)."""

    site: str
    copies: int
    headroom_percent: int
    classes: tuple[ClassCapacity, ...]
    fast_class: str
    """Where the weights and volumes land (the fastest class)."""
    backup_class: str
    """Where other sites' backups land (HDD where the site has it, else the fastest)."""

    def of(self, device_class: str) -> ClassCapacity:
        return next(c for c in self.classes if c.device_class == device_class)

    @property
    def raw_gb(self) -> int:
        return sum(c.raw_gb for c in self.classes)

    @property
    def usable_gb(self) -> float:
        return sum(c.usable_gb for c in self.classes)

    @property
    def planned(self) -> tuple[Term, ...]:
        return tuple(t for c in self.classes for t in c.planned)

    @property
    def planned_gb(self) -> float:
        return sum(c.planned_gb for c in self.classes)

    @property
    def fits(self) -> bool:
        return all(c.fits for c in self.classes)

    @property
    def short(self) -> tuple[ClassCapacity, ...]:
        """The classes whose plan does not fit."""
        return tuple(c for c in self.classes if not c.fits)

    def output(self) -> dict[str, object]:
        return {
            "rawGb": self.raw_gb,
            "copies": self.copies,
            "headroomPercent": self.headroom_percent,
            "usableGb": round(self.usable_gb),
            "plannedGb": round(self.planned_gb),
            "planned": {t.what: round(t.gb, 1) for t in self.planned},
            "fastClass": self.fast_class,
            "backupClass": self.backup_class,
            "deviceClasses": {c.device_class: c.output() for c in self.classes},
            "arithmetic": "; ".join(
                f"{c.device_class}: {c.output()['arithmetic']}" for c in self.classes
            ),
        }


def site_capacity(config: PlatformConfig, site: Site) -> SiteCapacity | None:
    """The site's Ceph capacity and plan per device class; None for a site without storage
    hosts (or without disks: validation refuses that)."""
    storage_hosts = site.hosts_with_role("storage")
    fast = ceph_spec.fastest_class(storage_hosts)
    backup_class = ceph_spec.backup_class(storage_hosts)
    if fast is None or backup_class is None:
        return None
    storage = config.storage
    lands: dict[str, list[Term]] = {c: [] for c in ceph_spec.device_classes(storage_hosts)}
    lands[fast] += [_model_weights(config, site), _volume_claims()]
    lands[backup_class] += _backups_landing(config, site)
    # The cross-site copies (bucket_copies.py): other sites' model buckets on the backup
    # placement here, this site's own backups copied back onto the default placement.
    lands[backup_class] += _model_copies_landing(config, site)
    lands[fast] += _backup_copies_landing(config, site)
    classes = []
    for device_class, planned in lands.items():
        host_raw = tuple(
            (h.name, gb)
            for h in storage_hosts
            if (gb := sum(d.size_gb for d in h.disks if d.media == device_class))
        )
        per_copy = per_copy_gb([gb for _, gb in host_raw], storage.replica_size)
        classes.append(
            ClassCapacity(
                device_class=device_class,
                host_raw_gb=host_raw,
                copies=storage.replica_size,
                headroom_percent=storage.headroom_percent,
                per_copy_gb=per_copy,
                usable_gb=usable_gb(per_copy, storage.headroom_percent),
                planned=tuple(planned),
            )
        )
    return SiteCapacity(
        site=site.name,
        copies=storage.replica_size,
        headroom_percent=storage.headroom_percent,
        classes=tuple(classes),
        fast_class=fast,
        backup_class=backup_class,
    )


def _volume_claims() -> Term:
    """The site's own volume claims on `ceph-rbd` (the RBD pool), one copy each here."""
    return Term(
        "volume claims",
        DECLARED_VOLUME_CLAIMS_GB,
        f"declared volume claims {DECLARED_VOLUME_CLAIMS_GB:g} GB (none declared in config)",
    )


def _model_weights(config: PlatformConfig, site: Site) -> Term:
    """Every model is served at every site of the stack, from the site's model bucket, each
    in the site's precision (its placement's, or the default): `revisionsKept` revisions,
    and a canary's revision besides while it runs."""
    kept = config.storage.revisions_kept
    parts, total = [], 0.0
    for deployment in config.models:
        d = deployment.at_site(site.name)
        revisions = kept + (1 if d.canary and d.canary.revision != d.revision else 0)
        one = weights_gb(d.model, d.precision)
        total += one * revisions
        canary = " incl. the canary's" if revisions > kept else ""
        parts.append(f"{d.name} {d.precision} {one:,.1f} GB × {revisions} revisions{canary}")
    arithmetic = " + ".join(parts) if parts else "no models"
    return Term("model weights", total, f"{arithmetic}; storage.revisionsKept {kept}")


def _backups_landing(config: PlatformConfig, site: Site) -> list[Term]:
    """What the sites whose `backup.targets` name this one keep here: Velero's copies of
    their volume claims (at most a full copy per restore point: kopia deduplicates, so this
    is an upper bound) and their etcd snapshots (each at most etcd's quota)."""
    backup = config.backup
    if backup is None:
        return []
    terms = []
    for source, target in sorted(backup.targets.items()):
        if target != site.name or source == site.name:
            continue
        terms += _backup_terms(backup, source, "")
    return terms


def _backup_terms(backup: Backup, source: str, kind: str) -> list[Term]:
    """What `source`'s Velero backups and etcd snapshots keep (`kind`: "" where they land,
    "copy of " where they are copied to)."""
    days = backup.retention_days
    snapshots = math.ceil(days * 24 / backup.etcd_snapshot_hours)
    return [
        Term(
            f"{kind}backups of {source}",
            DECLARED_VOLUME_CLAIMS_GB * days,
            f"declared volume claims {DECLARED_VOLUME_CLAIMS_GB:g} GB (none declared in "
            f"config) × {days} daily restore points (backup.retentionDays)",
        ),
        Term(
            f"{kind}etcd snapshots of {source}",
            snapshots * ETCD_SNAPSHOT_MAX_GB,
            f"{snapshots} snapshots ({days} days every {backup.etcd_snapshot_hours} h) × "
            f"{ETCD_SNAPSHOT_MAX_GB:.2f} GB, etcd's default quota, at most",
        ),
    ]


def _model_copies_landing(config: PlatformConfig, site: Site) -> list[Term]:
    """The model buckets of the sites that copy theirs here (`models-<source>`): each
    source's weights × its revisions kept (and a canary's), as in its own bucket."""
    sources = {s.name: s for s in config.sites}
    terms = []
    for source, target in sorted(bucket_copy_targets(config).items()):
        if target == site.name:
            weights = _model_weights(config, sources[source])
            terms.append(Term(f"copy of model weights of {source}", weights.gb, weights.arithmetic))
    return terms


def _backup_copies_landing(config: PlatformConfig, site: Site) -> list[Term]:
    """The copy of this site's own backups and etcd snapshots, read back from its target
    (`backup-copies`): what they keep there."""
    if config.backup is None or site.name not in bucket_copy_targets(config):
        return []
    return _backup_terms(config.backup, site.name, "copy of ")

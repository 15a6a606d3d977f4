"""What a site's Ceph can hold and what the stack plans to keep there, in GB (10^9 bytes, as
disk vendors and `sizeGb` count). Pure: preview refuses a site whose plan does not fit.

Usable = what Ceph can place with one copy per host (failure domain `host`), divided among
`storage.replicaSize` copies, minus `storage.headroomPercent` kept free (Ceph stops writes at
95 % full, and a lost host's data must re-replicate somewhere). With hosts of equal size that
is raw ÷ copies × (1 − headroom); with unequal hosts it is less, since a host holds at most
one copy of each object: the space of a host larger than the per-copy share stays unused
(`per_copy_gb`).

Planned = the model weights served at the site × the revisions kept, plus what other sites
back up here (their declared volume claims × restore points, their etcd snapshots)."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from components.catalog import MODELS, PRECISION_BYTES
from components.config import PlatformConfig, Site

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
class SiteCapacity:
    site: str
    host_raw_gb: tuple[tuple[str, int], ...]
    """Storage host → the sum of its disks."""
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
        text = f"{self.raw_gb:,} GB raw on {len(self.host_raw_gb)} storage hosts ({hosts})"
        if self.balanced:
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
        return f"{self.planned_gb:,.0f} GB planned: {terms}"

    def output(self) -> dict[str, object]:
        return {
            "rawGb": self.raw_gb,
            "copies": self.copies,
            "headroomPercent": self.headroom_percent,
            "usableGb": round(self.usable_gb),
            "plannedGb": round(self.planned_gb),
            "planned": {t.what: round(t.gb, 1) for t in self.planned},
            "arithmetic": f"usable: {self.usable_arithmetic()}; {self.planned_arithmetic()}",
        }


def site_capacity(config: PlatformConfig, site: Site) -> SiteCapacity | None:
    """The site's Ceph capacity and plan; None for a site without storage hosts."""
    storage_hosts = site.hosts_with_role("storage")
    if not storage_hosts:
        return None
    storage = config.storage
    host_raw = tuple((h.name, sum(d.size_gb for d in h.disks)) for h in storage_hosts)
    per_copy = per_copy_gb([gb for _, gb in host_raw], storage.replica_size)
    return SiteCapacity(
        site=site.name,
        host_raw_gb=host_raw,
        copies=storage.replica_size,
        headroom_percent=storage.headroom_percent,
        per_copy_gb=per_copy,
        usable_gb=usable_gb(per_copy, storage.headroom_percent),
        planned=(_model_weights(config, site), *_backups_landing(config, site)),
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
    days = backup.retention_days
    for source, target in sorted(backup.targets.items()):
        if target != site.name or source == site.name:
            continue
        terms.append(
            Term(
                f"backups of {source}",
                DECLARED_VOLUME_CLAIMS_GB * days,
                f"declared volume claims {DECLARED_VOLUME_CLAIMS_GB:g} GB (none declared in "
                f"config) × {days} daily restore points (backup.retentionDays)",
            )
        )
        snapshots = math.ceil(days * 24 / backup.etcd_snapshot_hours)
        terms.append(
            Term(
                f"etcd snapshots of {source}",
                snapshots * ETCD_SNAPSHOT_MAX_GB,
                f"{snapshots} snapshots ({days} days every {backup.etcd_snapshot_hours} h) × "
                f"{ETCD_SNAPSHOT_MAX_GB:.2f} GB, etcd's default quota, at most",
            )
        )
    return terms

"""The 3-2-1 audit (components/storage/protection.py): every dataset with its copies, media,
sites and jurisdictions; refusals where the stack's settings can close a shortfall, gaps (with
the part they wait for) where they cannot."""

from copy import deepcopy

from components.config import PlatformConfig
from components.storage.protection import (
    HOST_DISK,
    NOT_BUILT_BACKUP_COPY,
    NOT_BUILT_DEVICE_CLASS,
    NOT_BUILT_OTHER_STACK,
    Copy,
    Medium,
    audit,
    distinct_media,
    gaps,
    refusals,
)
from tests.stacks import raw_stack_config

NVME = Medium("ceph", frozenset({"nvme"}))
HDD = Medium("ceph", frozenset({"hdd"}))
MIXED = Medium("ceph", frozenset({"hdd", "nvme"}))


def _audit(change=None, stack: str = "prod") -> dict:
    raw = raw_stack_config(stack)
    if change:
        change(raw)
    return {d.name: d for d in audit(PlatformConfig.model_validate(raw))}


def _nvme_only(raw: dict) -> None:
    """Prod as it was before its storage hosts had HDDs: four NVMe drives each."""
    for site in raw["sites"]:
        for host in site["hosts"]:
            if "disks" in host:
                host["disks"] = [d for d in host["disks"] if d["media"] == "nvme"]


def test_media_differ_by_system_or_by_device_classes_that_do_not_overlap():
    assert not NVME.same_as(HDD)
    assert NVME.same_as(MIXED) and HDD.same_as(MIXED)  # a mixed pool may sit on either
    assert not HOST_DISK.same_as(NVME)
    assert str(MIXED) == "ceph/hdd+nvme" and str(HOST_DISK) == "host-disk"

    def copies(*media):
        return [Copy("x", "dc-a", "DE", m, 1) for m in media]

    assert distinct_media(copies(NVME, NVME)) == 1
    assert distinct_media(copies(NVME, HDD)) == 2
    assert distinct_media(copies(NVME, MIXED, HDD)) == 1
    assert distinct_media(copies(NVME, HOST_DISK)) == 2


def test_prod_lists_every_dataset_with_its_copies():
    datasets = _audit()
    assert set(datasets) == {
        "cluster-state/dc-a",
        "cluster-state/dc-b",
        "model-weights/dc-a",
        "model-weights/dc-b",
        *(f"volumes/{s}/{ns}" for s in ("dc-a", "dc-b") for ns in ("inference", "training",
                                                                   "monitoring", "gateway")),
        "gateway-ca",
        "backups/dc-a",
        "backups/dc-b",
    }  # fmt: skip
    for dataset in datasets.values():
        for copy in dataset.copies:
            if copy.counted:
                assert copy.jurisdiction == "DE" and copy.site in ("dc-a", "dc-b")
                assert copy.count >= 1


def test_etcd_and_the_gateway_ca_hold_with_the_off_site_snapshots():
    datasets = _audit()
    state = datasets["cluster-state/dc-a"]
    assert state.holds321
    members, snapshots = state.copies
    assert (members.site, str(members.medium), members.count) == ("dc-a", "host-disk", 3)
    # On dc-b's backup placement, whose pool is on its HDDs.
    assert (snapshots.site, str(snapshots.medium), snapshots.count) == ("dc-b", "ceph/hdd", 3)
    assert snapshots.note.startswith("on RGW placement backups, its pool on hdd; ")
    assert "not a deletion" in members.note and "not a deletion" in snapshots.note
    ca = datasets["gateway-ca"]
    assert ca.holds321
    stack_copy = ca.copies[0]
    assert stack_copy.site is None and not stack_copy.counted  # listed, not counted
    assert ca.output()["offSite"] is True


def test_prods_volumes_hold_with_their_backups_on_the_targets_hdd_placement():
    for site, target in (("dc-a", "dc-b"), ("dc-b", "dc-a")):
        for namespace in ("inference", "training", "monitoring", "gateway"):
            volumes = _audit()[f"volumes/{site}/{namespace}"]
            assert volumes.holds321, volumes.shortfalls
            rbd, backup = volumes.copies
            assert (rbd.site, str(rbd.medium)) == (site, "ceph/nvme")  # the RBD pool: fastest
            assert (backup.site, str(backup.medium)) == (target, "ceph/hdd")
            assert backup.store == f"Velero backups (kopia) in {target}'s RGW"
            assert backup.note.startswith("on RGW placement backups, its pool on hdd; ")
            output = volumes.output()
            assert output["media"] == ["ceph/hdd", "ceph/nvme"] and output["copyCount"] == 6


def test_volumes_on_nvme_backed_up_to_nvme_are_one_medium_and_wait_for_a_device_class():
    volumes = _audit(_nvme_only)["volumes/dc-a/inference"]
    assert not volumes.holds321
    [shortfall] = volumes.shortfalls
    assert shortfall.rule == "media" and shortfall.text == "2 media (only ceph/nvme)"
    assert shortfall.waits_for == NOT_BUILT_DEVICE_CLASS
    output = volumes.output()
    assert output["copyCount"] == 6 and output["offSite"] and output["media"] == ["ceph/nvme"]
    assert output["missing"] == ["2 media (only ceph/nvme)"]
    assert output["waitsFor"] == [NOT_BUILT_DEVICE_CLASS]
    rbd, backup = volumes.copies
    assert "Velero" in backup.store and backup.site == "dc-b"


def test_hdd_at_the_target_alone_gives_the_backups_there_another_medium():
    """Only dc-b has HDDs: dc-a's backups land on them (two media); dc-b's land on dc-a's
    NVMe, the medium of dc-b's own volumes (one)."""

    def change(raw):
        _nvme_only(raw)
        for host in raw["sites"][1]["hosts"][9:12]:
            host["disks"].append({"device": "/dev/sda", "sizeGb": 16000, "media": "hdd"})

    datasets = _audit(change)
    assert datasets["volumes/dc-a/inference"].holds321
    assert datasets["volumes/dc-a/inference"].output()["media"] == ["ceph/hdd", "ceph/nvme"]
    assert not datasets["volumes/dc-b/monitoring"].holds321
    assert datasets["volumes/dc-b/monitoring"].output()["media"] == ["ceph/nvme"]


def test_the_backups_hold_with_their_copy_back_at_the_source():
    """dc-a's backups at dc-b (its HDD placement) are copied back to dc-a's default placement
    (NVMe) by dc-a's bucket copies: another site and another medium."""
    backups = _audit()["backups/dc-b"]
    assert backups.holds321, backups.shortfalls
    held, copied = backups.copies
    assert "dc-a" in held.store  # dc-a's backups land at dc-b
    assert (held.site, str(held.medium), held.count) == ("dc-b", "ceph/hdd", 3)
    assert (copied.site, str(copied.medium), copied.count) == ("dc-a", "ceph/nvme", 3)
    assert copied.store == "copy of dc-a's backups in dc-a's RGW (backup-copies)"
    assert "rclone sync on schedule 0 5 * * *" in copied.note and "--max-delete" in copied.note
    assert "not a deletion" in copied.note  # Ceph's replicas: said on every Ceph copy
    assert backups.output()["media"] == ["ceph/hdd", "ceph/nvme"]


def _without_ceph_at(site: int):
    def change(raw):
        spec = raw["sites"][site]
        spec["hosts"] = [h for h in spec["hosts"] if "storage" not in h["roles"]]
        del spec["storage"]

    return change


def test_a_source_without_ceph_keeps_no_copy_of_its_backups():
    """The copies run where the source has Ceph (its RGW keeps them): dc-a without storage
    hosts leaves its backups at dc-b with one site and one medium, waiting for a copy."""
    datasets = _audit(_without_ceph_at(0))
    backups = datasets["backups/dc-b"]
    assert len(backups.copies) == 1
    assert [s.rule for s in backups.shortfalls] == ["media", "off-site"]
    assert {s.waits_for for s in backups.shortfalls} == {NOT_BUILT_BACKUP_COPY}
    assert "model-weights/dc-a" not in datasets  # no bucket of its own to copy


def test_a_target_with_one_source_copied_and_one_not_waits_for_the_other():
    """dc-c (no Ceph) backs up to dc-b too: dc-a's copy does not make dc-c's backups there
    off-site."""

    def change(raw):
        dc_c = deepcopy(raw["sites"][0])
        dc_c["name"] = "dc-c"
        dc_c["hosts"] = [
            {**h, "name": h["name"].replace("dca", "dcc")}
            for h in dc_c["hosts"]
            if "storage" not in h["roles"]
        ]
        del dc_c["storage"]
        raw["sites"].append(dc_c)
        raw["backup"]["targets"]["dc-c"] = "dc-b"

    backups = _audit(change)["backups/dc-b"]
    assert [c.site for c in backups.copies] == ["dc-b", "dc-a"]
    [shortfall] = backups.shortfalls
    assert shortfall.rule == "off-site" and "backups of dc-c" in shortfall.text
    assert shortfall.waits_for == NOT_BUILT_BACKUP_COPY


def test_model_weights_count_the_caches_the_other_site_s_upload_and_the_copy():
    weights = _audit()["model-weights/dc-a"]
    assert weights.holds321, weights.shortfalls
    bucket, caches, elsewhere, copied = weights.copies
    assert (bucket.site, bucket.count, str(bucket.medium)) == ("dc-a", 3, "ceph/nvme")
    # Qwen on dc-a's 2 A100 hosts, Llama on its 3 V100 hosts: the fewer counts.
    assert (caches.medium, caches.count) == (HOST_DISK, 2)
    assert elsewhere.site == "dc-b" and "not replicated" in elsewhere.note
    # Every revision kept, the earlier ones for rollback too, on dc-b's backup placement.
    assert (copied.site, copied.count, str(copied.medium)) == ("dc-b", 3, "ceph/hdd")
    assert copied.store == "copy of the bucket in dc-b's RGW (models-dc-a)"
    assert copied.note.startswith("on RGW placement backups, its pool on hdd; every revision")
    assert "stays there until someone removes it" in copied.note


def test_earlier_revisions_on_one_medium_wait_for_hdd_at_the_target():
    """Without HDDs the copy of the bucket lands on the target's NVMe: the revisions kept for
    rollback stay on one medium until the target has disks of another class."""
    weights = _audit(_nvme_only)["model-weights/dc-a"]
    [shortfall] = weights.shortfalls
    assert shortfall.rule == "media" and "earlier revision" in shortfall.text
    assert shortfall.waits_for == NOT_BUILT_DEVICE_CLASS


def test_without_a_target_the_fix_for_the_weights_is_one():
    """No target, another site of the jurisdiction: the fix is a target (the copies follow),
    a refusal like the other datasets'."""

    def change(raw):
        raw["backup"]["targets"] = {"dc-b": "dc-a"}

    weights = _audit(change)["model-weights/dc-a"]
    media = [s for s in weights.shortfalls if s.rule == "media"]
    assert media and media[0].waits_for is None
    assert media[0].fix == "set backup.targets.dc-a: dc-b"
    assert not any(c.store.startswith("copy of the bucket") for c in weights.copies)


def test_keeping_one_revision_leaves_the_weights_whole():
    def change(raw):
        raw["storage"] = {**raw["storage"], "revisionsKept": 1}

    assert _audit(change)["model-weights/dc-a"].holds321


def test_weights_only_one_site_serves_are_off_site_by_their_copy():
    def change(raw):
        raw["models"][1]["placements"] = [{"site": "dc-b", "precision": "int8"}]

    datasets = _audit(change)
    for site, target in (("dc-a", "dc-b"), ("dc-b", "dc-a")):
        weights = datasets[f"model-weights/{site}"]
        # The bucket, the caches and the copy: no other site serves these.
        assert [c.site for c in weights.copies] == [site, site, target]
        assert weights.holds321, weights.shortfalls


def test_prod_is_refused_for_nothing_and_every_dataset_holds():
    datasets = tuple(_audit().values())
    assert refusals(datasets) == []
    # The volumes hold (their backups on the other site's HDDs), the model buckets and the
    # backups themselves by their cross-site copies.
    assert gaps(datasets) == []
    assert all(d.holds321 for d in datasets), [d.name for d in datasets if not d.holds321]
    assert len(datasets) == 15


def test_without_backup_the_fix_is_a_target_per_site():
    def change(raw):
        del raw["backup"]

    found = {
        (path, fix): missing for path, fix, missing in refusals(tuple(_audit(change).values()))
    }
    assert set(found) == {
        ("backup", "set backup.targets.dc-a: dc-b"),
        ("backup", "set backup.targets.dc-b: dc-a"),
    }
    dc_a = found[("backup", "set backup.targets.dc-a: dc-b")]
    assert "cluster-state/dc-a (missing 2 media (only host-disk))" in dc_a
    assert "cluster-state/dc-a (missing an off-site copy (all at dc-a))" in dc_a
    assert "volumes/dc-a/gateway (missing an off-site copy (all at dc-a))" in dc_a


def test_two_replicas_per_site_and_a_copy_at_each_make_four():
    """With the cross-site copies every dataset of prod has Ceph copies at two sites: two
    replicas each are four copies. Where a copy is missing (a source without Ceph), two
    replicas are two copies, and the fix is the replicas."""

    def two(raw):
        raw["storage"] = {**raw["storage"], "replicaSize": 2}

    datasets = _audit(two)
    assert refusals(tuple(datasets.values())) == []
    assert datasets["backups/dc-a"].output()["copyCount"] == 4

    def two_without_ceph_at_dc_a(raw):
        two(raw)
        _without_ceph_at(0)(raw)

    found = refusals(tuple(_audit(two_without_ceph_at_dc_a).values()))
    copies = [(fix, missing) for path, fix, missing in found if path == "storage.replicaSize"]
    assert copies == [("set storage.replicaSize: 3", ["backups/dc-b (missing 3 copies (has 2))"])]


def test_a_copy_in_another_jurisdiction_is_refused():
    """Validation refuses such a target first (validation/backup.py); the audit says it too."""

    def change(raw):
        raw["sites"][1]["jurisdiction"] = "AT"

    datasets = _audit(change)
    rules = [s.rule for s in datasets["volumes/dc-a/inference"].shortfalls]
    assert "jurisdiction" in rules
    [shortfall] = [s for s in datasets["cluster-state/dc-a"].shortfalls if s.rule == "jurisdiction"]
    assert shortfall.waits_for is None
    assert "etcd snapshots of dc-a in dc-b's RGW is at dc-b (AT)" in shortfall.text
    assert any(path == "backup.targets.dc-a" for path, _, _ in refusals(tuple(datasets.values())))


def test_a_single_site_stack_waits_for_a_target_in_another_stack():
    """The DR stack: no other site of its jurisdiction here, so nothing it can set closes the
    off-site rule; every shortfall is a gap, none a refusal."""

    def with_ceph(raw):
        raw["sites"][0]["storage"] = {"rgwVirtualIp": "10.30.2.10"}
        for host in raw["sites"][0]["hosts"]:
            if "storage" in host["roles"]:
                host["disks"] = [{"device": "/dev/sdb", "sizeGb": 16000, "media": "hdd"}]

    datasets = _audit(with_ceph, stack="dr")
    assert refusals(tuple(datasets.values())) == []
    state = datasets["cluster-state/dr-ber"]
    assert {s.waits_for for s in state.shortfalls} == {NOT_BUILT_OTHER_STACK}
    assert not any(name.startswith("backups/") for name in datasets)
    assert datasets["gateway-ca"].output()["offSite"] is False

"""The 3-2-1 audit (components/storage/protection.py): every dataset with its copies, media,
sites and jurisdictions; refusals where the stack's settings can close a shortfall, gaps (with
the part they wait for) where they cannot."""

from components.config import PlatformConfig
from components.storage.protection import (
    HOST_DISK,
    NOT_BUILT_BACKUP_COPY,
    NOT_BUILT_BUCKET_REPLICATION,
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


def test_the_backups_themselves_have_one_site_and_one_medium():
    backups = _audit()["backups/dc-b"]
    assert [s.rule for s in backups.shortfalls] == ["media", "off-site"]
    assert {s.waits_for for s in backups.shortfalls} == {NOT_BUILT_BACKUP_COPY}
    assert "dc-a" in backups.copies[0].store  # dc-a's backups land at dc-b


def test_model_weights_count_the_caches_and_the_other_site_s_upload():
    weights = _audit()["model-weights/dc-a"]
    bucket, caches, elsewhere = weights.copies
    assert (bucket.site, bucket.count, str(bucket.medium)) == ("dc-a", 3, "ceph/nvme")
    # Qwen on dc-a's 2 A100 hosts, Llama on its 3 V100 hosts: the fewer counts.
    assert (caches.medium, caches.count) == (HOST_DISK, 2)
    assert elsewhere.site == "dc-b" and "not replicated" in elsewhere.note
    # The served revisions hold; the earlier ones kept for rollback have one medium.
    [shortfall] = weights.shortfalls
    assert shortfall.rule == "media" and "earlier revision" in shortfall.text
    assert shortfall.waits_for == NOT_BUILT_BUCKET_REPLICATION


def test_keeping_one_revision_leaves_the_weights_whole():
    def change(raw):
        raw["storage"] = {**raw["storage"], "revisionsKept": 1}

    assert _audit(change)["model-weights/dc-a"].holds321


def test_weights_only_one_site_serves_have_no_off_site_copy():
    def change(raw):
        raw["models"][1]["placements"] = [{"site": "dc-b", "precision": "int8"}]

    datasets = _audit(change)
    for site in ("dc-a", "dc-b"):
        weights = datasets[f"model-weights/{site}"]
        assert len(weights.copies) == 2  # the bucket and the caches; no other site has these
        off_site = [s for s in weights.shortfalls if s.rule == "off-site"]
        assert off_site and off_site[0].waits_for == NOT_BUILT_BUCKET_REPLICATION


def test_prod_is_refused_for_nothing_and_warned_about_every_gap():
    datasets = tuple(_audit().values())
    assert refusals(datasets) == []
    warnings = gaps(datasets)
    # The volumes hold (their backups on the other site's HDDs); the model bucket's earlier
    # revisions and the backups themselves wait for parts not built.
    assert len(warnings) == 2
    assert not any("volumes/" in w for w in warnings)
    assert any(
        w.startswith("3-2-1 does not hold for 2 dataset(s) until a second copy") for w in warnings
    )
    assert any("backups/dc-a lacks 2 media (only ceph/hdd)" in w for w in warnings)
    held = {d.name for d in datasets if d.holds321}
    assert {f"volumes/{s}/inference" for s in ("dc-a", "dc-b")} <= held


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


def test_two_replicas_make_the_backups_two_copies():
    def change(raw):
        raw["storage"] = {**raw["storage"], "replicaSize": 2}

    found = refusals(tuple(_audit(change).values()))
    [(path, fix, missing)] = found
    assert (path, fix) == ("storage.replicaSize", "set storage.replicaSize: 3")
    assert missing == [
        "backups/dc-a (missing 3 copies (has 2))",
        "backups/dc-b (missing 3 copies (has 2))",
    ]


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

"""Ceph capacity per site and device class (components/storage/capacity.py): what one copy per
host can place, the headroom, and what the stack plans to keep on each class (weights and
volumes on the fastest, backups landing here on HDD where there is some)."""

import math
import random

import pytest

from components.config import PlatformConfig
from components.storage.capacity import (
    ETCD_SNAPSHOT_MAX_GB,
    per_copy_gb,
    site_capacity,
    usable_gb,
    weights_gb,
)
from tests.stacks import raw_stack_config


def _config(change=None) -> PlatformConfig:
    raw = raw_stack_config("prod")
    if change:
        change(raw)
    return PlatformConfig.model_validate(raw)


@pytest.mark.parametrize(
    ("hosts", "copies", "expected"),
    [
        ([100, 100, 100], 3, 100),  # equal hosts: raw ÷ copies
        ([100, 100, 100, 100], 3, 400 / 3),
        ([1000, 1000, 10], 3, 10),  # 3 copies on 3 hosts: the smallest bounds every object
        ([1000, 100, 100, 100], 3, 150),  # the big host holds 150 of its 1000
        ([1000, 1000, 100, 100], 3, 200),  # two big hosts capped
        ([100, 100], 3, 0),  # fewer hosts than copies: nothing can be placed
        ([100, 100, 0, 100], 3, 100),  # a host without disks holds nothing
    ],
)
def test_what_one_copy_per_host_can_place(hosts, copies, expected):
    assert per_copy_gb(hosts, copies) == pytest.approx(expected)


def test_the_share_fills_the_hosts_it_says_it_does():
    """The bound is exact: Σ min(host, D) = copies × D, and never above raw ÷ copies."""
    rng = random.Random(17)
    for _ in range(500):
        copies = rng.randint(2, 5)
        hosts = [rng.choice([0, 1, 10, 500, 7680, 30720]) for _ in range(rng.randint(1, 8))]
        share = per_copy_gb(hosts, copies)
        assert share <= sum(hosts) / copies + 1e-9
        if sum(1 for h in hosts if h > 0) >= copies:
            assert sum(min(h, share) for h in hosts) == pytest.approx(copies * share)
        else:
            assert share == 0


def test_headroom_is_taken_off_the_usable_share():
    assert usable_gb(30_720, 20) == pytest.approx(24_576)
    assert usable_gb(30_720, 0) == 30_720


def test_weights_are_parameters_times_bytes_per_weight():
    assert weights_gb("DeepSeek-R1-Distill-Qwen-32B", "bf16") == pytest.approx(65.6)
    assert weights_gb("DeepSeek-R1-Distill-Llama-8B", "fp16") == pytest.approx(16.06)
    assert weights_gb("DeepSeek-R1", "fp8") == pytest.approx(671)


def test_prod_sites_numbers_per_device_class():
    config = _config()
    capacity = site_capacity(config, config.sites[0])
    assert (capacity.fast_class, capacity.backup_class) == ("nvme", "hdd")
    nvme, hdd = capacity.classes
    assert (nvme.device_class, hdd.device_class) == ("nvme", "hdd")
    assert nvme.raw_gb == 3 * 4 * 7680 and hdd.raw_gb == 3 * 2 * 16_000
    assert nvme.usable_gb == pytest.approx(3 * 4 * 7680 / 3 * 0.8)
    assert hdd.usable_gb == pytest.approx(3 * 2 * 16_000 / 3 * 0.8)
    # Weights and volumes on the fastest class, and the copy of dc-a's own backups and
    # snapshots read back from dc-b (bucket copies, default placement); dc-b's backups and
    # snapshots on HDD, and the copy of dc-b's model bucket (the backup placement).
    fast = {term.what: term.gb for term in nvme.planned}
    assert fast == {
        # Qwen-32B: 2 revisions kept + the canary's; Llama-8B: 2 revisions kept.
        "model weights": pytest.approx(65.6 * 3 + 16.06 * 2),
        "volume claims": 0,  # no volume claims are declared in config
        "copy of backups of dc-a": 0,
        "copy of etcd snapshots of dc-a": pytest.approx(120 * ETCD_SNAPSHOT_MAX_GB),
    }
    slow = {term.what: term.gb for term in hdd.planned}
    assert slow == {
        "backups of dc-b": 0,
        "etcd snapshots of dc-b": pytest.approx(120 * ETCD_SNAPSHOT_MAX_GB),
        # dc-b serves the same models in the same precisions: the same revisions.
        "copy of model weights of dc-b": pytest.approx(65.6 * 3 + 16.06 * 2),
    }
    assert capacity.fits and nvme.fits and hdd.fits
    output = capacity.output()
    assert output["usableGb"] == 24_576 + 25_600
    assert output["deviceClasses"]["nvme"]["usableGb"] == 24_576
    assert output["deviceClasses"]["hdd"]["plannedGb"] == 487
    assert (output["fastClass"], output["backupClass"]) == ("nvme", "hdd")
    assert "92,160 GB raw of nvme on 3 storage hosts" in nvme.usable_arithmetic()
    assert "÷ 3 copies = 30,720 GB, minus 20 % headroom = 24,576 GB" in nvme.usable_arithmetic()
    assert "96,000 GB raw of hdd on 3 storage hosts" in hdd.usable_arithmetic()
    assert hdd.planned_arithmetic().startswith("487 GB planned on hdd: backups of dc-b 0 GB")
    assert "copy of model weights of dc-b 229 GB (r1-qwen-32b bf16 65.6 GB × 3" in (
        hdd.planned_arithmetic()
    )


def test_without_hdd_the_backups_land_on_the_fastest_class():
    def change(raw):
        for host in raw["sites"][0]["hosts"][9:12]:
            host["disks"] = [d for d in host["disks"] if d["media"] != "hdd"]

    config = _config(change)
    capacity = site_capacity(config, config.sites[0])
    assert (capacity.fast_class, capacity.backup_class) == ("nvme", "nvme")
    (nvme,) = capacity.classes
    assert [t.what for t in nvme.planned] == [
        "model weights",
        "volume claims",
        "backups of dc-b",
        "etcd snapshots of dc-b",
        "copy of model weights of dc-b",
        "copy of backups of dc-a",
        "copy of etcd snapshots of dc-a",
    ]


def test_a_class_on_fewer_hosts_than_copies_holds_nothing_and_says_so():
    def change(raw):
        raw["sites"][1]["hosts"][11]["disks"] = raw["sites"][1]["hosts"][11]["disks"][:4]

    config = _config(change)
    capacity = site_capacity(config, config.sites[1])
    hdd = capacity.of("hdd")
    assert hdd.usable_gb == 0 and not hdd.fits
    assert capacity.short == (hdd,)
    assert "64,000 GB raw of hdd on 2 storage hosts" in hdd.usable_arithmetic()
    assert "fewer hosts than 3 copies, each on another host, so 0 GB" in hdd.usable_arithmetic()
    assert capacity.of("nvme").fits


def test_a_canary_of_the_same_revision_adds_nothing_and_revisions_kept_multiply():
    def change(raw):
        raw["storage"]["revisionsKept"] = 5
        qwen = raw["models"][0]
        qwen["canary"]["revision"] = qwen["revision"]

    config = _config(change)
    weights = site_capacity(config, config.sites[1]).planned[0]
    assert weights.what == "model weights"
    assert weights.gb == pytest.approx(65.6 * 5 + 16.06 * 5)
    assert "storage.revisionsKept 5" in weights.arithmetic


def test_weights_follow_the_site_s_placement():
    def change(raw):
        raw["models"][1]["placements"] = [{"site": "dc-b", "precision": "int8"}]

    config = _config(change)
    dc_a, dc_b = (site_capacity(config, site).planned[0].gb for site in config.sites)
    assert dc_a - dc_b == pytest.approx((16.06 - 8.03) * 2)


def test_only_the_sites_that_target_this_one_land_here():
    def change(raw):
        raw["backup"]["targets"] = {"dc-a": "dc-b", "dc-b": "dc-b"}  # dc-b's own: refused elsewhere

    config = _config(change)
    dc_a, dc_b = (site_capacity(config, site) for site in config.sites)
    # dc-a copies its backups back from dc-b, and its model bucket there; dc-b (no usable
    # target) copies nothing, so nothing of dc-b's lands at dc-a.
    assert [t.what for t in dc_a.planned] == [
        "model weights",
        "volume claims",
        "copy of backups of dc-a",
        "copy of etcd snapshots of dc-a",
    ]
    assert [t.what for t in dc_b.planned] == [
        "model weights",
        "volume claims",
        "backups of dc-a",
        "etcd snapshots of dc-a",
        "copy of model weights of dc-a",
    ]
    assert [t.what for t in dc_b.of("hdd").planned] == [
        "backups of dc-a",
        "etcd snapshots of dc-a",
        "copy of model weights of dc-a",
    ]


def test_snapshots_kept_follow_retention_and_interval():
    def change(raw):
        raw["backup"].update(retentionDays=7, etcdSnapshotHours=24)

    config = _config(change)
    snapshots = site_capacity(config, config.sites[0]).of("hdd").planned[1]
    assert snapshots.gb == pytest.approx(7 * ETCD_SNAPSHOT_MAX_GB)
    assert snapshots.arithmetic.startswith("7 snapshots (7 days every 24 h)")


def test_no_backup_no_backups_planned():
    def change(raw):
        del raw["backup"]

    config = _config(change)
    capacity = site_capacity(config, config.sites[0])
    assert [t.what for t in capacity.planned] == ["model weights", "volume claims"]
    assert capacity.of("hdd").planned == ()


def test_unbalanced_hosts_say_what_is_lost():
    def change(raw):
        raw["sites"][1]["hosts"][11]["disks"] = [
            {"device": "/dev/nvme0n1", "sizeGb": 200, "media": "nvme"},
            *raw["sites"][1]["hosts"][11]["disks"][4:],
        ]

    config = _config(change)
    capacity = site_capacity(config, config.sites[1])
    nvme = capacity.of("nvme")
    assert not nvme.balanced and capacity.of("hdd").balanced
    assert nvme.usable_gb == pytest.approx(160)
    assert not nvme.fits and capacity.short == (nvme,)
    assert "holds 200 GB per copy" in nvme.usable_arithmetic()
    assert "not 20,547 (raw ÷ copies)" in nvme.usable_arithmetic()


def test_a_site_without_storage_hosts_has_no_ceph():
    def change(raw):
        raw["sites"][1]["hosts"] = raw["sites"][1]["hosts"][:9]

    config = _config(change)
    assert site_capacity(config, config.sites[1]) is None
    assert math.isclose(site_capacity(config, config.sites[0]).raw_gb, 92_160 + 96_000)

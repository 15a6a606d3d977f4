"""Day-2 changes to the data layer, attacked through the recorded graph: what `python -m offline
preview STACK --against SNAPSHOT` says about a change that would lose data or lock readers out.
The engine refuses to delete or replace a protected resource (the fsid, the model store's and
the backups' keys), so `pulumi up` would stop half-way through; the day-2 preview said
`allowed`."""

import json
from pathlib import Path

import yaml

from offline.changes import classify, protected_refusal
from tests.bad_stacks import evaluate_changed, project_with_stack_file
from tests.cli import run_offline
from tests.paths import PROJECT_DIR

P = "deepseek-onprem:"
OFFLINE_PLACEHOLDER = "v1:b2ZmbGluZS1wbGFjZWhvbGRlcg==:cGxhY2Vob2xkZXI="
"""A `secure:` value as the committed stack files hold them offline ("offline-placeholder")."""


def _dr_without_ceph(directory: Path) -> None:
    """The dr stack with its storage hosts and RGW settings taken out (a tired operator
    tidying the DR site's inventory, or someone who wants its replicas gone)."""
    stack_file = yaml.safe_load((PROJECT_DIR / "Pulumi.dr.yaml").read_text())
    (site,) = stack_file["config"][f"{P}sites"]
    site["hosts"] = [h for h in site["hosts"] if "storage" not in h["roles"]]
    del site["storage"]
    # Without Ceph the site serves from an external store, whose keys are then secret config.
    site["modelStore"] = {
        "endpoint": "https://s3.dr-ber.bank.internal",
        "networks": ["10.30.2.0/24"],
    }
    for key in ("modelStoreAccessKeyId", "modelStoreSecretAccessKey"):
        stack_file["config"][f"{P}{key}"] = {"secure": OFFLINE_PLACEHOLDER}
    project_with_stack_file(directory, "dr", yaml.safe_dump(stack_file))
    # dr reads prod through a StackReference.
    (directory / "Pulumi.prod.yaml").symlink_to(PROJECT_DIR / "Pulumi.prod.yaml")


def test_removing_a_sites_ceph_names_the_protected_resources_it_would_delete(dr_graph, tmp_path):
    from offline.evaluate import record

    _dr_without_ceph(tmp_path)
    after, error = record("dr", project_dir=tmp_path)
    assert error is None, error
    before = dr_graph.snapshot()
    refusal = protected_refusal(before, classify(before, after.snapshot()))
    for name in (
        "deepseek-dr-ber-storage-fsid",
        "deepseek-dr-ber-storage-model-store-access-key",
        "deepseek-dr-ber-storage-model-store-secret-key",
    ):
        assert f"{name} (delete)" in refusal
    assert "pulumi state unprotect" in refusal


def test_the_day2_preview_refuses_it(dr_graph, tmp_path, capsys):
    snapshot = tmp_path / "before.json"
    snapshot.write_text(json.dumps(dr_graph.snapshot()))
    project = tmp_path / "project"
    project.mkdir()
    _dr_without_ceph(project)
    status, out, _ = run_offline(
        capsys, "preview", "dr", "--no-policy", "--against", str(snapshot), "-C", str(project)
    )
    assert status == 1
    assert "REFUSED: " in out and "deepseek-dr-ber-storage-fsid (delete)" in out


def test_an_unchanged_stack_is_not_refused(dr_graph):
    before = dr_graph.snapshot()
    assert protected_refusal(before, classify(before, before)) == ""


def _storage_hosts_reordered(config: dict) -> None:
    """dc-a's first storage host (the one that bootstrapped Ceph) moved after the others."""
    hosts = config["sites"][0]["hosts"]
    first = next(i for i, h in enumerate(hosts) if "storage" in h["roles"])
    hosts.append(hosts.pop(first))


def test_moving_the_ceph_bootstrap_host_is_refused(prod_graph):
    """The first storage host bootstrapped the cluster; its monitor is the one CephCluster
    checks the monitors' placement against (a StepFailed for the whole site at `pulumi up`),
    and the site-level steps would move to another host. The day-2 preview said `allowed`."""
    from offline.blast_radius import host_identity_refusal

    after = evaluate_changed(_storage_hosts_reordered)
    refusal = host_identity_refusal(prod_graph.snapshot(), after.snapshot())
    assert "dca-ceph-1" in refusal and "dca-ceph-2" in refusal and "bootstrap" in refusal


def _first_disk_removed(config: dict) -> None:
    """dc-a's first storage host gives Ceph one disk less."""
    host = next(h for h in config["sites"][0]["hosts"] if "storage" in h["roles"])
    host["disks"] = host["disks"][1:]


def test_a_disk_taken_out_of_config_says_how_to_remove_its_osd(prod_graph):
    """`ceph orch apply` of the new OSD specs removes no OSD: without a word, config would say
    the disk is free while Ceph still keeps data on it."""
    from offline.blast_radius import osd_removal_notice

    before = prod_graph.snapshot()
    assert osd_removal_notice(before, before) == ""
    after = evaluate_changed(_first_disk_removed)
    notice = osd_removal_notice(before, after.snapshot())
    assert "dca-ceph-1:/dev/nvme0n1" in notice and "ceph orch osd rm" in notice, notice
    assert "dcb-" not in notice


def _first_disk_relabelled(config: dict) -> None:
    """dc-a's first storage host's first disk (an NVMe OSD already) now says media: hdd."""
    host = next(h for h in config["sites"][0]["hosts"] if "storage" in h["roles"])
    assert host["disks"][0]["media"] == "nvme"
    host["disks"][0]["media"] = "hdd"


def test_a_disks_media_changed_in_config_says_how_to_change_its_osds_class(prod_graph):
    """The OSD keeps the class it was created with: the new spec only moves the path from
    osd.<host>-nvme to osd.<host>-hdd, whose `crush_device_class` applies to new OSDs. Without a
    word, config (capacity per class, the backups' medium in the 3-2-1 audit) counts an HDD
    that Ceph keeps on the NVMe rule beside the RBD pool and the model store."""
    from offline.blast_radius import osd_removal_notice

    before = prod_graph.snapshot()
    after = evaluate_changed(_first_disk_relabelled)
    notice = osd_removal_notice(before, after.snapshot())
    assert "dca-ceph-1:/dev/nvme0n1" in notice and "from nvme to hdd" in notice, notice
    assert "set-device-class hdd" in notice and "dcb-" not in notice, notice

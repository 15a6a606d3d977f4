"""The data layer's in-cluster pieces as pure functions: the values we give the ceph-csi-rbd and
velero charts use only keys those charts read, the plugin images are pinned, the backup
location is the RGW's and says what RGW needs, the schedule keeps what config says, and the
NetworkPolicies open exactly the Ceph and RGW ports."""

from ipaddress import IPv4Address

import pulumi
import pytest
import yaml

from components import contracts
from components.config import Backup, Storage
from components.storage.allow_policies import ceph_csi_policies, velero_policies
from components.storage.ceph_csi import (
    PLUGIN_IMAGE,
    SIDECARS,
    ceph_csi_values,
    plugin_tag,
    provisioner_replicas,
    storage_class_parameters,
)
from components.storage.velero import (
    BackupTarget,
    bucket_of,
    credentials_file,
    schedule_ttl,
    velero_values,
    volume_policy,
)
from components.versions import VELERO, VELERO_AWS_PLUGIN, missing

# The keys each chart reads, from its values.yaml: ceph/ceph-csi charts/ceph-csi-rbd/values.yaml
# (release-v3.13, plugin tag v3.13.1, commit 004f647a) and vmware-tanzu/helm-charts
# charts/velero/values.yaml (commit ff0a7241, the 7.x line whose keys 8.x keeps). `*` stands
# for a free-form map the chart passes through (a location's provider config, a schedule's
# Backup template), `[]` for the items of a list.
CEPH_CSI_KEYS = {
    "csiConfig[]",
    "csiConfig[].clusterID",
    "csiConfig[].monitors",
    "storageClass.create",
    "secret.create",
    "nodeplugin.plugin.image.repository",
    "nodeplugin.plugin.image.tag",
    "nodeplugin.registrar.image.repository",
    "nodeplugin.tolerations",
    "provisioner.replicaCount",
    "provisioner.tolerations",
    "provisioner.provisioner.image.repository",
    "provisioner.attacher.image.repository",
    "provisioner.resizer.image.repository",
    "provisioner.snapshotter.image.repository",
}
VELERO_KEYS = {
    "image.repository",
    "kubectl.image.repository",
    "kubectl.image.tag",
    "initContainers",
    "containerSecurityContext",
    "configuration.backupStorageLocation[]",
    "configuration.backupStorageLocation[].name",
    "configuration.backupStorageLocation[].provider",
    "configuration.backupStorageLocation[].bucket",
    "configuration.backupStorageLocation[].default",
    "configuration.backupStorageLocation[].accessMode",
    "configuration.backupStorageLocation[].config.*",
    "configuration.volumeSnapshotLocation",
    "configuration.uploaderType",
    "configuration.defaultBackupStorageLocation",
    "credentials.useSecret",
    "credentials.existingSecret",
    "backupsEnabled",
    "snapshotsEnabled",
    "deployNodeAgent",
    "nodeAgent.tolerations",
    "schedules.*.disabled",
    "schedules.*.schedule",
    "schedules.*.useOwnerReferencesInBackup",
    "schedules.*.template.*",
}
OPAQUE = {
    "initContainers",
    "containerSecurityContext",
    "nodeAgent.tolerations",
    "nodeplugin.tolerations",
    "provisioner.tolerations",
    "configuration.volumeSnapshotLocation",
}
"""Values the charts pass through whole (a pod's init containers, a security context,
tolerations, the snapshot locations' list)."""


def key_paths(values, path: str = "", free: tuple[str, ...] = ()) -> set[str]:
    """Dotted paths of the leaves of `values` (`[]` for the items of a list of maps); a path
    in `free` becomes `<path>.*`, one in `OPAQUE` a leaf."""
    if path in free:
        return {f"{path}.*"}
    if path in OPAQUE:
        return {path}
    if isinstance(values, dict) and values:
        found = set()
        for key, item in values.items():
            found |= key_paths(item, f"{path}.{key}" if path else key, free)
        return found
    if isinstance(values, list) and values and all(isinstance(i, dict) for i in values):
        found = {f"{path}[]"}
        for item in values:
            found |= key_paths(item, f"{path}[]", free)
        return found
    return {path}


@pytest.fixture
def prod(prod_config):
    return prod_config


def target() -> BackupTarget:
    endpoint = pulumi.Output.from_input("http://10.20.2.10:8080")
    key = pulumi.Output.secret("KEY")
    return BackupTarget(
        "dc-b", "de-muc", IPv4Address("10.20.2.10"), 8080, endpoint, bucket_of("dc-a"), key, key
    )


def test_ceph_csi_values_use_only_keys_the_chart_reads(prod):
    values = ceph_csi_values(prod.storage, prod.mirrors, prod.sites[0], "fsid", ["10.10.2.11:6789"])
    assert key_paths(values) == CEPH_CSI_KEYS


def test_every_ceph_csi_image_comes_from_the_mirror_and_the_plugin_is_pinned(prod):
    values = ceph_csi_values(prod.storage, prod.mirrors, prod.sites[0], "fsid", [])
    plugin = values["nodeplugin"]["plugin"]["image"]
    assert plugin == {
        "repository": f"{prod.mirrors.image_registry}/{PLUGIN_IMAGE}",
        "tag": f"v{prod.storage.ceph_csi_chart_version}",
    }
    for (component, sidecar), upstream in SIDECARS.items():
        repository = values[component][sidecar]["image"]["repository"]
        assert repository == f"{prod.mirrors.image_registry}/{upstream}"


@pytest.mark.parametrize(("chart", "tag"), [("3.13.0", "v3.13.0"), ("v3.12.3", "v3.12.3")])
def test_the_plugin_tag_is_the_charts_release_never_canary(chart, tag):
    assert plugin_tag(Storage(ceph_csi_chart_version=chart)) == tag


def test_one_provisioner_per_worker_at_most_three(prod):
    assert provisioner_replicas(prod.sites[0]) == 3


def test_the_storage_class_finds_the_key_for_every_operation():
    parameters = storage_class_parameters("fsid", "kubernetes")
    assert parameters["clusterID"] == "fsid" and parameters["pool"] == "kubernetes"
    for operation in ("provisioner", "controller-expand", "node-stage"):
        assert parameters[f"csi.storage.k8s.io/{operation}-secret-name"] == "csi-rbd-secret"
        assert parameters[f"csi.storage.k8s.io/{operation}-secret-namespace"] == "ceph-csi-rbd"


def test_velero_values_use_only_keys_the_chart_reads(prod):
    values = velero_values(prod.backup, prod.mirrors, "1.31.4", "dc-a", target())
    free = ("configuration.backupStorageLocation[].config", "schedules")
    paths = key_paths(values, free=free)
    # A schedule's name is ours: its keys are the chart's.
    schedules = {
        f"schedules.*.{key}" if key != "template" else "schedules.*.template.*"
        for schedule in values["schedules"].values()
        for key in schedule
    }
    assert (paths - {"schedules.*"}) | schedules == VELERO_KEYS


def test_the_backup_location_is_the_targets_rgw_as_rgw_needs_it(prod):
    values = velero_values(prod.backup, prod.mirrors, "1.31.4", "dc-a", target())
    (location,) = values["configuration"]["backupStorageLocation"]
    assert location["provider"] == "aws" and location["bucket"] == "velero-dc-a"
    assert location["config"]["checksumAlgorithm"] == ""
    assert location["config"]["s3ForcePathStyle"] == "true"
    assert location["config"]["region"] == "de-muc"
    assert values["configuration"]["defaultBackupStorageLocation"] == location["name"] == "dc-b"
    assert values["configuration"]["uploaderType"] == "kopia"
    assert values["deployNodeAgent"] is True
    (plugin,) = values["initContainers"]
    assert plugin["image"] == (
        f"{prod.mirrors.image_registry}/docker.io/velero/velero-plugin-for-aws:"
        f"{prod.backup.velero_aws_plugin_version}"
    )
    assert values["credentials"] == {"useSecret": True, "existingSecret": "velero-backup-target"}


def test_the_schedule_is_config_s_and_covers_the_data_namespaces(prod):
    backup = Backup(schedule="15 1 * * *", retention_days=14)
    values = velero_values(backup, prod.mirrors, "1.31.4", "dc-a", target())
    (schedule,) = values["schedules"].values()
    assert schedule["schedule"] == "15 1 * * *"
    assert schedule["template"]["ttl"] == schedule_ttl(backup) == "336h0m0s"
    assert set(schedule["template"]["includedNamespaces"]) == {
        *contracts.WORKLOAD_NAMESPACES,
        contracts.CERT_MANAGER,
    }
    assert schedule["template"]["defaultVolumesToFsBackup"] is True
    assert schedule["template"]["resourcePolicy"] == {
        "kind": "configmap",
        "name": "velero-volume-policy",
    }


def test_the_volume_policy_skips_scratch_and_node_local_copies():
    policy = yaml.safe_load(volume_policy())
    assert policy["version"] == "v1"
    assert policy["volumePolicies"] == [
        {"conditions": {"volumeTypes": ["emptyDir"]}, "action": {"type": "skip"}},
        {"conditions": {"storageClass": ["local-path"]}, "action": {"type": "skip"}},
    ]


def test_the_credentials_file_is_the_aws_plugins():
    assert credentials_file("AK", "SK") == (
        "[default]\naws_access_key_id=AK\naws_secret_access_key=SK\n"
    )


def test_the_pinned_versions_that_apply_to_what_we_emit(prod):
    values = velero_values(prod.backup, prod.mirrors, "1.31.4", "dc-a", target())
    assert "checksumAlgorithm" in values["configuration"]["backupStorageLocation"][0]["config"]
    assert "resourcePolicy" in next(iter(values["schedules"].values()))["template"]
    backup = {"backup"}
    assert missing({VELERO_AWS_PLUGIN: "v1.14.2"}, frozenset(backup))
    assert missing({VELERO_AWS_PLUGIN: "v1.9.1"}, frozenset(backup))
    assert not missing({VELERO_AWS_PLUGIN: "v1.11.1"}, frozenset(backup))
    assert missing({VELERO: "7.1.0"}, frozenset(backup))
    assert not missing({VELERO: "8.1.0"}, frozenset(backup))
    # Without a backup target, nothing of Velero is emitted.
    assert not missing({VELERO_AWS_PLUGIN: "v1.14.2"}, frozenset({"always"}))


def test_ceph_csi_reaches_the_mons_and_osds_of_the_storage_hosts_only(prod):
    site = prod.sites[0]
    policies = ceph_csi_policies(site)
    assert set(policies) == {"default-deny", "allow-dns", "allow-api-server", "allow-ceph"}
    (rule,) = policies["allow-ceph"]["egress"]
    assert sorted(peer["ipBlock"]["cidr"] for peer in rule["to"]) == [
        f"{host.address}/32" for host in site.hosts_with_role("storage")
    ]
    assert rule["ports"] == [
        {"protocol": "TCP", "port": 3300},
        {"protocol": "TCP", "port": 6789},
        {"protocol": "TCP", "port": 6800, "endPort": 7300},
    ]


def test_velero_reaches_the_target_rgw_only(prod):
    policies = velero_policies(prod.sites[0], IPv4Address("10.20.2.10"), 8080)
    assert set(policies) == {"default-deny", "allow-dns", "allow-api-server", "allow-backup-target"}
    assert policies["allow-backup-target"]["egress"] == [
        {
            "to": [{"ipBlock": {"cidr": "10.20.2.10/32"}}],
            "ports": [{"protocol": "TCP", "port": 8080}],
        }
    ]

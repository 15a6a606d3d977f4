"""Data locality policies: data and models stay on the bank's own storage, in the regions
and jurisdictions the bank allows, with enough replicas (judges in `rules/locality.py`)."""

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from deepseek_policies.common import LIST, resource_policy, stack_policy
from deepseek_policies.common import schema as _schema
from deepseek_policies.rules.locality import (
    DATA_NAMESPACES,
    MIN_CEPH_REPLICAS,
    judge_backup_locations,
    judge_ceph_replicas,
    judge_data_pinned,
    judge_sites,
    judge_storage,
    judge_targets,
)

storage_classes = resource_policy(
    "storage-classes-allowed",
    "Keeps data on the bank's own storage: claims, claim templates, generic ephemeral volumes, "
    "PersistentVolumes, StorageClasses and the storage classes Helm values name "
    "(storageClass, storageClassName) use only allowedStorageClasses and allowedProvisioners, "
    "and no pod names storage inline (NFS, iSCSI, RBD, inline CSI, ...).",
    judge_storage,
    _schema(allowedStorageClasses=LIST, allowedProvisioners=LIST),
)

data_pinned = resource_policy(
    "data-workloads-pinned-to-region",
    "Keeps data and models in the allowed regions: a workload in dataNamespaces or with claims "
    "runs only on nodes selected by topology.kubernetes.io/region in allowedRegions.",
    judge_data_pinned,
    _schema(
        allowedRegions=LIST,
        dataNamespaces={"type": "array", "items": {"type": "string"}, "default": DATA_NAMESPACES},
    ),
)

replication_targets = resource_policy(
    "replication-targets-in-jurisdiction",
    "Keeps copies of data in the jurisdiction: backup and replication targets (Velero, Ceph "
    "RGW/RBD peers) in allowedRegions, and every URL they or any pod spec name (args, env, "
    "init containers) under allowedEndpointDomains, at allowedObjectStores (the sites' own "
    "RGWs) or at a cluster Service.",
    judge_targets,
    _schema(allowedEndpointDomains=LIST, allowedRegions=LIST, allowedObjectStores=LIST),
)

sites_in_jurisdiction = stack_policy(
    "sites-in-allowed-jurisdictions",
    "Keeps the platform in the bank's jurisdictions: every site is in allowedJurisdictions "
    "and allowedRegions.",
    judge_sites,
    _schema(allowedJurisdictions=LIST, allowedRegions=LIST),
)

ceph_replicas = resource_policy(
    "ceph-pools-replicated",
    "Keeps data through a lost host: Ceph pools keep at least minReplicas (3) replicas.",
    judge_ceph_replicas,
    _schema(minReplicas={"type": "integer", "minimum": 2, "default": MIN_CEPH_REPLICAS}),
)

# Site → endpoints: generated per stack from its config (tools/policy_config).
BY_SITE = {
    "type": "object",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "default": {},
}


def _validate_backup_locations(args: ResourceValidationArgs, report: ReportViolation) -> None:
    # The judge needs the object's cluster, which its Kubernetes provider's name tells.
    cluster = args.provider.name if args.provider is not None else ""
    config = args.get_config() or {}
    for message in judge_backup_locations(
        args.resource_type, args.props, config, args.name, cluster
    ):
        report(message)


backup_locations = ResourceValidationPolicy(
    name="backup-locations-at-target-sites",
    description=(
        "Keeps the off-site copy off-site and in the stack: a Velero BackupStorageLocation, or "
        "a Helm release's configuration.backupStorageLocation, points (s3Url) at one of "
        "backupEndpoints for its cluster's site (the RGWs of its backup.targets), never at the "
        "site's own RGW (siteEndpoints) nor at any other store."
    ),
    validate=_validate_backup_locations,
    config_schema=_schema(backupEndpoints=BY_SITE, siteEndpoints=BY_SITE),
)

POLICIES = [
    storage_classes,
    data_pinned,
    replication_targets,
    sites_in_jurisdiction,
    ceph_replicas,
    backup_locations,
]

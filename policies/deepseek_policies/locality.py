"""Data locality: data and models stay on the bank's own storage, in the regions and
jurisdictions the bank allows, with enough replicas."""

import re
from urllib.parse import urlparse

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from deepseek_policies.common import (
    LIST,
    config_list,
    config_value,
    describe,
    is_list,
    is_map,
    kind_of,
    namespace_of,
    workload_pod_specs,
)
from deepseek_policies.common import schema as _schema

DATA_NAMESPACES = ["inference", "training"]
MIN_CEPH_REPLICAS = 3
CEPH_KINDS = ("CephBlockPool", "CephObjectStore", "CephFilesystem")


def _storage_classes(args: ResourceValidationArgs, report: ReportViolation) -> None:
    kind = kind_of(args.resource_type)
    props = args.props
    classes = config_list(args, "allowedStorageClasses")
    who = describe(args.resource_type, props, args.name)
    if kind == "PersistentVolumeClaim":
        name = (props.get("spec") or {}).get("storageClassName")
        if name not in classes:
            report(
                f"{who} asks for storage class {name or '(the cluster default)'}, which is not "
                f"allowed; set spec.storageClassName to one of {', '.join(classes) or '(none)'}."
            )
    elif kind == "StorageClass":
        provisioners = config_list(args, "allowedProvisioners")
        name = (props.get("metadata") or {}).get("name")
        provisioner = props.get("provisioner")
        if name not in classes or provisioner not in provisioners:
            report(
                f"{who} (provisioner {provisioner}) is not an allowed class and provisioner; "
                f"use one of {', '.join(classes) or '(none)'} provisioned by "
                f"{', '.join(provisioners) or '(none)'}."
            )


storage_classes = ResourceValidationPolicy(
    name="storage-classes-allowed",
    description="PVCs and StorageClasses use only the allowed classes and provisioners.",
    validate=_storage_classes,
    config_schema=_schema(allowedStorageClasses=LIST, allowedProvisioners=LIST),
)


def _pinned(pod: dict, regions: list[str]) -> bool:
    selector = (pod.get("nodeSelector") or {}).get("topology.kubernetes.io/region")
    if selector is not None:
        return selector in regions
    affinity = ((pod.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = affinity.get("nodeSelectorTerms") or []
    if not terms:
        return False
    for term in terms:  # terms are ORed: every one must pin the region
        expressions = [
            e
            for e in term.get("matchExpressions") or []
            if e.get("key") == "topology.kubernetes.io/region" and e.get("operator") == "In"
        ]
        if not expressions or not all(
            set(e.get("values") or []) <= set(regions) for e in expressions
        ):
            return False
    return True


def _holds_data(pod: dict, namespace: str, data_namespaces: list[str]) -> bool:
    if namespace in data_namespaces:
        return True
    return any(
        "persistentVolumeClaim" in volume or "ephemeral" in volume
        for volume in pod.get("volumes") or []
    )


def _data_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    regions = config_list(args, "allowedRegions")
    data_namespaces = config_value(args, "dataNamespaces", DATA_NAMESPACES)
    namespace = namespace_of(args.props)
    for pod in workload_pod_specs(args.resource_type, args.props):
        if _holds_data(pod, namespace, data_namespaces) and not _pinned(pod, regions):
            report(
                f"{describe(args.resource_type, args.props, args.name)} mounts data or models "
                "but is not pinned to an allowed region; add a nodeSelector "
                f"topology.kubernetes.io/region with one of {', '.join(regions) or '(none)'}."
            )
            return


data_pinned = ResourceValidationPolicy(
    name="data-workloads-pinned-to-region",
    description="Workloads that mount data or models run only on nodes of an allowed region.",
    validate=_data_pinned,
    config_schema=_schema(
        allowedRegions=LIST,
        dataNamespaces={"type": "array", "items": {"type": "string"}, "default": DATA_NAMESPACES},
    ),
)


def _endpoints(value, path=""):
    """Every URL in an object: wherever a replication target names where data goes."""
    if is_map(value):
        for key, item in value.items():
            yield from _endpoints(item, f"{path}.{key}" if path else key)
    elif is_list(value):
        for index, item in enumerate(value):
            yield from _endpoints(item, f"{path}[{index}]")
    elif isinstance(value, str) and "://" in value:
        yield path, value


REPLICATION_KINDS = (
    "BackupStorageLocation",
    "VolumeSnapshotLocation",
    "CephRBDMirror",
    "CephObjectRealm",
    "CephObjectZone",
    "CephObjectZoneGroup",
    "ObjectBucketClaim",
)


ENDPOINT_NAME = re.compile(r"(?i)(s3|endpoint|objectstore|bucket)")


def _named_endpoints(value, path=""):
    """URLs that name an object store outside replication objects: keys such as s3Url or
    endpoint, and env vars named like one (RCLONE_CONFIG_STORE_ENDPOINT, AWS_S3_ENDPOINT)."""
    if is_map(value):
        env_name = value.get("name") if isinstance(value.get("name"), str) else None
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            named = ENDPOINT_NAME.search(key) or (
                key == "value" and env_name and ENDPOINT_NAME.search(env_name)
            )
            if isinstance(item, str) and "://" in item and named:
                yield where, item
            else:
                yield from _named_endpoints(item, where)
    elif is_list(value):
        for index, item in enumerate(value):
            yield from _named_endpoints(item, f"{path}[{index}]")


def _targets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    kind = kind_of(args.resource_type)
    if kind is None or args.resource_type.startswith("kubernetes:helm.sh"):
        return
    domains = config_list(args, "allowedEndpointDomains")
    regions = config_list(args, "allowedRegions")
    who = describe(args.resource_type, args.props, args.name)
    spec = args.props.get("spec") or {}
    if kind in REPLICATION_KINDS:
        region = (spec.get("config") or {}).get("region")
        if region is not None and region not in regions:
            report(
                f"{who} stores copies in region {region}; use one of "
                f"{', '.join(regions) or '(none)'} so data stays in the jurisdiction."
            )
        urls = _endpoints(spec, "spec")
    else:
        urls = _named_endpoints(spec, "spec")
    for path, url in urls:
        host = (urlparse(url).hostname or "").lower()
        if not any(host == d or host.endswith("." + d) for d in domains):
            report(
                f"{who} sends or fetches data at {host} ({path}), outside the allowed "
                f"domains; point it at an endpoint under {', '.join(domains) or '(none)'}."
            )


replication_targets = ResourceValidationPolicy(
    name="replication-targets-in-jurisdiction",
    description="Backup and replication targets (Velero, Ceph RGW/RBD peers) and every S3 "
    "endpoint stay in allowed regions and domains.",
    validate=_targets,
    config_schema=_schema(allowedEndpointDomains=LIST, allowedRegions=LIST),
)


def _sites(args: StackValidationArgs, report: ReportViolation) -> None:
    jurisdictions = config_list(args, "allowedJurisdictions")
    regions = config_list(args, "allowedRegions")
    for resource in args.resources:
        if resource.resource_type != "deepseek:site:Site":
            continue
        jurisdiction = resource.props.get("jurisdiction")
        region = resource.props.get("region")
        if jurisdiction not in jurisdictions or region not in regions:
            report(
                f"Site {resource.name} is in jurisdiction {jurisdiction}, region {region}, "
                f"outside the allowed ({', '.join(jurisdictions) or 'none'}; "
                f"{', '.join(regions) or 'none'}); move it or have the allow-list changed.",
                resource.urn,
            )


sites_in_jurisdiction = StackValidationPolicy(
    name="sites-in-allowed-jurisdictions",
    description="Every site of the stack is in an allowed jurisdiction and region.",
    validate=_sites,
    config_schema=_schema(allowedJurisdictions=LIST, allowedRegions=LIST),
)


def _ceph_replicas(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if kind_of(args.resource_type) not in CEPH_KINDS:
        return
    minimum = config_value(args, "minReplicas", MIN_CEPH_REPLICAS)
    spec = args.props.get("spec") or {}
    pools = [("spec", spec)] if "replicated" in spec or "erasureCoded" in spec else []
    pools += [
        (f"spec.{k}", v) for k, v in spec.items() if k in ("metadataPool", "dataPool") and is_map(v)
    ]
    pools += [(f"spec.dataPools[{i}]", v) for i, v in enumerate(spec.get("dataPools") or [])]
    for path, pool in pools:
        size = (pool.get("replicated") or {}).get("size")
        if size is None or size < minimum:
            report(
                f"{describe(args.resource_type, args.props, args.name)} keeps "
                f"{size or 'no'} replicas at {path}; set replicated.size to {minimum} or more."
            )


ceph_replicas = ResourceValidationPolicy(
    name="ceph-pools-replicated",
    description="Ceph pools keep at least three replicas.",
    validate=_ceph_replicas,
    config_schema=_schema(
        minReplicas={"type": "integer", "minimum": 2, "default": MIN_CEPH_REPLICAS}
    ),
)

POLICIES = [storage_classes, data_pinned, replication_targets, sites_in_jurisdiction, ceph_replicas]

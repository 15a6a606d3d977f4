"""Data locality: data and models stay on the bank's own storage, in the regions and
jurisdictions the bank allows, with enough replicas."""

from collections.abc import Iterator, Mapping

from deepseek_policies.rules.normalize import (
    CLUSTER_SUFFIXES,
    in_domains,
    is_list,
    is_map,
    leaves,
    url_host,
    urls_in,
)
from deepseek_policies.rules.objects import (
    StackResource,
    config_list,
    config_value,
    describe,
    kind_of,
    name_of,
    namespace_of,
    pod_specs,
    workload_pod_specs,
)

DATA_NAMESPACES = ["inference", "training"]

MIN_CEPH_REPLICAS = 3

CEPH_KINDS = ("CephBlockPool", "CephObjectStore", "CephFilesystem")

REGION = "topology.kubernetes.io/region"

POD_VOLUME_SOURCES = {
    "name",
    "configMap",
    "secret",
    "emptyDir",
    "downwardAPI",
    "projected",
    "persistentVolumeClaim",
    "ephemeral",
    "hostPath",
}

PV_SOURCES = {"local", "hostPath"}


def _class_findings(who: str, where: str, name: str | None, classes: list[str]) -> Iterator[str]:
    if name not in classes:
        yield (
            f"{who} asks for storage class {name or '(the cluster default)'} at {where}, which "
            f"is not allowed; set storageClassName to one of {', '.join(classes) or '(none)'}."
        )


def judge_storage(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    """Every way an object reaches storage goes through an allowed class and provisioner:
    claims, StorageClasses, PersistentVolumes, claim templates, generic ephemeral volumes, and
    no inline volume that reaches storage itself."""
    kind = kind_of(resource_type)
    classes = config_list(config, "allowedStorageClasses")
    provisioners = config_list(config, "allowedProvisioners")
    who = describe(resource_type, props, name)
    spec = props.get("spec") or {}
    if kind == "PersistentVolumeClaim":
        yield from _class_findings(who, "spec", spec.get("storageClassName"), classes)
    elif kind == "StorageClass":
        provisioner = props.get("provisioner")
        if name_of(props) not in classes or provisioner not in provisioners:
            yield (
                f"{who} (provisioner {provisioner}) is not an allowed class and provisioner; "
                f"use one of {', '.join(classes) or '(none)'} provisioned by "
                f"{', '.join(provisioners) or '(none)'}."
            )
    elif kind == "PersistentVolume":
        yield from _class_findings(who, "spec", spec.get("storageClassName"), classes)
        sources = set(spec) & (set(_PV_SOURCE_KEYS) | PV_SOURCES | {"csi"})
        driver = (spec.get("csi") or {}).get("driver")
        for source in sorted(sources):
            if source == "csi" and driver in provisioners or source in PV_SOURCES:
                continue
            yield (
                f"{who} is backed by {source}{' ' + driver if driver else ''}, outside the "
                f"allowed provisioners; provision it through {', '.join(classes) or '(none)'}."
            )
    if kind is None or resource_type.startswith("kubernetes:helm.sh"):
        return
    for index, template in enumerate(spec.get("volumeClaimTemplates") or []):
        template_spec = (template or {}).get("spec") or {}
        where = f"spec.volumeClaimTemplates[{index}]"
        yield from _class_findings(who, where, template_spec.get("storageClassName"), classes)
    for pod in workload_pod_specs(resource_type, props):
        for volume in pod.get("volumes") or []:
            inline = sorted(set(volume) - POD_VOLUME_SOURCES)
            if inline:
                yield (
                    f"{who} volume {volume.get('name')} reaches storage inline through "
                    f"{', '.join(inline)}; use a claim on one of "
                    f"{', '.join(classes) or '(none)'} instead."
                )
            template = (volume.get("ephemeral") or {}).get("volumeClaimTemplate") or {}
            if "ephemeral" in volume:
                where = f"volume {volume.get('name')} (generic ephemeral)"
                claim_class = (template.get("spec") or {}).get("storageClassName")
                yield from _class_findings(who, where, claim_class, classes)


_PV_SOURCE_KEYS = (
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "glusterfs",
    "iscsi",
    "nfs",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
)


def _pinned(pod: Mapping, regions: list[str]) -> bool:
    selector = (pod.get("nodeSelector") or {}).get(REGION)
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
            if e.get("key") == REGION and e.get("operator") == "In"
        ]
        if not expressions or not all(
            set(e.get("values") or []) <= set(regions) for e in expressions
        ):
            return False
    return True


def _holds_data(pod: Mapping, namespace: str, data_namespaces: list[str]) -> bool:
    if namespace in data_namespaces:
        return True
    return any(
        "persistentVolumeClaim" in volume or "ephemeral" in volume
        for volume in pod.get("volumes") or []
    )


def judge_data_pinned(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    """Workloads holding data or models (data namespaces, claims, claim templates) are pinned
    to an allowed region by node selector or required node affinity."""
    regions = config_list(config, "allowedRegions")
    data_namespaces = config_value(config, "dataNamespaces", DATA_NAMESPACES)
    namespace = namespace_of(props)
    templates = bool((props.get("spec") or {}).get("volumeClaimTemplates"))
    for pod in workload_pod_specs(resource_type, props):
        holds = templates or _holds_data(pod, namespace, data_namespaces)
        if holds and not _pinned(pod, regions):
            yield (
                f"{describe(resource_type, props, name)} mounts data or models "
                "but is not pinned to an allowed region; add a nodeSelector "
                f"{REGION} with one of {', '.join(regions) or '(none)'}."
            )
            return


REPLICATION_KINDS = (
    "BackupStorageLocation",
    "VolumeSnapshotLocation",
    "CephRBDMirror",
    "CephObjectRealm",
    "CephObjectZone",
    "CephObjectZoneGroup",
    "ObjectBucketClaim",
)


def _all_urls(value, path: str) -> Iterator[tuple[str, str]]:
    for where, leaf in leaves(value, path):
        if isinstance(leaf, str):
            for url in urls_in(leaf):
                yield where, url


def _named_urls(value, path: str) -> Iterator[tuple[str, str]]:
    """URLs outside pod specs under keys that name an endpoint (s3Url, endpoint, bucketUrl)."""
    if is_map(value):
        if is_list(value.get("containers")):
            return  # pod specs are read whole
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            lowered = str(key).lower()
            if isinstance(item, str) and any(w in lowered for w in ("s3", "endpoint", "bucket")):
                yield from ((where, url) for url in urls_in(item))
            else:
                yield from _named_urls(item, where)
    elif is_list(value):
        for index, item in enumerate(value):
            yield from _named_urls(item, f"{path}[{index}]")


def endpoint_allowed(host: str, domains: list[str]) -> bool:
    """Hosts under the bank's domains, or cluster-internal Service names."""
    return in_domains(host, domains) or in_domains(host, CLUSTER_SUFFIXES)


def judge_targets(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    """Where data goes or comes from: replication objects' regions and every URL they name;
    every URL anywhere in a pod spec (args, command, env under any name, init containers);
    endpoint-named keys elsewhere."""
    kind = kind_of(resource_type)
    if kind is None or resource_type.startswith("kubernetes:helm.sh"):
        return
    domains = config_list(config, "allowedEndpointDomains")
    regions = config_list(config, "allowedRegions")
    who = describe(resource_type, props, name)
    spec = props.get("spec") or {}
    if kind in REPLICATION_KINDS:
        region = (spec.get("config") or {}).get("region")
        if region is not None and region not in regions:
            yield (
                f"{who} stores copies in region {region}; use one of "
                f"{', '.join(regions) or '(none)'} so data stays in the jurisdiction."
            )
        urls = list(_all_urls(spec, "spec"))
    else:
        urls = list(_named_urls(spec, "spec"))
        for index, pod in enumerate(pod_specs(spec)):
            urls += list(_all_urls(pod, f"spec(pod {index})"))
    for path, url in urls:
        host = url_host(url)
        if not endpoint_allowed(host, domains):
            yield (
                f"{who} sends or fetches data at {host or url} ({path}), outside the allowed "
                f"domains; point it at an endpoint under {', '.join(domains) or '(none)'}."
            )


def judge_sites(resources: list[StackResource], config: Mapping):
    jurisdictions = config_list(config, "allowedJurisdictions")
    regions = config_list(config, "allowedRegions")
    for resource in resources:
        if resource.resource_type != "deepseek:site:Site":
            continue
        jurisdiction = resource.props.get("jurisdiction")
        region = resource.props.get("region")
        if jurisdiction not in jurisdictions or region not in regions:
            yield (
                resource.urn,
                f"Site {resource.name} is in jurisdiction {jurisdiction}, region {region}, "
                f"outside the allowed ({', '.join(jurisdictions) or 'none'}; "
                f"{', '.join(regions) or 'none'}); move it or have the allow-list changed.",
            )


def judge_ceph_replicas(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    if kind_of(resource_type) not in CEPH_KINDS:
        return
    minimum = config_value(config, "minReplicas", MIN_CEPH_REPLICAS)
    spec = props.get("spec") or {}
    pools = [("spec", spec)] if "replicated" in spec or "erasureCoded" in spec else []
    pools += [
        (f"spec.{k}", v) for k, v in spec.items() if k in ("metadataPool", "dataPool") and is_map(v)
    ]
    pools += [(f"spec.dataPools[{i}]", v) for i, v in enumerate(spec.get("dataPools") or [])]
    for path, pool in pools:
        size = (pool.get("replicated") or {}).get("size")
        if size is None or size < minimum:
            yield (
                f"{describe(resource_type, props, name)} keeps "
                f"{size or 'no'} replicas at {path}; set replicated.size to {minimum} or more."
            )

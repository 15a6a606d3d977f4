"""Data locality: data and models stay on the bank's own storage, in the regions and
jurisdictions the bank allows, with enough replicas."""

from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

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


SHORT_KINDS = {"PersistentVolumeClaim": "PVC", "PersistentVolume": "PV"}


def _subject(resource_type: str, props: Mapping, fallback: str) -> str:
    """How a storage finding names what it is about: `PVC 'models' in inference`,
    `Helm release 'velero'`."""
    if resource_type.startswith("kubernetes:helm.sh"):
        return f"Helm release '{props.get('name') or fallback}'"
    kind = kind_of(resource_type)
    if kind and name_of(props):
        namespace = (props.get("metadata") or {}).get("namespace")
        where = f" in {namespace}" if namespace else ""
        return f"{SHORT_KINDS.get(kind, kind)} '{name_of(props)}'{where}"
    return describe(resource_type, props, fallback)


def _class_findings(subject: str, name, classes: list[str]) -> Iterator[str]:
    """One finding when `name` (a storageClassName; None or '' for the cluster's default
    class, '-' for none at all) is not an allowed class."""
    if isinstance(name, str) and name in classes:
        return
    allowed = ", ".join(classes) or "(none)"
    if name in (None, "", "-"):
        yield (
            f"{subject} names no storage class (the cluster's default, or none); "
            f"allowed here: {allowed}."
        )
    else:
        yield f"{subject} uses storage class '{name}'; allowed here: {allowed}."


CLASS_KEYS = ("storageClassName", "storageClass")
"""The Helm value keys that name a storage class for a chart's claims (`persistence.
storageClass`, `volumeClaimTemplate.spec.storageClassName`, ...)."""


def _helm_classes(values, path: str) -> Iterator[tuple[str, object]]:
    """(path, class) for every storage class Helm values name: a string under `storageClass` or
    `storageClassName` anywhere, and the `name` of a `storageClass` map the chart makes a class
    of (ceph-csi's `storageClass.name`, unless `create` is false)."""
    if is_map(values):
        for key, item in values.items():
            where = f"{path}.{key}"
            if key in CLASS_KEYS and (item is None or isinstance(item, str)):
                yield where, item
            elif key == "storageClass" and is_map(item):
                if item.get("create") is not False and "name" in item:
                    yield f"{where}.name", item.get("name")
                yield from _helm_classes(item, where)
            else:
                yield from _helm_classes(item, where)
    elif is_list(values):
        for index, item in enumerate(values):
            yield from _helm_classes(item, f"{path}[{index}]")


def judge_storage(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    """Every way an object reaches storage goes through an allowed class and provisioner:
    claims, StorageClasses, PersistentVolumes, claim templates (StatefulSets and any workload
    with `volumeClaimTemplates`), generic ephemeral volumes, the storage classes Helm values
    name (`storageClass`, `storageClassName`, a `storageClass.name` the chart creates), and no
    inline volume that reaches storage itself."""
    kind = kind_of(resource_type)
    classes = config_list(config, "allowedStorageClasses")
    provisioners = config_list(config, "allowedProvisioners")
    who = describe(resource_type, props, name)
    subject = _subject(resource_type, props, name)
    spec = props.get("spec") or {}
    if kind == "PersistentVolumeClaim":
        yield from _class_findings(subject, spec.get("storageClassName"), classes)
    elif kind == "StorageClass":
        provisioner = props.get("provisioner")
        if name_of(props) not in classes or provisioner not in provisioners:
            yield (
                f"{who} (provisioner {provisioner}) is not an allowed class and provisioner; "
                f"use one of {', '.join(classes) or '(none)'} provisioned by "
                f"{', '.join(provisioners) or '(none)'}."
            )
    elif kind == "PersistentVolume":
        yield from _class_findings(subject, spec.get("storageClassName"), classes)
        sources = set(spec) & (set(_PV_SOURCE_KEYS) | PV_SOURCES | {"csi"})
        driver = (spec.get("csi") or {}).get("driver")
        for source in sorted(sources):
            if source == "csi" and driver in provisioners or source in PV_SOURCES:
                continue
            yield (
                f"{who} is backed by {source}{' ' + driver if driver else ''}, outside the "
                f"allowed provisioners; provision it through {', '.join(classes) or '(none)'}."
            )
    if resource_type.startswith("kubernetes:helm.sh"):
        for where, storage_class in _helm_classes(props.get("values") or {}, "values"):
            yield from _class_findings(f"{subject} at {where}", storage_class, classes)
        return
    if kind is None:
        return
    for index, template in enumerate(spec.get("volumeClaimTemplates") or []):
        template_spec = (template or {}).get("spec") or {}
        template_name = name_of(template or {}) or str(index)
        yield from _class_findings(
            f"{subject} claim template '{template_name}'",
            template_spec.get("storageClassName"),
            classes,
        )
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
                claim_class = (template.get("spec") or {}).get("storageClassName")
                yield from _class_findings(
                    f"{subject} volume '{volume.get('name')}' (generic ephemeral)",
                    claim_class,
                    classes,
                )


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
    endpoint-named keys elsewhere. A URL is allowed under the bank's domains, at a cluster
    Service, or at one of the stack's own object stores (`allowedObjectStores`: each site's
    RGW, by address, scheme and port)."""
    kind = kind_of(resource_type)
    if kind is None or resource_type.startswith("kubernetes:helm.sh"):
        return
    domains = config_list(config, "allowedEndpointDomains")
    regions = config_list(config, "allowedRegions")
    stores = {endpoint_key(url) for url in config_list(config, "allowedObjectStores")}
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
        if endpoint_key(url) in stores - {None}:
            continue  # the stack's own RGW, by its address
        if not endpoint_allowed(host, domains):
            yield (
                f"{who} sends or fetches data at {host or url} ({path}), outside the allowed "
                f"domains; point it at an endpoint under {', '.join(domains) or '(none)'}."
            )


BACKUP_LOCATION = "BackupStorageLocation"
S3_PROVIDERS = ("aws", "velero.io/aws")
"""Velero's S3 object-store plugin: the only one that can write to an RGW."""
DEFAULT_PORTS = {"http": 80, "https": 443}


def endpoint_key(url: str) -> tuple[str, str, int] | None:
    """An S3 endpoint as scheme, host and port (`http://10.20.2.10:8080/` and
    `HTTP://10.20.2.10:8080` are one endpoint; `https://rgw` is port 443)."""
    try:
        parts = urlsplit(str(url).strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not parts.hostname or scheme not in DEFAULT_PORTS:
        return None
    return scheme, parts.hostname.lower().rstrip("."), port or DEFAULT_PORTS[scheme]


def site_of(cluster: str, sites) -> str | None:
    """The site whose cluster a Kubernetes provider named `cluster` talks to: every provider of
    the program is named `<platform>-<site>-...`, so the site is the longest site name found
    as a dash-delimited part of it (None for a provider no site's name is part of)."""
    padded = f"-{cluster}-"
    found = [site for site in sites if f"-{site}-" in padded]
    return max(found, key=len) if found else None


def _backup_locations(resource_type: str, props: Mapping) -> Iterator[tuple[str, object, object]]:
    """(where, provider, s3Url) of every backup location an object makes: a Velero
    BackupStorageLocation, or each `configuration.backupStorageLocation` entry of Helm values
    (the velero chart's: a list, or one map in charts before 3.0)."""
    if kind_of(resource_type) == BACKUP_LOCATION:
        spec = props.get("spec") or {}
        yield "spec", spec.get("provider"), (spec.get("config") or {}).get("s3Url")
    elif resource_type.startswith("kubernetes:helm.sh"):
        configuration = (props.get("values") or {}).get("configuration") or {}
        if not is_map(configuration) or "backupStorageLocation" not in configuration:
            return
        locations = configuration.get("backupStorageLocation")
        path = "values.configuration.backupStorageLocation"
        entries = list(enumerate(locations)) if is_list(locations) else [(None, locations)]
        for index, entry in entries:
            where = path if index is None else f"{path}[{index}]"
            entry = entry if is_map(entry) else {}
            provider = entry.get("provider") or configuration.get("provider")
            yield where, provider, (entry.get("config") or {}).get("s3Url")


def _endpoints(by_site: Mapping, sites) -> list[str]:
    return sorted({str(url) for site in sites for url in (by_site.get(site) or [])})


def judge_backup_locations(
    resource_type: str, props: Mapping, config: Mapping, name: str = "", cluster: str = ""
):
    """A backup location points at one of the stack's backup endpoints for the site the
    object's cluster belongs to (its targets' RGWs, `backupEndpoints`), never at that site's
    own RGW (`siteEndpoints`: no off-site copy) nor anywhere else (another store, AWS itself)."""
    backup_endpoints = config.get("backupEndpoints") or {}
    site_endpoints = config.get("siteEndpoints") or {}
    site = site_of(cluster, set(backup_endpoints) | set(site_endpoints))
    allowed = _endpoints(backup_endpoints, [site] if site else list(backup_endpoints))
    own = _endpoints(site_endpoints, [site] if site else [])
    allowed_keys = {endpoint_key(url) for url in allowed}
    own_keys = {endpoint_key(url) for url in own}
    listed = ", ".join(allowed) or "(none)"
    for where, provider, url in _backup_locations(resource_type, props):
        subject = f"{_subject(resource_type, props, name)} at {where}"
        at = f" of site {site}" if site else ""
        if provider not in S3_PROVIDERS or not url:
            yield (
                f"{subject}{at} writes to {provider or '(no provider)'} "
                f"{'at ' + str(url) if url else 'without an s3Url (the cloud itself)'}, no "
                f"backup endpoint of this stack; use provider aws with s3Url one of {listed}."
            )
            continue
        key = endpoint_key(url)
        if key is not None and key in own_keys:
            yield (
                f"{subject} points at {url}, the RGW of site {site} itself: no off-site copy; "
                f"back up to another site's RGW: {listed}."
            )
        elif key is None or key not in allowed_keys:
            yield (
                f"{subject}{at} points at {url}, which is no backup endpoint of this stack; "
                f"allowed here: {listed}."
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

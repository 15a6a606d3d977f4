"""Typed stack configuration: one pydantic model per concern of `Pulumi.<stack>.yaml`, one
module per layer. Shape and single-field rules live here; rules that compare fields
(duplicates, overlapping CIDRs, hosts outside their network) live in `components.validation`.

Importers use `components.config`: every public name of the modules is re-exported here.
"""

from components.config.base import (
    CHART_VERSION,
    PROJECT,
    DnsLabel,
    FieldError,
    GpuModelName,
    Model,
    internal_network,
)
from components.config.cost import Cost
from components.config.dr import Replication
from components.config.gateway import (
    Audience,
    BgpPeer,
    Gateway,
    IdentityProvider,
    LoadBalancer,
    PemCertificate,
    Tenant,
)
from components.config.kubernetes import GpuSharing, Kubernetes, TrainingExample
from components.config.metal import (
    HOST_PATH_PREFIXES,
    SSH_HOST_KEY,
    Disk,
    GpuSpec,
    Host,
    HostPath,
    HostRole,
    Nic,
    NodePool,
    Nvidia,
    Preflight,
    Ssh,
)
from components.config.mirrors import Mirrors
from components.config.monitoring import Monitoring
from components.config.not_built import NOT_BUILT, not_built
from components.config.platform import CONFIG_KEYS, PlatformConfig
from components.config.rollout import Rollout
from components.config.secrets import (
    SECRET_KEYS,
    SECRET_KEYS_FOR_GATEWAY,
    SECRET_KEYS_FOR_MODELS,
    PlatformSecrets,
)
from components.config.serving import (
    Canary,
    ModelDeployment,
    ModelPlacement,
    ModelStore,
    Revision,
    Serving,
    TritonRelease,
)
from components.config.site import Network, Site
from components.config.storage import (
    Backup,
    CronSchedule,
    DataLake,
    ModelCache,
    Rgw,
    SiteStorage,
    Storage,
)
from components.config.urls import (
    HOSTING_SUFFIXES,
    PUBLIC_REGISTRIES,
    PUBLIC_SUFFIXES,
    REGISTRY_SUFFIXES,
    AptUrl,
    ChartRepositoryUrl,
    HttpsUrl,
    InternalDomain,
    RegistryReference,
    S3Endpoint,
    ServiceEndpoint,
    inside_domains,
    parse_url,
    public_registry,
    repository_path,
    url_host,
)

__all__ = [
    "AptUrl", "Audience", "Backup", "CronSchedule", "DataLake", "Disk", "ModelCache", "Rgw",
    "SiteStorage", "Storage", "BgpPeer", "Canary", "CHART_VERSION", "ChartRepositoryUrl",
    "CONFIG_KEYS", "Cost", "DnsLabel", "FieldError", "Gateway", "GpuModelName", "GpuSharing",
    "GpuSpec", "Host", "HOST_PATH_PREFIXES", "HOSTING_SUFFIXES", "HostPath", "HostRole",
    "HttpsUrl", "IdentityProvider", "inside_domains", "internal_network", "InternalDomain",
    "Kubernetes", "LoadBalancer", "Mirrors", "Model", "ModelDeployment", "ModelPlacement",
    "ModelStore",
    "Monitoring", "Network", "Nic", "NodePool", "NOT_BUILT", "not_built", "Nvidia", "Rollout",
    "parse_url", "PemCertificate", "PlatformConfig", "PlatformSecrets", "Preflight", "PROJECT",
    "PUBLIC_REGISTRIES", "public_registry", "PUBLIC_SUFFIXES", "REGISTRY_SUFFIXES",
    "RegistryReference", "Replication", "repository_path", "Revision", "S3Endpoint",
    "SECRET_KEYS", "SECRET_KEYS_FOR_GATEWAY", "SECRET_KEYS_FOR_MODELS", "ServiceEndpoint",
    "Serving", "Site", "Ssh", "SSH_HOST_KEY", "Tenant", "TrainingExample", "TritonRelease",
    "url_host",
]  # fmt: skip

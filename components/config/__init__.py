"""Typed stack configuration: one pydantic model per concern of `Pulumi.<stack>.yaml`, one
module per layer. Shape and single-field rules live here; rules that compare fields
(duplicates, overlapping CIDRs, hosts outside their network) live in `components.preflight`.

Importers use `components.config`: every public name of the modules is re-exported here.
"""

from components.config.backup import Backup
from components.config.base import (
    CHART_VERSION,
    PROJECT,
    DnsLabel,
    GpuModelName,
    Model,
    internal_networks,
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
    Bmc,
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
from components.config.platform import CONFIG_KEYS, PlatformConfig
from components.config.secrets import (
    SECRET_KEYS,
    SECRET_KEYS_FOR_GATEWAY,
    SECRET_KEYS_FOR_MODELS,
    PlatformSecrets,
)
from components.config.serving import (
    Canary,
    ModelDeployment,
    ModelStore,
    Revision,
    Serving,
    TritonRelease,
)
from components.config.site import Network, Site
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
    "AptUrl", "Audience", "Backup", "BgpPeer", "Bmc", "CHART_VERSION", "CONFIG_KEYS", "Canary",
    "ChartRepositoryUrl", "Cost", "DnsLabel", "Gateway", "GpuModelName", "GpuSharing",
    "GpuSpec", "HOSTING_SUFFIXES", "HOST_PATH_PREFIXES", "Host", "HostPath", "HostRole",
    "HttpsUrl", "IdentityProvider", "InternalDomain", "Kubernetes", "LoadBalancer", "Mirrors",
    "Model", "ModelDeployment", "ModelStore", "Monitoring", "Network", "Nic", "NodePool",
    "Nvidia", "PROJECT", "PUBLIC_REGISTRIES", "PUBLIC_SUFFIXES", "PemCertificate",
    "PlatformConfig", "PlatformSecrets", "Preflight", "REGISTRY_SUFFIXES", "RegistryReference",
    "Replication", "Revision", "S3Endpoint", "Serving", "SECRET_KEYS", "SECRET_KEYS_FOR_GATEWAY",
    "SECRET_KEYS_FOR_MODELS", "SSH_HOST_KEY", "ServiceEndpoint", "Site", "Ssh", "Tenant",
    "TrainingExample", "TritonRelease", "internal_networks", "inside_domains", "parse_url",
    "public_registry", "repository_path", "url_host",
]  # fmt: skip

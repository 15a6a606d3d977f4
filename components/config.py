"""Typed stack configuration: one pydantic model per concern of `Pulumi.<stack>.yaml`.

Shape and single-field rules live here; rules that compare fields (duplicates, overlapping
CIDRs, hosts outside their network) live in `components.preflight`.
"""

import ipaddress
import re
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic.alias_generators import to_camel

from components.catalog import GPU_MODELS, MODELS, known_gpu_models
from components.kubernetes.names import PRIVILEGED_BY_DEFAULT, SYSTEM_NAMESPACES

PROJECT = "deepseek-onprem"

DnsLabel = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
"""A name that must also be a valid Kubernetes node / DNS label."""

# Registries and repositories that are public: the platform must never pull from them.
PUBLIC_REGISTRIES = (
    "docker.io",
    "registry-1.docker.io",
    "index.docker.io",
    "ghcr.io",
    "quay.io",
    "gcr.io",
    "registry.k8s.io",
    "k8s.gcr.io",
    "nvcr.io",
    "public.ecr.aws",
    "mcr.microsoft.com",
    "huggingface.co",
)

SSH_HOST_KEY = re.compile(
    r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}$"
)


class Model(BaseModel):
    """Base for every config model: camelCase keys in YAML, unknown keys rejected."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )


def _known_gpu_model(model: str) -> str:
    if model not in GPU_MODELS:
        raise ValueError(f"unknown GPU model; fix: use one of {known_gpu_models()}")
    return model


GpuModelName = Annotated[str, AfterValidator(_known_gpu_model)]
"""A GPU model the catalog knows, e.g. 'A100-80GB'."""


class GpuSpec(Model):
    """GPUs installed in one host."""

    model: GpuModelName
    count: int = Field(ge=1, le=16)


class Nic(Model):
    """A data-plane network interface."""

    name: str = Field(pattern=r"^[a-zA-Z0-9._-]{1,15}$")
    speed_gbps: int = Field(ge=1, le=1600)
    rdma: bool = False


class Bmc(Model):
    """Out-of-band management controller (IPMI/Redfish)."""

    address: IPv4Address
    vendor: str | None = None


HostRole = Literal["control-plane", "worker", "storage"]
NodePool = Literal["general", "inference", "training"]
AbsolutePath = Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._/-]+$")]


class Host(Model):
    """One bare-metal server."""

    name: DnsLabel
    address: IPv4Address
    roles: list[HostRole] = Field(min_length=1)
    host_key: str
    """The host's SSH public host key (`ssh-keyscan` output without the host name): pinned,
    so that a man-in-the-middle cannot receive the deploy key's session."""
    gpu: GpuSpec | None = None
    node_pool: NodePool = "general"
    """Which workloads the host is for; `inference` and `training` need GPUs."""
    nics: list[Nic] = []
    bmc: Bmc | None = None
    preflight_dir: AbsolutePath = "/var/lib/deepseek-preflight"
    """Directory on the data disk where fio writes its test file (never a raw device)."""
    hugepages_2mi: int = Field(default=0, ge=0, le=1_000_000)
    """2 MiB hugepages to reserve (RDMA and DPDK workloads); 0 leaves the kernel default."""

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: list[str]) -> list[str]:
        if len(set(roles)) != len(roles):
            raise ValueError("a role is listed twice; fix: list each role once")
        return roles

    @field_validator("host_key")
    @classmethod
    def _host_key_format(cls, key: str) -> str:
        if not SSH_HOST_KEY.match(key.strip()):
            raise ValueError(
                "not an SSH public host key; fix: paste the key type and base64 body "
                "as `ssh-keyscan -t ed25519 <host>` prints them, e.g. 'ssh-ed25519 AAAAC3...'"
            )
        return key.strip()

    @property
    def rdma(self) -> bool:
        return any(nic.rdma for nic in self.nics)


def _internal_networks(
    cidrs: list[ipaddress.IPv4Network], verb: str, fix: str
) -> list[ipaddress.IPv4Network]:
    """Refuses a network wider than a /8: that is a large part of the internet."""
    for cidr in cidrs:
        if cidr.prefixlen < 8:
            raise ValueError(f"{cidr} {verb} a large part of the internet; fix: {fix}")
    return cidrs


class Network(Model):
    """A site's address plan."""

    node_cidr: IPv4Network
    pod_cidr: IPv4Network
    service_cidr: IPv4Network
    api_vip: IPv4Address
    ntp_servers: list[IPv4Address] = Field(min_length=1)
    """Internal time servers (chrony); etcd and TLS need synchronized clocks."""
    egress_allow_list: list[IPv4Network] = []
    """Destinations outside the cluster that workloads may reach (mirrors, RGW, IdP)."""

    @field_validator("egress_allow_list")
    @classmethod
    def _no_open_egress(cls, cidrs: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
        return _internal_networks(
            cidrs, "opens egress to", "list only the internal networks workloads must reach"
        )


class BgpPeer(Model):
    """A router the site's load-balancer addresses are announced to."""

    address: IPv4Address
    asn: int = Field(ge=1, le=4_294_967_294)


class LoadBalancer(Model):
    """Addresses for the one LoadBalancer Service of the site (the gateway's), and how the
    network learns them: MetalLB answering ARP (`l2`) or peering with the routers (`bgp`),
    or the SDN announcing them itself (`sdn`, no MetalLB)."""

    addresses: list[IPv4Network] = Field(min_length=1)
    """The pool; the gateway takes the first address."""
    mode: Literal["l2", "bgp", "sdn"] = "l2"
    local_asn: int | None = Field(default=None, ge=1, le=4_294_967_294)
    peers: list[BgpPeer] = []

    @property
    def gateway_address(self) -> str:
        return str(self.addresses[0][0])


class Site(Model):
    """One data center."""

    name: DnsLabel
    jurisdiction: str = Field(pattern=r"^[A-Z]{2}$")
    """ISO 3166-1 alpha-2 country whose law governs the data held here."""
    region: DnsLabel
    zone: DnsLabel
    role: Literal["active", "dr"]
    network: Network
    hosts: list[Host] = Field(min_length=1)
    load_balancer: LoadBalancer | None = None
    """Where the gateway's address comes from (required when the stack has a gateway)."""
    model_store: "ModelStore | None" = None
    """Where this site's serving pods fetch model weights: the site's own S3 endpoint (Ceph
    RGW), so weights never cross a site boundary at serving time."""

    def hosts_with_role(self, role: HostRole) -> list[Host]:
        return [host for host in self.hosts if role in host.roles]


def _internal(url: str, what: str) -> str:
    host = re.sub(r"^[a-z]+://", "", url).split("/")[0].split(":")[0].lower()
    if any(host == public or host.endswith("." + public) for public in PUBLIC_REGISTRIES):
        raise ValueError(
            f"{host} is a public {what}; fix: name the internal mirror that proxies it"
        )
    return url


class Mirrors(Model):
    """Internal mirrors: the only sources of images, charts and OS packages."""

    image_registry: str = Field(pattern=r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$")
    """Registry host (and optional path prefix) without a scheme."""
    chart_repository: str = Field(pattern=r"^(https|oci)://")
    apt_mirror: str = Field(pattern=r"^https?://")
    kubernetes_apt_repo: str = Field(pattern=r"^https?://")
    """Mirror of the Kubernetes package repository for the pinned minor version."""

    @field_validator("image_registry")
    @classmethod
    def _internal_registry(cls, value: str) -> str:
        return _internal(value, "image registry")

    @field_validator("chart_repository")
    @classmethod
    def _internal_charts(cls, value: str) -> str:
        return _internal(value, "chart repository")

    @field_validator("apt_mirror", "kubernetes_apt_repo")
    @classmethod
    def _internal_apt(cls, value: str) -> str:
        return _internal(value, "package mirror")


class ModelStore(Model):
    """An S3-compatible bucket inside the site (Ceph RGW) holding model weights as
    `<model>/<precision>/<revision>/`."""

    endpoint: str = Field(pattern=r"^https://[a-z0-9.-]+(:[0-9]+)?/?$")
    bucket: str = Field(default="deepseek-models", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    networks: list[IPv4Network] = Field(min_length=1)
    """Where the endpoint's addresses are (e.g. the RGW hosts' network): serving pods may
    open connections there, on the endpoint's port, and nowhere else outside the cluster."""

    @property
    def port(self) -> int:
        host = self.endpoint.removeprefix("https://").rstrip("/")
        return int(host.split(":")[1]) if ":" in host else 443

    @field_validator("endpoint")
    @classmethod
    def _internal_store(cls, value: str) -> str:
        return _internal(value, "object store")


Revision = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
TritonRelease = Annotated[str, StringConstraints(pattern=r"^[0-9]{2}\.[0-9]{2}$")]


class Canary(Model):
    """A new version of a deployment's model, served beside the stable one (the guide's grey
    release). Promote: set the deployment's `revision` to this one and remove `canary`;
    roll back: remove `canary`."""

    revision: Revision
    weight: int = Field(ge=1, le=50)
    """Percent of the model's traffic the gateway sends to the canary."""
    replicas: int = Field(default=1, ge=1, le=16)
    """Replicas per site (fixed: a canary is not autoscaled)."""


class ModelDeployment(Model):
    """A model to serve on every active site, and where on each site's GPUs."""

    name: DnsLabel
    model: str
    """Catalog name of the model, e.g. 'DeepSeek-R1-Distill-Qwen-32B'."""
    precision: Literal["bf16", "fp16", "fp8", "int8", "awq", "gptq"]
    gpu_model: GpuModelName
    backend: Literal["vllm", "tensorrtllm"] = "vllm"
    """Triton backend: vLLM (the default), or TensorRT-LLM with an engine built for the GPU."""
    tensor_parallel_size: int = Field(default=1, ge=1, le=16)
    hosts_per_replica: int = Field(default=1, ge=1, le=16)
    """More than one: pipeline parallel across hosts, which must declare RDMA."""
    max_model_len: int = Field(default=8192, ge=512, le=163840)
    max_concurrent_sequences: int = Field(default=8, ge=1, le=1024)
    gpu_memory_utilization: float = Field(default=0.90, gt=0.1, le=0.98)
    requests_per_second: float = Field(gt=0)
    """Peak load of the whole platform; every site must carry it alone (active-active)."""
    output_tokens_per_request: int = Field(default=512, ge=16, le=65536)
    """Average tokens generated per request: turns the token estimate into requests."""
    revision: Revision = "main"
    """Version of the weights in the model store (a release date or commit)."""
    replicas: int | None = Field(default=None, ge=1, le=256)
    """Replicas per site at rest; default: enough for the site's share of the load, at least 2."""
    max_replicas: int | None = Field(default=None, ge=1, le=256)
    """Autoscaling ceiling per site; default: what the site's GPUs hold beside the others."""
    triton_release: TritonRelease | None = None
    """Triton container release for this model; default `serving.tritonRelease`."""
    canary: Canary | None = None

    @field_validator("model")
    @classmethod
    def _known_model(cls, model: str) -> str:
        if model not in MODELS:
            raise ValueError(f"unknown model; fix: use one of {', '.join(sorted(MODELS))}")
        return model


class Serving(Model):
    """Triton image and autoscaling of the serving layer."""

    triton_release: TritonRelease = "25.10"
    """NGC release of `nvcr.io/nvidia/tritonserver`, pulled through the internal registry as
    `<release>-vllm-python-py3` or `<release>-trtllm-python-py3`."""
    queue_time_target_ms: float = Field(default=50, gt=0, le=60_000)
    """Average time a request waits in Triton's queue before the autoscaler adds a replica."""
    prometheus_url: str = Field(
        default="http://prometheus-operated.monitoring.svc", pattern=r"^https?://"
    )
    """The Prometheus the custom-metrics adapter reads Triton's queue metrics from."""
    prometheus_adapter_chart_version: str = Field(default="4.11.0", pattern=r"^v?[0-9.]+$")


class IdentityProvider(Model):
    """The enterprise OIDC provider whose JWTs the gateway accepts."""

    issuer: str = Field(pattern=r"^https://")
    jwks_uri: str = Field(pattern=r"^https://")
    audiences: list[str] = Field(min_length=1)
    tenant_claim: str = Field(default="tenant", pattern=r"^[A-Za-z0-9_.-]+$")
    """The JWT claim naming the caller's tenant (the key of its rate limit)."""
    networks: list[IPv4Network] = Field(min_length=1)
    """Where the provider's JWKS endpoint is: the gateway's only egress besides the models."""


class Tenant(Model):
    name: DnsLabel
    requests_per_minute: int = Field(ge=1, le=1_000_000)


PemCertificate = Annotated[
    str,
    StringConstraints(
        pattern=r"^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?$"
    ),
]


class Gateway(Model):
    """The zero-trust gateway in front of every model (Envoy Gateway, Gateway API)."""

    hostname: str = Field(pattern=r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,}$")
    """The global service name, served by every active site; each site also answers to
    `<site>.<hostname>`."""
    client_authentication: Literal["jwt", "mtls", "jwt+mtls"] = "jwt+mtls"
    identity_provider: IdentityProvider
    client_networks: list[IPv4Network] = Field(min_length=1)
    """Internal networks clients connect from: the gateway accepts nothing else."""
    ca_certificate: PemCertificate
    """The internal CA (an intermediate of the bank's PKI) that signs the gateway's
    certificates and the clients' (mTLS); its key is the `gatewayCaPrivateKey` secret."""
    tenants: list[Tenant] = []
    default_requests_per_minute: int = Field(default=60, ge=1)
    """Per tenant not listed in `tenants`."""
    replicas: int = Field(default=2, ge=1, le=16)
    envoy_gateway_chart_version: str = Field(default="v1.3.2", pattern=r"^v?[0-9.]+$")
    cert_manager_chart_version: str = Field(default="v1.16.2", pattern=r"^v?[0-9.]+$")
    metallb_chart_version: str = Field(default="0.14.9", pattern=r"^v?[0-9.]+$")

    @field_validator("client_networks")
    @classmethod
    def _internal_clients(cls, cidrs: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
        return _internal_networks(
            cidrs, "admits", "list only the internal networks clients connect from"
        )


class Preflight(Model):
    """Minimums the preflight diagnostics must measure before a host is configured."""

    min_disk_iops: dict[HostRole, int] = {"control-plane": 5000, "worker": 20000, "storage": 40000}
    """4K random read+write IOPS (fio, direct I/O) per role."""
    min_network_gbps: dict[HostRole, float] = {"control-plane": 5, "worker": 20, "storage": 20}
    """TCP throughput to the peer host (iperf3) per role."""
    fio_size_mib: int = Field(default=1024, ge=64)
    fio_runtime_seconds: int = Field(default=30, ge=5, le=600)
    iperf_seconds: int = Field(default=10, ge=3, le=120)
    iperf_port: int = Field(default=5201, ge=1024, le=65535)

    def minimum_for(self, table: dict[str, float], roles: list[str]) -> float:
        return max(table.get(role, 0) for role in roles)


class Nvidia(Model):
    """How the NVIDIA stack reaches GPU hosts."""

    driver_managed_by: Literal["host", "gpu-operator"] = "host"
    """`host`: the driver package below is installed over SSH; `gpu-operator`: its
    driver container installs it inside Kubernetes."""
    driver_package: str = Field(default="nvidia-driver-535", pattern=r"^[a-z0-9][a-z0-9.+-]+$")
    """Driver package from the internal apt mirror (the guide's nvidia-driver-535)."""
    container_toolkit_package: str = Field(
        default="nvidia-container-toolkit", pattern=r"^[a-z0-9][a-z0-9.+=-]+$"
    )


class GpuSharing(Model):
    """How the NVIDIA device plugin shares one GPU model's GPUs between pods."""

    mode: Literal["time-slicing", "mig", "exclusive"]
    replicas: int = Field(default=1, ge=1, le=16)
    """Time-slicing: how many pods share one GPU (the guide's GPU sharing)."""
    mig_profile: str | None = Field(default=None, pattern=r"^all-[0-9]g\.[0-9]+gb$")
    """MIG: the GPU Operator's mig-parted profile, e.g. all-3g.40gb (A100/H100 only)."""


class TrainingExample(Model):
    """The guide's `deepseek-train` MPIJob, opt-in."""

    enabled: bool = False
    workers: int = Field(default=2, ge=1, le=64)
    slots_per_worker: int = Field(default=8, ge=1, le=16)
    image: str = Field(default="deepseek/train:2025.01", pattern=r"^[a-z0-9._/-]+:[A-Za-z0-9._-]+$")
    """Repository and tag under the internal registry."""


class Kubernetes(Model):
    """The cluster of every site: versions pinned, charts from the internal chart mirror."""

    version: str = Field(default="1.31.4", pattern=r"^1\.(2[9]|3[0-3])\.[0-9]+$")
    """Pinned Kubernetes (kubeadm, kubelet, control-plane images); 1.29 to 1.33."""
    kube_vip_version: str = Field(default="v0.8.7", pattern=r"^v[0-9]+\.[0-9]+\.[0-9]+$")
    calico_chart_version: str = Field(default="v3.28.2", pattern=r"^v?[0-9]+\.[0-9]+\.[0-9]+$")
    gpu_operator_chart_version: str = Field(default="v24.9.2", pattern=r"^v?[0-9.]+$")
    training_operator_chart_version: str = Field(default="1.8.1", pattern=r"^v?[0-9.]+$")
    local_path_version: str = Field(default="v0.0.30", pattern=r"^v[0-9.]+$")
    gpu_sharing: dict[str, GpuSharing] = {}
    """Device-plugin profile per GPU model (catalog name); every model in the inventory
    needs one."""
    training_example: TrainingExample = TrainingExample()
    privileged_namespaces: list[str] = list(PRIVILEGED_BY_DEFAULT)
    """System namespaces whose Pod Security level is `privileged` (every other namespace is
    `restricted`); only cluster plumbing that needs host access belongs here."""

    @field_validator("privileged_namespaces")
    @classmethod
    def _only_system_namespaces(cls, value: list[str]) -> list[str]:
        for namespace in value:
            if namespace not in SYSTEM_NAMESPACES:
                raise ValueError(
                    f"{namespace} is not a system namespace of the platform; fix: list only "
                    f"namespaces among {', '.join(SYSTEM_NAMESPACES)}"
                )
        return value


class Monitoring(Model):
    """Prometheus/Grafana settings."""

    retention_days: int = Field(default=30, ge=1, le=3650)
    scrape_interval_seconds: int = Field(default=30, ge=5, le=300)
    idle_gpu_utilization_percent: int = Field(default=15, ge=1, le=100)
    """Below this GPU utilization a serving deployment counts as idle (guide: 15 %)."""
    idle_minutes: int = Field(default=30, ge=5)
    """How long it must stay idle before it is scaled down (guide: 30 min)."""


class Backup(Model):
    """3-2-1 data protection: copies, media, and one copy off site."""

    schedule: str = Field(default="0 2 * * *", pattern=r"^(\S+\s+){4}\S+$")
    retention_days: int = Field(default=30, ge=1)
    copies: int = Field(default=3, ge=3)
    media: int = Field(default=2, ge=2)


class Cost(Model):
    """Inputs of the monthly cost estimate: the bank's own prices, not list prices."""

    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    energy_price_per_kwh: float = Field(default=0.25, ge=0)
    pue: float = Field(default=1.4, ge=1.0, le=3.0)
    """Power usage effectiveness of the data centers (facility power / IT power)."""
    gpu_power_fraction: float = Field(default=0.7, gt=0, le=1.0)
    """Average GPU draw as a share of board power."""
    server_watts: int = Field(default=500, ge=0)
    """Average draw of one server without its GPUs (CPUs, memory, disks, NICs, fans)."""
    server_price: float = Field(default=0, ge=0)
    """Purchase price of one server without GPUs; 0 leaves hardware out of the estimate."""
    gpu_prices: dict[GpuModelName, float] = {}
    """Purchase price per GPU, by GPU model."""
    amortization_years: int = Field(default=4, ge=1, le=10)


class Ssh(Model):
    """How the deploy reaches the hosts. The private key is the `sshPrivateKey` secret."""

    user: str = Field(default="deploy", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    port: int = Field(default=22, ge=1, le=65535)


class Replication(Model):
    """For a DR stack: the stack whose data it receives."""

    source_stack: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    """Fully qualified stack name, e.g. 'organization/deepseek-onprem/prod'."""


Site.model_rebuild()


class PlatformConfig(Model):
    """The whole stack config: one field per `deepseek-onprem:<key>`."""

    sites: list[Site] = Field(min_length=1)
    mirrors: Mirrors
    ssh: Ssh = Ssh()
    preflight: Preflight = Preflight()
    nvidia: Nvidia = Nvidia()
    kubernetes: Kubernetes = Kubernetes()
    models: list[ModelDeployment] = []
    serving: Serving = Serving()
    gateway: Gateway | None = None
    monitoring: Monitoring = Monitoring()
    backup: Backup = Backup()
    cost: Cost = Cost()
    replication: Replication | None = None

    @property
    def all_hosts(self) -> list[tuple[Site, Host]]:
        return [(site, host) for site in self.sites for host in site.hosts]


# Config keys that hold secrets: never part of PlatformConfig (which is plain data),
# read with `Config.require_secret` so they stay Pulumi secrets.
SECRET_KEYS = {
    "sshPrivateKey": (
        "the deploy user's SSH private key",
        "pulumi config set --secret sshPrivateKey < ~/.ssh/deepseek_deploy",
    ),
    "modelStoreAccessKeyId": (
        "the model store's S3 access key id (read-only user of the weights bucket)",
        "pulumi config set --secret modelStoreAccessKeyId <id>",
    ),
    "modelStoreSecretAccessKey": (
        "the model store's S3 secret access key",
        "pulumi config set --secret modelStoreSecretAccessKey",
    ),
}
SECRET_KEYS["gatewayCaPrivateKey"] = (
    "the private key of the gateway's internal CA (PEM)",
    "pulumi config set --secret gatewayCaPrivateKey < gateway-ca.key",
)
SECRET_KEYS_FOR_MODELS = ("modelStoreAccessKeyId", "modelStoreSecretAccessKey")
"""Needed only when the stack serves models."""
SECRET_KEYS_FOR_GATEWAY = ("gatewayCaPrivateKey",)
"""Needed only when the stack has a gateway."""

CONFIG_KEYS = tuple(field.alias or name for name, field in PlatformConfig.model_fields.items())

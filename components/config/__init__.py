"""Typed stack configuration: one pydantic model per concern of `Pulumi.<stack>.yaml`.

Shape and single-field rules live here; rules that compare fields (duplicates, overlapping
CIDRs, hosts outside their network) live in `components.preflight`.
"""

import ipaddress
import posixpath
import re
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Literal
from urllib.parse import urlsplit

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
from components.contracts import PRIVILEGED_BY_DEFAULT, SYSTEM_NAMESPACES

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

# Suffixes under which anyone can register names: never "internal" to the bank, whatever a
# stack file says. Single labels (`com`, `io`, `internal`, ...) are refused on their own.
# A bank's own domain may sit below a registry's suffix (bank.co.uk) ...
REGISTRY_SUFFIXES = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "co.jp", "ne.jp", "com.br",
        "com.cn", "co.in", "co.nz", "co.za", "com.tr", "com.mx", "co.kr", "com.sg", "com.hk",
    }
)  # fmt: skip
# ... but nothing below a public hosting or DNS service is: every name there belongs to some
# customer on the internet (s3.amazonaws.com holds anyone's bucket, 8.8.8.8.nip.io resolves to
# 8.8.8.8), so these are refused as internal domains themselves and below.
HOSTING_SUFFIXES = frozenset(
    {
        "github.io", "gitlab.io", "amazonaws.com", "cloudfront.net", "azurewebsites.net",
        "cloudapp.net", "appspot.com", "herokuapp.com", "pages.dev", "workers.dev",
        "netlify.app", "vercel.app", "ngrok.io", "ngrok-free.app", "nip.io", "sslip.io",
        "windows.net", "azureedge.net", "googleusercontent.com", "web.app", "firebaseapp.com",
        "r2.dev", "fly.dev", "onrender.com", "trycloudflare.com", "xip.io", "traefik.me",
        "localtest.me", "duckdns.org", "dyndns.org", "no-ip.org", "ddns.net",
    }
)  # fmt: skip
PUBLIC_SUFFIXES = REGISTRY_SUFFIXES | HOSTING_SUFFIXES

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
        # `.inf` and `.nan` are valid YAML floats: refused here, naming the field, rather
        # than surfacing later as an OverflowError in sizing or cost arithmetic.
        allow_inf_nan=False,
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
HOST_PATH_PREFIXES = ("/var/lib", "/srv", "/data", "/mnt", "/opt")
"""Where a directory the platform writes on a host may be: data areas, never the system's own
trees (/, /etc, /usr, /boot, /proc, /sys, /dev, ...)."""


def _host_path(path: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", path):
        raise ValueError(
            "may hold only letters, digits and . _ - / (no whitespace, quotes, $ or other "
            "characters a shell would interpret); fix: use a plain absolute path such as "
            "/var/lib/deepseek-preflight"
        )
    if not path.startswith("/"):
        raise ValueError("is not an absolute path; fix: start it with /, e.g. /var/lib/deepseek")
    # normpath folds `..`, `.`, `//` and a trailing slash: any difference is one of them.
    if path.startswith("//") or posixpath.normpath(path) != path:
        resolved = posixpath.normpath("/" + path.lstrip("/"))
        raise ValueError(
            f"is not a normalized path: it resolves to {resolved}; fix: write the directory "
            f"itself, without '..', '.', '//' or a trailing '/', below one of "
            f"{', '.join(HOST_PATH_PREFIXES)}"
        )
    if not any(path.startswith(prefix + "/") for prefix in HOST_PATH_PREFIXES):
        raise ValueError(
            f"is outside the directories the platform may write on a host; fix: use a "
            f"directory below one of {', '.join(HOST_PATH_PREFIXES)}"
        )
    return path


HostPath = Annotated[str, AfterValidator(_host_path)]
"""A directory the platform writes on a host: absolute, normalized, below `HOST_PATH_PREFIXES`."""


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
    preflight_dir: HostPath = "/var/lib/deepseek-preflight"
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


# What would end a `deb <url> <suite>` line, split or escape a shell word, or smuggle a second
# host into a URL. Checked before parsing, so the message names the character itself.
_SHELL_SPECIAL = set("\\'\"`$;&|<>(){}[]*!^%")
# Used with fullmatch: `$` would also match before a trailing newline.
_DNS_NAME = re.compile(
    r"(?=.{1,253}\Z)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
)
_NETLOC = re.compile(r"(?P<host>[^:]*)(:(?P<port>[0-9]{1,5}))?")


def _forbidden_character(value: str) -> str | None:
    for char in value:
        if char in "\n\r":
            return (
                "contains a line break, which would start a new line in the file it is written to"
            )
        if char.isspace():
            return f"contains whitespace ({char!r}), which would split it into several words"
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return f"contains the control character {char!r}"
        if not char.isascii():
            return f"contains the non-ASCII character {char!r}"
        if char in _SHELL_SPECIAL:
            return f"contains {char!r}, which a shell or a host file would interpret"
    return None


def parse_url(value: str, schemes: tuple[str, ...], *, path: bool = True) -> tuple[str, int | None]:
    """Checks a URL the platform writes into a shell, a host file or a manifest, and returns its
    host and port. `schemes=()` parses `host[:port][/path]` without a scheme (an image
    registry). Raises ValueError with the problem and its fix."""
    if not schemes:
        example = "registry.bank.internal/deepseek"
    else:
        example = f"{schemes[0]}://mirror.bank.internal" + ("/path" if path else ":8443")
    problem = _forbidden_character(value)
    if problem:
        raise ValueError(f"{problem}; fix: write one plain URL and nothing else, e.g. {example}")
    if schemes:
        scheme, separator, _ = value.partition("://")
        if not separator or scheme not in schemes:
            allowed = " or ".join(f"{s}://" for s in schemes)
            raise ValueError(f"must start with {allowed}; fix: write it like {example}")
        parts = urlsplit(value)
    else:
        if "://" in value:
            raise ValueError(
                f"is written with a scheme; fix: name the registry host only, like {example}"
            )
        parts = urlsplit("//" + value)
    if "?" in value or "#" in value:
        raise ValueError(
            f"has a query or a fragment, which means nothing here; fix: remove it, e.g. {example}"
        )
    if "@" in parts.netloc:
        userinfo, _, real_host = parts.netloc.rpartition("@")
        raise ValueError(
            f"puts {userinfo!r} before '@': that is a user name, and the host actually reached "
            f"is {real_host}; fix: remove the user part, e.g. {example}"
        )
    netloc = _NETLOC.fullmatch(parts.netloc)
    host = netloc.group("host") if netloc else ""
    if not netloc or not _DNS_NAME.fullmatch(host):
        raise ValueError(
            f"has no valid host name ({parts.netloc!r}; lower-case DNS names only); "
            f"fix: write it like {example}"
        )
    port = int(netloc.group("port")) if netloc.group("port") else None
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"has port {port}, outside 1-65535; fix: correct the port")
    url_path = parts.path
    if url_path and not path:
        raise ValueError(
            f"has a path ({url_path}), which this endpoint does not take; "
            f"fix: write the scheme, host and port only, e.g. {example}"
        )
    segments = url_path.split("/")[1:]
    if any(segment in (".", "..") for segment in segments) or not re.fullmatch(
        r"[A-Za-z0-9._~+:/-]*", url_path
    ):
        raise ValueError(
            f"has a path ({url_path}) with '.' or '..' segments or characters other than letters, "
            f"digits and . _ ~ + : - /; fix: write the plain path, e.g. {example}"
        )
    if not schemes:
        _repository_path(url_path, example)
    return host, port


# One path component of an image reference (the distribution spec's grammar): lower-case
# letters and digits, joined by one '.', one or two '_', or any number of '-'.
_REPOSITORY_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")


def _repository_path(url_path: str, example: str) -> None:
    """A registry's path prefix is the front of every image reference built on it
    (`<registry>/registry.k8s.io/...`): each component must be one an image name may hold,
    or every pull fails at deploy time while preview passes."""
    for component in url_path.split("/")[1:]:
        if not _REPOSITORY_COMPONENT.fullmatch(component):
            what = (
                "an empty component (a trailing or doubled '/')"
                if not component
                else f"the component {component!r}, which an image name cannot hold"
            )
            raise ValueError(
                f"has a path ({url_path}) with {what}; fix: lower-case letters and digits "
                f"joined by '.', '_' or '-', components separated by one '/', e.g. {example}"
            )


def url_host(value: str) -> str:
    """The host of a URL (or a scheme-less registry reference) that passed `parse_url`."""
    return urlsplit(value if "://" in value else "//" + value).hostname or ""


def _url(*schemes: str, path: bool = True) -> AfterValidator:
    def check(value: str) -> str:
        parse_url(value, schemes, path=path)
        return value

    return AfterValidator(check)


def inside_domains(host: str, domains: list[str]) -> bool:
    """Whether `host` is one of `domains` or a name below one of them."""
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def public_registry(host: str) -> bool:
    return inside_domains(host, list(PUBLIC_REGISTRIES))


def _internal_domain(domain: str) -> str:
    if not _DNS_NAME.fullmatch(domain):
        raise ValueError(
            "is not a lower-case DNS suffix; fix: write the domain alone, e.g. bank.internal "
            "(no scheme, no leading dot, no wildcard)"
        )
    if not domain.rsplit(".", 1)[-1][0].isalpha():
        # A top-level label starts with a letter; one starting with a digit makes the suffix
        # part of an IPv4 address (`8.8` lets http://8.8.8.8 in, `0x8.0x8` the hex spelling
        # resolvers read as 8.8.8.8), and no address belongs to a domain.
        raise ValueError(
            "ends in a label that starts with a digit, so it matches IP addresses rather than "
            "names; fix: name a DNS domain, e.g. bank.internal (mirrors are named, not IPs)"
        )
    if "." not in domain or domain in PUBLIC_SUFFIXES:
        raise ValueError(
            "is a public suffix under which anyone can register names; fix: name the bank's "
            "own domain, e.g. bank.internal or corp.bank.example"
        )
    hosting = next((s for s in sorted(HOSTING_SUFFIXES) if domain.endswith("." + s)), None)
    if hosting is not None:
        raise ValueError(
            f"is below {hosting}, a public hosting service whose names belong to its customers "
            "on the internet (a public suffix); fix: name the bank's own domain, e.g. "
            "bank.internal or corp.bank.example"
        )
    if public_registry(domain) or any(r.endswith("." + domain) for r in PUBLIC_REGISTRIES):
        raise ValueError(
            "holds public registries; fix: name only the bank's own domains, where its mirrors are"
        )
    return domain


InternalDomain = Annotated[str, AfterValidator(_internal_domain)]
"""A DNS suffix the bank owns, e.g. `bank.internal`."""

AptUrl = Annotated[str, _url("https", "http")]
ChartRepositoryUrl = Annotated[str, _url("https", "oci")]
RegistryReference = Annotated[str, _url()]
HttpsUrl = Annotated[str, _url("https")]
ServiceEndpoint = Annotated[str, _url("https", "http", path=False)]
S3Endpoint = Annotated[str, _url("https", path=False)]


class Mirrors(Model):
    """Internal mirrors: the only sources of images, charts and OS packages."""

    internal_domains: list[InternalDomain] = Field(min_length=1)
    """The allow-list: DNS suffixes of the bank's own names. Every mirror, repository,
    registry, model store and identity provider host must be one of them or below one."""
    image_registry: RegistryReference
    """Registry host (and optional path prefix) without a scheme."""
    chart_repository: ChartRepositoryUrl
    apt_mirror: AptUrl
    kubernetes_apt_repo: AptUrl
    """Mirror of the Kubernetes package repository for the pinned minor version."""

    @field_validator("image_registry")
    @classmethod
    def _lower_case_repository(cls, value: str) -> str:
        if value != value.lower():
            raise ValueError("has upper-case letters; fix: registry paths are lower case")
        return value


class ModelStore(Model):
    """An S3-compatible bucket inside the site (Ceph RGW) holding model weights as
    `<model>/<precision>/<revision>/`."""

    endpoint: S3Endpoint
    bucket: str = Field(default="deepseek-models", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    networks: list[IPv4Network] = Field(min_length=1)
    """Where the endpoint's addresses are (e.g. the RGW hosts' network): serving pods may
    open connections there, on the endpoint's port, and nowhere else outside the cluster."""

    @property
    def port(self) -> int:
        _, port = parse_url(self.endpoint, ("https",), path=False)
        return port or 443


CHART_VERSION = r"^v?(0|[1-9][0-9]{0,5})(\.(0|[1-9][0-9]{0,5})){2}$"
"""A chart's SemVer release (`1.8.1`, `v1.16.2`): three numbers, no empty part or leading zero."""

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
    requests_per_second: float = Field(gt=0, le=100_000)
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
    prometheus_url: ServiceEndpoint = "http://prometheus-operated.monitoring.svc"
    """The Prometheus the custom-metrics adapter reads Triton's queue metrics from: an
    in-cluster service (`<name>.<namespace>.svc`) or a host under `mirrors.internalDomains`."""
    prometheus_adapter_chart_version: str = Field(default="4.11.0", pattern=CHART_VERSION)


Audience = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/@+-]{1,255}$")]
"""A JWT audience: a name or a URL, one word."""


class IdentityProvider(Model):
    """The enterprise OIDC provider whose JWTs the gateway accepts."""

    issuer: HttpsUrl
    jwks_uri: HttpsUrl
    audiences: list[Audience] = Field(min_length=1)
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
    default_requests_per_minute: int = Field(default=60, ge=1, le=1_000_000)
    """Per tenant not listed in `tenants`."""
    replicas: int = Field(default=2, ge=1, le=16)
    envoy_gateway_chart_version: str = Field(default="v1.3.2", pattern=CHART_VERSION)
    cert_manager_chart_version: str = Field(default="v1.16.2", pattern=CHART_VERSION)
    metallb_chart_version: str = Field(default="0.14.9", pattern=CHART_VERSION)

    @field_validator("client_networks")
    @classmethod
    def _internal_clients(cls, cidrs: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
        return _internal_networks(
            cidrs, "admits", "list only the internal networks clients connect from"
        )


class Preflight(Model):
    """Minimums the preflight diagnostics must measure before a host is configured."""

    min_disk_iops: dict[HostRole, Annotated[int, Field(ge=0, le=100_000_000)]] = {
        "control-plane": 5000,
        "worker": 20000,
        "storage": 40000,
    }
    """4K random read+write IOPS (fio, direct I/O) per role."""
    min_network_gbps: dict[HostRole, Annotated[float, Field(ge=0, le=1600)]] = {
        "control-plane": 5,
        "worker": 20,
        "storage": 20,
    }
    """TCP throughput to the peer host (iperf3) per role."""
    fio_size_mib: int = Field(default=1024, ge=64, le=1_048_576)
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
        default="nvidia-container-toolkit",
        pattern=r"^[a-z0-9][a-z0-9.+-]+(=[0-9][A-Za-z0-9.+~:-]*)?$",
    )
    """A package name, optionally pinned as `name=version` (a Debian version, epoch allowed)."""


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

    @field_validator("image")
    @classmethod
    def _image_reference(cls, image: str) -> str:
        repository, _, tag = image.rpartition(":")
        _repository_path("/" + repository, "registry.bank.internal/deepseek")
        # The distribution spec's tag: a word character first, at most 128 in all.
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", tag):
            raise ValueError(
                f"has the tag {tag!r}, which an image reference cannot hold; fix: start it with "
                "a letter, digit or '_', at most 128 characters, e.g. deepseek/train:2025.01"
            )
        return image


class Kubernetes(Model):
    """The cluster of every site: versions pinned, charts from the internal chart mirror."""

    version: str = Field(default="1.31.4", pattern=r"^1\.(29|3[0-3])\.(0|[1-9][0-9]{0,2})$")
    """Pinned Kubernetes (kubeadm, kubelet, control-plane images); 1.29 to 1.33."""
    kube_vip_version: str = Field(default="v0.8.7", pattern=r"^v[0-9]+\.[0-9]+\.[0-9]+$")
    calico_chart_version: str = Field(default="v3.28.2", pattern=r"^v?[0-9]+\.[0-9]+\.[0-9]+$")
    gpu_operator_chart_version: str = Field(default="v24.9.2", pattern=CHART_VERSION)
    training_operator_chart_version: str = Field(default="1.8.1", pattern=CHART_VERSION)
    local_path_version: str = Field(
        default="v0.0.30", pattern=r"^v(0|[1-9][0-9]{0,5})(\.(0|[1-9][0-9]{0,5})){2}$"
    )
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
    idle_minutes: int = Field(default=30, ge=5, le=60)
    """How long it must stay idle before it is scaled down (guide: 30 min); at most an hour,
    the longest stabilization window a HorizontalPodAutoscaler accepts."""


class Backup(Model):
    """3-2-1 data protection: copies, media, and one copy off site."""

    schedule: str = Field(
        default="0 2 * * *", pattern=r"^([0-9A-Za-z*/,?-]+ ){4}[0-9A-Za-z*/,?-]+$"
    )
    """Cron expression of five fields separated by single spaces (it reaches a manifest)."""
    retention_days: int = Field(default=30, ge=1, le=3650)
    copies: int = Field(default=3, ge=3, le=10)
    media: int = Field(default=2, ge=2, le=10)


class Cost(Model):
    """Inputs of the monthly cost estimate: the bank's own prices, not list prices."""

    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    # Upper bounds leave room for any currency and keep the estimate's arithmetic finite.
    energy_price_per_kwh: float = Field(default=0.25, ge=0, le=1_000_000)
    pue: float = Field(default=1.4, ge=1.0, le=3.0)
    """Power usage effectiveness of the data centers (facility power / IT power)."""
    gpu_power_fraction: float = Field(default=0.7, gt=0, le=1.0)
    """Average GPU draw as a share of board power."""
    server_watts: int = Field(default=500, ge=0, le=100_000)
    """Average draw of one server without its GPUs (CPUs, memory, disks, NICs, fans)."""
    server_price: float = Field(default=0, ge=0, le=1e12)
    """Purchase price of one server without GPUs; 0 leaves hardware out of the estimate."""
    gpu_prices: dict[GpuModelName, Annotated[float, Field(ge=0, le=1e12)]] = {}
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

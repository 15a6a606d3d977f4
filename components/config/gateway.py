"""The security layer's config: the zero-trust gateway, the identity provider whose JWTs it
accepts, its tenants, and the load-balancer pool each site gives it an address from."""

from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from components.config.base import CHART_VERSION, DnsLabel, Model, internal_network
from components.config.urls import HttpsUrl


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
    client_networks: list[
        Annotated[
            IPv4Network,
            internal_network("admits", "list only the internal networks clients connect from"),
        ]
    ] = Field(min_length=1)
    """Internal networks clients connect from: the gateway accepts nothing else."""
    ca_certificate: PemCertificate
    """The internal CA (an intermediate of the bank's PKI) that signs the gateway's
    certificates and the clients' (mTLS); its key is the `gatewayCaPrivateKey` secret."""
    tenants: list[Tenant] = []
    default_requests_per_minute: int = Field(default=60, ge=1, le=1_000_000)
    """Per tenant not listed in `tenants`."""
    replicas: int = Field(default=2, ge=1, le=16)
    envoy_gateway_chart_version: str = Field(default="v1.5.4", pattern=CHART_VERSION)
    """At least v1.4.0: the per-tenant default limit needs it (components/versions.py)."""
    cert_manager_chart_version: str = Field(default="v1.16.2", pattern=CHART_VERSION)
    """At least v1.15.0: the chart values crds.enabled/keep (components/versions.py)."""
    metallb_chart_version: str = Field(default="0.14.9", pattern=CHART_VERSION)
    """At least 0.13.0: configuration by CRDs (components/versions.py)."""

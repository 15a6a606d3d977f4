"""The zero-trust gateway of a site: Envoy Gateway, driven by Gateway API resources.

Why Envoy Gateway rather than Istio's ingress gateway: the models need a gateway, not a
mesh. Envoy Gateway implements the Kubernetes Gateway API (GatewayClass, Gateway, HTTPRoute
with weighted backends for canaries) and adds, as plain policies on the Gateway, JWT
validation against the enterprise IdP, client-certificate validation, per-tenant rate limits,
passive health checks and active-passive fallback to another site's gateway. None of it needs
sidecars in the Triton pods or a mesh control plane; Istio would bring both.

Nothing reaches a model without passing here: TLS with a certificate from the internal CA,
the caller's client certificate from the same CA and/or a JWT from the IdP, a rate limit per
tenant (the JWT's tenant claim), JSON access logs on the proxies' stdout. The proxies'
Service is the cluster's only LoadBalancer, with its address from the site's pool.

Pure spec functions; `gateway.py` (`Gateway`) registers them."""

from components import contracts
from components.charts import mirror
from components.config import Gateway, Mirrors, Site
from components.gateway.internal_ca import CA_BUNDLE, ISSUER
from components.gateway.load_balancer import POOL

GATEWAY_CLASS = "deepseek"
GATEWAY = "deepseek"
SERVING_CERT_SECRET = "deepseek-gateway-tls"
CLIENT_CERT_SECRET = "deepseek-gateway-client-tls"
TENANT_HEADER = "x-deepseek-tenant"
ENVOY_IMAGE = ("docker.io/envoyproxy/envoy", "distroless-v1.33.2")
ACCESS_LOG_FIELDS = {
    "start_time": "%START_TIME%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "client": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
    "tenant": f"%REQ({TENANT_HEADER.upper()})%",
    "method": "%REQ(:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "status": "%RESPONSE_CODE%",
    "flags": "%RESPONSE_FLAGS%",
    "duration_ms": "%DURATION%",
    "bytes_sent": "%BYTES_SENT%",
    "upstream": "%UPSTREAM_HOST%",
}
"""What each access-log line holds: who, which tenant, what, and how it went. Never the
Authorization header or a body."""


def hostnames(site: Site, gateway: Gateway) -> list[str]:
    return [gateway.hostname, f"{site.name}.{gateway.hostname}"]


def gateway_values(gateway: Gateway, mirrors: Mirrors) -> dict:
    docker = mirror(mirrors, "docker.io/envoyproxy")
    version = gateway.envoy_gateway_chart_version
    return {
        "global": {
            "images": {
                "envoyGateway": {"image": f"{docker}/gateway:{version}"},
                "ratelimit": {"image": f"{docker}/ratelimit:49af5cca"},
            }
        },
        "deployment": {"replicas": 2},
        "podDisruptionBudget": {"minAvailable": 1},
        # Backend resources: the other site's gateway as a fallback of every route.
        "config": {"envoyGateway": {"extensionApis": {"enableBackend": True}}},
    }


def _restricted() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def envoy_proxy_spec(site: Site, gateway: Gateway, mirrors: Mirrors) -> dict:
    lb = site.load_balancer
    service: dict = {
        "type": "LoadBalancer",
        # Keep the client's address: access logs and the NetworkPolicy see the real caller.
        "externalTrafficPolicy": "Local",
    }
    if lb.mode == "sdn":
        service["loadBalancerIP"] = lb.gateway_address
    else:
        service["annotations"] = {
            "metallb.universe.tf/address-pool": POOL,
            "metallb.universe.tf/loadBalancerIPs": lb.gateway_address,
        }
    resources = {"cpu": "2", "memory": "1Gi"}
    return {
        "provider": {
            "type": "Kubernetes",
            "kubernetes": {
                "envoyDeployment": {
                    "replicas": gateway.replicas,
                    "container": {
                        "image": f"{mirror(mirrors, ENVOY_IMAGE[0])}:{ENVOY_IMAGE[1]}",
                        "resources": {"requests": resources, "limits": resources},
                        "securityContext": _restricted(),
                    },
                    "pod": {
                        "securityContext": {
                            "runAsNonRoot": True,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "annotations": {
                            "prometheus.io/scrape": "true",
                            "prometheus.io/port": str(contracts.ENVOY_METRICS_PORT),
                        },
                        "nodeSelector": {contracts.REGION_LABEL: site.region},
                    },
                },
                "envoyService": service,
                "envoyPDB": {"minAvailable": 1},
            },
        },
        "telemetry": {
            "accessLog": {
                "settings": [
                    {
                        "format": {"type": "JSON", "json": ACCESS_LOG_FIELDS},
                        "sinks": [{"type": "File", "file": {"path": "/dev/stdout"}}],
                    }
                ]
            }
        },
        # Failover to another site's gateway authenticates with this client certificate.
        "backendTLS": {"clientCertificateRef": {"kind": "Secret", "name": CLIENT_CERT_SECRET}},
    }


def gateway_spec() -> dict:
    return {
        "gatewayClassName": GATEWAY_CLASS,
        "listeners": [
            {
                "name": "https",
                "protocol": "HTTPS",
                "port": contracts.GATEWAY_HTTPS_PORT,
                "tls": {
                    "mode": "Terminate",
                    "certificateRefs": [{"kind": "Secret", "name": SERVING_CERT_SECRET}],
                },
                # Routes only from the inference namespace.
                "allowedRoutes": {
                    "namespaces": {
                        "from": "Selector",
                        "selector": {
                            "matchLabels": {"kubernetes.io/metadata.name": contracts.INFERENCE}
                        },
                    }
                },
            }
        ],
    }


def _target() -> list[dict]:
    return [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY}]


def security_policy_spec(gateway: Gateway) -> dict | None:
    """JWT validation against the IdP; the tenant claim becomes a header for rate limits."""
    if "jwt" not in gateway.client_authentication:
        return None
    idp = gateway.identity_provider
    return {
        "targetRefs": _target(),
        "jwt": {
            "providers": [
                {
                    "name": "enterprise-sso",
                    "issuer": idp.issuer,
                    "audiences": idp.audiences,
                    "remoteJWKS": {"uri": idp.jwks_uri},
                    "claimToHeaders": [{"header": TENANT_HEADER, "claim": idp.tenant_claim}],
                }
            ]
        },
    }


def client_traffic_policy_spec(gateway: Gateway) -> dict:
    tls: dict = {"minVersion": "1.2"}
    if "mtls" in gateway.client_authentication:
        tls["clientValidation"] = {
            "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": CA_BUNDLE}]
        }
    return {
        "targetRefs": _target(),
        "tls": tls,
        # A caller cannot name its own tenant: only the validated JWT sets this header.
        "headers": {"earlyRequestHeaders": {"remove": [TENANT_HEADER]}},
    }


def backend_traffic_policy_spec(gateway: Gateway) -> dict:
    """Per-tenant rate limits (each proxy replica counts on its own: the limit per tenant is
    spread over the replicas), and passive health checks that eject failing backends so a
    route falls back to the other site."""
    per_proxy = gateway.replicas
    rules = [
        {
            "clientSelectors": [{"headers": [{"name": TENANT_HEADER, "value": t.name}]}],
            "limit": {"requests": max(1, t.requests_per_minute // per_proxy), "unit": "Minute"},
        }
        for t in gateway.tenants
    ]
    rules.append(
        {
            "clientSelectors": [{"headers": [{"name": TENANT_HEADER, "type": "Distinct"}]}],
            "limit": {
                "requests": max(1, gateway.default_requests_per_minute // per_proxy),
                "unit": "Minute",
            },
        }
    )
    return {
        "targetRefs": _target(),
        "rateLimit": {"type": "Local", "local": {"rules": rules}},
        "healthCheck": {
            "passive": {
                "consecutive5XxErrors": 3,
                "consecutiveLocalOriginFailures": 3,
                "interval": "10s",
                "baseEjectionTime": "30s",
                "maxEjectionPercent": 100,
            }
        },
    }


def certificate_spec(site: Site, gateway: Gateway, client: bool) -> dict:
    common = {
        "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": ISSUER},
        "duration": "2160h",
        "renewBefore": "360h",
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
    }
    if client:
        return {
            **common,
            "secretName": CLIENT_CERT_SECRET,
            "commonName": f"gateway.{site.name}.{gateway.hostname}",
            "usages": ["digital signature", "client auth"],
        }
    return {
        **common,
        "secretName": SERVING_CERT_SECRET,
        "dnsNames": hostnames(site, gateway),
        "usages": ["digital signature", "server auth"],
    }

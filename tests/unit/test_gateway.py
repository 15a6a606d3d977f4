"""The gateway's specs, built from prod's config: authentication, TLS, rate limits per
tenant, the load-balanced Service, weighted routes with failover to the other site."""

from components.gateway.envoy_gateway import (
    TENANT_HEADER,
    backend_traffic_policy_spec,
    certificate_spec,
    client_traffic_policy_spec,
    envoy_proxy_spec,
    gateway_spec,
    security_policy_spec,
)
from components.gateway.load_balancer import address_pool_spec
from components.gateway.routes import FAILOVER_HEADER, backend_spec, http_route_spec
from components.plan import failover_peers


def test_jwt_from_the_enterprise_idp_sets_the_tenant(prod_config):
    spec = security_policy_spec(prod_config.gateway)
    (provider,) = spec["jwt"]["providers"]
    assert provider["issuer"] == "https://sso.bank.internal/realms/ai"
    assert provider["remoteJWKS"]["uri"].startswith("https://sso.bank.internal/")
    assert provider["claimToHeaders"] == [{"header": TENANT_HEADER, "claim": "tenant"}]
    mtls_only = prod_config.gateway.model_copy(update={"client_authentication": "mtls"})
    assert security_policy_spec(mtls_only) is None


def test_client_certificates_are_checked_and_the_tenant_header_cannot_be_forged(prod_config):
    spec = client_traffic_policy_spec(prod_config.gateway)
    assert spec["tls"]["clientValidation"]["caCertificateRefs"][0]["kind"] == "ConfigMap"
    assert spec["headers"]["earlyRequestHeaders"]["remove"] == [TENANT_HEADER]
    jwt_only = prod_config.gateway.model_copy(update={"client_authentication": "jwt"})
    assert "clientValidation" not in client_traffic_policy_spec(jwt_only)["tls"]


def test_rate_limits_per_tenant_split_over_the_proxy_replicas(prod_config):
    rules = backend_traffic_policy_spec(prod_config.gateway)["rateLimit"]["local"]["rules"]
    by_tenant = {
        r["clientSelectors"][0]["headers"][0].get("value", "*"): r["limit"]["requests"]
        for r in rules
    }
    # 600 and 120 per minute for the named tenants, 30 for any other; 2 proxy replicas.
    assert by_tenant == {"retail-banking": 300, "risk-analytics": 60, "*": 15}
    assert rules[-1]["clientSelectors"][0]["headers"][0]["type"] == "Distinct"


def test_the_proxy_service_is_the_load_balancer_with_the_site_address(prod_config):
    dc_a, dc_b = prod_config.sites
    service = envoy_proxy_spec(dc_a, prod_config.gateway, prod_config.mirrors)["provider"][
        "kubernetes"
    ]["envoyService"]
    assert service["type"] == "LoadBalancer"
    assert service["externalTrafficPolicy"] == "Local"
    assert service["annotations"]["metallb.universe.tf/loadBalancerIPs"] == "10.10.0.200"
    assert address_pool_spec(dc_b.load_balancer) == {
        "addresses": ["10.20.0.200/29"],
        "autoAssign": False,
    }
    container = envoy_proxy_spec(dc_a, prod_config.gateway, prod_config.mirrors)["provider"][
        "kubernetes"
    ]["envoyDeployment"]["container"]
    assert container["image"].startswith("registry.bank.internal/deepseek/")
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_tls_from_the_internal_ca_for_both_names(prod_config):
    spec = certificate_spec(prod_config.sites[0], prod_config.gateway, client=False)
    assert spec["issuerRef"]["kind"] == "ClusterIssuer"
    assert spec["dnsNames"] == ["deepseek.bank.internal", "dc-a.deepseek.bank.internal"]
    (listener,) = gateway_spec()["listeners"]
    assert listener["protocol"] == "HTTPS" and listener["tls"]["mode"] == "Terminate"


def test_routes_weight_the_canary_and_fall_back_to_the_other_site(prod_config):
    dc_a = prod_config.sites[0]
    peers = failover_peers(dc_a, prod_config.sites)
    assert [p.name for p in peers] == ["dc-b"]
    routes = [
        {"service": "r1-qwen-32b", "weight": 90},
        {"service": "r1-qwen-32b-canary", "weight": 10},
    ]
    spec = http_route_spec("r1-qwen-32b", routes, dc_a, prod_config.gateway, peers)
    failed_over, normal = spec["rules"]
    # Traffic a peer already failed over is served here or not at all.
    assert failed_over["matches"][0]["headers"] == [{"name": FAILOVER_HEADER, "value": "1"}]
    assert [b["kind"] for b in failed_over["backendRefs"]] == ["Service", "Service"]
    assert [(b["name"], b["weight"]) for b in normal["backendRefs"][:2]] == [
        ("r1-qwen-32b", 90),
        ("r1-qwen-32b-canary", 10),
    ]
    fallback = normal["backendRefs"][2]
    assert fallback["kind"] == "Backend" and fallback["name"] == "gateway-dc-b"
    assert backend_spec(peers[0]) == {
        "endpoints": [{"ip": {"address": "10.20.0.200", "port": 443}}],
        "fallback": True,
    }


def test_a_dr_site_has_no_peer_to_fail_over_to(dr_config):
    assert failover_peers(dr_config.sites[0], dr_config.sites) == ()
    spec = http_route_spec(
        "r1-llama-8b",
        [{"service": "r1-llama-8b", "weight": 100}],
        dr_config.sites[0],
        dr_config.gateway,
        [],
    )
    assert len(spec["rules"]) == 1

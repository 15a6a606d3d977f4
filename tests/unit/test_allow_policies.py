"""Each layer's allow-policies (pure spec functions; `NamespaceIsolation` registers them with
default-deny, DNS and the API server): no two layers name the same policy, and every scrape
target and webhook in the contracts is admitted by some layer."""

import pytest

from components import contracts
from components.gateway import allow_policies as gateway
from components.kubernetes import allow_policies as kubernetes
from components.kubernetes import namespace_isolation
from components.plan import make_plan
from components.serving import allow_policies as serving


@pytest.fixture(scope="module")
def plans(prod_config):
    return list(make_plan(prod_config).sites.values())


def _by_layer(plan, gateway_config):
    return {
        "gateway": gateway.allow_policies(plan, gateway_config),
        "kubernetes": kubernetes.allow_policies(plan),
        "serving": serving.allow_policies(plan),
    }


def test_no_two_layers_name_the_same_policy(plans, prod_config):
    for plan in plans:
        owners: dict[tuple[str, str], str] = {}
        for layer, policies in _by_layer(plan, prod_config.gateway).items():
            for namespace, named in policies.items():
                assert namespace in (*contracts.WORKLOAD_NAMESPACES, *contracts.SYSTEM_NAMESPACES)
                for name in named:
                    assert name not in ("default-deny", "allow-dns", "allow-api-server"), name
                    assert owners.setdefault((namespace, name), layer) == layer, (namespace, name)


def test_every_scrape_target_and_webhook_is_admitted(plans, prod_config):
    for plan in plans:
        merged: dict[str, set[str]] = {}
        for policies in _by_layer(plan, prod_config.gateway).values():
            for namespace, named in policies.items():
                merged.setdefault(namespace, set()).update(named)
        for namespace in contracts.METRICS_PORTS:
            if namespace != contracts.INFERENCE:  # each model's own policy admits them
                assert "allow-metrics-scrapes" in merged[namespace], namespace
        for namespace in contracts.WEBHOOK_PORTS:
            assert "allow-webhooks-from-api-server" in merged[namespace], namespace


def test_without_a_gateway_only_envoy_policies_go(plans, prod_config):
    with_gateway = gateway.allow_policies(plans[0], prod_config.gateway)
    without = gateway.allow_policies(plans[0], None)
    assert set(with_gateway[contracts.GATEWAY]) - set(without[contracts.GATEWAY]) == {
        "envoy-proxy",
        "envoy-gateway-controller",
    }


def test_isolation_refuses_a_policy_given_twice_or_a_foreign_namespace(plans):
    own = namespace_isolation.namespace_policies(plans[0].spec)
    addons = kubernetes.allow_policies(plans[0])
    with pytest.raises(ValueError, match="kubeflow/allow-webhooks-from-api-server is given twice"):
        namespace_isolation.with_allows(own, addons, addons)
    with pytest.raises(ValueError, match="'elsewhere', which is not ours"):
        namespace_isolation.with_allows(own, {"elsewhere": {"allow-x": {}}})

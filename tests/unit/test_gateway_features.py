"""The pinned-version table (components/gateway/features.py): versions are compared as
numbers, and each listed field is one the gateway layer really emits."""

import pytest

from components.config import Gateway
from components.gateway.envoy_gateway import backend_traffic_policy_spec
from components.gateway.features import FEATURES, missing, version_tuple
from tests.paths import PROJECT_DIR
from tests.stacks import raw_stack_config


@pytest.mark.parametrize(
    ("version", "parsed"),
    [("v1.3.2", (1, 3, 2)), ("1.10.0", (1, 10, 0)), ("v1.4.0-rc.1", (1, 4, 0)), ("latest", None)],
)
def test_versions_compare_as_numbers(version, parsed):
    assert version_tuple(version) == parsed


def test_a_minor_of_two_digits_is_newer_than_one_of_one():
    distinct = FEATURES[0]
    assert distinct not in [f for f, _ in missing({distinct.key: "v1.10.0"})]
    assert [f for f, _ in missing({distinct.key: "v1.3.9"})] == [distinct]


@pytest.mark.parametrize(
    ("version", "served"),
    [("v1.5.4", True), ("v1.5.9", True), ("v1.6.0", False), ("1.10.0", False)],
)
def test_backend_tls_policy_v1alpha3_is_served_only_before_v1_6(version, served):
    (feature,) = [f for f in FEATURES if "v1alpha3" in f.field]
    assert (feature in [f for f, _ in missing({feature.key: version})]) is not served


def test_every_api_version_listed_is_one_the_gateway_layer_emits():
    source = (PROJECT_DIR / "components" / "gateway" / "model_routes.py").read_text()
    assert 'api_version="gateway.networking.k8s.io/v1alpha3"' in source
    assert "BackendTLSPolicy" in source


def test_the_distinct_selector_is_emitted_so_its_minimum_applies():
    gateway = Gateway.model_validate(raw_stack_config("prod")["gateway"])
    spec = backend_traffic_policy_spec(gateway)
    selectors = [
        header
        for rule in spec["rateLimit"]["local"]["rules"]
        for selector in rule["clientSelectors"]
        for header in selector.get("headers", [])
    ]
    assert any(header.get("type") == "Distinct" for header in selectors)
    assert missing({FEATURES[0].key: gateway.envoy_gateway_chart_version}) == []

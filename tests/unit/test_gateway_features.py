"""The pinned-version table (components/gateway/features.py): versions are compared as
numbers, and each listed field is one the gateway layer really emits."""

import pytest

from components.config import Gateway
from components.gateway.envoy_gateway import backend_traffic_policy_spec
from components.gateway.features import FEATURES, missing, version_tuple
from tests.stacks import raw_stack_config


@pytest.mark.parametrize(
    ("version", "parsed"),
    [("v1.3.2", (1, 3, 2)), ("1.10.0", (1, 10, 0)), ("v1.4.0-rc.1", (1, 4, 0)), ("latest", None)],
)
def test_versions_compare_as_numbers(version, parsed):
    assert version_tuple(version) == parsed


def test_a_minor_of_two_digits_is_newer_than_one_of_one():
    key = FEATURES[0].key
    assert missing({key: "v1.10.0"}) == []
    assert [f.key for f, _ in missing({key: "v1.3.9"})] == [key]


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

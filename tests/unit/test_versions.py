"""The pinned-version table (components/versions.py): versions are compared as numbers, each
listed object or field is one the program really emits, and the default pins have them."""

import pytest

from components.config import Gateway
from components.gateway.envoy_gateway import backend_traffic_policy_spec
from components.gateway.internal_ca import cert_manager_values
from components.stack_config import validate_config
from components.validation.versions import DEFAULTS, emitted, pins
from components.versions import CERT_MANAGER, FEATURES, METALLB, missing, version_tuple
from tests.paths import PROJECT_DIR
from tests.stacks import raw_stack_config


def _feature(needle: str):
    (feature,) = [f for f in FEATURES if needle in f.field]
    return feature


def _refused(feature, version: str, when: frozenset[str] | None = None) -> bool:
    return feature in [f for f, _ in missing({feature.key: version}, when)]


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
    assert _refused(_feature("v1alpha3"), version) is not served


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


def test_every_entry_names_its_source_and_a_key_config_pins():
    for feature in FEATURES:
        assert feature.source.strip()
        assert feature.key in DEFAULTS


def test_the_default_pins_have_everything_the_table_lists():
    assert missing(dict(DEFAULTS)) == []


@pytest.mark.parametrize(("version", "served"), [("v1.14.5", False), ("v1.15.0", True)])
def test_cert_manager_crds_values_need_v1_15(version, served):
    feature = _feature("crds.enabled")
    assert feature.key == CERT_MANAGER
    assert _refused(feature, version) is not served


def test_cert_manager_crds_values_are_emitted():
    config = validate_config(raw_stack_config("prod"), "prod")
    values = cert_manager_values(config.mirrors)
    assert values["crds"] == {"enabled": True, "keep": True}


@pytest.mark.parametrize(("version", "served"), [("0.12.1", False), ("0.13.0", True)])
def test_metallb_v1beta1_pool_and_advertisements_need_crds(version, served):
    feature = _feature("IPAddressPool")
    assert feature.key == METALLB
    assert _refused(feature, version, frozenset({"always", "metallb"})) is not served


@pytest.mark.parametrize(("version", "served"), [("0.12.1", False), ("v0.13.2", True)])
def test_metallb_bgp_peer_v1beta2_needs_crds(version, served):
    feature = _feature("BGPPeer")
    assert feature.key == METALLB
    assert _refused(feature, version, frozenset({"always", "metallb-bgp"})) is not served


def test_metallb_entries_apply_only_where_metallb_is_installed():
    sdn_only = frozenset({"always"})
    assert not _refused(_feature("IPAddressPool"), "0.12.1", sdn_only)
    assert not _refused(_feature("BGPPeer"), "0.12.1", frozenset({"always", "metallb"}))


def test_every_metallb_kind_listed_is_one_the_gateway_layer_emits():
    source = (PROJECT_DIR / "components" / "gateway" / "metal_lb.py").read_text()
    for kind, version in (
        ("IPAddressPool", "v1beta1"),
        ("L2Advertisement", "v1beta1"),
        ("BGPAdvertisement", "v1beta1"),
        ("BGPPeer", "v1beta2"),
    ):
        assert f'"{kind}"' in source
        assert f'"{version}"' in source


def test_prod_installs_metallb_in_both_modes_and_pins_every_key():
    config = validate_config(raw_stack_config("prod"), "prod")
    assert {"metallb", "metallb-l2", "metallb-bgp"} <= emitted(config)
    assert set(pins(config)) == set(DEFAULTS)

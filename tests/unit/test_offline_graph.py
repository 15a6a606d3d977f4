"""Masking and stack-file reading of the offline evaluation, on values the SDK produces."""

import pulumi
from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.mocks import set_mocks
from pulumi.runtime.proto import alias_pb2, resource_pb2
from pulumi.runtime.sync_await import _sync_await

from offline.graph import SECRET, UNKNOWN, _alias_urns, mask
from offline.recorder import PlatformMocks, RecordingMonitor
from offline.stack_files import read_stack_config


def _serialized(value):
    # Secrets are kept in serialization only when the monitor supports them, as ours does.
    set_mocks(PlatformMocks(), project="t", stack="t", monitor=RecordingMonitor(PlatformMocks()))
    struct = _sync_await(rpc.serialize_properties({"v": value}, {}))
    return json_format.MessageToDict(struct)["v"]


def test_secrets_unknowns_and_numbers_are_masked_as_the_snapshot_shows_them():
    value = {
        "key": pulumi.Output.secret("-----BEGIN OPENSSH PRIVATE KEY-----"),
        "nested": [{"token": pulumi.Output.secret("abcdef.0123456789abcdef")}],
        "count": 8,
        "ratio": 0.5,
    }
    masked = mask(_serialized(value))
    assert masked == {
        "key": SECRET,
        "nested": [{"token": SECRET}],
        "count": 8,
        "ratio": 0.5,
    }
    assert "BEGIN OPENSSH" not in repr(masked)
    assert mask(rpc.UNKNOWN) == UNKNOWN


def test_secure_values_become_secret_placeholders():
    config, secret_keys = read_stack_config("prod")
    assert secret_keys == [
        "deepseek-onprem:gatewayCaPrivateKey",
        "deepseek-onprem:sshPrivateKey",
    ]
    assert config["deepseek-onprem:sshPrivateKey"].startswith("offline-placeholder-secret:")
    assert config["deepseek-onprem:sites"].startswith("[")  # objects reach the program as JSON


def _alias_request(**spec) -> resource_pb2.RegisterResourceRequest:
    request = resource_pb2.RegisterResourceRequest(
        type="deepseek:kubernetes:Addons",
        name="deepseek-dc-a-addons",
        parent="urn:pulumi:prod::p::deepseek:platform:Platform$deepseek:site:Site::deepseek-dc-a",
    )
    request.aliases.append(alias_pb2.Alias(spec=alias_pb2.Alias.Spec(**spec)))
    return request


def test_an_alias_that_names_no_parent_keeps_the_current_parent():
    """`Alias(name=..., type_=...)` comes as `parentUrn: ""` (the SDK's default): the engine reads
    it as the current parent, so a URN under no parent would be an alias the engine never sees."""
    urn = "urn:pulumi:prod::p::deepseek:platform:Platform$deepseek:site:Site$x:y:Addons::a"
    request = _alias_request(name="old", type="deepseek:kubernetes:Cluster", parentUrn="")
    assert _alias_urns(urn, request) == (
        "urn:pulumi:prod::p::deepseek:platform:Platform$deepseek:site:Site"
        "$deepseek:kubernetes:Cluster::old",
    )
    assert _alias_urns(urn, _alias_request(name="old", noParent=True)) == (
        "urn:pulumi:prod::p::deepseek:kubernetes:Addons::old",
    )

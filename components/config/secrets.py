"""Secret config: the keys that hold secrets (never part of `PlatformConfig`, which is plain
data) and `PlatformSecrets`, their values kept as Pulumi secrets."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

# Config keys that hold secrets: never part of PlatformConfig (which is plain data),
# read with `Config.require_secret` so they stay Pulumi secrets.
SECRET_KEYS = {
    "sshPrivateKey": (
        "the deploy user's SSH private key",
        "pulumi config set --secret sshPrivateKey < ~/.ssh/deepseek_deploy",
    ),
    "modelStoreAccessKeyId": (
        "the S3 access key id of the external model stores (sites[].modelStore; a read-only "
        "user of the weights bucket)",
        "pulumi config set --secret modelStoreAccessKeyId <id>",
    ),
    "modelStoreSecretAccessKey": (
        "the S3 secret access key of the external model stores (sites[].modelStore)",
        "pulumi config set --secret modelStoreSecretAccessKey",
    ),
}
SECRET_KEYS["gatewayCaPrivateKey"] = (
    "the private key of the gateway's internal CA (PEM)",
    "pulumi config set --secret gatewayCaPrivateKey < gateway-ca.key",
)
SECRET_KEYS_FOR_MODELS = ("modelStoreAccessKeyId", "modelStoreSecretAccessKey")
"""Needed only when the stack serves models from an external store (`model_store_secrets_needed`):
a site's own Ceph RGW gets keys the stack generates."""
SECRET_KEYS_FOR_GATEWAY = ("gatewayCaPrivateKey",)
"""Needed only when the stack has a gateway."""


def model_store_secrets_needed(raw: Mapping[str, Any]) -> bool:
    """Whether the stack needs `SECRET_KEYS_FOR_MODELS`, from its raw config (read before
    validation, so that a missing key is reported with the rest): it serves models and some
    site names an external store (`sites[].modelStore`). Sites without one read their weights
    from their own Ceph RGW, with keys from pulumi-random; a site with neither is refused by
    validation, which names both fixes."""
    sites = raw.get("sites")
    return bool(raw.get("models")) and any(
        isinstance(site, Mapping) and site.get("modelStore") is not None
        for site in (sites if isinstance(sites, list) else [])
    )


@dataclass(frozen=True)
class PlatformSecrets:
    """Secret config, kept as Pulumi secrets. Never put these on a component's props."""

    ssh_private_key: pulumi.Output[str]
    model_store_access_key_id: pulumi.Output[str] | None = None
    model_store_secret_access_key: pulumi.Output[str] | None = None
    gateway_ca_private_key: pulumi.Output[str] | None = None

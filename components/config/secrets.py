"""Secret config: the keys that hold secrets (never part of `PlatformConfig`, which is plain
data) and `PlatformSecrets`, their values kept as Pulumi secrets."""

from dataclasses import dataclass

import pulumi

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


@dataclass(frozen=True)
class PlatformSecrets:
    """Secret config, kept as Pulumi secrets. Never put these on a component's props."""

    ssh_private_key: pulumi.Output[str]
    model_store_access_key_id: pulumi.Output[str] | None = None
    model_store_secret_access_key: pulumi.Output[str] | None = None
    gateway_ca_private_key: pulumi.Output[str] | None = None

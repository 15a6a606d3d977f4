"""A pinned chart older than an object or field the program emits for it, or new enough to
have dropped it (the table: components/versions.py). One loop over the table: each entry's
config key gives the pinned version, and its default the fix."""

from collections.abc import Iterator

from components.config import Backup, Gateway, PlatformConfig
from components.validation.issues import ConfigIssue
from components.versions import (
    CERT_MANAGER,
    ENVOY_GATEWAY,
    METALLB,
    VELERO,
    VELERO_AWS_PLUGIN,
    missing,
)

_GATEWAY_PINS = {
    ENVOY_GATEWAY: "envoy_gateway_chart_version",
    CERT_MANAGER: "cert_manager_chart_version",
    METALLB: "metallb_chart_version",
}
"""Config key → the `Gateway` field that pins it."""

_BACKUP_PINS = {
    VELERO: "velero_chart_version",
    VELERO_AWS_PLUGIN: "velero_aws_plugin_version",
}
"""Config key → the `Backup` field that pins it."""

DEFAULTS = {
    **{key: Gateway.model_fields[field].default for key, field in _GATEWAY_PINS.items()},
    **{key: Backup.model_fields[field].default for key, field in _BACKUP_PINS.items()},
}
"""Config key → the default pin (which has everything the table lists)."""


def pins(config: PlatformConfig) -> dict[str, str]:
    """Config key → pinned version, for the components the stack installs."""
    pinned = {}
    if config.gateway is not None:
        pinned |= {key: getattr(config.gateway, field) for key, field in _GATEWAY_PINS.items()}
    if config.backup is not None:
        pinned |= {key: getattr(config.backup, field) for key, field in _BACKUP_PINS.items()}
    return pinned


def emitted(config: PlatformConfig) -> frozenset[str]:
    """Which of the table's `emitted_when` conditions hold for this stack."""
    modes = {site.load_balancer.mode for site in config.sites if site.load_balancer is not None}
    out = {"always"}
    if modes & {"l2", "bgp"}:
        out.add("metallb")
    out |= {f"metallb-{mode}" for mode in modes & {"l2", "bgp"}}
    if config.backup is not None and config.backup.targets:
        out.add("backup")
    return frozenset(out)


def check_pinned_versions(config: PlatformConfig) -> Iterator[ConfigIssue]:
    for feature, pinned in missing(pins(config), emitted(config)):
        least = "v" + ".".join(map(str, feature.minimum))
        if feature.before is None:
            provides, pin = f"from {least}", f"{least} or later"
        else:
            until = "v" + ".".join(map(str, feature.before))
            provides, pin = f"from {least} until before {until}", f"a release before {until}"
        yield ConfigIssue(
            feature.key,
            pinned,
            f"{feature.component} {pinned} does not serve {feature.field}, which it "
            f"provides {provides} ({feature.source})",
            f"pin {feature.component} {pin}, e.g. {DEFAULTS[feature.key]}",
        )

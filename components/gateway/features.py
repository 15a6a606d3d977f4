"""Which pinned version provides each field the gateway layer emits (pure data, checked at
preview by components/validation/gateway.py). A field the pinned controller does not know is
dropped or refused when the object is applied: the preview must say so first.

Only fields we emit and whose first release we can cite are listed."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    key: str
    """The config key that pins the component (as an operator writes it)."""
    component: str
    field: str
    """What the program emits that needs it."""
    minimum: tuple[int, int, int]
    source: str
    """Where the first release that provides it is stated."""
    before: tuple[int, int, int] | None = None
    """The first release that no longer serves it (None: still served)."""


FEATURES = (
    Feature(
        key="gateway.envoyGatewayChartVersion",
        component="Envoy Gateway",
        field=(
            "a BackendTrafficPolicy local rate limit rule whose header selector is of type "
            "Distinct (the per-tenant default limit, components/gateway/envoy_gateway.py)"
        ),
        minimum=(1, 4, 0),
        source="envoyproxy/gateway issue #5315 (2025-02), shipped in v1.4.0 (PR #5319)",
    ),
    Feature(
        key="gateway.envoyGatewayChartVersion",
        component="Envoy Gateway",
        field=(
            "BackendTLSPolicy gateway.networking.k8s.io/v1alpha3 (the failover Backends' TLS, "
            "components/gateway/model_routes.py)"
        ),
        minimum=(1, 0, 0),
        source=(
            "the v1.5.x charts bundle Gateway API v1.3 (BackendTLSPolicy v1alpha3); v1.6.0 "
            "bundles Gateway API v1.4, where BackendTLSPolicy is v1 (envoyproxy/gateway "
            "issue #7709: a v1alpha3 policy working on v1.5.6 stops on v1.6.0)"
        ),
        before=(1, 6, 0),
    ),
)


def version_tuple(version: str) -> tuple[int, int, int] | None:
    """`v1.3.2` or `1.3.2` as (1, 3, 2); None for anything else (a pre-release is its
    release: `v1.4.0-rc.1` counts as 1.4.0)."""
    core = version.removeprefix("v").split("-", 1)[0].split("+", 1)[0]
    parts = core.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def missing(pins: dict[str, str]) -> list[tuple[Feature, str]]:
    """Each feature whose pinned version (config key → version) is older than it needs, or
    new enough to have dropped it."""
    out = []
    for feature in FEATURES:
        pinned = pins.get(feature.key)
        parsed = version_tuple(pinned) if pinned is not None else None
        if parsed is not None and (
            parsed < feature.minimum or (feature.before is not None and parsed >= feature.before)
        ):
            out.append((feature, pinned))
    return out

"""Which pinned chart version provides each object or field the program emits (pure data,
checked at preview by components/validation/versions.py). A field the pinned controller
does not know is dropped or refused when the object is applied: the preview must say so
first.

Only objects and fields we emit, and whose first (or last) release we can cite, are
listed; each entry names its source. Imports nothing of the project."""

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
    emitted_when: str = "always"
    """When the program emits it: `always` (whenever the component is installed),
    `metallb` (a site's load balancer in l2 or bgp mode), `metallb-l2`, `metallb-bgp`,
    `backup` (a site backs up to another: Velero)."""


ENVOY_GATEWAY = "gateway.envoyGatewayChartVersion"
CERT_MANAGER = "gateway.certManagerChartVersion"
METALLB = "gateway.metallbChartVersion"
VELERO = "backup.veleroChartVersion"
VELERO_AWS_PLUGIN = "backup.veleroAwsPluginVersion"

FEATURES = (
    Feature(
        key=ENVOY_GATEWAY,
        component="Envoy Gateway",
        field=(
            "a BackendTrafficPolicy local rate limit rule whose header selector is of type "
            "Distinct (the per-tenant default limit, components/gateway/envoy_gateway.py)"
        ),
        minimum=(1, 4, 0),
        source="envoyproxy/gateway issue #5315 (2025-02), shipped in v1.4.0 (PR #5319)",
    ),
    Feature(
        key=ENVOY_GATEWAY,
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
    Feature(
        key=CERT_MANAGER,
        component="cert-manager",
        field=(
            "the chart values crds.enabled and crds.keep (the chart installs and keeps the "
            "CRDs of the ClusterIssuer and Certificates we create, "
            "components/gateway/internal_ca.py); an older chart ignores them and installs no "
            "CRDs (installCRDs defaults to false)"
        ),
        minimum=(1, 15, 0),
        source=(
            "cert-manager v1.15.0 release notes ('From this release, the Helm chart will no "
            "longer uninstall the CRDs ... use crds.keep=false'); design "
            "20240206.helm-resource-policy (crds.enabled, crds.keep)"
        ),
    ),
    Feature(
        key=METALLB,
        component="MetalLB",
        field=(
            "IPAddressPool, L2Advertisement and BGPAdvertisement metallb.io/v1beta1 (the "
            "gateway's address pool and its announcement, components/gateway/metal_lb.py)"
        ),
        minimum=(0, 13, 0),
        source=(
            "MetalLB docs, Migration to CRDs: 'Up until release v0.12 MetalLB was configured "
            "via MetalLB's ConfigMap'; release notes: CRD support, ConfigMap no longer "
            "supported (first published as 0.13.2)"
        ),
        emitted_when="metallb",
    ),
    Feature(
        key=METALLB,
        component="MetalLB",
        field=(
            "BGPPeer metallb.io/v1beta2 (the routers a bgp-mode site peers with, "
            "components/gateway/metal_lb.py)"
        ),
        minimum=(0, 13, 0),
        source=(
            "metallb/metallb PR #1297 (merged 2022-04, before the 0.13 release): conversion "
            "webhooks from BGPPeer v1beta1 to v1beta2; MetalLB before v0.13 has no CRDs "
            "(docs, Migration to CRDs)"
        ),
        emitted_when="metallb-bgp",
    ),
    Feature(
        key=VELERO_AWS_PLUGIN,
        component="velero-plugin-for-aws",
        field=(
            'checksumAlgorithm: "" in the backup location\'s config (no checksum header, which '
            "RGW refuses: velero #7543, #8203; components/storage/velero.py)"
        ),
        minimum=(1, 9, 2),
        source=(
            "velero-plugin-for-aws v1.9.2 release notes: 'configuration for checksum algorithm "
            "for PutObject to S3' (#197), the workaround for S3-compatible stores; v1.14.2 "
            "ignores the empty algorithm and corrupts the objects it writes (velero #9951): "
            "refused from there until a fixed release is verified"
        ),
        before=(1, 14, 2),
        emitted_when="backup",
    ),
    Feature(
        key=VELERO,
        component="the Velero chart",
        field=(
            "a scheduled backup's resourcePolicy whose volume policies skip emptyDir volumes and "
            "local-path claims in file-system backups (volumeTypes conditions from Velero "
            "v1.13, PR #6863; file-system backups follow volume policies from v1.14, PR #7497; "
            "components/storage/velero.py)"
        ),
        minimum=(7, 2, 0),
        source=(
            "vmware-tanzu/helm-charts PR #617: chart 7.2.0 installs Velero v1.14.1 (the first "
            "chart we can cite with Velero 1.14; 8.0.0 moves to v1.15.0)"
        ),
        emitted_when="backup",
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


def missing(
    pins: dict[str, str], emitted: frozenset[str] | None = None
) -> list[tuple[Feature, str]]:
    """Each feature the program emits (its `emitted_when` in `emitted`; None: all) whose
    pinned version (config key → version) is older than it needs, or new enough to have
    dropped it."""
    out = []
    for feature in FEATURES:
        if emitted is not None and feature.emitted_when not in emitted:
            continue
        pinned = pins.get(feature.key)
        parsed = version_tuple(pinned) if pinned is not None else None
        if parsed is not None and (
            parsed < feature.minimum or (feature.before is not None and parsed >= feature.before)
        ):
            out.append((feature, pinned))
    return out

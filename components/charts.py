"""What every layer's in-cluster pieces share, outside any layer: a Helm chart from the
internal chart mirror as a `helm.v3.Release`, image names on the internal registry, and
checkov skip annotations. Imports only config.

helm.v3.Release rather than the v4 Chart: the v4 Chart fails preview while the kubeconfig is
unknown (pulumi-kubernetes #3027), and a new cluster's kubeconfig always is at first preview.
"""

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import Mirrors


def mirrored_release(
    name: str,
    *,
    chart: str,
    version: str,
    namespace: str,
    values: dict[str, Any],
    mirrors: Mirrors,
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v3.Release:
    return k8s.helm.v3.Release(
        name,
        chart=chart,
        version=version,
        namespace=namespace,
        create_namespace=False,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=mirrors.chart_repository),
        values=values,
        atomic=True,
        cleanup_on_fail=True,
        timeout=900,
        opts=opts,
    )


def mirror(mirrors: Mirrors, upstream: str) -> str:
    """Where the internal registry serves an upstream registry's images."""
    return f"{mirrors.image_registry}/{upstream}"


def checkov_skips(*checks: tuple[str, str]) -> dict[str, str]:
    """checkov skip annotations for a resource's own metadata; reasons may not contain '='."""
    for check, reason in checks:
        assert "=" not in reason, f"checkov cannot parse '=' in the reason for {check}"
    return {
        f"checkov.io/skip{i}": f"{check}={reason}"
        for i, (check, reason) in enumerate(checks, start=1)
    }

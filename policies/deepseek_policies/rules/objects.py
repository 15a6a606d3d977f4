"""Readers for Kubernetes objects and resource properties as plain dicts and lists (or the
read-only Mappings CrossGuard hands over), and the plain form of a stack's resources. Pure:
imports nothing of Pulumi, so the rules can judge live objects too."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from deepseek_policies.rules.normalize import is_list, is_map


@dataclass(frozen=True)
class StackResource:
    """A resource as a stack judge sees it: plain properties and where it belongs."""

    resource_type: str
    props: Mapping
    urn: str
    name: str
    cluster: str = ""
    """Identifies the cluster (the Kubernetes provider) the resource is sent to."""
    protect: bool = False


def resource_type_of(obj: Mapping) -> str:
    """The Pulumi type of a live Kubernetes object: `apps/v1` `Deployment` →
    `kubernetes:apps/v1:Deployment`, `v1` `Pod` → `kubernetes:core/v1:Pod`."""
    api_version = str(obj.get("apiVersion") or "v1")
    if "/" not in api_version:
        api_version = f"core/{api_version}"
    return f"kubernetes:{api_version}:{obj.get('kind') or ''}"


def config_list(config: Mapping, key: str) -> list[str]:
    return list(config.get(key) or [])


def config_value(config: Mapping, key: str, default: Any) -> Any:
    value = config.get(key)
    return default if value is None else value


# --- Pulumi and Kubernetes types ------------------------------------------------------------

K8S = "kubernetes:"


def kind_of(resource_type: str) -> str | None:
    """`kubernetes:apps/v1:Deployment` → `Deployment`; None for other providers.
    A server-side patch (`kubernetes:core/v1:NamespacePatch`) changes the object of its kind, so
    it is judged as that kind: `NamespacePatch` → `Namespace`."""
    if not resource_type.startswith(K8S):
        return None
    kind = resource_type.rsplit(":", 1)[1]
    return kind[: -len("Patch")] if is_patch(resource_type) else kind


def is_patch(resource_type: str) -> bool:
    """A pulumi-kubernetes `...Patch` resource: it sets only the fields it names."""
    kind = resource_type.rsplit(":", 1)[-1]
    return resource_type.startswith(K8S) and kind.endswith("Patch") and kind != "Patch"


def body_of(props: Mapping) -> Mapping:
    """What an object holds besides its metadata: its `spec`, or for kinds without one (a
    PodTemplate's `template`) every other field."""
    if "spec" in props:
        return props.get("spec") or {}
    return {k: v for k, v in props.items() if k not in ("metadata", "apiVersion", "kind")}


def namespace_of(props: dict) -> str:
    metadata = props.get("metadata") or {}
    return metadata.get("namespace") or "default"


def name_of(props: dict) -> str:
    return (props.get("metadata") or {}).get("name") or ""


def pod_specs(props: Any) -> Iterator[dict]:
    """Every pod spec inside an object: a Pod's spec, a Deployment's template, a CronJob's
    job template, each replica of an MPIJob: wherever a dict holds `containers`."""
    if is_map(props):
        if is_list(props.get("containers")):
            yield props
            return
        for value in props.values():
            yield from pod_specs(value)
    elif is_list(props):
        for value in props:
            yield from pod_specs(value)


def containers(pod: dict) -> Iterator[dict]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in pod.get(key) or []:
            if is_map(container):
                yield container


def workload_pod_specs(resource_type: str, props: dict) -> list[dict]:
    """Pod specs of a Kubernetes workload (plain or custom); none for other resources. Envoy
    Gateway's EnvoyProxy describes its proxies' pods as one `container` beside `pod`."""
    if kind_of(resource_type) is None or resource_type.startswith("kubernetes:helm.sh"):
        return []
    spec = props.get("spec") or {}
    found = list(pod_specs(body_of(props)))
    if kind_of(resource_type) == "EnvoyProxy":
        provider = (spec.get("provider") or {}).get("kubernetes") or {}
        for key in ("envoyDeployment", "envoyDaemonSet"):
            workload = provider.get(key) or {}
            if is_map(workload.get("container")) or is_map(workload.get("pod")):
                container = workload.get("container") or {}
                found.append({**(workload.get("pod") or {}), "containers": [container]})
    return found


def selector_matches(selector: dict | None, labels: dict) -> bool:
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def describe(resource_type: str, props: dict, fallback: str) -> str:
    """How a message names a resource: `Deployment inference/r1-qwen-32b`."""
    kind = kind_of(resource_type)
    if kind and name_of(props):
        metadata = props.get("metadata") or {}
        namespace = metadata.get("namespace")
        return f"{kind} {namespace + '/' if namespace else ''}{name_of(props)}"
    return f"{resource_type} {fallback}"

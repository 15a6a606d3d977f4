"""What the rules share: config with safe defaults, and readers for Kubernetes objects,
Helm values and Pulumi types as CrossGuard hands them over (plain dicts and lists)."""

import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyConfigSchema

# Every allow-list defaults to empty: a stack whose policy config does not name what it may
# use is refused, never waved through.
LIST = {"type": "array", "items": {"type": "string"}, "default": []}


def schema(**properties: dict) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=dict(properties))


def config_list(args: Any, key: str) -> list[str]:
    config = args.get_config() or {}
    return list(config.get(key) or [])


def config_value(args: Any, key: str, default: Any) -> Any:
    config = args.get_config() or {}
    value = config.get(key)
    return default if value is None else value


def is_map(value: Any) -> bool:
    """CrossGuard hands properties over as read-only proxies: Mappings, not dicts."""
    return isinstance(value, Mapping)


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


# --- Pulumi and Kubernetes types ------------------------------------------------------------

K8S = "kubernetes:"


def kind_of(resource_type: str) -> str | None:
    """`kubernetes:apps/v1:Deployment` → `Deployment`; None for other providers."""
    if not resource_type.startswith(K8S):
        return None
    return resource_type.rsplit(":", 1)[1]


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
    """Pod specs of a Kubernetes workload (plain or custom); none for other resources."""
    if kind_of(resource_type) is None or resource_type.startswith("kubernetes:helm.sh"):
        return []
    return list(pod_specs(props.get("spec") or {}))


# --- images -----------------------------------------------------------------------------------


def images_in(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, image reference) for every image named in an object or Helm values: `image`
    strings, and `repository` strings (Helm charts split image and tag)."""
    if is_map(value):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if isinstance(item, str) and key in ("image", "repository") and item:
                if not re.match(r"^(https?|oci)://", item):
                    yield where, item
            else:
                yield from images_in(item, where)
    elif is_list(value):
        for index, item in enumerate(value):
            yield from images_in(item, f"{path}[{index}]")


def from_allowed_registry(image: str, registries: list[str]) -> bool:
    return any(image == r or image.startswith(r.rstrip("/") + "/") for r in registries)


# --- networks ---------------------------------------------------------------------------------


def within(cidr: str, allowed: list[str]) -> bool:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    for entry in allowed:
        candidate = ipaddress.ip_network(entry, strict=False)
        if network.version == candidate.version and network.subnet_of(candidate):
            return True
    return False


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


def cluster_of(resource: Any) -> str:
    """Resources of one cluster share a provider: its URN tells clusters apart in a stack
    policy (the same namespace or class name exists in every site's cluster)."""
    provider = getattr(resource, "provider", None)
    return getattr(provider, "urn", "") or ""


def describe(resource_type: str, props: dict, fallback: str) -> str:
    """How a message names a resource: `Deployment inference/r1-qwen-32b`."""
    kind = kind_of(resource_type)
    if kind and name_of(props):
        metadata = props.get("metadata") or {}
        namespace = metadata.get("namespace")
        return f"{kind} {namespace + '/' if namespace else ''}{name_of(props)}"
    return f"{resource_type} {fallback}"

"""Isolation, egress and exposure: every namespace denies by default and is the stack's own,
traffic goes only to and from allow-listed networks (Kubernetes and Calico policies alike),
the gateway is the only way in, on the site's pool, and everything pulled comes from the
internal mirrors, pinned."""

import posixpath
from collections import defaultdict
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

from deepseek_policies.rules.normalize import (
    image_allowed,
    ip_address,
    is_list,
    is_map,
    key_words,
    leaves,
    parse_image,
    prefix_allowed,
    range_within,
    within,
)
from deepseek_policies.rules.objects import (
    StackResource,
    body_of,
    config_list,
    config_value,
    containers,
    describe,
    kind_of,
    name_of,
    namespace_of,
    workload_pod_specs,
)

GATEWAY_NAMESPACE = "gateway"

GATEWAY_NAME = "deepseek"

NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

NAMESPACE = "kubernetes:core/v1:Namespace"

CALICO_GROUPS = ("kubernetes:crd.projectcalico.org/", "kubernetes:projectcalico.org/")

CALICO_KINDS = ("NetworkPolicy", "GlobalNetworkPolicy")


CALICO_SET_KINDS = ("NetworkSet", "GlobalNetworkSet")

ADMIN_GROUP = "kubernetes:policy.networking.k8s.io/"

ADMIN_KINDS = ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")

# Actions that let traffic through or hand it on to NetworkPolicies (which a namespace without
# one does not stop): AdminNetworkPolicy's Allow and Pass, ClusterNetworkPolicy's Accept.
ADMIN_OPENING_ACTIONS = ("allow", "pass", "accept")


def is_calico_policy(resource_type: str) -> bool:
    return resource_type.startswith(CALICO_GROUPS) and kind_of(resource_type) in CALICO_KINDS


def is_calico_network_set(resource_type: str) -> bool:
    """Calico's NetworkSet or GlobalNetworkSet (or a patch of one): networks a policy reaches
    by selector."""
    return resource_type.startswith(CALICO_GROUPS) and kind_of(resource_type) in CALICO_SET_KINDS


def is_admin_policy(resource_type: str) -> bool:
    """AdminNetworkPolicy and BaselineAdminNetworkPolicy (evaluated before and after every
    NetworkPolicy), and their successor ClusterNetworkPolicy."""
    return resource_type.startswith(ADMIN_GROUP) and kind_of(resource_type) in ADMIN_KINDS


def _strings(value) -> list[str]:
    """A list of strings, or one string as a list of one."""
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value or []]


def _is_default_deny(props: Mapping) -> bool:
    spec = props.get("spec") or {}
    return (
        (spec.get("podSelector") or {}) == {}
        and "Egress" in (spec.get("policyTypes") or [])
        and not spec.get("egress")
    )


def judge_default_deny(resources: list[StackResource], config: Mapping):
    denied = defaultdict(set)
    for r in resources:
        if r.resource_type == NETPOL and _is_default_deny(r.props):
            denied[r.cluster].add(namespace_of(r.props))
    for r in resources:
        if r.resource_type == NAMESPACE and name_of(r.props) not in denied[r.cluster]:
            yield (
                r.urn,
                f"Namespace {name_of(r.props)} has no default-deny egress NetworkPolicy; add one "
                "with podSelector {} and policyTypes [Egress] (and Ingress) and no egress rules.",
            )


def judge_managed_namespaces(resources: list[StackResource], config: Mapping):
    """Workloads and Helm releases go only into namespaces the stack creates in their cluster,
    where default-deny, quotas and Pod Security apply."""
    created = defaultdict(set)
    for r in resources:
        if r.resource_type == NAMESPACE:
            created[r.cluster].add(name_of(r.props))
    for r in resources:
        if r.resource_type.startswith("kubernetes:helm.sh/"):
            namespace = r.props.get("namespace") or "default"
        elif workload_pod_specs(r.resource_type, r.props):
            namespace = namespace_of(r.props)
        else:
            continue
        if namespace not in created[r.cluster]:
            yield (
                r.urn,
                f"{describe(r.resource_type, r.props, r.name)} runs in namespace {namespace}, "
                "which the stack does not create (no default-deny, quota or Pod Security "
                "there); move it to one of the stack's namespaces.",
            )


def _calico_rules(props: Mapping, direction: str) -> Iterator[tuple[int, list[str] | None]]:
    """Calico Allow rules as (index, networks); None networks for a rule open to anyone: no
    nets, selector, namespace selector, service account or service, or only notNets. DNS
    `domains` reach any address a name resolves to: they are judged as networks, never named."""
    for index, rule in enumerate((props.get("spec") or {}).get(direction) or []):
        if str(rule.get("action") or "").lower() != "allow":
            continue
        peer = rule.get("destination" if direction == "egress" else "source") or {}
        nets = list(peer.get("nets") or [])
        nets += [f"{domain} (by DNS)" for domain in peer.get("domains") or []]
        named = any(
            peer.get(k) for k in ("selector", "namespaceSelector", "serviceAccounts", "services")
        )
        yield index, nets if nets or named else None


def _k8s_rules(props: Mapping, direction: str) -> Iterator[tuple[int, list[str] | None]]:
    """NetworkPolicy rules as (index, ipBlock networks); None for a rule without peers."""
    peer_key = "to" if direction == "egress" else "from"
    for index, rule in enumerate((props.get("spec") or {}).get(direction) or []):
        peers = rule.get(peer_key)
        if not peers:
            yield index, None
            continue
        yield index, [(p.get("ipBlock") or {}).get("cidr", "") for p in peers if p.get("ipBlock")]


ADMIN_NAMED_PEERS = ("namespaces", "pods", "nodes")


def _admin_rules(props: Mapping, direction: str) -> Iterator[tuple[int, list[str] | None]]:
    """(Baseline)AdminNetworkPolicy Allow and Pass rules as (index, networks): `networks` as
    they are, `domainNames` judged as networks (a name reaches whatever it resolves to), pods,
    namespaces and nodes named (their addresses lie in the cluster's networks); None for a rule
    with no peer or a peer that names nothing."""
    peer_key = "to" if direction == "egress" else "from"
    for index, rule in enumerate((props.get("spec") or {}).get(direction) or []):
        if not is_map(rule):
            continue
        if str(rule.get("action") or "").strip().lower() not in ADMIN_OPENING_ACTIONS:
            continue
        peers = rule.get(peer_key)
        if not is_list(peers) or not peers:
            yield index, None
            continue
        nets: list[str] = []
        for peer in peers:
            peer = peer if is_map(peer) else {}
            found = _strings(peer.get("networks"))
            found += [f"{domain} (by DNS)" for domain in _strings(peer.get("domainNames"))]
            if not found and not any(peer.get(k) is not None for k in ADMIN_NAMED_PEERS):
                yield index, None
                break
            nets += found
        else:
            yield index, nets


def is_network_policy(resource_type: str) -> bool:
    """Kubernetes' NetworkPolicy, or a NetworkPolicyPatch that changes one."""
    return resource_type.startswith("kubernetes:networking.k8s.io/") and (
        kind_of(resource_type) == "NetworkPolicy"
    )


def policy_rules(resource_type: str, props: Mapping, direction: str):
    if is_network_policy(resource_type):
        return _k8s_rules(props, direction)
    if is_calico_policy(resource_type):
        return _calico_rules(props, direction)
    if is_admin_policy(resource_type):
        return _admin_rules(props, direction)
    return iter(())


def _network_set_members(props: Mapping) -> list[str]:
    """What a Calico network set lets a selecting policy reach: its `nets`, and its
    `allowedEgressDomains` judged as networks."""
    spec = props.get("spec") or {}
    members = _strings(spec.get("nets"))
    return members + [f"{d} (by DNS)" for d in _strings(spec.get("allowedEgressDomains"))]


def _judge_peers(resource_type, props, name, direction, allowed, config_key) -> Iterator[str]:
    who = describe(resource_type, props, name)
    towards = "to" if direction == "egress" else "from"
    if direction == "egress" and is_calico_network_set(resource_type):
        for cidr in _network_set_members(props):
            if str(cidr).strip().endswith("/0"):
                yield (
                    f"{who} holds {cidr}, the whole internet, so any policy selecting it "
                    f"allows egress there; hold only networks on {config_key}."
                )
            elif not within(str(cidr), allowed):
                yield (
                    f"{who} holds {cidr}, which is not on {config_key}, so any policy "
                    f"selecting it allows egress there; remove it or have the network added "
                    f"to {config_key}."
                )
        return
    for index, cidrs in policy_rules(resource_type, props, direction):
        if cidrs is None:
            yield (
                f"{who} {direction} rule {index} names no peer, so it allows traffic {towards} "
                "anywhere; name the pods or networks."
            )
            continue
        for cidr in cidrs:
            if str(cidr).strip().endswith("/0"):
                yield (
                    f"{who} allows {direction} {towards} {cidr}, the whole internet; allow only "
                    f"networks on {config_key}."
                )
            elif not within(str(cidr), allowed):
                yield (
                    f"{who} allows {direction} {towards} {cidr}, which is not on {config_key}; "
                    f"remove it or have the network added to {config_key}."
                )


def judge_egress(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    allowed = config_list(config, "allowedEgressCidrs")
    yield from _judge_peers(
        resource_type, props, name, "egress", allowed, "the egress allow-list (allowedEgressCidrs)"
    )


def judge_ingress(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    allowed = config_list(config, "allowedIngressCidrs")
    yield from _judge_peers(resource_type, props, name, "ingress", allowed, "allowedIngressCidrs")


def judge_exposure(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    kind = kind_of(resource_type)
    gateway_namespace = config_value(config, "gatewayNamespace", GATEWAY_NAMESPACE)
    gateway_name = config_value(config, "gatewayName", GATEWAY_NAME)
    namespace = namespace_of(props)
    who = describe(resource_type, props, name)
    if kind == "Service":
        spec = props.get("spec") or {}
        kind_of_service = spec.get("type") or "ClusterIP"
        if kind_of_service in ("LoadBalancer", "NodePort") or spec.get("externalIPs"):
            if namespace != gateway_namespace:
                yield (
                    f"{who} is exposed outside the cluster ({kind_of_service}"
                    f"{', externalIPs' if spec.get('externalIPs') else ''}); make it ClusterIP "
                    "and route callers through the gateway."
                )
    elif kind == "EnvoyProxy":
        service = ((props.get("spec") or {}).get("provider") or {}).get("kubernetes") or {}
        service_type = (service.get("envoyService") or {}).get("type", "LoadBalancer")
        if service_type in ("LoadBalancer", "NodePort") and namespace != gateway_namespace:
            yield (
                f"{who} runs an exposed proxy outside the gateway namespace "
                f"{gateway_namespace}; put it there or make its Service ClusterIP."
            )
    elif kind == "Ingress" and resource_type.startswith("kubernetes:networking.k8s.io/"):
        yield (
            f"{who} opens a second way in beside the gateway; publish it as an HTTPRoute on "
            f"Gateway {gateway_namespace}/{gateway_name}."
        )
    elif kind == "Gateway" and (namespace, name_of(props)) != (gateway_namespace, gateway_name):
        yield (
            f"{who} is a second Gateway beside {gateway_namespace}/{gateway_name}; attach an "
            "HTTPRoute to that one instead."
        )


LB_ANNOTATIONS = ("metallb.universe.tf/loadbalancerips", "metallb.io/loadbalancerips")


def _requested_addresses(annotations: Mapping | None, spec: Mapping) -> list[str]:
    found = [str(spec["loadBalancerIP"])] if spec.get("loadBalancerIP") else []
    found += [str(a).strip() for a in spec.get("externalIPs") or [] if str(a).strip()]
    for key, value in (annotations or {}).items():
        if str(key).lower() in LB_ANNOTATIONS:
            found += [a.strip() for a in str(value).split(",") if a.strip()]
    return found


def judge_pools(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    """MetalLB pools lie in the sites' load-balancer networks; an address asked for by a
    Service or the gateway's proxy lies in them too."""
    kind = kind_of(resource_type)
    pools = config_list(config, "allowedLoadBalancerPools")
    who = describe(resource_type, props, name)
    spec = props.get("spec") or {}
    if kind == "IPAddressPool" and resource_type.startswith("kubernetes:metallb.io/"):
        for entry in spec.get("addresses") or []:
            if not range_within(str(entry), pools):
                yield (
                    f"{who} hands out {entry}, outside the sites' load-balancer pools; use "
                    f"addresses in {', '.join(pools) or '(none)'}."
                )
        return
    if kind == "Service":
        requested = _requested_addresses((props.get("metadata") or {}).get("annotations"), spec)
    elif kind == "EnvoyProxy":
        service = (((spec.get("provider") or {}).get("kubernetes") or {}).get("envoyService")) or {}
        requested = _requested_addresses(service.get("annotations"), service)
    else:
        return
    for address in requested:
        if ip_address(address) is None or not within(address, pools):
            yield (
                f"{who} asks for load-balancer address {address}, outside the sites' pools; "
                f"use an address in {', '.join(pools) or '(none)'}."
            )


def judge_host_network(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    if namespace_of(props) in config_list(config, "allowedPrivilegedNamespaces"):
        return
    who = describe(resource_type, props, name)
    for pod in workload_pod_specs(resource_type, props):
        if pod.get("hostNetwork") is True or str(pod.get("hostNetwork")).lower() == "true":
            yield (
                f"{who} uses the host's network; remove hostNetwork, or move it to a "
                "system namespace allowed host access."
            )
        for container in containers(pod):
            for port in container.get("ports") or []:
                if port.get("hostPort"):
                    yield (
                        f"{who} container {container.get('name')} binds host port "
                        f"{port['hostPort']}; remove hostPort and expose it through a Service."
                    )


def image_references(value, path: str = "") -> Iterator[tuple[str, str, str]]:
    """(path, kind, reference) for what names an image in an object or Helm values, keys
    compared by their last word in any case: `image` strings (whole references), `repository`
    (joined with a `registry` beside it), `registry` and `imageRegistry` (prefixes)."""
    if is_map(value):
        words = {key: key_words(key) for key in value}
        registry = next(
            (
                value[k]
                for k, w in words.items()
                if w and w[-1] == "registry" and isinstance(value[k], str)
            ),
            None,
        )
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            last = words[key][-1] if words[key] else ""
            if isinstance(item, str) and item.strip():
                if last == "image" and "://" not in item:
                    yield where, "image", item
                elif last == "repository" and "://" not in item:
                    joined = f"{registry.rstrip('/')}/{item}" if registry else item
                    yield where, "repository", joined
                elif last == "registry":
                    yield where, "registry", item
            else:
                yield from image_references(item, where)
    elif is_list(value):
        for index, item in enumerate(value):
            yield from image_references(item, f"{path}[{index}]")


def _image_sources(resource_type: str, props: Mapping):
    if kind_of(resource_type) is None:
        return []
    if resource_type.startswith("kubernetes:helm.sh"):
        return list(image_references(props.get("values") or {}, "values"))
    return list(image_references(body_of(props), "spec" if "spec" in props else ""))


def judge_images(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    registries = config_list(config, "allowedRegistries")
    who = describe(resource_type, props, name)
    for path, what, reference in _image_sources(resource_type, props):
        ok = (
            prefix_allowed(reference, registries)
            if what == "registry"
            else image_allowed(reference, registries)
        )
        if not ok:
            yield (
                f"{who} pulls {reference} ({path}) from outside the internal registry; "
                f"mirror it under {', '.join(registries) or '(none)'} and use that."
            )


def judge_pinned(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    """Whole image references carry a tag other than `latest` or a digest; a Helm `tag` is
    never `latest`."""
    who = describe(resource_type, props, name)
    for path, what, reference in _image_sources(resource_type, props):
        if what != "image":
            continue
        image = parse_image(reference)
        if image.digest is None and (image.tag is None or image.tag.lower() == "latest"):
            yield (
                f"{who} runs {reference} ({path}) without a fixed version; pin it to a "
                "release tag or a digest."
            )
    if resource_type.startswith("kubernetes:helm.sh"):
        for path, tag in _tags(props.get("values") or {}, "values"):
            if tag.strip().lower() == "latest":
                yield f"{who} sets {path} to {tag}; pin it to a release tag or a digest."


def _tags(values, path: str) -> Iterator[tuple[str, str]]:
    """Helm values whose key's last word is `tag` (`tag`, `imageTag`, `image_tag`)."""
    for where, value in leaves(values, path):
        if isinstance(value, str) and key_words(where.rsplit(".", 1)[-1])[-1:] == ["tag"]:
            yield where, value


def chart_source_allowed(source: str, allowed: list[str]) -> bool:
    """Compares scheme, host (any case) and normalized path, component by component."""
    try:
        parts = urlsplit(source.strip())
    except ValueError:
        return False
    path = posixpath.normpath(parts.path or "/").strip("/").split("/")
    for entry in allowed:
        wanted = urlsplit(entry.strip())
        wanted_path = [p for p in wanted.path.strip("/").split("/") if p]
        if (
            parts.scheme.lower() == wanted.scheme.lower()
            and (parts.hostname or "") == (wanted.hostname or "")
            and parts.port == wanted.port
            and not parts.username
            and path[: len(wanted_path)] == wanted_path
        ):
            return True
    return False


def judge_charts(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    if not resource_type.startswith("kubernetes:helm.sh/"):
        return
    allowed = config_list(config, "allowedChartRepositories")
    repo = ((props.get("repositoryOpts") or {}).get("repo") or "").strip()
    chart = props.get("chart") or ""
    source = chart if "://" in chart else repo
    if not source or not chart_source_allowed(source, allowed):
        yield (
            f"Helm release {props.get('name') or name} installs chart {chart} from "
            f"{source or '(no repository)'}; install it from "
            f"{', '.join(allowed) or '(none)'}."
        )

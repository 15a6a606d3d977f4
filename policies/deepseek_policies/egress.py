"""Egress control: every namespace denies by default, egress goes only to the allow-list,
the gateway is the only way in, and everything pulled comes from the internal mirrors."""

from collections import defaultdict

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from deepseek_policies.common import (
    LIST,
    cluster_of,
    config_list,
    config_value,
    containers,
    describe,
    from_allowed_registry,
    images_in,
    kind_of,
    name_of,
    namespace_of,
    within,
    workload_pod_specs,
)
from deepseek_policies.common import schema as _schema

GATEWAY_NAMESPACE = "gateway"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"


def _is_default_deny(props: dict) -> bool:
    spec = props.get("spec") or {}
    return (
        (spec.get("podSelector") or {}) == {}
        and "Egress" in (spec.get("policyTypes") or [])
        and not spec.get("egress")
    )


def _default_deny(args: StackValidationArgs, report: ReportViolation) -> None:
    denied = defaultdict(set)
    for r in args.resources:
        if r.resource_type == NETPOL and _is_default_deny(r.props):
            denied[cluster_of(r)].add(namespace_of(r.props))
    for r in args.resources:
        if r.resource_type == NAMESPACE and name_of(r.props) not in denied[cluster_of(r)]:
            report(
                f"Namespace {name_of(r.props)} has no default-deny egress NetworkPolicy; add one "
                "with podSelector {} and policyTypes [Egress] (and Ingress) and no egress rules.",
                r.urn,
            )


default_deny = StackValidationPolicy(
    name="namespaces-default-deny-egress",
    description="Every namespace has a default-deny egress NetworkPolicy.",
    validate=_default_deny,
)


def _egress(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != NETPOL:
        return
    allowed = config_list(args, "allowedEgressCidrs")
    who = describe(args.resource_type, args.props, args.name)
    for index, rule in enumerate((args.props.get("spec") or {}).get("egress") or []):
        peers = rule.get("to")
        if not peers:
            report(
                f"{who} egress rule {index} has no `to`, so it allows every destination; "
                "name the pods or networks it may reach."
            )
            continue
        for peer in peers:
            block = peer.get("ipBlock")
            if not block:
                continue
            cidr = block.get("cidr", "")
            if cidr.endswith("/0"):
                report(
                    f"{who} allows egress to {cidr}, the whole internet; allow only networks "
                    "on the site's egress allow-list."
                )
            elif not within(cidr, allowed):
                report(
                    f"{who} allows egress to {cidr}, which is not on the egress allow-list; "
                    "remove it or have the network added to allowedEgressCidrs."
                )


egress_allow_list = ResourceValidationPolicy(
    name="egress-within-allow-list",
    description="NetworkPolicy egress goes only to allow-listed networks: no 0.0.0.0/0 and "
    "no rule without destinations.",
    validate=_egress,
    config_schema=_schema(allowedEgressCidrs=LIST),
)


def _exposure(args: ResourceValidationArgs, report: ReportViolation) -> None:
    kind = kind_of(args.resource_type)
    gateway_namespace = config_value(args, "gatewayNamespace", GATEWAY_NAMESPACE)
    namespace = namespace_of(args.props)
    who = describe(args.resource_type, args.props, args.name)
    if kind == "Service":
        spec = args.props.get("spec") or {}
        kind_of_service = spec.get("type") or "ClusterIP"
        if kind_of_service in ("LoadBalancer", "NodePort") or spec.get("externalIPs"):
            if namespace != gateway_namespace:
                report(
                    f"{who} is exposed outside the cluster ({kind_of_service}"
                    f"{', externalIPs' if spec.get('externalIPs') else ''}); make it ClusterIP "
                    "and route callers through the gateway."
                )
    elif kind == "EnvoyProxy":
        service = ((args.props.get("spec") or {}).get("provider") or {}).get("kubernetes") or {}
        service_type = (service.get("envoyService") or {}).get("type", "LoadBalancer")
        if service_type in ("LoadBalancer", "NodePort") and namespace != gateway_namespace:
            report(
                f"{who} runs an exposed proxy outside the gateway namespace "
                f"{gateway_namespace}; put it there or make its Service ClusterIP."
            )


exposure = ResourceValidationPolicy(
    name="only-the-gateway-is-exposed",
    description="No LoadBalancer, NodePort or externalIPs except the gateway's.",
    validate=_exposure,
    config_schema=_schema(gatewayNamespace={"type": "string", "default": GATEWAY_NAMESPACE}),
)


def _host_network(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = config_list(args, "allowedPrivilegedNamespaces")
    if namespace_of(args.props) in allowed:
        return
    who = describe(args.resource_type, args.props, args.name)
    for pod in workload_pod_specs(args.resource_type, args.props):
        if pod.get("hostNetwork"):
            report(
                f"{who} uses the host's network; remove hostNetwork, or move it to a "
                "system namespace allowed host access."
            )
        for container in containers(pod):
            for port in container.get("ports") or []:
                if port.get("hostPort"):
                    report(
                        f"{who} container {container.get('name')} binds host port "
                        f"{port['hostPort']}; remove hostPort and expose it through a Service."
                    )


host_network = ResourceValidationPolicy(
    name="no-host-network-or-ports",
    description="No hostNetwork or hostPort outside the system namespaces allowed host access.",
    validate=_host_network,
    config_schema=_schema(allowedPrivilegedNamespaces=LIST),
)


def _images(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if kind_of(args.resource_type) is None:
        return
    registries = config_list(args, "allowedRegistries")
    who = describe(args.resource_type, args.props, args.name)
    if args.resource_type.startswith("kubernetes:helm.sh"):
        where = [("values", args.props.get("values") or {})]
    else:
        where = [("spec", args.props.get("spec") or {})]
    for root, value in where:
        for path, image in images_in(value, root):
            if not from_allowed_registry(image, registries):
                report(
                    f"{who} pulls {image} ({path}) from outside the internal registry; "
                    f"mirror it under {', '.join(registries) or '(none)'} and use that."
                )


images = ResourceValidationPolicy(
    name="images-from-allowed-registries",
    description="Images come only from the allowed registries, wherever they are named: pods, "
    "workloads, jobs, MPIJobs, and the values of Helm releases.",
    validate=_images,
    config_schema=_schema(allowedRegistries=LIST),
)


def _charts(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.resource_type.startswith("kubernetes:helm.sh/"):
        return
    allowed = [r.rstrip("/") for r in config_list(args, "allowedChartRepositories")]
    props = args.props
    repo = ((props.get("repositoryOpts") or {}).get("repo") or "").rstrip("/")
    chart = props.get("chart") or ""
    source = chart if "://" in chart else repo
    if not source or not any(source == a or source.startswith(a + "/") for a in allowed):
        report(
            f"Helm release {props.get('name') or args.name} installs chart {chart} from "
            f"{source or '(no repository)'}; install it from "
            f"{', '.join(allowed) or '(none)'}."
        )


charts = ResourceValidationPolicy(
    name="charts-from-allowed-repositories",
    description="Helm charts come only from the allowed chart repositories.",
    validate=_charts,
    config_schema=_schema(allowedChartRepositories=LIST),
)

POLICIES = [default_deny, egress_allow_list, exposure, host_network, images, charts]

"""Isolation, egress, exposure and supply-chain policies (judges in `rules/egress.py`)."""

from deepseek_policies.common import LIST, resource_policy, stack_policy
from deepseek_policies.common import schema as _schema
from deepseek_policies.rules.egress import (
    GATEWAY_NAME,
    GATEWAY_NAMESPACE,
    judge_charts,
    judge_default_deny,
    judge_egress,
    judge_exposure,
    judge_host_network,
    judge_images,
    judge_ingress,
    judge_managed_namespaces,
    judge_pinned,
    judge_pools,
)

default_deny = stack_policy(
    "namespaces-default-deny-egress",
    "Keeps every namespace closed unless opened: each Namespace has a default-deny egress "
    "NetworkPolicy in its cluster.",
    judge_default_deny,
)

managed_namespaces = stack_policy(
    "workloads-in-managed-namespaces",
    "Keeps workloads under the stack's isolation: pods and Helm releases only in namespaces the "
    "stack creates in the same cluster (never default or one made by hand).",
    judge_managed_namespaces,
)

egress_allow_list = resource_policy(
    "egress-within-allow-list",
    "Keeps traffic from leaving the bank: NetworkPolicy, Calico (Global)NetworkPolicy and "
    "(Baseline)AdminNetworkPolicy Allow or Pass egress goes only to allowedEgressCidrs (the "
    "sites' networks, generated), and so does every network a Calico (Global)NetworkSet holds "
    "for policies to select; no 0.0.0.0/0, no DNS domains and no rule open to any destination "
    "(patches judged like the objects they change).",
    judge_egress,
    _schema(allowedEgressCidrs=LIST),
)

ingress_peers = resource_policy(
    "ingress-from-named-peers",
    "Keeps callers known: NetworkPolicy, Calico (Global)NetworkPolicy and "
    "(Baseline)AdminNetworkPolicy ingress comes only from named pods or allowedIngressCidrs (the "
    "sites' node and client networks, generated); no rule open to any source.",
    judge_ingress,
    _schema(allowedIngressCidrs=LIST),
)

exposure = resource_policy(
    "only-the-gateway-is-exposed",
    "Keeps one way in: no LoadBalancer, NodePort, externalIPs or exposed proxy outside "
    "gatewayNamespace, no Ingress objects, and no Gateway but gatewayNamespace/gatewayName.",
    judge_exposure,
    _schema(
        gatewayNamespace={"type": "string", "default": GATEWAY_NAMESPACE},
        gatewayName={"type": "string", "default": GATEWAY_NAME},
    ),
)

load_balancer_pools = resource_policy(
    "load-balancer-addresses-in-site-pools",
    "Keeps exposed addresses on the bank's networks: MetalLB pools and the addresses Services "
    "(loadBalancerIP, annotations, externalIPs) and the gateway's proxy ask for lie in "
    "allowedLoadBalancerPools (generated from the sites' loadBalancer.addresses).",
    judge_pools,
    _schema(allowedLoadBalancerPools=LIST),
)

host_network = resource_policy(
    "no-host-network-or-ports",
    "Keeps pods off the host's network: no hostNetwork or hostPort outside "
    "allowedPrivilegedNamespaces.",
    judge_host_network,
    _schema(allowedPrivilegedNamespaces=LIST),
)

images = resource_policy(
    "images-from-allowed-registries",
    "Keeps the supply chain internal: images come only from allowedRegistries (registry host "
    "and path, as the runtime resolves them), wherever named: pod specs of any kind, and Helm "
    "values (image, repository, registry, global.imageRegistry).",
    judge_images,
    _schema(allowedRegistries=LIST),
)

images_pinned = resource_policy(
    "images-pinned",
    "Keeps what runs reviewable: every image reference in a pod spec or Helm values has a "
    "release tag (not latest) or a digest.",
    judge_pinned,
)

charts = resource_policy(
    "charts-from-allowed-repositories",
    "Keeps the supply chain internal: Helm charts come only from allowedChartRepositories "
    "(scheme, host and path compared after normalizing).",
    judge_charts,
    _schema(allowedChartRepositories=LIST),
)

POLICIES = [
    default_deny,
    managed_namespaces,
    egress_allow_list,
    ingress_peers,
    exposure,
    load_balancer_pools,
    host_network,
    images,
    images_pinned,
    charts,
]

"""The gateway in the recorded graphs: the only load balancer, its CA key secret, the
routes in front of every model, Pod Security levels per namespace."""

import pytest

from components import contracts


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_the_gateway_proxy_is_the_only_load_balancer(stack, stack_graph):
    graph = stack_graph(stack)
    for service in graph.by_type("kubernetes:core/v1:Service"):
        assert service.inputs["spec"].get("type", "ClusterIP") == "ClusterIP"
        assert not service.inputs["spec"].get("externalIPs")
    proxies = graph.by_type("kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy")
    assert len(proxies) == len(graph.by_type("deepseek:site:Site"))
    for proxy in proxies:
        assert proxy.inputs["metadata"]["namespace"] == contracts.GATEWAY
        service = proxy.inputs["spec"]["provider"]["kubernetes"]["envoyService"]
        assert service["type"] == "LoadBalancer"


def test_the_ca_key_stays_secret(prod_graph):
    secrets = [
        r
        for r in prod_graph.by_type("kubernetes:core/v1:Secret")
        if r.inputs["metadata"]["name"] == "internal-ca"
    ]
    assert len(secrets) == 2
    for secret in secrets:
        assert secret.inputs["stringData"] == "[secret]"
        assert secret.inputs["metadata"]["namespace"] == contracts.CERT_MANAGER


def test_every_model_has_a_route_at_every_site(prod_graph):
    routes = prod_graph.by_type("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")
    assert sorted(r.inputs["metadata"]["name"] for r in routes) == [
        "r1-llama-8b",
        "r1-llama-8b",
        "r1-qwen-32b",
        "r1-qwen-32b",
    ]
    assert prod_graph.outputs["gateways"] == {
        "dc-a": {
            "address": "10.10.0.200",
            "hostnames": ["deepseek.bank.internal", "dc-a.deepseek.bank.internal"],
        },
        "dc-b": {
            "address": "10.20.0.200",
            "hostnames": ["deepseek.bank.internal", "dc-b.deepseek.bank.internal"],
        },
    }


def test_pod_security_levels(prod_graph):
    levels = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"][
            "pod-security.kubernetes.io/enforce"
        ]
        for r in prod_graph.by_type("kubernetes:core/v1:Namespace")
    }
    assert {ns for ns, level in levels.items() if level == "privileged"} == {
        contracts.GPU_OPERATOR,
        contracts.CALICO_OPERATOR,
        contracts.LOCAL_PATH,
        contracts.METALLB,
        # The data layer's, at every prod site (each runs Ceph and backs up to the other).
        contracts.CEPH_CSI,
        contracts.VELERO,
    }
    for namespace in contracts.WORKLOAD_NAMESPACES:
        assert levels[namespace] == "restricted"


RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


def _pod_specs(graph):
    for r in graph.by_type("kubernetes:apps/v1:Deployment"):
        yield r.inputs["metadata"]["namespace"], r.name, r.inputs["spec"]["template"]["spec"]
    for r in graph.by_type("kubernetes:kubeflow.org/v1:MPIJob"):
        for role, replica in r.inputs["spec"]["mpiReplicaSpecs"].items():
            yield r.inputs["metadata"]["namespace"], f"{r.name}/{role}", replica["template"]["spec"]


def test_our_pods_meet_the_restricted_standard(prod_graph):
    for namespace, name, pod in _pod_specs(prod_graph):
        pod_context = pod.get("securityContext", {})
        for container in pod["containers"] + pod.get("initContainers", []):
            context = {**pod_context, **container.get("securityContext", {})}
            for key, value in RESTRICTED_CONTAINER.items():
                assert context.get(key) == value, (name, container["name"], key)
            assert context.get("runAsNonRoot") is True, (name, container["name"])
            assert context.get("seccompProfile") == {"type": "RuntimeDefault"}, name
            assert not context.get("privileged"), name
        if namespace in contracts.WORKLOAD_NAMESPACES:
            assert pod.get("automountServiceAccountToken") is False, name

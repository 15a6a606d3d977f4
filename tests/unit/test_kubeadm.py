"""kubeadm configuration and kube-vip rendered from typed config."""

import pytest
import yaml

from components.kubernetes.cluster import read_ca_cert_hash
from components.kubernetes.kubeadm import (
    CA_HASH_PLACEHOLDER,
    CERTIFICATE_KEY_PLACEHOLDER,
    TOKEN_PLACEHOLDER,
    init_config_yaml,
    join_config_yaml,
    kube_vip_manifest,
    node_labels,
)
from components.remote.runner import StepFailed
from components.remote.steps import format_result


def test_init_configuration_pins_version_network_vip_and_mirror(prod_config):
    config, site = prod_config, prod_config.sites[0]
    cluster, init = yaml.safe_load_all(
        init_config_yaml(site, site.hosts[0], config.kubernetes, config.mirrors)
    )
    assert (cluster["apiVersion"], cluster["kind"]) == (
        "kubeadm.k8s.io/v1beta4",
        "ClusterConfiguration",
    )
    assert cluster["kubernetesVersion"] == "v1.31.4"
    assert cluster["controlPlaneEndpoint"] == "10.10.0.10:6443"
    assert cluster["networking"] == {
        "podSubnet": "10.64.0.0/16",
        "serviceSubnet": "10.96.0.0/20",
        "dnsDomain": "cluster.local",
    }
    assert cluster["imageRepository"] == "registry.bank.internal/deepseek/registry.k8s.io"
    assert init["bootstrapTokens"][0]["token"] == TOKEN_PLACEHOLDER
    assert init["certificateKey"] == CERTIFICATE_KEY_PLACEHOLDER
    assert init["nodeRegistration"]["name"] == "dca-cp-1"


def test_join_configurations_for_control_plane_and_worker(prod_config):
    site = prod_config.sites[0]
    control_plane = yaml.safe_load(join_config_yaml(site, site.hosts[1], control_plane=True))
    worker = yaml.safe_load(join_config_yaml(site, site.hosts[3], control_plane=False))
    assert control_plane["controlPlane"]["certificateKey"] == CERTIFICATE_KEY_PLACEHOLDER
    assert "controlPlane" not in worker
    discovery = worker["discovery"]["bootstrapToken"]
    assert discovery["apiServerEndpoint"] == "10.10.0.10:6443"
    assert discovery["caCertHashes"] == [CA_HASH_PLACEHOLDER]
    args = {a["name"]: a["value"] for a in worker["nodeRegistration"]["kubeletExtraArgs"]}
    assert "nvidia.com/device-plugin.config=A100-80GB" in args["node-labels"]
    assert worker["nodeRegistration"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "inference", "effect": "NoSchedule"}
    ]


def test_node_labels_carry_region_zone_and_gpu(prod_config):
    site = prod_config.sites[0]
    labels = node_labels(site, site.hosts[5])
    assert labels["topology.kubernetes.io/region"] == "de-fra"
    assert labels["topology.kubernetes.io/zone"] == "fra-1"
    assert labels["deepseek.bank/gpu-model"] == "V100-32GB"
    assert labels["nvidia.com/gpu.product"] == "Tesla-V100-SXM2-32GB"


def test_kube_vip_announces_the_vip_from_the_mirror(prod_config):
    config, site = prod_config, prod_config.sites[0]
    pod = yaml.safe_load(kube_vip_manifest(site, config.kubernetes, config.mirrors))
    container = pod["spec"]["containers"][0]
    assert container["image"].startswith("registry.bank.internal/deepseek/ghcr.io/kube-vip/")
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["address"] == "10.10.0.10" and env["vip_arp"] == "true"


_GOOD_HASH = "sha256:" + "0123456789abcdef" * 4


def test_the_ca_cert_hash_of_kubeadm_init_is_read():
    stdout = format_result("kubeadm-init", {"caCertHash": _GOOD_HASH, "node": "cp-1"})
    assert read_ca_cert_hash(stdout, "cp-1 (control plane of site dc-a)") == _GOOD_HASH


@pytest.mark.parametrize(
    "value",
    [
        # A line break decoded from the JSON would add a key to every join configuration.
        _GOOD_HASH + "\n    unsafeSkipCAVerification: true",
        "sha256:",
        "sha256:" + "0123456789ABCDEF" * 4,
        _GOOD_HASH[7:],
        _GOOD_HASH + "00",
    ],
)
def test_a_malformed_ca_cert_hash_stops_the_first_control_plane_by_name(value):
    stdout = format_result("kubeadm-init", {"caCertHash": value, "node": "cp-1"})
    with pytest.raises(StepFailed) as caught:
        read_ca_cert_hash(stdout, "dca-cp-1 (control plane of site dc-a)")
    message = str(caught.value)
    assert message.startswith("host dca-cp-1 (control plane of site dc-a): step kubeadm-init:")
    assert "caCertHash" in message
    assert "unsafeSkipCAVerification" not in message  # the step's stdout is secret

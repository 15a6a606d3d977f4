"""The cold/warm load arithmetic of the serving output (components/serving/model_load.py), on
prod's hosts: figures worked out by hand below, not by the function under test."""

import pytest

from components.config import Nic
from components.serving.model_load import (
    CACHE_DISK_READ_GB_PER_S,
    LoadInputs,
    client_nic_gbps,
    load_estimate,
    weights_bytes,
)


@pytest.fixture(scope="module")
def dc_a(prod_config):
    site = prod_config.sites[0]
    hosts = {host.name: host for host in site.hosts}
    a100 = [hosts["dca-gpu-a100-1"], hosts["dca-gpu-a100-2"]]
    return a100, site.hosts_with_role("storage")


def test_the_nic_of_s3_traffic_is_the_fastest_plain_one(dc_a):
    a100, storage = dc_a
    # 25 GbE ens1f0 beside two 200 Gb/s InfiniBand (RDMA) links: S3 goes over TCP.
    assert client_nic_gbps(a100[0]) == 25
    # 25 GbE and 100 GbE: the faster.
    assert client_nic_gbps(storage[0]) == 100
    rdma_only = a100[0].model_copy(update={"nics": [Nic(name="ib0", speed_gbps=200, rdma=True)]})
    assert client_nic_gbps(rdma_only) == 200
    assert client_nic_gbps(a100[0].model_copy(update={"nics": []})) is None


def test_weights_are_parameters_times_bytes_per_parameter():
    assert weights_bytes("DeepSeek-R1-Distill-Qwen-32B", "bf16") == 65_600_000_000
    assert weights_bytes("DeepSeek-R1", "fp8") == 671_000_000_000


def test_qwen_32b_on_dc_a_is_bound_by_the_gpu_hosts_25_gbe(dc_a):
    a100, storage = dc_a
    estimate = load_estimate(LoadInputs("DeepSeek-R1-Distill-Qwen-32B", "bf16", a100, storage))
    # 65.6 GB; two hosts share the storage host's 100 Gb/s (50 each), the A100 hosts' own
    # 25 GbE is lower: 65.6e9 * 8 / 25e9 = 20.99 s. Warm: 65.6 / 3 GB/s = 21.87 s.
    assert estimate["weightsGB"] == 65.6
    assert estimate["coldLoadSeconds"] == 21.0
    assert estimate["warmLoadSeconds"] == 21.9
    inputs = estimate["inputs"]
    assert inputs["gpuHosts"] == ["dca-gpu-a100-1", "dca-gpu-a100-2"]
    assert (inputs["gpuHostNicGbps"], inputs["storageNicGbps"]) == (25, 100)
    assert (inputs["storageNicSharedBy"], inputs["coldGbps"]) == (2, 25)
    assert inputs["diskReadGBps"] == CACHE_DISK_READ_GB_PER_S == 3.0
    assert inputs["weights"] == "32.8B parameters x 2 bytes (bf16)"
    guide = estimate["guide"]
    assert (guide["modelGB"], guide["nfsSeconds"], guide["alluxioCacheSeconds"]) == (100, 127, 42)
    # The guide's 100 GB model here: 100e9 * 8 / 25e9 = 32 s cold, 100 / 3 = 33.3 s warm.
    assert guide["here"] == {"coldLoadSeconds": 32.0, "warmLoadSeconds": 33.3}


def test_many_hosts_filling_at_once_share_the_storage_hosts_nic(dc_a):
    a100, storage = dc_a
    eight = [a100[0].model_copy(update={"name": f"gpu-{i}"}) for i in range(8)]
    estimate = load_estimate(LoadInputs("DeepSeek-R1-Distill-Qwen-32B", "bf16", eight, storage))
    # 100 Gb/s / 8 = 12.5 Gb/s each, below the hosts' 25: 65.6e9 * 8 / 12.5e9 = 41.98 s.
    assert estimate["inputs"]["coldGbps"] == 12.5
    assert estimate["coldLoadSeconds"] == 42.0
    # The warm load does not depend on the network.
    assert estimate["warmLoadSeconds"] == 21.9


def test_the_slowest_storage_host_counts(dc_a):
    a100, storage = dc_a
    slow = [storage[0].model_copy(update={"nics": [Nic(name="eth0", speed_gbps=10)]}), *storage]
    estimate = load_estimate(LoadInputs("DeepSeek-R1-Distill-Qwen-32B", "bf16", a100, slow))
    # RGW's virtual IP may sit on the 10 GbE host: 10 / 2 = 5 Gb/s: 65.6e9 * 8 / 5e9 = 104.96 s.
    assert estimate["inputs"]["storageNicGbps"] == 10
    assert estimate["coldLoadSeconds"] == 105.0


def test_an_external_store_is_bound_by_the_gpu_hosts_only(dc_a):
    a100, _ = dc_a
    estimate = load_estimate(LoadInputs("DeepSeek-R1-Distill-Qwen-32B", "bf16", a100, []))
    assert estimate["coldLoadSeconds"] == 21.0
    assert estimate["inputs"]["storageNicGbps"] is None
    assert estimate["inputs"]["storageNicSharedBy"] is None
    assert "external store" in estimate["inputs"]["cold"]


def test_without_any_nic_in_config_the_cold_load_is_unknown(dc_a):
    a100, _ = dc_a
    bare = [host.model_copy(update={"nics": []}) for host in a100]
    estimate = load_estimate(LoadInputs("DeepSeek-R1-Distill-Qwen-32B", "bf16", bare, []))
    assert estimate["coldLoadSeconds"] is None
    assert estimate["guide"]["here"]["coldLoadSeconds"] is None
    assert estimate["warmLoadSeconds"] == 21.9


def test_a_stated_disk_speed_replaces_the_default(dc_a):
    a100, storage = dc_a
    estimate = load_estimate(LoadInputs("DeepSeek-R1", "fp8", a100, storage, disk_gb_per_s=6.0))
    # 671 GB at 6 GB/s: 111.8 s; cold at 25 Gb/s: 671e9 * 8 / 25e9 = 214.72 s.
    assert (estimate["warmLoadSeconds"], estimate["coldLoadSeconds"]) == (111.8, 214.7)

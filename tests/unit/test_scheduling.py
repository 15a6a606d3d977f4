"""Where a pod could run, from config alone (components/kubernetes/scheduling.py), and the
training example built on it: the MPIJob's `-np`, image and out-of-memory options come from
config, and a job no host can run is said with the hosts it would need."""

import pytest

from components.config import GpuSharing, Kubernetes, TrainingExample
from components.kubernetes.scheduling import gpu_resources, site_nodes, unschedulable, why_not
from components.kubernetes.training_operator import mpijob_spec, training_job_unschedulable
from components.stack_config import validate_config
from tests.stacks import raw_stack_config


@pytest.fixture(scope="module")
def prod():
    return validate_config(raw_stack_config("prod"), "prod")


def _with_training_hosts(prod, count: int):
    """dc-a with `count` of its A100 hosts moved to the training pool."""
    site = prod.sites[0]
    moved, hosts = 0, []
    for host in site.hosts:
        if host.gpu and host.gpu.model == "A100-80GB" and moved < count:
            host = host.model_copy(update={"node_pool": "training"})
            moved += 1
        hosts.append(host)
    return site.model_copy(update={"hosts": hosts})


def _worker(spec: dict) -> dict:
    return spec["mpiReplicaSpecs"]["Worker"]["template"]["spec"]


def _launcher_command(spec: dict) -> list[str]:
    (container,) = spec["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"]
    return container["command"]


@pytest.mark.parametrize(("workers", "slots"), [(3, 8), (2, 4), (5, 1)])
def test_np_is_workers_times_slots(prod, workers, slots):
    kubernetes = prod.kubernetes.model_copy(
        update={
            "training_example": TrainingExample(
                enabled=True, workers=workers, slots_per_worker=slots, image="deepseek/train:1"
            )
        }
    )
    spec = mpijob_spec(kubernetes, prod.mirrors, "de-fra")
    command = _launcher_command(spec)
    assert command[command.index("-np") + 1] == str(workers * slots)
    assert spec["slotsPerWorker"] == slots
    assert spec["mpiReplicaSpecs"]["Worker"]["replicas"] == workers
    (worker,) = _worker(spec)["containers"]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == str(slots)


def test_the_guide_job_by_default_is_three_eight_gpu_workers_np_24():
    example = TrainingExample(enabled=True, image="deepseek/train:1")
    assert (example.workers, example.slots_per_worker) == (3, 8)


def test_image_comes_from_the_internal_registry(prod):
    kubernetes = prod.kubernetes
    spec = mpijob_spec(kubernetes, prod.mirrors, "de-fra")
    for role in ("Launcher", "Worker"):
        (container,) = spec["mpiReplicaSpecs"][role]["template"]["spec"]["containers"]
        assert container["image"] == (
            f"{prod.mirrors.image_registry}/{kubernetes.training_example.image}"
        )


@pytest.mark.parametrize(
    ("checkpointing", "precision", "flags"),
    [
        (False, "off", []),
        (True, "off", ["--gradient-checkpointing"]),
        (False, "fp16", ["--amp-dtype", "fp16"]),
        (True, "bf16", ["--gradient-checkpointing", "--amp-dtype", "bf16"]),
    ],
)
def test_out_of_memory_options_reach_the_entrypoint(prod, checkpointing, precision, flags):
    example = TrainingExample(
        enabled=True,
        image="deepseek/train:1",
        gradient_checkpointing=checkpointing,
        mixed_precision=precision,
    )
    kubernetes = prod.kubernetes.model_copy(update={"training_example": example})
    command = _launcher_command(mpijob_spec(kubernetes, prod.mirrors, "de-fra"))
    entrypoint = command[command.index("train.py") + 1 :]
    assert entrypoint == flags


def test_prod_training_job_fits_no_host_and_names_the_candidates(prod):
    site = prod.sites[0]
    message = training_job_unschedulable(prod.kubernetes, prod.mirrors, site)
    assert message is not None
    assert "deepseek.bank/node-pool=training" in message
    assert "dca-gpu-a100-1" in message and "dca-gpu-a100-2" in message
    # V100 hosts hold 4 GPUs: never candidates for an 8-GPU worker.
    assert "candidates" in message and "dca-gpu-v100-1" not in message.split("candidates")[1]


def test_training_hosts_enough_for_every_worker_make_it_schedulable(prod):
    workers = prod.kubernetes.training_example.workers
    kubernetes = prod.kubernetes
    assert training_job_unschedulable(kubernetes, prod.mirrors, _with_training_hosts(prod, 2))
    fewer = kubernetes.model_copy(
        update={"training_example": kubernetes.training_example.model_copy(update={"workers": 2})}
    )
    assert workers == 3
    assert training_job_unschedulable(fewer, prod.mirrors, _with_training_hosts(prod, 2)) is None


def test_selector_affinity_taint_and_gpus_each_rule_a_node_out(prod):
    site = prod.sites[0]
    (node,) = [n for n in site_nodes(site, prod.kubernetes) if n.name == "dca-gpu-a100-1"]
    gpu_toleration = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    fits = {
        "tolerations": gpu_toleration,
        "containers": [{"resources": {"limits": {"nvidia.com/gpu": "8"}}}],
    }
    assert why_not(fits, node) == []
    assert why_not({**fits, "tolerations": []}, node)
    assert why_not({**fits, "nodeSelector": {"deepseek.bank/node-pool": "training"}}, node)
    assert why_not(
        {**fits, "containers": [{"resources": {"limits": {"nvidia.com/gpu": "9"}}}]}, node
    )
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "deepseek.bank/site", "operator": "In", "values": ["dc-b"]}
                        ]
                    }
                ]
            }
        }
    }
    assert why_not({**fits, "affinity": affinity}, node)
    assert unschedulable("job", {**fits, "tolerations": []}, 1, site, [node])


def test_device_plugin_resources_follow_the_sharing_profile(prod):
    host = next(h for h in prod.sites[0].hosts if h.gpu and h.gpu.model == "A100-80GB")
    for profile, expected in [
        (GpuSharing(mode="exclusive"), {"nvidia.com/gpu": 8}),
        (GpuSharing(mode="time-slicing", replicas=4), {"nvidia.com/gpu": 32}),
        (GpuSharing(mode="mig", mig_profile="all-3g.40gb"), {"nvidia.com/mig-3g.40gb": 16}),
        (GpuSharing(mode="mig", mig_profile="all-1g.10gb"), {"nvidia.com/mig-1g.10gb": 56}),
    ]:
        kubernetes = Kubernetes(gpu_sharing={"A100-80GB": profile})
        assert gpu_resources(kubernetes, host) == expected

"""The training example in prod's recorded graph: `-np` is workers × slots from config, the
image is the internal registry's, the out-of-memory options reach the entrypoint, and preview
warns at each site that no host can run its workers, naming the hosts it would need."""

import pytest

MPIJOB = "kubernetes:kubeflow.org/v1:MPIJob"


def _jobs(graph):
    return {job.name: job.inputs["spec"] for job in graph.by_type(MPIJOB)}


def test_np_image_and_options_come_from_config(prod_graph, prod_config):
    example = prod_config.kubernetes.training_example
    jobs = _jobs(prod_graph)
    assert len(jobs) == 2
    for spec in jobs.values():
        (launcher,) = spec["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"]
        command = launcher["command"]
        assert command[command.index("-np") + 1] == str(example.workers * example.slots_per_worker)
        assert spec["mpiReplicaSpecs"]["Worker"]["replicas"] == example.workers
        assert spec["slotsPerWorker"] == example.slots_per_worker
        image = f"{prod_config.mirrors.image_registry}/{example.image}"
        (worker,) = spec["mpiReplicaSpecs"]["Worker"]["template"]["spec"]["containers"]
        assert launcher["image"] == worker["image"] == image
        assert command[command.index("train.py") + 1 :] == [
            "--gradient-checkpointing",
            "--amp-dtype",
            example.mixed_precision,
        ]
    # prod is the guide's job: three 8-GPU workers, 24 ranks.
    assert (example.workers, example.slots_per_worker) == (3, 8)


@pytest.mark.parametrize("site", ["dc-a", "dc-b"])
def test_preview_warns_that_no_prod_host_can_run_the_workers(prod_graph, site):
    prefix = site.replace("-", "")
    (warning,) = [
        message
        for severity, message in prod_graph.diagnostics
        if severity == "warning" and f"deepseek-train's workers at site {site}" in message
    ]
    assert "deepseek.bank/node-pool=training" in warning
    candidates = warning.split("candidates with the GPUs: ")[1]
    assert candidates.startswith(f"{prefix}-gpu-a100-1, {prefix}-gpu-a100-2, and 1 more")
    assert (
        f"{prefix}-gpu-v100-1: deepseek.bank/node-pool=inference, nvidia.com/gpu 4 < 8" in warning
    )


def test_dr_has_no_training_warning(dr_graph):
    assert not any("deepseek-train" in message for _, message in dr_graph.diagnostics)

"""Whether a site still places every model's replicas at rest (canaries included) while some of
its hosts are out (drained for a change): the serving layer's answer to how much a rolling
change may take away from a site. Pure; the packing is `capacity.pack`, as at preview."""

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from components.config import Site
from components.serving.capacity import ServingPlan, _pool, pack


@dataclass(frozen=True)
class HeadroomProblem:
    """One model whose replicas at rest no longer fit the site's remaining hosts."""

    model: str
    """The deployment's name (`models[].name`)."""
    gpu_model: str
    needed: int
    """Device-plugin units the replicas at rest of every model on that GPU model ask for."""
    left: int
    """Units the inference hosts of that GPU model that stay in offer."""
    missing: str
    """What is missing, in one sentence."""


def headroom_problems(
    site: Site, serving: Mapping[str, ServingPlan], out: Collection[str]
) -> list[HeadroomProblem]:
    """With the hosts named in `out` drained, the models of `serving` (the site's plans) whose
    replicas at rest, canaries included, no longer pack onto the inference hosts left."""
    remaining = site.model_copy(update={"hosts": [h for h in site.hosts if h.name not in out]})
    problems = []
    for gpu_model in sorted({plan.deployment.gpu_model for plan in serving.values()}):
        members = [p for p in serving.values() if p.deployment.gpu_model == gpu_model]
        per_gpu = members[0].share.per_gpu
        hosts = [count * per_gpu for count in _pool(remaining, gpu_model)]
        pods = [p.units_per_replica for p in members for _ in range(p.replicas + p.canary_replicas)]
        if pack(pods, hosts):
            continue
        resource = members[0].share.resource
        for plan in members:
            at_rest = plan.replicas + plan.canary_replicas
            canary = f" ({plan.canary_replicas} canary)" if plan.canary_replicas else ""
            others = sum(pods) - at_rest * plan.units_per_replica
            beside = f" beside the {others} of other models" if others else ""
            problems.append(
                HeadroomProblem(
                    plan.deployment.name,
                    gpu_model,
                    sum(pods),
                    sum(hosts),
                    f"{plan.deployment.name} needs {at_rest} replicas at rest{canary} × "
                    f"{plan.units_per_replica} {resource}{beside}; "
                    + _left(site.name, gpu_model, hosts),
                )
            )
    return problems


def _left(site: str, gpu_model: str, hosts: list[int]) -> str:
    if not hosts:
        return f"no {gpu_model} inference host is left at site {site}"
    each = ", ".join(map(str, sorted(hosts, reverse=True)))
    noun = "host is" if len(hosts) == 1 else "hosts are"
    return f"{len(hosts)} {gpu_model} {noun} left at site {site}, offering {sum(hosts)} ({each})"

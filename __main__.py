"""deepseek-onprem: load and validate the stack config, plan, build the platform, export."""

import pulumi

from components.cost import idle_gpu_warnings, stack_cost
from components.plan import make_plan
from components.platform import Platform, PlatformArgs
from components.stack_config import load_stack_config
from components.storage.capacity import site_capacity
from components.storage.protection import audit
from components.storage.protection import gaps as protection_gaps

config, secrets = load_stack_config()
# Everything derived from the config (hosts by role, serving plans, capacities, cost inputs),
# computed once; validation has refused any config whose plan has problems.
plan = make_plan(config)
platform = Platform("deepseek", PlatformArgs(config, plan, secrets))

pulumi.export("sites", platform.site_summaries)
pulumi.export("jurisdictions", list(plan.jurisdictions))
# Secret: `pulumi stack output kubeconfigs --show-secrets` for break-glass access.
pulumi.export(
    "kubeconfigs", {name: site.cluster.kubeconfig for name, site in platform.sites.items()}
)
# Per site and model: replicas at rest and at most, the throughput estimate, and the
# Services with the share of traffic the gateway sends to each (canaries).
pulumi.export(
    "serving",
    {name: site.serving.models for name, site in platform.sites.items() if site.serving},
)
# Per site: the gateway's address and names, for the bank's DNS (the global name resolves to
# every active site's address).
pulumi.export(
    "gateways",
    {
        name: {"address": site.gateway.address, "hostnames": site.gateway.hostnames}
        for name, site in platform.sites.items()
        if site.gateway
    },
)
# Estimated monthly cost: energy at the sites' PUE and amortized hardware (config `cost`).
pulumi.export("cost", stack_cost(plan, config.cost))
# GPUs bought and powered that no model is placed on: not an error (a site may hold spares,
# or GPUs for a model to come), but never silent.
for warning in idle_gpu_warnings(plan, config.cost):
    pulumi.log.warn(warning)
# The data layer's numbers per site (Ceph usable vs planned, with the arithmetic) and the
# 3-2-1 audit: every dataset with its copies; validation refused the shortfalls the stack's
# settings can close, the ones waiting for a part not built yet are warned about.
pulumi.export(
    "storageCapacity",
    {site.name: c.output() for site in config.sites if (c := site_capacity(config, site))},
)
data_protection = audit(config)
pulumi.export("dataProtection", [dataset.output() for dataset in data_protection])
for warning in protection_gaps(data_protection):
    pulumi.log.warn(warning)
if platform.replication_source_sites is not None:
    pulumi.export("replicationSourceSites", platform.replication_source_sites)

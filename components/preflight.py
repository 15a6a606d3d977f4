"""Inventory preflight: the rules that compare fields of a valid config, as Kubespray's do.

Pure functions over `PlatformConfig`; each problem is a `ConfigIssue` naming the path, the
value and the fix. Nothing here talks to Pulumi.
"""

import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pulumi

from components.catalog import (
    GPU_MODELS,
    TRITON_CUDA13_MIN_COMPUTE_CAPABILITY,
    VOLTA_LAST_TRITON_RELEASE,
    known_gpu_models,
    triton_supports,
)
from components.config import (
    PROJECT,
    PlatformConfig,
    Site,
    inside_domains,
    public_registry,
    url_host,
)
from components.serving.capacity import gpu_share, plan_site
from components.serving.sizing import Placement, check_placement, ways_out


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in the stack config."""

    path: str
    """Where it is, e.g. `sites[1].hosts[4].address`."""
    value: Any
    problem: str
    fix: str

    def render(self) -> str:
        return f"{self.path} = {self.value!r}: {self.problem}\n    fix: {self.fix}"


class ConfigError(pulumi.RunError):
    """The stack config is invalid. A `RunError`, so `pulumi up` prints the message
    without a Python traceback and registers nothing."""

    def __init__(self, stack: str, issues: list[ConfigIssue]):
        self.issues = issues
        noun = "problem" if len(issues) == 1 else "problems"
        lines = [
            f"stack '{stack}': the configuration has {len(issues)} {noun}; nothing was deployed.",
            *(f"  {issue.render()}" for issue in issues),
        ]
        super().__init__("\n".join(lines))


def check_inventory(config: PlatformConfig) -> list[ConfigIssue]:
    """Every cross-field problem of a config that passed the per-field checks."""
    return [
        *_duplicate_names_and_addresses(config),
        *_internal_hosts(config),
        *_kubernetes_repository(config),
        *_site_rules(config),
        *_cross_site_networks(config),
        *_stack_shape(config),
        *_gpu_sharing(config),
        *_gateway_rules(config),
        *_model_stores(config),
        *(placements := list(_model_placements(config))),
        # Counting replicas is only meaningful once every placement runs and fits.
        *(_site_capacity(config) if not placements else []),
    ]


def check_stack_reference(config: PlatformConfig, stack: str) -> list[ConfigIssue]:
    """`replication.sourceStack` must name another stack of this project: a reference to
    the stack itself would wait on its own outputs, and one to another project's stack
    would replicate data the program knows nothing about."""
    if config.replication is None:
        return []
    reference = config.replication.source_stack
    organization, project, source = reference.split("/")
    if project != PROJECT:
        return [
            ConfigIssue(
                "replication.sourceStack",
                reference,
                f"names a stack of project {project!r}, not of {PROJECT!r}: a DR stack "
                "receives the data of this project's active stack",
                f"name this project's source stack, e.g. {organization}/{PROJECT}/prod",
            )
        ]
    if source == stack:
        return [
            ConfigIssue(
                "replication.sourceStack",
                reference,
                f"names stack {stack!r} itself: a stack cannot replicate from its own outputs",
                f"name the active stack this DR stack receives data from, e.g. "
                f"{organization}/{PROJECT}/prod",
            )
        ]
    return []


# An in-cluster Service: `<service>.<namespace>.svc[.cluster.local]`.
_CLUSTER_SERVICE = re.compile(r"[a-z0-9-]+\.[a-z0-9-]+\.svc(\.cluster\.local)?")


def _internal_hosts(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """Everything pulled from outside the cluster (packages, images, charts, weights, signing
    keys) comes from a host inside `mirrors.internalDomains`: an allow-list, since a list of
    public names to refuse would let any other public host through."""
    domains = list(config.mirrors.internal_domains)
    sources: list[tuple[str, str, str]] = [
        ("mirrors.imageRegistry", config.mirrors.image_registry, "image registry"),
        ("mirrors.chartRepository", config.mirrors.chart_repository, "chart repository"),
        ("mirrors.aptMirror", config.mirrors.apt_mirror, "package mirror"),
        ("mirrors.kubernetesAptRepo", config.mirrors.kubernetes_apt_repo, "package mirror"),
    ]
    for s, site in enumerate(config.sites):
        if site.model_store is not None:
            sources.append(
                (f"sites[{s}].modelStore.endpoint", site.model_store.endpoint, "object store")
            )
    if config.gateway is not None:
        idp = config.gateway.identity_provider
        sources.append(("gateway.identityProvider.issuer", idp.issuer, "identity provider"))
        sources.append(("gateway.identityProvider.jwksUri", idp.jwks_uri, "identity provider"))
    prometheus = url_host(config.serving.prometheus_url)
    if not _CLUSTER_SERVICE.fullmatch(prometheus):
        sources.append(("serving.prometheusUrl", config.serving.prometheus_url, "Prometheus"))

    allowed = ", ".join(domains)
    for path, url, what in sources:
        host = url_host(url)
        if inside_domains(host, domains):
            continue
        public = f", and it is a public {what}" if public_registry(host) else ""
        yield ConfigIssue(
            path,
            url,
            f"host {host} is not inside the internal domains ({allowed}, "
            f"mirrors.internalDomains){public}",
            f"name the bank's internal {what} (a host under {allowed}); add a domain to "
            "mirrors.internalDomains only if the bank runs it",
        )


# The Kubernetes package repositories (pkgs.k8s.io and its mirrors) hold one minor version
# each, named in the path: `.../core/stable/v1.31/deb/`.
_REPOSITORY_MINOR = re.compile(r"/v(1\.[0-9]+)(/|$)")


def _kubernetes_repository(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """The pinned version must be in the repository the hosts install it from, or every
    kubeadm step fails on its first `apt-get install kubelet=<version>-*`."""
    repository = config.mirrors.kubernetes_apt_repo
    named = _REPOSITORY_MINOR.search(repository)
    version = config.kubernetes.version
    minor = ".".join(version.split(".")[:2])
    if named and named.group(1) != minor:
        yield ConfigIssue(
            "mirrors.kubernetesAptRepo",
            repository,
            f"holds Kubernetes v{named.group(1)} packages, but kubernetes.version is {version}",
            f"point it at the v{minor} repository "
            f"({repository[: named.start(1)]}{minor}{repository[named.end(1) :]}), "
            f"or pin a v{named.group(1)}.x version",
        )


def _duplicate_names_and_addresses(config: PlatformConfig) -> Iterator[ConfigIssue]:
    first_site: dict[str, int] = {}
    for s, site in enumerate(config.sites):
        if site.name in first_site:
            yield ConfigIssue(
                f"sites[{s}].name",
                site.name,
                f"site name already used by sites[{first_site[site.name]}]",
                "give every site a unique name",
            )
        first_site.setdefault(site.name, s)

    names: dict[str, str] = {}
    addresses: dict[str, str] = {}
    for s, site in enumerate(config.sites):
        vip_path = f"sites[{s}].network.apiVip"
        addresses.setdefault(str(site.network.api_vip), vip_path)
        for h, host in enumerate(site.hosts):
            path = f"sites[{s}].hosts[{h}]"
            if host.name in names:
                yield ConfigIssue(
                    f"{path}.name",
                    host.name,
                    f"host name already used by {names[host.name]}",
                    "give every host a unique name across all sites",
                )
            names.setdefault(host.name, path)
            for field, address in (("address", host.address),) + (
                (("bmc.address", host.bmc.address),) if host.bmc else ()
            ):
                key = str(address)
                if key in addresses:
                    yield ConfigIssue(
                        f"{path}.{field}",
                        key,
                        f"address already used by {addresses[key]}",
                        "give every host, BMC and API VIP its own address",
                    )
                addresses.setdefault(key, f"{path}.{field}")


def _site_rules(config: PlatformConfig) -> Iterator[ConfigIssue]:
    for s, site in enumerate(config.sites):
        yield from _site_networks(s, site)
        yield from _site_roles(s, site)


def _site_networks(s: int, site: Site) -> Iterator[ConfigIssue]:
    net = site.network
    base = f"sites[{s}].network"
    cidrs = {"nodeCidr": net.node_cidr, "podCidr": net.pod_cidr, "serviceCidr": net.service_cidr}
    names = list(cidrs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if cidrs[a].overlaps(cidrs[b]):
                yield ConfigIssue(
                    f"{base}.{b}",
                    str(cidrs[b]),
                    f"overlaps {base}.{a} ({cidrs[a]})",
                    "node, pod and service networks must be disjoint; pick a free range",
                )
    if net.pod_cidr.prefixlen > 22:
        yield ConfigIssue(
            f"{base}.podCidr",
            str(net.pod_cidr),
            "too small: each node takes a /24 from the pod network",
            "use a /22 or larger (a /16 is usual)",
        )
    for cidr_name in ("podCidr", "serviceCidr"):
        if net.api_vip in cidrs[cidr_name]:
            yield ConfigIssue(
                f"{base}.apiVip",
                str(net.api_vip),
                f"is inside {base}.{cidr_name} ({cidrs[cidr_name]})",
                "put the API VIP in the node network, outside pod and service ranges",
            )
    if net.api_vip not in net.node_cidr:
        yield ConfigIssue(
            f"{base}.apiVip",
            str(net.api_vip),
            f"is outside the node network {net.node_cidr}",
            "kube-vip announces the VIP on the node network: pick a free address there",
        )
    for h, host in enumerate(site.hosts):
        if host.address not in net.node_cidr:
            yield ConfigIssue(
                f"sites[{s}].hosts[{h}].address",
                str(host.address),
                f"is outside the site's node network {net.node_cidr} ({base}.nodeCidr)",
                f"give the host an address in {net.node_cidr}, or widen nodeCidr",
            )
    for e, cidr in enumerate(net.egress_allow_list):
        for cidr_name in ("podCidr", "serviceCidr"):
            if cidr.overlaps(cidrs[cidr_name]):
                yield ConfigIssue(
                    f"{base}.egressAllowList[{e}]",
                    str(cidr),
                    f"overlaps {base}.{cidr_name}; in-cluster traffic is governed by "
                    "NetworkPolicy, not the egress allow-list",
                    "list only destinations outside the cluster",
                )


def _site_roles(s: int, site: Site) -> Iterator[ConfigIssue]:
    control_planes = site.hosts_with_role("control-plane")
    if len(control_planes) % 2 == 0:
        yield ConfigIssue(
            f"sites[{s}].hosts",
            f"{len(control_planes)} control-plane hosts",
            "etcd needs an odd number of members to keep quorum",
            "give the site 1, 3 or 5 hosts with role control-plane (3 for HA)",
        )
    storage = site.hosts_with_role("storage")
    if len(storage) < 3:
        yield ConfigIssue(
            f"sites[{s}].hosts",
            f"{len(storage)} storage hosts",
            "Ceph keeps 3 replicas on 3 different hosts",
            "give the site at least 3 hosts with role storage",
        )
    if not site.hosts_with_role("worker"):
        yield ConfigIssue(
            f"sites[{s}].hosts",
            "0 worker hosts",
            "nothing could run the models",
            "give the site at least one host with role worker",
        )
    for h, host in enumerate(site.hosts):
        if host.node_pool != "general" and host.gpu is None:
            yield ConfigIssue(
                f"sites[{s}].hosts[{h}].gpu",
                None,
                f"host {host.name} is in node pool {host.node_pool}, which needs GPUs",
                "declare the host's gpu (model and count), or set nodePool: general",
            )
        if host.gpu and "worker" not in host.roles:
            yield ConfigIssue(
                f"sites[{s}].hosts[{h}].roles",
                list(host.roles),
                "the host declares GPUs but no worker role, so no model could use them",
                "add role worker, or remove the gpu entry",
            )


def _cross_site_networks(config: PlatformConfig) -> Iterator[ConfigIssue]:
    # Sites are routed together over the SDN fabric: their node, pod and service ranges
    # must not collide or cross-site replication and failover traffic is misrouted.
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for s, site in enumerate(config.sites):
        net = site.network
        for name, cidr in (
            ("nodeCidr", net.node_cidr),
            ("podCidr", net.pod_cidr),
            ("serviceCidr", net.service_cidr),
        ):
            path = f"sites[{s}].network.{name}"
            for other_path, other in seen:
                if cidr.overlaps(other) and not other_path.startswith(f"sites[{s}]."):
                    yield ConfigIssue(
                        path,
                        str(cidr),
                        f"overlaps {other_path} ({other}); the sites are routed together",
                        "give each site its own node, pod and service ranges",
                    )
            seen.append((path, cidr))


def _stack_shape(config: PlatformConfig) -> Iterator[ConfigIssue]:
    roles = defaultdict(list)
    for s, site in enumerate(config.sites):
        roles[site.role].append(s)
    if roles["active"] and roles["dr"]:
        yield ConfigIssue(
            f"sites[{roles['dr'][0]}].role",
            "dr",
            "a stack holds either the active sites or the DR site, not both",
            "move the DR site to its own stack (Pulumi.dr.yaml)",
        )
    if len(roles["active"]) == 1:
        yield ConfigIssue(
            "sites",
            "1 active site",
            "active-active needs two sites that can each carry the full load",
            "add a second active site, or mark the stack's site as role dr",
        )
    if roles["dr"] and config.replication is None:
        yield ConfigIssue(
            "replication",
            None,
            "a DR stack must name the stack it receives backups and replicas from",
            "set replication.sourceStack, e.g. organization/deepseek-onprem/prod",
        )
    if roles["active"] and not roles["dr"] and config.replication is not None:
        yield ConfigIssue(
            "replication",
            config.replication.source_stack,
            "only a DR stack replicates from another stack",
            "remove replication from this stack",
        )


def _gpu_sharing(config: PlatformConfig) -> Iterator[ConfigIssue]:
    profiles = config.kubernetes.gpu_sharing
    for model, profile in profiles.items():
        path = f"kubernetes.gpuSharing.{model}"
        if model not in GPU_MODELS:
            yield ConfigIssue(path, model, "unknown GPU model", f"use one of {known_gpu_models()}")
        elif profile.mode == "mig" and GPU_MODELS[model].compute_capability < (8, 0):
            yield ConfigIssue(
                f"{path}.mode",
                "mig",
                f"{model} has no MIG (Ampere or newer only)",
                "use mode time-slicing",
            )
        elif profile.mode == "mig" and profile.mig_profile is None:
            yield ConfigIssue(
                f"{path}.migProfile",
                None,
                "mode mig needs a MIG profile",
                "set migProfile, e.g. all-3g.40gb",
            )
    for s, site in enumerate(config.sites):
        for h, host in enumerate(site.hosts):
            if host.gpu and host.gpu.model not in profiles:
                yield ConfigIssue(
                    f"sites[{s}].hosts[{h}].gpu.model",
                    host.gpu.model,
                    f"host {host.name} has {host.gpu.model} GPUs but kubernetes.gpuSharing has "
                    "no device-plugin profile for that model",
                    f"add kubernetes.gpuSharing.{host.gpu.model} (mode time-slicing, mig or "
                    "exclusive)",
                )
                return


def _model_placements(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """Each model must run and fit on its GPUs at every site that serves it (all sites of
    the stack: the active ones each carry the full load, the DR site takes it over)."""
    for m, deployment in enumerate(config.models):
        release = deployment.triton_release or config.serving.triton_release
        if not triton_supports(release, deployment.gpu_model):
            path = (
                f"models[{m}].tritonRelease"
                if deployment.triton_release
                else ("serving.tritonRelease")
            )
            yield ConfigIssue(
                path,
                release,
                f"Triton {release} supports compute capability "
                f"{'.'.join(map(str, TRITON_CUDA13_MIN_COMPUTE_CAPABILITY))}+ and "
                f"{deployment.name} runs on {deployment.gpu_model} "
                f"({'.'.join(map(str, GPU_MODELS[deployment.gpu_model].compute_capability))})",
                f"set models[{m}].tritonRelease to {VOLTA_LAST_TRITON_RELEASE} or earlier, "
                "the last release built for Volta",
            )
        share = gpu_share(config.kubernetes, deployment.gpu_model)
        if share.splits_a_gpu and deployment.tensor_parallel_size > 1:
            yield ConfigIssue(
                f"models[{m}].tensorParallelSize",
                deployment.tensor_parallel_size,
                f"{deployment.gpu_model} GPUs are shared ({share.mode}, {share.resource}): "
                + (
                    "a pod asking for several shares may get parts of one GPU"
                    if share.mode == "time-slicing"
                    else "NCCL cannot span MIG instances"
                ),
                f"set kubernetes.gpuSharing.{deployment.gpu_model}.mode to exclusive, or "
                "serve the model with tensorParallelSize 1",
            )
        placement = Placement(
            deployment.model,
            deployment.precision,
            deployment.gpu_model,
            deployment.tensor_parallel_size,
            deployment.hosts_per_replica,
            deployment.max_model_len,
            deployment.max_concurrent_sequences,
            deployment.gpu_memory_utilization,
            None if share.mode == "exclusive" else share.memory_gib,
        )
        for site in config.sites:
            hosts = [
                h
                for h in site.hosts
                if h.gpu and h.gpu.model == deployment.gpu_model and h.node_pool == "inference"
            ]
            if not hosts:
                yield ConfigIssue(
                    f"models[{m}].gpuModel",
                    deployment.gpu_model,
                    f"site {site.name} has no inference host with {deployment.gpu_model} GPUs",
                    "place the model on a GPU model the site's inference pool has",
                )
                continue
            gpus_per_host = min(h.gpu.count for h in hosts)
            rdma = all(h.rdma for h in hosts)
            if deployment.hosts_per_replica > 1:
                one_host = ways_out(placement, gpus_per_host, len(hosts), rdma=False)
                yield ConfigIssue(
                    f"models[{m}].hostsPerReplica",
                    deployment.hosts_per_replica,
                    f"at site {site.name}: the sizing allows a replica across hosts, but the "
                    "serving layer deploys each replica as one pod on one host (multi-host "
                    "replicas need a LeaderWorkerSet, Ray and RDMA device access, not built)",
                    f"use {' or '.join(one_host[:2])} with hostsPerReplica: 1"
                    if one_host
                    else "place the model on GPUs where one host holds a replica",
                )
                continue
            # The serving layer deploys a replica on one host: suggest only such placements.
            for problem in check_placement(
                placement, gpus_per_host, len(hosts), rdma, suggest_multi_host=False
            ):
                yield ConfigIssue(
                    f"models[{m}]",
                    deployment.name,
                    f"at site {site.name}: {problem.message}",
                    problem.remedy,
                )


def _model_stores(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """Every site that serves models fetches weights from a store inside the site."""
    if not config.models:
        return
    for s, site in enumerate(config.sites):
        if site.model_store is None:
            yield ConfigIssue(
                f"sites[{s}].modelStore",
                "(not set)",
                f"site {site.name} serves models but names no model store to fetch weights from",
                "set modelStore.endpoint to the site's own S3 endpoint (Ceph RGW)",
            )
        else:
            allowed = [site.network.node_cidr, *site.network.egress_allow_list]
            for n, network in enumerate(site.model_store.networks):
                if not any(network.subnet_of(a) for a in allowed):
                    yield ConfigIssue(
                        f"sites[{s}].modelStore.networks[{n}]",
                        str(network),
                        f"is neither in site {site.name}'s node network nor on its egress "
                        "allow-list: weights would come from outside the site",
                        "name the site's own RGW network, or add it to network.egressAllowList",
                    )


def _site_capacity(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """Replicas of all models fit each site's GPUs together, and every active site carries
    the whole declared load alone."""
    if not config.models:
        return
    active = sum(1 for site in config.sites if site.role == "active")
    reported: set[tuple[int, str, str]] = set()
    for site in config.sites:
        _, problems = plan_site(site, config.models, config.kubernetes, active)
        for p in problems:
            if (p.index, p.field, p.problem) in reported:
                continue  # the same at every site: say it once
            reported.add((p.index, p.field, p.problem))
            yield ConfigIssue(
                f"models[{p.index}].{p.field}" if p.field else f"models[{p.index}]",
                p.value if p.value is not None else "(default)",
                p.problem,
                p.fix,
            )


def _gateway_rules(config: PlatformConfig) -> Iterator[ConfigIssue]:
    """The gateway is the only way in: it must exist when models are served, have an
    address at every site, and reach only networks the site allows."""
    gateway = config.gateway
    if gateway is None:
        if config.models:
            yield ConfigIssue(
                "gateway",
                "(not set)",
                "models are served but no gateway authenticates the callers",
                "add deepseek-onprem:gateway (hostname, identityProvider, clientNetworks, "
                "caCertificate)",
            )
        return
    names_seen: set[str] = set()
    for t, tenant in enumerate(gateway.tenants):
        if tenant.name in names_seen:
            yield ConfigIssue(
                f"gateway.tenants[{t}].name",
                tenant.name,
                "tenant listed twice",
                "give each tenant one entry with its rate limit",
            )
        names_seen.add(tenant.name)
    for s, site in enumerate(config.sites):
        net = site.network
        for network in gateway.identity_provider.networks:
            if not any(network.subnet_of(a) for a in net.egress_allow_list):
                yield ConfigIssue(
                    "gateway.identityProvider.networks",
                    str(network),
                    f"is not on site {site.name}'s egress allow-list, so the gateway could "
                    "not fetch the provider's signing keys",
                    f"add it to sites[{s}].network.egressAllowList",
                )
        if site.role == "active":
            for peer in config.sites:
                if peer is site or peer.role != "active" or peer.load_balancer is None:
                    continue
                address = ipaddress.ip_network(f"{peer.load_balancer.gateway_address}/32")
                if not any(address.subnet_of(a) for a in net.egress_allow_list):
                    yield ConfigIssue(
                        f"sites[{s}].network.egressAllowList",
                        f"{len(net.egress_allow_list)} networks",
                        f"site {site.name}'s gateway fails over to {peer.name}'s gateway at "
                        f"{address.network_address}, which its egress allow-list does not hold",
                        f"add {peer.name}'s load-balancer pool to the list",
                    )
        lb = site.load_balancer
        path = f"sites[{s}].loadBalancer"
        if lb is None:
            yield ConfigIssue(
                path,
                "(not set)",
                f"site {site.name} has a gateway but no address for it",
                "set loadBalancer.addresses (and mode: l2, bgp or sdn)",
            )
            continue
        for a, pool in enumerate(lb.addresses):
            for field, cidr in (("podCidr", net.pod_cidr), ("serviceCidr", net.service_cidr)):
                if pool.overlaps(cidr):
                    yield ConfigIssue(
                        f"{path}.addresses[{a}]",
                        str(pool),
                        f"overlaps the site's {field} {cidr}",
                        "take load-balancer addresses from the data-center network",
                    )
            if lb.mode == "l2" and not pool.subnet_of(net.node_cidr):
                yield ConfigIssue(
                    f"{path}.addresses[{a}]",
                    str(pool),
                    f"in l2 mode MetalLB answers ARP on the node network {net.node_cidr}, "
                    "and this pool is outside it",
                    "take the pool from the node network, or use mode: bgp",
                )
            taken = [str(net.api_vip)] + [str(h.address) for h in site.hosts]
            clash = [address for address in taken if ipaddress.ip_address(address) in pool]
            if clash:
                yield ConfigIssue(
                    f"{path}.addresses[{a}]",
                    str(pool),
                    f"holds addresses already in use ({', '.join(clash)})",
                    "use a range no host and not the API VIP uses",
                )
        if lb.mode == "bgp" and (lb.local_asn is None or not lb.peers):
            yield ConfigIssue(
                path,
                lb.mode,
                "bgp mode needs the cluster's ASN and at least one router to peer with",
                "set localAsn and peers (address, asn), or use mode: l2",
            )

"""The node-local model cache of one site (`deepseek:storage:ModelCache`): the GPU hosts'
cache directory as one `local` PersistentVolume and its claim, and a fill Job per (node, model,
precision, revision) that copies the revision from the site's model store, pinned to its node
and run before the rollout that needs it. Weights cross the network once per node and
revision, not once per pod start; Triton reads the local copy (the serving layer mounts the
claim read-only). Each GPU host the volume spans gets the cache's directory first (the
model-cache-dir step over SSH)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
from pulumi_command import remote

from components import contracts
from components.config import ModelCache as ModelCacheConfig
from components.context import SiteContext
from components.remote.runner import run_script
from components.storage.model_cache_manifests import (
    CACHE_UID,
    CLAIM_NAME,
    COMPLETE_MARKER,
    CREDENTIALS_FILE,
    CREDENTIALS_SECRET,
    FILL_SCRIPT,
    SCRIPT_CONFIG_MAP,
    CachedRevision,
    claim_manifest,
    curl_credentials,
    egress_policy_spec,
    fill_job_manifest,
    fill_job_name,
    fill_seconds,
    volume_manifest,
)

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def cache_nodes(revisions: Sequence[CachedRevision]) -> tuple[str, ...]:
    """The GPU hosts the cache spans: every host that caches a served revision. The volume's
    node affinity lists exactly these, and exactly these get the cache's directory."""
    return tuple(sorted({node for revision in revisions for node in revision.nodes}))


@dataclass(frozen=True)
class CacheHost:
    """A GPU host as the cache needs it (the metal layer brings it up): how to reach it."""

    connection: remote.ConnectionArgs
    """SSH to the host."""
    last_step: pulumi.Resource
    """The host's final configuration step: its directory is made after it."""


@dataclass(frozen=True)
class ModelStoreAccess:
    """Where the fill Jobs read weights, and with which keys: the site's own Ceph RGW, or an
    external S3 store config names (`sites[].modelStore`)."""

    endpoint: pulumi.Input[str]
    """The store's URL (http://<rgwVirtualIp>:<port> for RGW)."""
    bucket: str
    access_key_id: pulumi.Output[str]
    """Secret: never a prop, only inside the fill Jobs' Secret."""
    secret_access_key: pulumi.Output[str]
    """Secret: never a prop, only inside the fill Jobs' Secret."""
    egress: Mapping[str, int]
    """CIDR → TCP port the fill pods may reach (the RGW virtual IP, or the store's networks)."""
    ready: Sequence[pulumi.Resource] = ()
    """What must exist before a fill can succeed (the RGW user and bucket)."""
    plain_http: bool = False
    """True for RGW inside the site without TLS: preview says what that means."""
    description: str = ""
    """The store in a sentence, for messages (e.g. `the site's Ceph RGW at 10.10.2.10:8080`)."""


@dataclass(frozen=True)
class ModelCacheArgs:
    """Inputs of `ModelCache`."""

    ctx: SiteContext
    cache: ModelCacheConfig
    """`storage.modelCache`: the host directory, its size, the fill image."""
    store: ModelStoreAccess
    revisions: Sequence[CachedRevision]
    """What the site serves (stable and canary revisions), each with the hosts whose pods may
    serve it: the serving layer's placement, computed by the site."""
    hosts: Mapping[str, CacheHost]
    """The site's hosts, by name: those the cache spans get its directory."""
    command_provider: pulumi.ProviderResource
    """The site's SSH provider."""


class ModelCache(pulumi.ComponentResource):
    """A site's node-local model cache (`deepseek:storage:ModelCache`)."""

    claim_name: str
    """The claim the serving pods mount read-only (in the inference namespace)."""
    complete_marker: str
    """The file inside a revision's directory that says every object is there."""
    paths: dict[tuple[str, str, str], str]
    """(model, precision, revision) → its directory inside the cache."""
    fills: dict[tuple[str, str, str], list[pulumi.Resource]]
    """(model, precision, revision) → the fill Jobs of its nodes: a rollout waits for them."""
    filled: pulumi.Output[dict]
    """`<model>/<precision>/<revision>` → the nodes that cache it and their fill Jobs."""
    nodes: pulumi.Output[list]
    """The GPU hosts the cache volume spans."""

    def __init__(
        self, name: str, args: ModelCacheArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("deepseek:storage:ModelCache", name, None, opts)
        ctx, cache, store = args.ctx, args.cache, args.store
        site = ctx.site
        nodes = cache_nodes(args.revisions)
        if not nodes:
            # The site plan places every served model: reaching here is a bug.
            raise ValueError(f"site {site.name}: no GPU host to cache the served models on")
        unknown = sorted(set(nodes) - set(args.hosts))
        if unknown:
            raise ValueError(
                f"site {site.name}: the model cache spans hosts {unknown} that were not "
                "brought up (no CacheHost): their cache directory cannot be made"
            )
        child = pulumi.ResourceOptions(parent=self, provider=ctx.provider)
        # The directory on each host the volume names (the kubelet never creates a local
        # volume's path). An install step, run again when storage.modelCache.path changes:
        # the volume then names the new path on live hosts too.
        directories = {
            node: run_script(
                f"{name}-{node}-model-cache-dir",
                SCRIPTS / "model-cache-dir.sh",
                {"CACHE_PATH": cache.path, "CACHE_UID": str(CACHE_UID)},
                connection=args.hosts[node].connection,
                provider=args.command_provider,
                parent=self,
                depends_on=[args.hosts[node].last_step],
                lifecycle="install",
                rerun=cache.path,
            )
            for node in nodes
        }
        in_namespace = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[ctx.namespace(contracts.INFERENCE)])
        )
        credentials = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata={"name": CREDENTIALS_SECRET, "namespace": contracts.INFERENCE},
            type="Opaque",
            string_data={
                CREDENTIALS_FILE: pulumi.Output.secret(
                    pulumi.Output.all(store.access_key_id, store.secret_access_key).apply(
                        lambda keys: curl_credentials(*keys)
                    )
                )
            },
            opts=pulumi.ResourceOptions.merge(
                in_namespace, pulumi.ResourceOptions(additional_secret_outputs=["stringData"])
            ),
        )
        script = k8s.core.v1.ConfigMap(
            f"{name}-script",
            metadata={"name": SCRIPT_CONFIG_MAP, "namespace": contracts.INFERENCE},
            data={FILL_SCRIPT.name: FILL_SCRIPT.read_text()},
            opts=in_namespace,
        )
        volume_spec = volume_manifest(cache, nodes)
        volume = k8s.core.v1.PersistentVolume(
            f"{name}-volume",
            metadata=volume_spec["metadata"],
            spec=volume_spec["spec"],
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=list(directories.values()))
            ),
        )
        claim_spec = claim_manifest(cache)
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-claim",
            metadata=claim_spec["metadata"],
            spec=claim_spec["spec"],
            opts=pulumi.ResourceOptions.merge(
                in_namespace, pulumi.ResourceOptions(depends_on=[volume])
            ),
        )
        egress = k8s.networking.v1.NetworkPolicy(
            f"{name}-egress",
            metadata={"name": "model-cache-fill", "namespace": contracts.INFERENCE},
            spec=egress_policy_spec(store.egress),
            opts=in_namespace,
        )
        self.claim_name = CLAIM_NAME
        self.complete_marker = COMPLETE_MARKER
        self.paths = {}
        self.fills = {}
        filled: dict[str, dict[str, object]] = {}
        for revision in args.revisions:
            jobs = []
            for node in revision.nodes:
                manifest = fill_job_manifest(
                    node, revision, site, cache, ctx.mirrors, store.endpoint, store.bucket
                )
                budget = f"{fill_seconds(revision.weights_bytes)}s"
                jobs.append(
                    k8s.batch.v1.Job(
                        f"{name}-fill-{node}-{revision.model}-{revision.precision}-"
                        f"{revision.revision}",
                        metadata=manifest["metadata"],
                        spec=manifest["spec"],
                        opts=pulumi.ResourceOptions.merge(
                            child,
                            pulumi.ResourceOptions(
                                depends_on=[
                                    claim,
                                    credentials,
                                    script,
                                    egress,
                                    directories[node],
                                    *store.ready,
                                ],
                                # A Job's template cannot change: a new one replaces it, and
                                # its fixed name must be free first.
                                delete_before_replace=True,
                                # `pulumi up` waits for the Job to complete (the provider's
                                # Job await), for as long as the fill may take.
                                custom_timeouts=pulumi.CustomTimeouts(create=budget, update=budget),
                            ),
                        ),
                    )
                )
            self.paths[revision.key] = revision.path
            self.fills[revision.key] = jobs
            filled[revision.path] = {
                "nodes": list(revision.nodes),
                "jobs": [fill_job_name(node, revision) for node in revision.nodes],
            }
        if store.plain_http:
            pulumi.log.warn(
                f"site {site.name}: model weights travel from {store.description} to the "
                "cache fill Jobs over plain HTTP inside the site. SigV4 signs every request, so "
                "the secret key never travels, but the weights themselves are neither encrypted "
                "nor authenticated on the way (the fill checks each object's size only): "
                "anyone on that network path can read them. TLS for RGW is left to the "
                "bank-baseline issue.",
                self,
            )
        self.filled = pulumi.Output.from_input(filled)
        self.nodes = pulumi.Output.from_input(list(nodes))
        self.register_outputs({"filled": self.filled, "nodes": self.nodes})

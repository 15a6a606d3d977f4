"""A site's Kubernetes cluster: kubeadm HA control plane behind kube-vip, worker joins, and
the Kubernetes provider built from the new cluster's admin kubeconfig."""

import re
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pulumi_command import remote

from components.config import Kubernetes, Mirrors
from components.kubernetes.baseline import Baseline, BaselineArgs
from components.kubernetes.kubeadm import init_config_yaml, join_config_yaml, kube_vip_manifest
from components.plan import SitePlan
from components.remote.runner import StepFailed, read_result, run_script, with_secrets

SCRIPTS = Path(__file__).resolve().parent / "scripts"

_CA_CERT_HASH = re.compile(r"sha256:[0-9a-f]{64}")


def read_ca_cert_hash(stdout: str | None, where: str) -> str:
    """The CA public key hash kubeadm-init reported: `sha256:` and 64 hex digits, or StepFailed
    naming the host. It is written into every joining host's kubeadm configuration, so a
    value with a line break (JSON decodes `\\n`) would add YAML keys there, e.g. one that
    skips the CA pinning."""
    value = read_result("kubeadm-init", stdout, where)["caCertHash"]
    if not isinstance(value, str) or not _CA_CERT_HASH.fullmatch(value):
        raise StepFailed(
            where,
            "kubeadm-init",
            "its caCertHash is not sha256: and 64 hexadecimal digits "
            f"({len(str(value))} characters); the hosts that join would pin nothing valid",
        )
    return value


@dataclass(frozen=True)
class ClusterNode:
    """What the cluster needs of a brought-up host (the metal layer builds them): how to
    reach it, and when it is ready to join."""

    connection: remote.ConnectionArgs
    """SSH to the host (pinned host key, the deploy key as a secret)."""
    ready: pulumi.Output[str]
    """Resolves only once the host passed its preflight (and GPU check) and is configured."""
    last_step: pulumi.Resource
    """The host's final configuration step, for explicit `depends_on`."""


@dataclass(frozen=True)
class ClusterArgs:
    """Inputs of a `Cluster`."""

    plan: SitePlan
    """The site whose hosts form the cluster: its control planes and workers, its API
    endpoint."""
    kubernetes: Kubernetes
    """Pinned versions."""
    mirrors: Mirrors
    """Where images and packages come from."""
    hosts: dict[str, ClusterNode]
    """The site's brought-up hosts, by name."""
    command_provider: pulumi.ProviderResource
    """The site's SSH provider."""
    site_name: str
    """The site's resource name: the cluster's baseline is `<site_name>-baseline`."""


class Cluster(pulumi.ComponentResource):
    """kubeadm bootstrap of one site (`deepseek:kubernetes:Cluster`)."""

    provider: k8s.Provider
    """Every in-cluster resource of the site goes through this provider."""
    kubeconfig: pulumi.Output[str]
    """The admin kubeconfig: a secret."""
    api_endpoint: pulumi.Output[str]
    """The API server URL behind the site's VIP."""
    baseline: Baseline
    """Its namespaces, quotas and priority classes, which every layer's components use."""

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        site = args.plan.spec
        super().__init__(
            "deepseek:kubernetes:Cluster",
            name,
            {"version": args.kubernetes.version, "apiEndpoint": args.plan.api_endpoint},
            opts,
        )
        self._name, self._args = name, args
        self.api_endpoint = pulumi.Output.from_input(args.plan.api_endpoint)

        # The bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}) and the key that encrypts the
        # uploaded control-plane certificates (32 random bytes, hex): secrets end to end.
        token_id = random.RandomPassword(
            f"{name}-token-id",
            length=6,
            special=False,
            upper=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        token_secret = random.RandomPassword(
            f"{name}-token-secret",
            length=16,
            special=False,
            upper=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # RandomBytes keeps its value secret in state (RandomId's hex is plain).
        certificate_key = random.RandomBytes(
            f"{name}-certificate-key", length=32, opts=pulumi.ResourceOptions(parent=self)
        )
        token = pulumi.Output.secret(
            pulumi.Output.concat(token_id.result, ".", token_secret.result)
        )
        secrets = {"KUBEADM_TOKEN": token}
        control_plane_secrets = {
            **secrets,
            "KUBEADM_CERTIFICATE_KEY": pulumi.Output.secret(certificate_key.hex),
        }
        init_stdin = with_secrets(SCRIPTS / "kubeadm-init.sh", control_plane_secrets)
        control_plane_join_stdin = with_secrets(SCRIPTS / "kubeadm-join.sh", control_plane_secrets)
        worker_join_stdin = with_secrets(SCRIPTS / "kubeadm-join.sh", secrets)
        common = {
            "KUBERNETES_VERSION": args.kubernetes.version,
            "KUBERNETES_APT_REPO": args.mirrors.kubernetes_apt_repo,
        }
        vip_manifest = kube_vip_manifest(site, args.kubernetes, args.mirrors)

        control_planes = args.plan.control_planes
        first = args.plan.first_control_plane
        init = self._on_host(
            first.name,
            "kubeadm-init",
            {
                **common,
                "KUBEADM_CONFIG": init_config_yaml(site, first, args.kubernetes, args.mirrors),
                "KUBE_VIP_MANIFEST": vip_manifest,
            },
            init_stdin,
            [],
        )
        first_where = f"{first.name} (control plane of site {site.name})"
        ca_hash = init.stdout.apply(lambda out: read_ca_cert_hash(out, first_where))

        # Control planes join one at a time: etcd grows by one member per join.
        previous = init
        for host in control_planes[1:]:
            previous = self._on_host(
                host.name,
                "kubeadm-join",
                {
                    **common,
                    "KUBEADM_CONFIG": join_config_yaml(site, host, control_plane=True),
                    "CONTROL_PLANE": "true",
                    "KUBEADM_CA_CERT_HASH": ca_hash,
                    "KUBE_VIP_MANIFEST": vip_manifest,
                },
                control_plane_join_stdin,
                [previous],
            )

        # Workers join in parallel once the control plane is complete.
        joins = [
            self._on_host(
                host.name,
                "kubeadm-join",
                {
                    **common,
                    "KUBEADM_CONFIG": join_config_yaml(site, host, control_plane=False),
                    "CONTROL_PLANE": "false",
                    "KUBEADM_CA_CERT_HASH": ca_hash,
                },
                worker_join_stdin,
                [previous],
            )
            for host in args.plan.workers
        ]

        first_host = args.hosts[first.name]
        admin = run_script(
            f"{name}-admin-kubeconfig",
            SCRIPTS / "admin-kubeconfig.sh",
            {},
            connection=first_host.connection,
            provider=args.command_provider,
            parent=self,
            depends_on=[init],
        )
        self.kubeconfig = pulumi.Output.secret(
            admin.stdout.apply(
                lambda out: str(read_result("admin-kubeconfig", out, first_where)["kubeconfig"])
            )
        )
        # Commands run only on `up`, so this waits for /healthz exactly when pulumi-eks
        # does: outside preview, before the provider is first used.
        api_ready = run_script(
            f"{name}-api-ready",
            SCRIPTS / "api-ready.sh",
            {"API_ENDPOINT": self.api_endpoint},
            connection=first_host.connection,
            provider=args.command_provider,
            parent=self,
            depends_on=[previous, *joins],
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[api_ready]),
        )
        self.baseline = Baseline(
            f"{args.site_name}-baseline",
            BaselineArgs(self.provider, tuple(args.kubernetes.privileged_namespaces)),
            pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig, "apiEndpoint": self.api_endpoint})

    def _on_host(
        self,
        host_name: str,
        script: str,
        environment: dict[str, pulumi.Input[str]],
        secret_stdin: pulumi.Output[str],
        after: list[pulumi.Resource],
    ):
        host = self._args.hosts[host_name]
        # HOST_READY resolves only when the host passed its preflight (and GPU check): a
        # host that failed them never joins.
        return run_script(
            f"{self._name}-{host_name}-{script}",
            SCRIPTS / f"{script}.sh",
            {**environment, "HOST_READY": host.ready.apply(lambda _: "true")},
            connection=host.connection,
            provider=self._args.command_provider,
            parent=self,
            depends_on=[*after, host.last_step],
            secret_stdin=secret_stdin,
            # Once joined, a node's version changes through the rollout's kubeadm upgrade.
            lifecycle="install",
        )

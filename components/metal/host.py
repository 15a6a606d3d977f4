"""One bare-metal host brought up over SSH: preflight diagnostics that gate everything else,
then OS preparation, container runtime and, on GPU hosts, the NVIDIA stack."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_command import remote

from components.config import Host as HostSpec
from components.config import Mirrors, Nvidia, Preflight, Ssh
from components.metal.diagnostics import (
    GPU_QUERY_FIELDS,
    PreflightExpectations,
    PreflightReport,
    check_gpu_check_output,
    check_preflight_output,
)
from components.remote.runner import Lifecycle, StepFailed, read_result, run_script
from components.remote.steps import printable, script_digest, step_script

# Upstream registries whose pulls containerd routes to the internal mirror.
MIRRORED_REGISTRIES = ("docker.io", "registry.k8s.io", "nvcr.io", "quay.io", "ghcr.io", "gcr.io")

# After the driver step the host may be rebooting: later steps keep dialing for up to
# 60 × 10 s instead of failing on the first refused connection.
REBOOT_DIAL = {"dial_error_limit": 60, "per_dial_timeout": 10}


class PreflightFailed(pulumi.RunError):
    """A host's measurements do not match its config; nothing more runs on that host."""

    def __init__(self, where: str, phase: str, report: PreflightReport):
        lines = [f"host {report.host} ({where}) failed {phase}; no later step runs on it:"]
        # Findings quote what tools printed (a GPU's name, iperf3's error): shown escaped.
        lines += [f"  {printable(finding.render())}" for finding in report.findings]
        super().__init__("\n".join(lines))
        self.report = report


@dataclass(frozen=True)
class HostChange:
    """A configuration step as a change of the live host runs it again (the site's rollout
    runs it, components/kubernetes/rollout.py): the same script and inputs as its install."""

    step: str
    environment: dict[str, pulumi.Input[str]]
    reboot_safe: bool = False
    """The host may be rebooting when it starts (after the driver step)."""


@dataclass(frozen=True)
class HostArgs:
    """Inputs of a `Host`."""

    spec: HostSpec
    """The host as config declares it."""
    config_path: str
    """Where config declares it, e.g. `sites[0].hosts[3]`, for error messages."""
    ssh: Ssh
    """Deploy user and port."""
    ssh_private_key: pulumi.Output[str]
    """The deploy key: a secret, passed only to the SSH connections."""
    command_provider: pulumi.ProviderResource
    """The site's explicit pulumi-command provider (default providers are disabled)."""
    mirrors: Mirrors
    """Internal apt mirror and image registry."""
    ntp_servers: tuple[str, ...]
    """The site's time servers."""
    preflight: Preflight
    """Per-role minimums and tool settings."""
    nvidia: Nvidia
    """Driver package and who manages it."""
    peer_address: str | None
    """The host this one measures its link to (iperf3), None for a lone host."""
    peer_server: pulumi.Input[pulumi.Resource] | None
    """That peer's iperf3 server step: the only cross-host dependency."""
    iperf_client: str | None = None
    """Which run of which host measures against this host's iperf3 server
    (`preflight_run_id` of that client); its change restarts the server."""
    remeasure: str = ""
    """Config's re-measure token (site's and host's): its change runs the preflight again
    on a live host; nothing else does (a changed minimum re-judges the stored measurements)."""


def preflight_environment(
    spec: HostSpec, preflight: Preflight, peer_address: str | None
) -> dict[str, str]:
    """The preflight step's inputs on a host (pure: the peer's server needs them too)."""
    return {
        "PREFLIGHT_DIR": spec.preflight_dir,
        "FIO_SIZE_MIB": str(preflight.fio_size_mib),
        "FIO_RUNTIME_SECONDS": str(preflight.fio_runtime_seconds),
        "PEER_ADDRESS": peer_address or "",
        "IPERF_PORT": str(preflight.iperf_port),
        "IPERF_SECONDS": str(preflight.iperf_seconds),
        "COUNT_PCI_GPUS": "true" if spec.gpu else "false",
    }


def preflight_run_id(
    spec: HostSpec, preflight: Preflight, peer_address: str | None, rerun: str = ""
) -> str:
    """Identifies one run of a host's preflight: its address and a digest of everything that
    re-runs it (script and inputs, and its re-measure token, which runs it again on a live
    host). The peer's iperf3 server step takes it as an input, so whenever the client
    measures again (a host added, removed, replaced, the settings changed, a re-measure), its
    server is started afresh rather than found expired (it listens for half an hour)."""
    environment = preflight_environment(spec, preflight, peer_address)
    text = script_digest(step_script("preflight")) + json.dumps(environment, sort_keys=True)
    # Only a token changes the digest: the ids of hosts never re-measured stay as they were.
    digest = hashlib.sha256((text + (f"\nrerun={rerun}" if rerun else "")).encode()).hexdigest()
    return f"{spec.address}/{digest[:16]}"


class Host(pulumi.ComponentResource):
    """A physical server of a site (`deepseek:metal:Host`)."""

    preflight_report: pulumi.Output[str]
    """JSON: what the diagnostics measured and found, per phase."""
    gpu_inventory: pulumi.Output[list[dict[str, Any]]]
    """GPUs as nvidia-smi reports them (as declared, when the GPU Operator owns the driver)."""
    ready: pulumi.Output[str]
    """Resolves once the host is fully configured; the Kubernetes layer waits on it."""
    net_server: remote.Command
    """This host's iperf3 server step, which its ring peer's preflight measures against."""
    last_step: remote.Command
    """The final configuration step, for explicit `depends_on`."""
    connection: remote.ConnectionArgs
    """SSH to this host (pinned host key, the deploy key as a secret), for later layers."""
    reboot_safe_connection: remote.ConnectionArgs
    """The same, dialing for up to ten minutes while the host may be rebooting."""
    changes: tuple[HostChange, ...]
    """Its configuration steps in order, as a change of the live host runs them again."""
    gpu_checked: bool
    """Whether it has a GPU check (a GPU host whose driver the host manages)."""
    reachable: bool
    """Config's `reachable`: false for a dead host about to be removed."""
    remeasure: str
    """Config's re-measure token (site's and host's, joined): its change runs the preflight
    again, and the host's rollout sequence (GPU check included)."""

    def __init__(
        self, name: str, args: HostArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        spec = args.spec
        super().__init__(
            "deepseek:metal:Host",
            name,
            {"address": str(spec.address), "roles": list(spec.roles)},
            opts,
        )
        self._name = name
        self._args = args
        changes: list[HostChange] = []
        self.connection = self._ssh_connection()
        self.reboot_safe_connection = self._ssh_connection(**REBOOT_DIAL)
        preflight = args.preflight
        expect = PreflightExpectations(
            host=spec.name,
            gpu_model=spec.gpu.model if spec.gpu else None,
            gpu_count=spec.gpu.count if spec.gpu else 0,
            min_disk_iops=int(preflight.minimum_for(preflight.min_disk_iops, spec.roles)),
            min_network_gbps=preflight.minimum_for(preflight.min_network_gbps, spec.roles),
        )

        # 1. Preflight diagnostics (read-only). The only step that waits on another host:
        # its iperf3 client needs the peer's server.
        self.net_server = self._step(
            "net-server",
            {
                "IPERF_PORT": str(preflight.iperf_port),
                "IPERF_SERVER_SECONDS": str(max(1800, preflight.iperf_seconds * 10)),
                "IPERF_CLIENT": args.iperf_client or "",
            },
        )
        # Measured once on a live host: a changed minimum re-judges what it printed then.
        preflight_step = self._step(
            "preflight",
            preflight_environment(spec, preflight, args.peer_address),
            depends_on=[args.peer_server] if args.peer_server is not None else [],
            lifecycle="install",
            rerun=args.remeasure,
        )
        hardware = preflight_step.stdout.apply(
            lambda stdout: self._gate(
                "preflight", stdout, lambda outputs: check_preflight_output(expect, outputs)
            )
        )

        # 2-4. Configuration, in order, only after the preflight passed.
        os_prep = self._install(
            changes,
            "os-prep",
            {
                "PREFLIGHT_VERDICT": hardware.apply(lambda _: "passed"),
                "APT_MIRROR": args.mirrors.apt_mirror,
                "NTP_SERVERS": " ".join(args.ntp_servers),
                "RDMA": "true" if spec.rdma else "false",
                "HUGEPAGES_2MI": str(spec.hugepages_2mi),
            },
            depends_on=[preflight_step],
        )
        runtime = self._install(
            changes,
            "container-runtime",
            {
                "IMAGE_REGISTRY": args.mirrors.image_registry,
                "MIRRORED_REGISTRIES": " ".join(MIRRORED_REGISTRIES),
            },
            depends_on=[os_prep],
        )
        self.last_step = runtime
        reports: list[pulumi.Output[PreflightReport]] = [hardware]
        declared_gpus = (
            [{"index": i, "name": spec.gpu.model} for i in range(spec.gpu.count)]
            if spec.gpu
            else []
        )
        self.gpu_inventory = pulumi.Output.from_input(declared_gpus)
        if spec.gpu:
            nvidia = args.nvidia
            driver = self._install(
                changes,
                "nvidia-stack",
                {
                    "DRIVER_MANAGED_BY": nvidia.driver_managed_by,
                    "DRIVER_PACKAGE": nvidia.driver_package,
                    "TOOLKIT_PACKAGE": nvidia.container_toolkit_package,
                },
                depends_on=[runtime],
            )
            self.last_step = driver
            if nvidia.driver_managed_by == "host":
                # 5. The GPUs as the driver sees them, after a possible reboot.
                gpu_check = self._install(
                    changes,
                    "gpu-check",
                    {"GPU_QUERY_FIELDS": GPU_QUERY_FIELDS},
                    depends_on=[driver],
                    reboot_safe=True,
                )
                gpus = gpu_check.stdout.apply(
                    lambda stdout: self._gate(
                        "gpu-check", stdout, lambda outputs: check_gpu_check_output(expect, outputs)
                    )
                )
                reports.append(gpus)
                self.gpu_inventory = gpus.apply(lambda r: r.measurements["gpus"])
                self.last_step = gpu_check
        self.changes = tuple(changes)
        self.gpu_checked = any(change.step == "gpu-check" for change in changes)
        self.reachable = spec.reachable
        self.remeasure = args.remeasure
        self._expect = expect

        all_reports = pulumi.Output.all(*reports)
        self.preflight_report = all_reports.apply(
            lambda rs: json.dumps(
                {
                    "host": spec.name,
                    "passed": True,
                    "measurements": {k: v for r in rs for k, v in r.measurements.items()},
                },
                sort_keys=True,
            )
        )
        self.ready = pulumi.Output.all(all_reports, self.last_step.stdout).apply(
            lambda outs: json.dumps({"host": spec.name, "ready": True, "lastStep": outs[1]})
        )
        self.register_outputs(
            {
                "preflightReport": self.preflight_report,
                "gpuInventory": self.gpu_inventory,
                "ready": self.ready,
            }
        )

    def _ssh_connection(self, **dial: int) -> remote.ConnectionArgs:
        args, spec = self._args, self._args.spec
        return remote.ConnectionArgs(
            host=str(spec.address),
            port=args.ssh.port,
            user=args.ssh.user,
            private_key=args.ssh_private_key,
            host_key=spec.host_key,
            **dial,
        )

    def gpu_verdict(self, stdout: str | None) -> str:
        """What a GPU check run by the rollout found: "passed", or "not-run" (an update-only
        step prints nothing when it is created); GPUs short of config stop the rollout
        (PreflightFailed), before the node is uncordoned."""
        if not stdout:
            return "not-run"
        self._gate(
            "gpu-check", stdout, lambda outputs: check_gpu_check_output(self._expect, outputs)
        )
        return "passed"

    def _install(
        self,
        changes: list[HostChange],
        step: str,
        environment: dict[str, pulumi.Input[str]],
        depends_on: list[Any],
        reboot_safe: bool = False,
    ) -> remote.Command:
        """A configuration step: run once here; a change of it reaches the live host through
        the rollout (`changes`)."""
        changes.append(HostChange(step, environment, reboot_safe))
        return self._step(
            step, environment, depends_on, reboot_safe=reboot_safe, lifecycle="install"
        )

    def _step(
        self,
        step: str,
        environment: dict[str, pulumi.Input[str]],
        depends_on: list[Any] | None = None,
        reboot_safe: bool = False,
        lifecycle: Lifecycle = "always",
        rerun: str = "",
    ) -> remote.Command:
        return run_script(
            f"{self._name}-{step}",
            step_script(step),
            environment,
            connection=self.reboot_safe_connection if reboot_safe else self.connection,
            provider=self._args.command_provider,
            parent=self,
            depends_on=depends_on,
            lifecycle=lifecycle,
            rerun=rerun,
        )

    def _gate(
        self,
        step: str,
        stdout: str,
        check: "Callable[[dict[str, Any]], PreflightReport]",
    ) -> PreflightReport:
        """The step's result judged against config: a host whose tools printed something
        unreadable, or whose measurements fall short, stops here with a message naming it."""
        where = f"{self._args.spec.name} ({self._args.config_path})"
        outputs = read_result(step, stdout, where)
        try:
            report = check(outputs)
        except Exception as error:  # noqa: BLE001 any unreadable tool output stops this host alone
            raise StepFailed(where, step, _describe(error)) from None
        if not report.passed:
            phase = {"gpu-check": "the GPU check"}.get(step, step)
            raise PreflightFailed(self._args.config_path, phase, report)
        return report


def _describe(error: Exception) -> str:
    """What was wrong with a tool's output, for a person: the parser's own message, or the
    exception's kind when a parser met something it never expected."""
    text = str(error) or "(no detail)"
    if isinstance(error, ValueError):
        return text
    return f"unreadable tool output ({type(error).__name__}: {text})"

"""Baseline hardening: no privilege outside the system namespaces, GPUs reserved exactly,
no secret in plain text, pinned SSH host keys, stateful resources that survive a delete."""

import re

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from deepseek_policies.common import (
    LIST,
    cluster_of,
    config_list,
    containers,
    describe,
    is_list,
    is_map,
    kind_of,
    name_of,
    namespace_of,
    workload_pod_specs,
)
from deepseek_policies.common import schema as _schema

DANGEROUS_CAPABILITIES = {"SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "ALL"}


def _privileged(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = config_list(args, "allowedPrivilegedNamespaces")
    who = describe(args.resource_type, args.props, args.name)
    if kind_of(args.resource_type) == "Namespace":
        labels = (args.props.get("metadata") or {}).get("labels") or {}
        if labels.get("pod-security.kubernetes.io/enforce") == "privileged":
            if name_of(args.props) not in allowed:
                report(
                    f"{who} admits privileged pods; set pod-security.kubernetes.io/enforce to "
                    "restricted, or have it added to the allowed privileged namespaces."
                )
        return
    if namespace_of(args.props) in allowed:
        return
    for pod in workload_pod_specs(args.resource_type, args.props):
        for container in containers(pod):
            context = container.get("securityContext") or {}
            added = set((context.get("capabilities") or {}).get("add") or [])
            if context.get("privileged") or added & DANGEROUS_CAPABILITIES:
                report(
                    f"{who} container {container.get('name')} runs privileged or with "
                    f"{', '.join(sorted(added & DANGEROUS_CAPABILITIES)) or 'privileged: true'}; "
                    "drop it, or run it in a system namespace allowed privilege."
                )


privileged = ResourceValidationPolicy(
    name="no-privileged-outside-system-namespaces",
    description="Privileged containers only in the system namespaces allowed privilege.",
    validate=_privileged,
    config_schema=_schema(allowedPrivilegedNamespaces=LIST),
)


def _gpu_requests(args: ResourceValidationArgs, report: ReportViolation) -> None:
    who = describe(args.resource_type, args.props, args.name)
    for pod in workload_pod_specs(args.resource_type, args.props):
        for container in containers(pod):
            resources = container.get("resources") or {}
            requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
            gpus = [k for k in {**requests, **limits} if k.startswith("nvidia.com/")]
            if gpus and requests != limits:
                report(
                    f"{who} container {container.get('name')} asks for {', '.join(gpus)} with "
                    "requests different from limits; set requests equal to limits."
                )


gpu_requests = ResourceValidationPolicy(
    name="gpu-requests-equal-limits",
    description="GPU workloads set requests equal to limits.",
    validate=_gpu_requests,
)

SECRET_KEY = re.compile(
    r"(?i)(password|passwd|secret|token|private[_-]?key|access[_-]?key|api[_-]?key)"
)
SECRET_VALUE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----|\bAKIA[0-9A-Z]{16}\b|\bxox[bap]-[0-9A-Za-z-]+"
    # key: value or key=value on one line, the value literal (not a $VAR or __PLACEHOLDER__)
    r"|(?i:\b(password|passwd|secret|token)\b[ \t]*[=:][ \t]*(?!__|\$)[^\s'\"]{6,})"
)
# Fields the providers always keep encrypted, whatever the program passed: CrossGuard's
# Python runtime hands policies secret values unwrapped, so these are told apart by place.
ENCRYPTED_FIELDS = {
    "kubernetes:core/v1:Secret": ("data", "stringData"),
    "command:remote:Command": ("connection.privateKey", "connection.password", "stdin"),
}
NOT_SECRETS = {"[secret]", ""}


def _walk(value, path=""):
    if is_map(value):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else key)
    elif is_list(value):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    else:
        yield path, value


def _plaintext(args: ResourceValidationArgs, report: ReportViolation) -> None:
    exempt = ENCRYPTED_FIELDS.get(args.resource_type, ())
    who = describe(args.resource_type, args.props, args.name)
    for path, value in _walk(args.props):
        if not isinstance(value, str) or value in NOT_SECRETS:
            continue
        if any(path == e or path.startswith(e + ".") or path.startswith(e + "[") for e in exempt):
            continue
        leaf = re.split(r"[.\[]", path)[-1]
        # An env var named like a secret with a literal value, or a secret-looking value.
        env_secret = path.endswith(".value") and _env_name(args.props, path)
        if (
            SECRET_VALUE.search(value)
            or (env_secret and SECRET_KEY.search(env_secret))
            or (SECRET_KEY.search(leaf) and kind_of(args.resource_type) == "ConfigMap")
        ):
            report(
                f"{who} holds a secret-looking value in plain text at {path}; pass it as a "
                "Pulumi secret into a Kubernetes Secret (or secretKeyRef), never inline."
            )
            return


def _env_name(props, path: str) -> str | None:
    """The `name` of the env entry whose `value` is at `path`."""
    node = props
    for part in re.findall(r"[^.\[\]]+", path)[:-1]:
        node = node[int(part)] if is_list(node) else node.get(part)
        if node is None:
            return None
    return node.get("name") if is_map(node) else None


plaintext = ResourceValidationPolicy(
    name="no-plaintext-secrets",
    description="No password, token, private key or access key in plain text in a resource input.",
    validate=_plaintext,
)


def _host_key(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != "command:remote:Command":
        return
    connection = args.props.get("connection") or {}
    if not connection.get("hostKey"):
        report(
            f"Command {args.name} connects to {connection.get('host')} without a pinned host "
            "key; set connection.hostKey to the host's public key (ssh-keyscan)."
        )


host_key = ResourceValidationPolicy(
    name="ssh-host-key-pinned",
    description="remote.Command connections pin the host's SSH key.",
    validate=_host_key,
)

STATEFUL_KINDS = (
    "CephBlockPool",
    "CephObjectStore",
    "CephFilesystem",
    "ObjectBucketClaim",
    "CephObjectStoreUser",
)


def _stateful(args: StackValidationArgs, report: ReportViolation) -> None:
    retains = {
        (cluster_of(r), name_of(r.props)): (r.props.get("reclaimPolicy") or "Delete") == "Retain"
        for r in args.resources
        if kind_of(r.resource_type) == "StorageClass"
    }
    for r in args.resources:
        kind = kind_of(r.resource_type)
        protected = bool(getattr(r.opts, "protect", False))
        who = describe(r.resource_type, r.props, r.name)
        if kind in STATEFUL_KINDS and not protected:
            report(f"{who} holds data but is not protected; set protect on it.", r.urn)
        elif kind == "PersistentVolumeClaim" and not protected:
            storage_class = (r.props.get("spec") or {}).get("storageClassName")
            if not retains.get((cluster_of(r), storage_class)):
                report(
                    f"{who} would lose its data on delete (class {storage_class} does not "
                    "retain volumes); protect it or use a class with reclaimPolicy Retain.",
                    r.urn,
                )
        elif kind == "StorageClass" and not retains[(cluster_of(r), name_of(r.props))]:
            report(f"{who} deletes volumes with their claims; set reclaimPolicy: Retain.", r.urn)


stateful = StackValidationPolicy(
    name="stateful-resources-retained",
    description="Ceph pools and buckets and data PVCs are protected or retained on delete.",
    validate=_stateful,
)

POLICIES = [privileged, gpu_requests, plaintext, host_key, stateful]

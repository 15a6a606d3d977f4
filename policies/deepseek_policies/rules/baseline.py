"""Baseline hardening: no privilege outside the system namespaces, GPUs reserved exactly,
no secret in plain text, pinned SSH host keys on hosts of the site, stateful resources that
survive a delete, no cluster-admin outside a named list, training at its priority."""

import re
from collections.abc import Iterator, Mapping

from deepseek_policies.rules.normalize import (
    capabilities,
    ip_address,
    is_list,
    is_map,
    literal,
    secret_key,
    secret_value,
    shell_assignments,
    within,
)
from deepseek_policies.rules.objects import (
    StackResource,
    config_list,
    containers,
    describe,
    is_patch,
    kind_of,
    name_of,
    namespace_of,
    workload_pod_specs,
)

PSS_ENFORCE = "pod-security.kubernetes.io/enforce"


def _truthy(value) -> bool:
    return value is True or str(value).strip().lower() == "true"


def judge_privilege(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    """Outside allowedPrivilegedNamespaces: no privileged container, no capability added beyond
    allowedAddedCapabilities (compared as the kernel names them), no host PID or IPC namespace,
    no hostPath volume; every Namespace says its Pod Security level, `restricted` outside them."""
    allowed = config_list(config, "allowedPrivilegedNamespaces")
    who = describe(resource_type, props, name)
    if kind_of(resource_type) == "Namespace":
        labels = (props.get("metadata") or {}).get("labels") or {}
        level = str(labels.get(PSS_ENFORCE) or "").strip().lower()
        if not level and is_patch(resource_type) and PSS_ENFORCE not in labels:
            return  # a patch that leaves the label alone
        if not level:
            yield (
                f"{who} has no {PSS_ENFORCE} label, so the cluster admits privileged pods "
                "there; label it restricted."
            )
        elif level != "restricted" and name_of(props) not in allowed:
            yield (
                f"{who} admits {level} pods; set {PSS_ENFORCE} to restricted, or have it "
                "added to the allowed privileged namespaces."
            )
        return
    if namespace_of(props) in allowed:
        return
    added_allowed = capabilities(config_list(config, "allowedAddedCapabilities"))
    for pod in workload_pod_specs(resource_type, props):
        shared = [key for key in ("hostPID", "hostIPC") if _truthy(pod.get(key))]
        if shared:
            yield (
                f"{who} shares the host's {' and '.join(k[4:] for k in shared)} namespace; "
                "remove it, or run it in a system namespace allowed privilege."
            )
        for volume in pod.get("volumes") or []:
            if "hostPath" in volume:
                path = (volume.get("hostPath") or {}).get("path")
                yield (
                    f"{who} mounts the host's {path} (volume {volume.get('name')}); use a "
                    "claim or emptyDir, or run it in a system namespace allowed privilege."
                )
        for container in containers(pod):
            context = container.get("securityContext") or {}
            added = capabilities((context.get("capabilities") or {}).get("add"))
            extra = sorted(added - added_allowed)
            if _truthy(context.get("privileged")) or extra:
                yield (
                    f"{who} container {container.get('name')} runs "
                    f"{'privileged' if _truthy(context.get('privileged')) else ''}"
                    f"{' with ' if extra else ''}{', '.join(extra)}; drop it (allowed to add: "
                    f"{', '.join(sorted(added_allowed)) or 'none'}), or run it in a system "
                    "namespace allowed privilege."
                )


def judge_gpu_requests(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    who = describe(resource_type, props, name)
    for pod in workload_pod_specs(resource_type, props):
        for container in containers(pod):
            resources = container.get("resources") or {}
            requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
            gpus = [k for k in {**requests, **limits} if k.startswith("nvidia.com/")]
            if gpus and requests != limits:
                yield (
                    f"{who} container {container.get('name')} asks for {', '.join(gpus)} with "
                    "requests different from limits; set requests equal to limits."
                )


ENCRYPTED_FIELDS = {
    "kubernetes:core/v1:Secret": ("data", "stringData"),
    "command:remote:Command": ("connection.privateKey", "connection.password", "stdin"),
    "command:remote:CopyToRemote": ("connection.privateKey", "connection.password"),
}

COMMAND_STEPS = ("create", "update", "delete")


def _keyed_leaves(value, path: str = "", key: str = "") -> Iterator[tuple[str, str, object]]:
    """(path, the key that names the value, value): an env entry's `value` is named by its
    `name`, anything else by its own key."""
    if is_map(value):
        named_by = value.get("name") if "name" in value else value.get("key")
        env_name = named_by if isinstance(named_by, str) else None
        for item_key, item in value.items():
            named = env_name if item_key == "value" and env_name else str(item_key)
            yield from _keyed_leaves(item, f"{path}.{item_key}" if path else str(item_key), named)
    elif is_list(value):
        flag = None
        for index, item in enumerate(value):
            # `["--db-password", "hunter2"]`: a value is named by the flag before it
            yield from _keyed_leaves(item, f"{path}[{index}]", flag or key)
            flag = item if isinstance(item, str) and FLAG.match(item) else None
    else:
        yield path, key, value


FLAG = re.compile(r"^--?[A-Za-z][A-Za-z0-9_.-]*$")


def _exempt(path: str, exempt: tuple[str, ...]) -> bool:
    return any(path == e or path.startswith(e + ".") or path.startswith(e + "[") for e in exempt)


def _secret_finding(resource_type: str, path: str, key: str, value) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # a numeric password in Helm values is still a password
    if not literal(value):
        return None
    shape = secret_value(value)
    if shape:
        return shape
    stem = key.rsplit(".", 1)[0] if kind_of(resource_type) == "ConfigMap" else key
    if secret_key(key) or secret_key(stem):
        return f"a value under the secret-named key {key}"
    if resource_type.startswith("command:remote:") and path in COMMAND_STEPS + ("environment",):
        for variable, assigned in shell_assignments(value):
            if secret_key(variable) and literal(assigned):
                return f"a secret-named variable {variable}"
    return None


def judge_plaintext(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    """Secrets by key shape (any case: `DB_PASS`, `apiKey`, `KUBEADM_TOKEN`) and by value shape
    (private keys, cloud keys, bearer tokens, JWTs, URLs with credentials, `password=...`),
    wherever they are: env, Helm values, ConfigMap data, a Command's create/update/delete and
    environment."""
    exempt = ENCRYPTED_FIELDS.get(resource_type, ())
    who = describe(resource_type, props, name)
    for path, key, value in _keyed_leaves(props):
        if _exempt(path, exempt):
            continue
        shape = _secret_finding(resource_type, path, key, value)
        if shape:
            yield (
                f"{who} holds {shape} in plain text at {path}; pass it as a Pulumi secret into "
                "a Kubernetes Secret (or secretKeyRef, or a Command's stdin), never inline."
            )
            return


REMOTE_TYPES = ("command:remote:Command", "command:remote:CopyToRemote")


def judge_host_key(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    """Every SSH hop pins the host key: the target and a jump host (`connection.proxy`)."""
    if resource_type not in REMOTE_TYPES:
        return
    connection = props.get("connection") or {}
    hops = [("connection", connection)]
    if is_map(connection.get("proxy")):
        hops.append(("connection.proxy", connection["proxy"]))
    for path, hop in hops:
        if not str(hop.get("hostKey") or "").strip():
            yield (
                f"{resource_type.rsplit(':', 1)[1]} {name} connects to {hop.get('host')} "
                f"({path}) without a pinned host key; set {path}.hostKey to the host's public "
                "key (ssh-keyscan)."
            )


def judge_remote_hosts(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    """A remote step's target is an address inside the site's node networks."""
    if resource_type not in REMOTE_TYPES:
        return
    allowed = config_list(config, "allowedNodeNetworks")
    connection = props.get("connection") or {}
    hops = [("runs on", connection)]
    if is_map(connection.get("proxy")):
        hops.append(("jumps through", connection["proxy"]))
    for how, hop in hops:
        host = str(hop.get("host") or "")
        address = ip_address(host)
        if address is None or not within(str(address), allowed):
            yield (
                f"{resource_type.rsplit(':', 1)[1]} {name} {how} {host or '(no host)'}, outside "
                f"the site's node networks; target a host by its address in "
                f"{', '.join(allowed) or '(none)'}."
            )


STATEFUL_KINDS = (
    "CephBlockPool",
    "CephObjectStore",
    "CephFilesystem",
    "ObjectBucketClaim",
    "CephObjectStoreUser",
)


def judge_stateful(resources: list[StackResource], config: Mapping):
    retains = {
        (r.cluster, name_of(r.props)): (r.props.get("reclaimPolicy") or "Delete") == "Retain"
        for r in resources
        if kind_of(r.resource_type) == "StorageClass"
    }
    # A claim bound by name to a volume (a static `local` PV: the model cache) keeps or loses
    # its data by that volume's reclaim policy, not by its class's.
    volumes_retain = {
        (r.cluster, name_of(r.props)): str(
            (r.props.get("spec") or {}).get("persistentVolumeReclaimPolicy") or "Retain"
        )
        .strip()
        .lower()
        == "retain"
        for r in resources
        if kind_of(r.resource_type) == "PersistentVolume"
    }
    for r in resources:
        kind = kind_of(r.resource_type)
        who = describe(r.resource_type, r.props, r.name)
        spec = r.props.get("spec") or {}
        if kind in STATEFUL_KINDS and not r.protect:
            yield r.urn, f"{who} holds data but is not protected; set protect on it."
        elif kind == "PersistentVolumeClaim" and not r.protect:
            storage_class = spec.get("storageClassName")
            bound = (r.cluster, spec.get("volumeName"))
            if bound in volumes_retain:
                if not volumes_retain[bound]:
                    yield (
                        r.urn,
                        f"{who} would lose its data on delete (its volume {bound[1]} does not "
                        "retain); protect it or set the volume's persistentVolumeReclaimPolicy: "
                        "Retain.",
                    )
            elif not retains.get((r.cluster, storage_class)):
                yield (
                    r.urn,
                    f"{who} would lose its data on delete (class {storage_class} does not "
                    "retain volumes); protect it or use a class with reclaimPolicy Retain.",
                )
        elif kind == "PersistentVolume":
            policy = str(spec.get("persistentVolumeReclaimPolicy") or "Retain").strip()
            if policy.lower() != "retain":
                yield (
                    r.urn,
                    f"{who} is deleted with its claim (reclaim policy {policy}); set "
                    "persistentVolumeReclaimPolicy: Retain.",
                )
        elif kind == "StorageClass" and not retains[(r.cluster, name_of(r.props))]:
            yield r.urn, f"{who} deletes volumes with their claims; set reclaimPolicy: Retain."


ADMIN_ROLES = {"cluster-admin"}

ADMIN_GROUPS = {"system:masters"}

BINDINGS = ("ClusterRoleBinding", "RoleBinding")


def _wildcard(rules) -> bool:
    return any(
        "*" in (rule.get(field) or [])
        for rule in rules or []
        for field in ("verbs", "resources", "apiGroups")
    )


def judge_admin_bindings(resources: list[StackResource], config: Mapping):
    """Bindings to cluster-admin, to a role of the stack with a wildcard, or of the
    system:masters group, only when named in allowedAdminBindings (namespace/name)."""
    allowed = set(config_list(config, "allowedAdminBindings"))
    wildcard_roles = {
        (r.cluster, kind_of(r.resource_type), namespace_of(r.props), name_of(r.props))
        for r in resources
        if kind_of(r.resource_type) in ("ClusterRole", "Role") and _wildcard(r.props.get("rules"))
    }
    for r in resources:
        kind = kind_of(r.resource_type)
        if kind not in BINDINGS:
            continue
        role = r.props.get("roleRef") or {}
        role_kind, role_name = role.get("kind"), role.get("name")
        namespace = namespace_of(r.props) if role_kind == "Role" else "default"
        why = None
        if role_kind == "ClusterRole" and role_name in ADMIN_ROLES:
            why = f"binds {role_name}"
        elif (r.cluster, role_kind, namespace, role_name) in wildcard_roles:
            why = f"binds {role_kind} {role_name}, which grants a wildcard"
        elif any(
            (s.get("kind") == "Group" and s.get("name") in ADMIN_GROUPS)
            for s in r.props.get("subjects") or []
        ):
            why = "names the system:masters group"
        key = f"{namespace_of(r.props)}/{name_of(r.props)}" if kind == "RoleBinding" else None
        if why and (key or name_of(r.props)) not in allowed:
            yield (
                r.urn,
                f"{describe(r.resource_type, r.props, r.name)} {why}; grant only the verbs and "
                "resources it needs, or have it added to allowedAdminBindings.",
            )


TRAINING_GROUP = re.compile(r"^kubernetes:([a-z0-9-]+\.)*kubeflow\.org/")

TRAINING_NAMESPACES = ["training"]


SERVING_PRIORITY_CLASS = "high-priority"


def _priority_value(value) -> float | None:
    """A PriorityClass's value as a number (an int, or the float or string the engine may
    hold); None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def judge_priority_class(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    """PriorityClasses keep serving above training: a class of allowedTrainingPriorityClasses
    has a value below servingPriorityValue (the hand-owned bound), servingPriorityClass at
    least that value, and only a class of allowedDefaultPriorityClasses is globalDefault."""
    who = describe(resource_type, props, name)
    class_name = name_of(props)
    training = config_list(config, "allowedTrainingPriorityClasses")
    serving_class = config.get("servingPriorityClass") or SERVING_PRIORITY_CLASS
    bound = _priority_value(config.get("servingPriorityValue"))
    if "value" in props and (class_name in training or class_name == serving_class):
        value = _priority_value(props.get("value"))
        if bound is None:
            yield (
                f"{who} sets a priority, but the pack has no servingPriorityValue to keep "
                "training below serving; have the bounds' owner set it."
            )
        elif class_name in training and (value is None or value >= bound):
            yield (
                f"{who} is a training class at value {props.get('value')}, not below serving's "
                f"{bound:.0f} (servingPriorityValue), so training could preempt inference; "
                "give it a lower value."
            )
        elif class_name == serving_class and (value is None or value < bound):
            yield (
                f"{who} is the serving class at value {props.get('value')}, below "
                f"servingPriorityValue {bound:.0f}, so training could preempt inference; "
                "restore its value."
            )
    defaults = config_list(config, "allowedDefaultPriorityClasses")
    if _truthy(props.get("globalDefault")) and class_name not in defaults:
        yield (
            f"{who} is globalDefault, so every pod without a class (training too) runs at its "
            f"priority; set globalDefault false, or have it added to "
            f"allowedDefaultPriorityClasses ({', '.join(defaults) or 'none'})."
        )


def judge_training_priority(resource_type: str, props: Mapping, config: Mapping, name: str = ""):
    """Training jobs (every kubeflow.org kind, and every workload in the training namespaces:
    Jobs, CronJobs, Pods, Deployments...) run at a class of allowedTrainingPriorityClasses,
    and PriorityClasses keep those classes below serving (`judge_priority_class`)."""
    if kind_of(resource_type) == "PriorityClass" and resource_type.startswith(
        "kubernetes:scheduling.k8s.io/"
    ):
        yield from judge_priority_class(resource_type, props, config, name)
        return
    namespaces = config.get("trainingNamespaces") or TRAINING_NAMESPACES
    batch = namespace_of(props) in namespaces
    if not (TRAINING_GROUP.match(resource_type) or batch):
        return
    classes = config_list(config, "allowedTrainingPriorityClasses")
    for pod in workload_pod_specs(resource_type, props):
        priority = pod.get("priorityClassName")
        if priority not in classes:
            yield (
                f"{describe(resource_type, props, name)} runs at priority "
                f"{priority or '(the default)'}, which could preempt serving; set "
                f"priorityClassName to one of {', '.join(classes) or '(none)'}."
            )
            return

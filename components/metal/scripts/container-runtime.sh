#!/usr/bin/env bash
# containerd with every registry pulled through the internal mirror (certs.d hosts.toml), so
# no image is ever pulled from a public registry, and the systemd cgroup driver the kubelet uses.
# Runs after lib.sh (sent ahead of it by the component). Idempotent: a second run changes nothing.
set -euo pipefail

: "${IMAGE_REGISTRY:?IMAGE_REGISTRY is required}"
: "${MIRRORED_REGISTRIES:?MIRRORED_REGISTRIES is required}"

# The registries reach file names and TOML strings: checked here before anything changes
# (the program validates them too). Upstreams are registry host names (an optional :port);
# the mirror is a host and a path made of [a-z0-9.:/_-] only: no quote, no glob, no space.
registry_pattern='^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$'
read -r -d '' -a upstreams <<<"${MIRRORED_REGISTRIES}" || true
if ((${#upstreams[@]} == 0)); then
  refuse container-runtime MIRRORED_REGISTRIES "${MIRRORED_REGISTRIES}" "a list of registry host names"
fi
for upstream in "${upstreams[@]}"; do
  if [[ ! "${upstream}" =~ ${registry_pattern} ]]; then
    refuse container-runtime MIRRORED_REGISTRIES "${upstream}" \
      "a registry host name (lower-case letters, digits, dots, hyphens, an optional :port)"
  fi
done
registry_host=${IMAGE_REGISTRY%%/*}
prefix=${IMAGE_REGISTRY#"${registry_host}"}
prefix=${prefix#/}
if [[ ! "${IMAGE_REGISTRY}" =~ ^[a-z0-9.:/_-]+$ || ! "${registry_host}" =~ ${registry_pattern} ]]; then
  refuse container-runtime IMAGE_REGISTRY "${IMAGE_REGISTRY}" \
    "a registry host name and path (made of a-z 0-9 . : / _ - only)"
fi

apt_install containerd

# Each upstream has its own path on the mirror; `server` points at the mirror too, so even
# the fallback never reaches the public registry. `_default` catches every other registry.
for upstream in "${upstreams[@]}" _default; do
  if [[ "${upstream}" == _default ]]; then
    path="/v2/${prefix}"
  else
    path="/v2/${prefix:+${prefix}/}${upstream}"
  fi
  # What goes into the TOML strings below (checked above; again where it is written).
  if [[ ! "${registry_host}${path}" =~ ^[a-z0-9.:/_-]+$ ]]; then
    refuse container-runtime IMAGE_REGISTRY "${registry_host}${path}" "a URL made of a-z 0-9 . : / _ - only"
  fi
  write_if_changed "/etc/containerd/certs.d/${upstream}/hosts.toml" 0644 <<TOML
# Managed by deepseek-onprem: pulls go only to the internal mirror.
server = "https://${registry_host}"

[host."https://${registry_host}${path%/}"]
  capabilities = ["pull", "resolve"]
  override_path = true
TOML
done

config=/etc/containerd/config.toml
if [[ ! -s "${config}" ]]; then
  mkdir -p /etc/containerd
  containerd config default >"${config}.new"
  mv "${config}.new" "${config}"
  echo "changed: ${config}"
  note_change
fi
# Edit in place rather than rewrite: the NVIDIA step adds its runtime to this same file.
if grep -q -e 'SystemdCgroup = false' -e 'config_path = ""' "${config}"; then
  sed -i \
    -e 's/SystemdCgroup = false/SystemdCgroup = true/' \
    -e 's#config_path = ""#config_path = "/etc/containerd/certs.d"#' \
    "${config}"
  echo "changed: ${config} (systemd cgroups, registry mirrors)"
  note_change
fi

service_running containerd
# Restarted whenever its configuration differs from what it last read (lib.sh).
run_when_changed containerd /etc/containerd -- systemctl restart containerd
version=$(containerd --version)
say "container-runtime: ${version}"
result_field containerd "${version}"
result_emit container-runtime

#!/usr/bin/env bash
# containerd with every registry pulled through the internal mirror (certs.d hosts.toml), so
# no image is ever pulled from a public registry, and the systemd cgroup driver the kubelet uses.
# Runs after lib.sh (sent ahead of it by the component). Idempotent: a second run changes nothing.
set -euo pipefail

: "${IMAGE_REGISTRY:?IMAGE_REGISTRY is required}"
: "${MIRRORED_REGISTRIES:?MIRRORED_REGISTRIES is required}"

apt_install containerd

registry_host=${IMAGE_REGISTRY%%/*}
prefix=${IMAGE_REGISTRY#"${registry_host}"}
prefix=${prefix#/}

# Each upstream has its own path on the mirror; `server` points at the mirror too, so even
# the fallback never reaches the public registry. `_default` catches every other registry.
for upstream in ${MIRRORED_REGISTRIES} _default; do
  if [[ "${upstream}" == _default ]]; then
    path="/v2/${prefix}"
  else
    path="/v2/${prefix:+${prefix}/}${upstream}"
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

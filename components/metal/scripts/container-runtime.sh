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
restart=0

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
  if ((CHANGED)); then
    restart=1
  fi
done

config=/etc/containerd/config.toml
if [[ ! -s "${config}" ]]; then
  mkdir -p /etc/containerd
  containerd config default >"${config}"
  restart=1
fi
# Edit in place rather than rewrite: the NVIDIA step adds its runtime to this same file.
before=$(file_digest "${config}")
sed -i \
  -e 's/SystemdCgroup = false/SystemdCgroup = true/' \
  -e 's#config_path = ""#config_path = "/etc/containerd/certs.d"#' \
  "${config}"
if [[ "$(file_digest "${config}")" != "${before}" ]]; then
  restart=1
fi

systemctl enable --now containerd >/dev/null
if ((restart)); then
  systemctl restart containerd
fi
version=$(containerd --version)
echo "container-runtime: ${version}"
if ((restart)); then
  note_change
fi
result_field containerd "${version}"
result_emit container-runtime

#!/usr/bin/env bash
# A storage host made ready for cephadm: cephadm of the Ceph image's version and Ceph's command
# line tools (ceph-common, the same version) from the internal mirror of Ceph's package
# repository (CEPH_APT_REPO, an apt source of its own, for the host's release; Ceph's packages
# pinned to that version, so neither the distribution's older Ceph nor a newer one in the
# repository replaces them), podman and lvm2 from the internal apt mirror (the sources
# os-prep left); podman pulling every upstream
# registry through the internal one; Ceph's image pulled ahead (the bootstrap runs with
# --skip-pull, and cephadm deploys the same image here); and on the hosts the first one adds,
# cephadm's SSH public key in root's authorized_keys (the manager reaches them with it).
# Runs after lib.sh (sent ahead of it by the component). Idempotent: a second run changes
# nothing.
set -euo pipefail

: "${CEPH_VERSION:?CEPH_VERSION is required}"
: "${CEPH_APT_REPO:?CEPH_APT_REPO is required}"
: "${CEPH_IMAGE:?CEPH_IMAGE is required}"
: "${IMAGE_REGISTRY:?IMAGE_REGISTRY is required}"
: "${MIRRORED_REGISTRIES:?MIRRORED_REGISTRIES is required}"
: "${CEPHADM_PUBLIC_KEY:=}"
: "${HOST_READY:?HOST_READY is required}"

# What reaches apt's pins, podman's configuration and authorized_keys is checked first.
if [[ ! "${CEPH_VERSION}" =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]]; then
  refuse ceph-host-prep CEPH_VERSION "${CEPH_VERSION}" "a Ceph release such as 18.2.4"
fi
if [[ ! "${CEPH_APT_REPO}" =~ ^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$ ]]; then
  refuse ceph-host-prep CEPH_APT_REPO "${CEPH_APT_REPO}" "an http(s) URL of an apt repository (letters, digits, . _ ~ / - in its path)"
fi
if [[ ! "${CEPH_IMAGE}" =~ ^[a-z0-9.:/_-]+:v?${CEPH_VERSION//./\\.}$ ]]; then
  refuse ceph-host-prep CEPH_IMAGE "${CEPH_IMAGE}" "an image reference (a-z 0-9 . : / _ -) tagged with release ${CEPH_VERSION}"
fi
registry_pattern='^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$'
registry_host=${IMAGE_REGISTRY%%/*}
if [[ ! "${IMAGE_REGISTRY}" =~ ^[a-z0-9.:/_-]+$ || ! "${registry_host}" =~ ${registry_pattern} ]]; then
  refuse ceph-host-prep IMAGE_REGISTRY "${IMAGE_REGISTRY}" \
    "a registry host name and path (made of a-z 0-9 . : / _ - only)"
fi
if [[ "${CEPH_IMAGE}" != "${IMAGE_REGISTRY}/"* ]]; then
  refuse ceph-host-prep CEPH_IMAGE "${CEPH_IMAGE}" "an image on the internal registry ${IMAGE_REGISTRY}"
fi
read -r -d '' -a upstreams <<<"${MIRRORED_REGISTRIES}" || true
if ((${#upstreams[@]} == 0)); then
  refuse ceph-host-prep MIRRORED_REGISTRIES "${MIRRORED_REGISTRIES}" "a list of registry host names"
fi
for upstream in "${upstreams[@]}"; do
  if [[ ! "${upstream}" =~ ${registry_pattern} ]]; then
    refuse ceph-host-prep MIRRORED_REGISTRIES "${upstream}" \
      "a registry host name (lower-case letters, digits, dots, hyphens, an optional :port)"
  fi
done
if [[ -n "${CEPHADM_PUBLIC_KEY}" &&
  ! "${CEPHADM_PUBLIC_KEY}" =~ ^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521))\ [A-Za-z0-9+/]+={0,3}(\ [A-Za-z0-9@._:-]{1,100})?$ ]]; then
  refuse ceph-host-prep CEPHADM_PUBLIC_KEY "${CEPHADM_PUBLIC_KEY}" "one SSH public key line (type, key, an optional comment)"
fi
if [[ "${HOST_READY}" != true ]]; then
  echo "ceph-host-prep: the host is not ready (${HOST_READY}): nothing was changed" >&2
  exit 1
fi

# Ceph's repository, for this host's release (download.ceph.com/debian-reef has a suite per
# Debian and Ubuntu release), and its packages pinned to the image's version.
codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release | tr -d '"')
if [[ ! "${codename}" =~ ^[a-z]+$ ]]; then
  say "ceph-host-prep: /etc/os-release names no release (VERSION_CODENAME): the suite of Ceph's repository is unknown; nothing was changed" >&2
  exit 1
fi
write_if_changed /etc/apt/preferences.d/deepseek-ceph 0644 <<PIN
# Managed by deepseek-onprem: Ceph's packages at the version of the cluster's image only.
Package: /^(cephadm|ceph-common|ceph-base|librados2|libradosstriper1|librbd1|libcephfs2|librgw2|libsqlite3-mod-ceph|python3-(rados|rbd|cephfs|rgw|ceph-argparse|ceph-common))$/
Pin: version ${CEPH_VERSION}-*
Pin-Priority: 1001
PIN
write_if_changed /etc/apt/sources.list.d/deepseek-ceph.list 0644 <<LIST
# Managed by deepseek-onprem: Ceph's packages from the internal mirror of its repository.
deb ${CEPH_APT_REPO} ${codename} main
LIST
apt_update_when_sources_changed
apt_install "cephadm=${CEPH_VERSION}-*" "ceph-common=${CEPH_VERSION}-*" podman lvm2

# Each upstream is served under its own name on the internal registry (as containerd's
# mirrors have it), so an image cephadm names by its upstream name is pulled from there.
{
  echo "# Managed by deepseek-onprem: images come only from the internal registry."
  for upstream in "${upstreams[@]}"; do
    printf '\n[[registry]]\nprefix = "%s"\nlocation = "%s/%s"\n' "${upstream}" "${IMAGE_REGISTRY}" "${upstream}"
  done
} | write_if_changed /etc/containers/registries.conf.d/deepseek-mirror.conf 0644

if ! podman image exists "${CEPH_IMAGE}"; then
  tool_output podman pull "${CEPH_IMAGE}"
  note_change
fi

if [[ -n "${CEPHADM_PUBLIC_KEY}" ]]; then
  keys=/root/.ssh/authorized_keys
  if ! grep -qxF -- "${CEPHADM_PUBLIC_KEY}" "${keys}" 2>/dev/null; then
    install -d -m 0700 /root/.ssh
    {
      if [[ -s "${keys}" ]]; then
        cat "${keys}"
        # The keys already there end with a line break before ours.
        [[ -z "$(tail -c1 "${keys}")" ]] || echo
      fi
      printf '%s\n' "${CEPHADM_PUBLIC_KEY}"
    } | write_if_changed "${keys}" 0600
  fi
fi

cephadm_version=$(dpkg-query -W -f='${Version}' cephadm)
podman_version=$(podman --version)
say "ceph-host-prep: cephadm ${cephadm_version}, ${podman_version}"
result_field cephadm "${cephadm_version}"
result_field podman "${podman_version}"
result_emit ceph-host-prep

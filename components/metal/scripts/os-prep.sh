#!/usr/bin/env bash
# OS preparation for Kubernetes: internal apt mirror only, kernel modules and sysctls,
# TCP BBR (guide 4.2), swap off, time sync, RDMA packages and hugepages where declared.
# Runs after lib.sh (sent ahead of it by the component). Idempotent: a second run changes nothing.
set -euo pipefail

: "${PREFLIGHT_VERDICT:?PREFLIGHT_VERDICT is required}"
: "${APT_MIRROR:?APT_MIRROR is required}"
: "${NTP_SERVERS:?NTP_SERVERS is required}"
: "${RDMA:=false}"
: "${HUGEPAGES_2MI:=0}"

if [[ "${PREFLIGHT_VERDICT}" != passed ]]; then
  echo "preflight did not pass (${PREFLIGHT_VERDICT}): this host is not configured" >&2
  exit 1
fi

# --- OS packages only from the internal mirror ---
# shellcheck source=/dev/null
. /etc/os-release
codename=${VERSION_CODENAME:?/etc/os-release has no VERSION_CODENAME}
write_if_changed /etc/apt/sources.list.d/deepseek-mirror.list 0644 <<LIST
# Managed by deepseek-onprem: OS packages come only from the internal mirror.
deb ${APT_MIRROR} ${codename} main restricted universe multiverse
deb ${APT_MIRROR} ${codename}-updates main restricted universe multiverse
deb ${APT_MIRROR} ${codename}-security main restricted universe multiverse
LIST
sources_changed=${CHANGED}
for public in /etc/apt/sources.list /etc/apt/sources.list.d/ubuntu.sources; do
  if [[ -s "${public}" ]]; then
    mv "${public}" "${public}.disabled-by-deepseek"
    sources_changed=1
  fi
done
if ((sources_changed)); then
  apt-get update
fi

# --- kernel modules and sysctls ---
modules=(overlay br_netfilter tcp_bbr)
if [[ "${RDMA}" == true ]]; then
  modules+=(ib_umad rdma_ucm)
fi
printf '%s\n' "${modules[@]}" | write_if_changed /etc/modules-load.d/deepseek.conf 0644
for module in "${modules[@]}"; do
  modprobe "${module}"
done

{
  echo "# Managed by deepseek-onprem."
  echo "net.bridge.bridge-nf-call-iptables = 1"
  echo "net.bridge.bridge-nf-call-ip6tables = 1"
  echo "net.ipv4.ip_forward = 1"
  echo "# TCP BBR with fq pacing (guide 4.2): throughput on long, lossy links."
  echo "net.core.default_qdisc = fq"
  echo "net.ipv4.tcp_congestion_control = bbr"
  if ((HUGEPAGES_2MI > 0)); then
    echo "vm.nr_hugepages = ${HUGEPAGES_2MI}"
  fi
} | write_if_changed /etc/sysctl.d/90-deepseek.conf 0644
if ((CHANGED)); then
  sysctl --system >/dev/null
fi

# --- swap off (the kubelet refuses to run with swap by default) ---
if swapon --noheadings --show | grep -q .; then
  swapoff -a
fi
if grep -Eq '^[^#].*[[:space:]]swap[[:space:]]' /etc/fstab; then
  sed -ri 's/^([^#].*[[:space:]]swap[[:space:]].*)$/# disabled by deepseek-onprem: \1/' /etc/fstab
fi

# --- time sync against the internal servers only ---
apt_install chrony
for server in ${NTP_SERVERS}; do
  echo "server ${server} iburst"
done | write_if_changed /etc/chrony/sources.d/deepseek.sources 0644
chrony_changed=${CHANGED}
if grep -Eq '^(pool|server) ' /etc/chrony/chrony.conf; then
  sed -ri 's/^((pool|server) .*)$/# disabled by deepseek-onprem: \1/' /etc/chrony/chrony.conf
  chrony_changed=1
fi
systemctl enable --now chrony >/dev/null
if ((chrony_changed)); then
  systemctl restart chrony
fi

# --- RDMA user space where the host has RDMA NICs ---
if [[ "${RDMA}" == true ]]; then
  apt_install rdma-core ibverbs-utils infiniband-diags
fi

kernel=$(uname -r)
congestion_control=$(sysctl -n net.ipv4.tcp_congestion_control)
echo "os-prep: kernel ${kernel}, congestion control ${congestion_control}"
result_field kernel "${kernel}"
result_field congestionControl "${congestion_control}"
result_emit os-prep

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

# The NTP servers reach chrony's configuration: each a host name or an IP address, checked
# here before anything changes (the list is split into words, never globbed).
read -r -d '' -a ntp_servers <<<"${NTP_SERVERS}" || true
if ((${#ntp_servers[@]} == 0)); then
  refuse os-prep NTP_SERVERS "${NTP_SERVERS}" "a list of NTP servers"
fi
for server in "${ntp_servers[@]}"; do
  if ! is_host_name "${server}" && ! is_ip_address "${server}"; then
    refuse os-prep NTP_SERVERS "${server}" "a host name or an IP address"
  fi
done

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
# Every other source apt reads (sources.list, *.list and deb822 *.sources) is disabled: only
# the files deepseek-onprem writes (deepseek-*.list, marked as managed) stay. A disabled file
# keeps its content under a name apt ignores silently.
managed="# Managed by deepseek-onprem:"
for source in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [[ -f "${source}" ]] || continue
  if [[ "${source}" == /etc/apt/sources.list.d/deepseek-*.list && "$(head -n1 "${source}")" == "${managed}"* ]]; then
    continue
  fi
  mv -f "${source}" "${source}.deepseek.disabled"
  say "changed: disabled apt source ${source}"
  note_change
done
apt_update_when_sources_changed

# --- kernel modules and sysctls ---
modules=(overlay br_netfilter tcp_bbr)
if [[ "${RDMA}" == true ]]; then
  modules+=(ib_umad rdma_ucm)
fi
printf '%s\n' "${modules[@]}" | write_if_changed /etc/modules-load.d/deepseek.conf 0644
loaded=$(lsmod | awk 'NR > 1 { print $1 }')
probed=0
for module in "${modules[@]}"; do
  if ! grep -qx "${module}" <<<"${loaded}"; then
    modprobe "${module}"
    probed=1
  fi
done
# A change only if a module was loaded now (one built into the kernel never shows in lsmod).
if ((probed)) && [[ "$(lsmod | awk 'NR > 1 { print $1 }')" != "${loaded}" ]]; then
  note_change
fi

settings=(
  "net.bridge.bridge-nf-call-iptables=1"
  "net.bridge.bridge-nf-call-ip6tables=1"
  "net.ipv4.ip_forward=1"
  "net.core.default_qdisc=fq"
  "net.ipv4.tcp_congestion_control=bbr"
)
if ((HUGEPAGES_2MI > 0)); then
  settings+=("vm.nr_hugepages=${HUGEPAGES_2MI}")
fi
{
  echo "# Managed by deepseek-onprem."
  echo "# TCP BBR with fq pacing (guide 4.2): throughput on long, lossy links."
  for setting in "${settings[@]}"; do
    echo "${setting%%=*} = ${setting#*=}"
  done
} | write_if_changed /etc/sysctl.d/90-deepseek.conf 0644
# Applied when the kernel's values differ from the file's (not when the file changed, which
# a run interrupted before applying it would never see again).
keys=("${settings[@]%%=*}")
wanted=$(printf '%s\n' "${settings[@]#*=}")
if [[ "$(sysctl -n "${keys[@]}" 2>/dev/null || true)" != "${wanted}" ]]; then
  sysctl --system >/dev/null
  note_change
fi

# --- swap off (the kubelet refuses to run with swap by default) ---
# Asked on its own line: a failed swapon stops the step rather than reading as "no swap".
active_swap=$(swapon --noheadings --show)
if [[ -n "${active_swap}" ]]; then
  swapoff -a
  note_change
fi
if grep -Eq '^[^#].*[[:space:]]swap[[:space:]]' /etc/fstab; then
  sed -ri 's/^([^#].*[[:space:]]swap[[:space:]].*)$/# disabled by deepseek-onprem: \1/' /etc/fstab
  echo "changed: /etc/fstab (swap)"
  note_change
fi

# --- time sync against the internal servers only ---
apt_install chrony
for server in "${ntp_servers[@]}"; do
  echo "server ${server} iburst"
done | write_if_changed /etc/chrony/sources.d/deepseek.sources 0644
if grep -Eq '^(pool|server) ' /etc/chrony/chrony.conf; then
  sed -ri 's/^((pool|server) .*)$/# disabled by deepseek-onprem: \1/' /etc/chrony/chrony.conf
  echo "changed: /etc/chrony/chrony.conf (public pools)"
  note_change
fi
service_running chrony
run_when_changed chrony /etc/chrony -- systemctl restart chrony

# --- RDMA user space where the host has RDMA NICs ---
if [[ "${RDMA}" == true ]]; then
  apt_install rdma-core ibverbs-utils infiniband-diags
fi

kernel=$(uname -r)
congestion_control=$(sysctl -n net.ipv4.tcp_congestion_control)
say "os-prep: kernel ${kernel}, congestion control ${congestion_control}"
result_field kernel "${kernel}"
result_field congestionControl "${congestion_control}"
result_emit os-prep

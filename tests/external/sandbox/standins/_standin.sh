# shellcheck shell=bash
# What every stand-in shares. A stand-in records its call (argv) in the harness's log, obeys
# the harness's failure switch, and keeps the state of the tool it stands for where that
# tool keeps its own: on the sandboxed host (persistent state under /var/lib/standin,
# kernel and service state under /run, which a reboot of the sandbox clears). It never
# touches the machine that runs the harness: it only ever runs inside the sandbox.
# Sourced by each stand-in (tests/external/sandbox/standins/*).

STANDIN_CONTROL=/dev/shm/deepseek-sandbox
STANDIN_STATE=/var/lib/standin
STANDIN_KERNEL=/run/standin-kernel
STANDIN_UNITS=/run/standin-systemd
STANDIN_ETCD=/var/lib/etcd/standin
STANDIN_TOOL=${0##*/}
# Set by standin_record when the switch asks this call to fail after part of its work
# ("late"), and, for mode "verbose", after printing what it knows, secrets included (as
# kubeadm does at --v=5 or when it quotes a value it refuses).
# shellcheck disable=SC2034 # read by the stand-ins that can fail half-way
STANDIN_LATE=0
# shellcheck disable=SC2034
STANDIN_VERBOSE=0
STANDIN_ARGV=()

# standin_json VALUE: appends VALUE as a JSON string to STANDIN_LINE (no subshell: every
# stand-in call costs the scripts' runs time).
standin_json() {
  local value=$1
  value=${value//\\/\\\\}
  value=${value//\"/\\\"}
  value=${value//$'\n'/\\n}
  value=${value//$'\t'/\\t}
  value=${value//$'\r'/\\r}
  STANDIN_LINE+="\"${value}\""
}

# standin_record ARG...: appends {"tool":…,"argv":[…]} to the call log and applies the
# failure switch: the file `fail` names one call (its log line), which occurrence of it, and
# whether it fails at once ("early") or after part of its work ("late", where the tool has
# such a failure; it checks STANDIN_LATE).
standin_record() {
  if [[ -n "${STANDIN_QUIET:-}" ]]; then
    return 0 # the sandbox's own boot, not a call a script made
  fi
  local arg separator="" lock mode="" want nth how count
  STANDIN_LINE='{"tool":'
  standin_json "${STANDIN_TOOL}"
  STANDIN_LINE+=',"argv":['
  for arg in "$@"; do
    STANDIN_LINE+=${separator}
    standin_json "${arg}"
    separator=","
  done
  STANDIN_LINE+="]}"
  if [[ ! -s "${STANDIN_CONTROL}/fail" ]]; then
    # One short append: atomic, so concurrent calls (a pipeline's) need no lock.
    printf '%s\n' "${STANDIN_LINE}" >>"${STANDIN_CONTROL}/calls.log"
    standin_hooks "$@"
    return 0
  fi
  exec {lock}>>"${STANDIN_CONTROL}/calls.lock"
  flock "${lock}"
  printf '%s\n' "${STANDIN_LINE}" >>"${STANDIN_CONTROL}/calls.log"
  {
    IFS= read -r want
    read -r nth
    read -r how
  } <"${STANDIN_CONTROL}/fail"
  if [[ "${STANDIN_LINE}" == "${want}" ]]; then
    count=$(grep -cFx -- "${STANDIN_LINE}" "${STANDIN_CONTROL}/calls.log")
    if ((count == nth)); then
      mode=${how}
    fi
  fi
  exec {lock}>&-
  # shellcheck disable=SC2034 # STANDIN_LATE is read by the stand-in that sourced this file
  case "${mode}" in
    early) standin_fail "${STANDIN_FAIL_CODE:-1}" ;;
    late) STANDIN_LATE=1 ;;
    verbose) STANDIN_LATE=1 STANDIN_VERBOSE=1 ;;
  esac
  standin_hooks "$@"
}

# standin_hooks ARG...: runs the test's hooks for this tool, if it set any: hooks/TOOL.before
# (bash, with the call's arguments) now, and hooks/TOOL.after when the stand-in exits (its
# exit status kept; not for pass-through stand-ins, which exec the real tool). Both print
# into the tool's own stdout and stderr: a tool's odd output (no trailing newline, invalid
# UTF-8, a forged result line) or something that happens on the host during the call.
standin_hooks() {
  local hooks=${STANDIN_CONTROL}/hooks/${STANDIN_TOOL}
  if [[ -n "${STANDIN_QUIET:-}" ]]; then
    return 0
  fi
  if [[ -f "${hooks}.before" ]]; then
    bash "${hooks}.before" "$@" || true
  fi
  if [[ -f "${hooks}.after" ]]; then
    STANDIN_ARGV=("$@")
    trap 'standin_after_hook "$?"' EXIT
  fi
}

standin_after_hook() {
  trap - EXIT
  bash "${STANDIN_CONTROL}/hooks/${STANDIN_TOOL}.after" "${STANDIN_ARGV[@]}" || true
  exit "$1"
}

# standin_fail CODE [MESSAGE]: the tool fails as the harness asked.
standin_fail() {
  printf '%s\n' "${2:-${STANDIN_TOOL}: failed (failure injected by the sandbox harness)}" >&2
  exit "$1"
}

# standin_write PATH [MODE] < content: writes PATH only when its content differs, as a tool
# that has nothing to change leaves its files alone.
standin_write() {
  local path=$1 mode=${2:-0644} content existing
  content=$(
    cat
    printf x
  )
  content=${content%x}
  if [[ -f "${path}" ]]; then
    existing=$(
      cat "${path}"
      printf x
    )
    if [[ "${existing%x}" == "${content}" ]]; then
      return 0
    fi
    printf '%s' "${content}" >"${path}"
    return 0
  fi
  [[ -d "${path%/*}" ]] || mkdir -p "${path%/*}"
  printf '%s' "${content}" >"${path}"
  chmod "${mode}" "${path}"
}

# standin_real TOOL: the real binary behind a pass-through stand-in.
standin_real() {
  local directory
  for directory in /usr/sbin /usr/bin /sbin /bin; do
    if [[ -x "${directory}/$1" ]]; then
      printf '%s\n' "${directory}/$1"
      return 0
    fi
  done
  echo "$1: command not found" >&2
  exit 127
}

# standin_tree_digest PATH...: one checksum of the files under PATHs (what a daemon read).
standin_tree_digest() {
  find "$@" -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum | sha256sum | cut -c1-16
}

# --- packages (what dpkg knows) --------------------------------------------------------------
# $STANDIN_STATE/dpkg/status: NAME<TAB>VERSION<TAB>STATUS<TAB>SELECTION<TAB>ORIGIN per line.
STANDIN_DPKG=${STANDIN_STATE}/dpkg/status

standin_package_field() { # NAME FIELD(2=version,3=status,4=selection,5=origin)
  [[ -f "${STANDIN_DPKG}" ]] || return 1
  awk -F'\t' -v name="$1" -v field="$2" '$1 == name { print $field; found = 1 } END { exit !found }' "${STANDIN_DPKG}"
}

standin_installed() {
  [[ "$(standin_package_field "$1" 3 2>/dev/null)" == "install ok installed" ]]
}

# standin_set_package NAME VERSION STATUS SELECTION ORIGIN
standin_set_package() {
  {
    if [[ -f "${STANDIN_DPKG}" ]]; then
      awk -F'\t' -v name="$1" '$1 != name' "${STANDIN_DPKG}"
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$@"
  } | sort | standin_write "${STANDIN_DPKG}"
}

# standin_require_package PACKAGE: the tool exists only once its package is installed.
standin_require_package() {
  if ! standin_installed "$1"; then
    standin_fail 127 "bash: ${STANDIN_TOOL}: command not found"
  fi
}

# --- kernel (modules, sysctls, swap) ----------------------------------------------------------
standin_module_loaded() {
  [[ -f "${STANDIN_KERNEL}/modules" ]] && grep -qx -- "$1" "${STANDIN_KERNEL}/modules"
}

standin_load_module() {
  if ! standin_module_loaded "$1"; then
    {
      cat "${STANDIN_KERNEL}/modules" 2>/dev/null || true
      printf '%s\n' "$1"
    } | sort | standin_write "${STANDIN_KERNEL}/modules"
  fi
}

# The values a freshly booted Ubuntu 22.04 kernel has for the keys the scripts touch.
standin_sysctl_default() {
  case "$1" in
    vm.nr_hugepages) echo 0 ;;
    vm.swappiness) echo 60 ;;
    net.ipv4.ip_forward) echo 0 ;;
    net.ipv4.tcp_congestion_control) echo cubic ;;
    net.ipv4.tcp_available_congestion_control) echo "reno cubic" ;;
    net.core.default_qdisc) echo fq_codel ;;
    net.bridge.bridge-nf-call-iptables | net.bridge.bridge-nf-call-ip6tables)
      standin_module_loaded br_netfilter && echo 1
      ;;
    kernel.*) echo 0 ;;
    *) return 1 ;;
  esac
}

# standin_sysctl_get KEY: prints the value; fails as the kernel does for a missing key.
standin_sysctl_get() {
  local value
  if [[ "$1" == net.bridge.* ]] && ! standin_module_loaded br_netfilter; then
    return 1
  fi
  if value=$(grep -m1 "^$1=" "${STANDIN_KERNEL}/sysctl" 2>/dev/null); then
    printf '%s\n' "${value#*=}"
    return 0
  fi
  standin_sysctl_default "$1"
}

# standin_sysctl_set KEY VALUE: what writing /proc/sys/KEY does (errors as sysctl prints them).
standin_sysctl_set() {
  local key=$1 value=$2
  if [[ "${key}" == net.bridge.* ]] && ! standin_module_loaded br_netfilter; then
    echo "sysctl: cannot stat /proc/sys/${key//.//}: No such file or directory" >&2
    return 1
  fi
  if [[ "${key}" == net.ipv4.tcp_congestion_control && "${value}" != cubic && "${value}" != reno ]] &&
    ! standin_module_loaded "tcp_${value}"; then
    echo "sysctl: setting key \"${key}\": No such file or directory" >&2
    return 1
  fi
  {
    grep -v "^${key}=" "${STANDIN_KERNEL}/sysctl" 2>/dev/null || true
    printf '%s=%s\n' "${key}" "${value}"
  } | sort | standin_write "${STANDIN_KERNEL}/sysctl"
}

# standin_sysctl_files: the files `sysctl --system` reads, in its order.
standin_sysctl_files() {
  local file
  for file in /etc/sysctl.d/*.conf; do
    [[ -f "${file}" ]] && printf '%s\n' "${file}"
  done
  [[ -f /etc/sysctl.conf ]] && echo /etc/sysctl.conf
  return 0
}

# standin_sysctl_apply FILE [quiet]: applies FILE as sysctl -p does; non-zero on an error.
standin_sysctl_apply() {
  local file=$1 quiet=${2:-} line key value status=0
  while IFS= read -r line || [[ -n "${line}" ]]; do
    line=${line%%#*}
    [[ "${line}" == *=* ]] || continue
    key=${line%%=*}
    value=${line#*=}
    key=${key//[[:space:]]/}
    value=$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' <<<"${value}")
    key=${key#-}
    if standin_sysctl_set "${key}" "${value}"; then
      [[ -n "${quiet}" ]] || echo "${key} = ${value}"
    else
      status=1
    fi
  done <"${file}"
  return "${status}"
}

# Swap areas in use: "NAME TYPE SIZE" per line.
standin_swaps() {
  cat "${STANDIN_KERNEL}/swaps" 2>/dev/null || true
}

# --- services ---------------------------------------------------------------------------------
# A unit exists once its package is installed; enabled state persists, active state (with
# how often it restarted and the configuration it read when it started) lives in /run.
standin_unit_package() {
  case "${1%.service}" in
    containerd) echo containerd ;;
    chrony) echo chrony ;;
    kubelet) echo kubelet ;;
    ssh) echo openssh-server ;;
    *) return 1 ;;
  esac
}

standin_unit_config() {
  case "${1%.service}" in
    containerd) standin_tree_digest /etc/containerd ;;
    chrony) standin_tree_digest /etc/chrony ;;
    kubelet) standin_tree_digest /var/lib/kubelet/config.yaml /etc/kubernetes/kubelet.conf ;;
    *)
      if [[ -f "$(standin_unit_file "$1")" ]]; then standin_unit_loaded "$1"; else echo -; fi
      ;;
  esac
}

# A unit of the admin's own (a service or timer a script installs): its file in
# /etc/systemd/system (UNIT without a suffix is a service). systemd reads such a file when
# the unit is first used, and again only at `daemon-reload` (or a boot): a unit started
# after its file changed without one runs the definition loaded before.
standin_unit_file() {
  local unit=$1
  [[ "${unit}" == *.* ]] || unit+=.service
  printf '/etc/systemd/system/%s\n' "${unit}"
}

# standin_unit_loaded UNIT: the digest of the definition systemd holds for the unit (loading
# its file now if it never read it since boot).
standin_unit_loaded() {
  local file digest
  file=$(standin_unit_file "$1")
  digest=$(awk -v file="${file}" '$1 == file { print $2 }' "${STANDIN_UNITS}/loaded" 2>/dev/null)
  if [[ -z "${digest}" ]]; then
    digest=$(sha256sum <"${file}" | cut -c1-16)
    {
      cat "${STANDIN_UNITS}/loaded" 2>/dev/null || true
      printf '%s %s\n' "${file}" "${digest}"
    } | sort | standin_write "${STANDIN_UNITS}/loaded"
  fi
  printf '%s\n' "${digest}"
}

# standin_daemon_reload: systemd reads the unit files again. Only the units it holds are
# recorded (those used since boot); any other is read from its file when first used anyway
# (and the machine's own units under the sandbox's /etc never enter the record).
standin_daemon_reload() {
  local file digest loaded
  [[ -f "${STANDIN_UNITS}/loaded" ]] || return 0
  loaded=$(<"${STANDIN_UNITS}/loaded")
  while read -r file digest; do
    if [[ -f "${file}" ]]; then
      printf '%s %s\n' "${file}" "$(sha256sum <"${file}" | cut -c1-16)"
    fi
  done <<<"${loaded}" | sort | standin_write "${STANDIN_UNITS}/loaded"
}

standin_unit_known() {
  local package
  [[ -f "$(standin_unit_file "$1")" ]] && return 0
  package=$(standin_unit_package "$1") && standin_installed "${package}"
}

standin_unit_enabled() { [[ -f "${STANDIN_STATE}/systemd/enabled/${1%.service}" ]]; }
standin_unit_active() { [[ -f "${STANDIN_UNITS}/${1%.service}.active" ]]; }

standin_unit_enable() {
  standin_unit_enabled "$1" || : | standin_write "${STANDIN_STATE}/systemd/enabled/${1%.service}"
}

standin_unit_disable() { rm -f "${STANDIN_STATE}/systemd/enabled/${1%.service}"; }

# standin_unit_start UNIT [restart]: starts it (a restart re-reads its configuration). What
# it runs with is UNIT.active (the digest of its configuration); how often it restarted since
# boot, UNIT.restarts (history, which the harness leaves out when it compares two hosts).
standin_unit_start() {
  local unit=${1%.service} restarts=0
  if standin_unit_active "${unit}"; then
    [[ "${2:-}" == restart ]] || return 0
    restarts=$(cat "${STANDIN_UNITS}/${unit}.restarts" 2>/dev/null || echo 0)
    printf '%s\n' "$((restarts + 1))" | standin_write "${STANDIN_UNITS}/${unit}.restarts"
  fi
  printf 'config=%s\n' "$(standin_unit_config "${unit}")" | standin_write "${STANDIN_UNITS}/${unit}.active"
}

standin_unit_stop() { rm -f "${STANDIN_UNITS}/${1%.service}.active" "${STANDIN_UNITS}/${1%.service}.restarts"; }

# --- the cluster (its state is etcd's data on the control plane that holds it) -------------
standin_api_up() {
  [[ -f "${STANDIN_ETCD}/cluster" && -f /etc/kubernetes/manifests/kube-apiserver.yaml ]] &&
    standin_unit_active kubelet
}

standin_cluster_field() { # KEY
  sed -n "s/^$1=//p" "${STANDIN_ETCD}/cluster" 2>/dev/null
}

# standin_config_value FILE KEY: the first `KEY: value` of a kubeadm configuration file.
standin_config_value() {
  sed -n "s/^[[:space:]]*-\{0,1\}[[:space:]]*$2:[[:space:]]*//p" "$1" | head -n1 | tr -d "'\""
}

#!/usr/bin/env bash
# Shared functions of the host configuration scripts. The component sends this file ahead of
# each configuration script on the same shell's stdin, so the functions are defined there.

# `producer | write_if_changed …` must set CHANGED in this shell, not in a pipeline subshell
# (non-interactive bash runs a pipeline's last command in the current shell with lastpipe).
shopt -s lastpipe

# --- output: valid UTF-8 only ----------------------------------------------------------------
# The step's stdout and stderr become string fields of the provider's protobuf messages,
# which refuse invalid UTF-8 (the update would fail naming no host). What a script prints of
# a tool's output, in a line for people or in the result, goes through utf8_clean.

# utf8_clean < TEXT: TEXT without the bytes that are not valid UTF-8 (stray bytes, surrogates,
# overlong forms, code points beyond U+10FFFF). Through UTF-32 and back: glibc's UTF-8
# decoder alone lets code points beyond U+10FFFF through. Without iconv (libc-bin), ASCII.
utf8_clean() {
  if command -v iconv >/dev/null; then
    { iconv -f UTF-8 -t UTF-32LE -c 2>/dev/null || true; } |
      { iconv -f UTF-32LE -t UTF-8 -c 2>/dev/null || true; }
  else
    LC_ALL=C tr -cd '\11\12\15\40-\176'
  fi
}

# say TEXT...: a line for people on stdout, whatever a tool put in TEXT.
say() {
  printf '%s\n' "$*" | utf8_clean
}

# tool_output COMMAND...: runs a tool whose output is for people; what it prints (stderr
# too, merged) reaches stdout as valid UTF-8. Its exit status is the tool's.
tool_output() {
  "$@" 2>&1 | utf8_clean
}

# write_if_changed PATH MODE < content: writes PATH only when its content differs, and sets
# CHANGED to 1 if it wrote, 0 if the file already held exactly that content.
# shellcheck disable=SC2034 # CHANGED is read by the script that follows this file
write_if_changed() {
  local path=$1 mode=$2 staged
  staged=$(mktemp)
  cat >"${staged}"
  if [[ -f "${path}" ]] && cmp -s "${staged}" "${path}"; then
    CHANGED=0
  else
    install -D -m "${mode}" "${staged}" "${path}"
    echo "changed: ${path}"
    CHANGED=1
    note_change
  fi
  rm -f "${staged}"
}

# --- inputs that reach a configuration file --------------------------------------------------
# The program validates every input; a script checks those it writes into a file itself too,
# before it changes anything (defence in depth), and refuses what does not fit.

# refuse STEP VARIABLE VALUE WHAT: stops the step, naming the input and what it should be (the
# value shown quoted by printf %q: plain ASCII whatever it holds).
refuse() {
  printf '%s: %s refused: %q is not %s; nothing was changed\n' "$1" "$2" "$3" "$4" >&2
  exit 1
}

# is_host_name VALUE: a DNS host name (labels of letters, digits and inner hyphens).
is_host_name() {
  local label='[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
  ((${#1} <= 253)) && [[ "$1" =~ ^${label}(\.${label})*$ ]]
}

# is_ip_address VALUE: an IPv4 address (dotted quad) or an IPv6 address (hex, colons, dots).
is_ip_address() {
  local octet='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
  [[ "$1" =~ ^${octet}(\.${octet}){3}$ ]] ||
    { ((${#1} <= 45)) && [[ "$1" =~ ^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$ ]]; }
}

# apt_install PACKAGE[=VERSION]...: installs, from the configured sources only, each package
# that is not installed, and each one pinned to a VERSION (apt's `=VERSION`, where `*` may
# stand for any part) other than the installed one. Such a pin may ask for an older version
# (--allow-downgrades: the pin names the version wanted), and may change a package held
# against upgrades (--allow-change-held-packages, only then); the hold stays.
apt_install() {
  local package name state installed want=() downgrades=() held=()
  for package in "$@"; do
    name=${package%%=*}
    state=$(dpkg-query -W -f='${Status}\t${Version}' "${name}" 2>/dev/null || true)
    installed=${state#*$'\t'}
    state=${state%%$'\t'*}
    if [[ "${state}" != "install ok installed" && "${state}" != "hold ok installed" ]]; then
      want+=("${package}")
    elif [[ "${package}" == *=* ]]; then
      # shellcheck disable=SC2053 # the pin is a pattern, as apt reads it
      if [[ "${installed}" == ${package#*=} ]]; then
        continue
      fi
      want+=("${package}")
      downgrades=(--allow-downgrades)
    else
      continue
    fi
    if [[ "${state}" == hold\ * ]]; then
      held=(--allow-change-held-packages)
    fi
  done
  if ((${#want[@]})); then
    tool_output env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "${downgrades[@]}" "${held[@]}" "${want[@]}"
    note_change
  fi
}

# run_when_changed KEY PATH... -- COMMAND...: runs COMMAND (an apt-get update, a service
# restart) when the files under PATHs differ from what they were when COMMAND last
# succeeded, and records them then. A run interrupted between changing the files and
# COMMAND therefore runs it next time, where comparing before and after would not.
run_when_changed() {
  local key=$1 paths=() digest record
  shift
  while [[ "$1" != -- ]]; do
    paths+=("$1")
    shift
  done
  shift
  digest=$(tree_digest "${paths[@]}")
  record=/var/lib/deepseek/applied/${key}
  if [[ -f "${record}" && "$(<"${record}")" == "${digest}" ]]; then
    return 0
  fi
  tool_output "$@"
  note_change
  printf '%s\n' "${digest}" | write_if_changed "${record}" 0644 >/dev/null
}

# tree_digest PATH...: one checksum of the names and contents of the files under PATHs
# (those that exist).
tree_digest() {
  local path existing=()
  for path in "$@"; do
    if [[ -e "${path}" ]]; then
      existing+=("${path}")
    fi
  done
  if ((${#existing[@]})); then
    find "${existing[@]}" -type f -print0 | sort -z | xargs -0 -r sha256sum
  fi | sha256sum | cut -d' ' -f1
}

# apt_update_when_sources_changed: apt-get update once the apt sources changed (lib.sh's
# run_when_changed), so packages come from the sources configured now, never stale lists.
apt_update_when_sources_changed() {
  run_when_changed apt-sources /etc/apt/sources.list /etc/apt/sources.list.d -- apt-get update
}

# service_running UNIT: enabled and started (a change only when it was not).
service_running() {
  if ! systemctl is-enabled --quiet "$1" || ! systemctl is-active --quiet "$1"; then
    systemctl enable --now "$1" >/dev/null
    note_change
  fi
}

# file_digest PATH: a checksum to tell whether a tool rewrote a file ("absent" if missing).
file_digest() {
  if [[ -f "$1" ]]; then sha256sum "$1" | cut -d' ' -f1; else echo absent; fi
}

# install_kubernetes VERSION APT_REPO: kubelet, kubeadm and kubectl at exactly VERSION from
# the internal mirror of the Kubernetes package repository, held against upgrades.
install_kubernetes() {
  kubernetes_apt_source "$2"
  kubernetes_packages "$1" kubelet kubeadm kubectl
  if ! systemctl is-enabled --quiet kubelet; then
    systemctl enable kubelet >/dev/null 2>&1
    note_change
  fi
}

# kubernetes_apt_source APT_REPO: the internal mirror of the Kubernetes package repository as
# the only source of its packages, and apt's lists read from it.
kubernetes_apt_source() {
  write_if_changed /etc/apt/sources.list.d/deepseek-kubernetes.list 0644 <<LIST
# Managed by deepseek-onprem: Kubernetes packages from the internal mirror only.
deb $1 /
LIST
  apt_update_when_sources_changed
}

# kubernetes_packages VERSION PACKAGE...: each of kubelet, kubeadm, kubectl named at exactly
# VERSION, all of them held against upgrades (kubeadm upgrades one before the others).
kubernetes_packages() {
  local version=$1 package state
  shift
  for package in "$@"; do
    # Held (as this function leaves them), dpkg reports "hold ok installed".
    state=$(dpkg-query -W -f='${Status} ${Version}' "${package}" 2>/dev/null || true)
    if [[ "${state}" != "install ok installed ${version}-"* && "${state}" != "hold ok installed ${version}-"* ]]; then
      apt-mark unhold "${package}" >/dev/null 2>&1 || true
      tool_output env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends --allow-change-held-packages "${package}=${version}-*"
      note_change
    fi
  done
  if [[ "$(apt-mark showhold "$@" | sort | tr '\n' ' ')" != "$(printf '%s\n' "$@" | sort | tr '\n' ' ')" ]]; then
    apt-mark hold "$@" >/dev/null
    note_change
  fi
}

# kubernetes_version PACKAGE: the Kubernetes version (1.31.4) of a kubelet, kubeadm or kubectl
# package on the host (dpkg's 1.31.4-1.1), installed or left half-configured by a failed
# install; nothing if it is not there.
kubernetes_version() {
  local state version
  state=$(dpkg-query -W -f='${Status}\t${Version}' "$1" 2>/dev/null || true)
  if [[ "${state}" == *$'\t'?* && "${state%%$'\t'*}" != *" not-installed" && "${state%%$'\t'*}" != *" config-files" ]]; then
    version=${state#*$'\t'}
    version=${version#*:}
    printf '%s\n' "${version%%-*}"
  fi
}

# --- day-2 steps on the site's first control plane (node-drain, node-uncordon) ---------------
# kubectl_admin ARG...: kubectl as the cluster's admin.
kubectl_admin() {
  kubectl --kubeconfig /etc/kubernetes/admin.conf "$@"
}

# node_inputs STEP TIMEOUT_VARIABLE: refuses, before anything changes, a NODE that is not a
# node name of ours (a DNS label) and a timeout that is not a positive number of seconds.
node_inputs() {
  local timeout=${!2}
  if ! [[ "${NODE}" =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]]; then
    refuse "$1" NODE "${NODE}" "a node name (a DNS label)"
  fi
  if ! [[ "${timeout}" =~ ^[1-9][0-9]{0,5}$ ]]; then
    refuse "$1" "$2" "${timeout}" "a positive number of seconds"
  fi
}

# node_registered STEP: whether node NODE is registered in the cluster (false when the API
# says NotFound); any other failure to ask stops the step, saying so.
node_registered() {
  local answer
  if answer=$(kubectl_admin get node "${NODE}" -o name 2>&1); then
    return 0
  fi
  if [[ "${answer}" == *NotFound* ]]; then
    say "$1: node ${NODE} is not registered in the cluster: nothing to do"
    return 1
  fi
  say "${answer}" >&2
  say "$1: could not read node ${NODE} from the cluster's API (above); nothing was changed" >&2
  exit 1
}

# kubeadm_config TEMPLATE PATH: writes the rendered kubeadm configuration with the secret
# placeholders replaced from the environment (in bash, so no secret reaches a command line),
# readable by root only.
kubeadm_config() {
  local text=$1 path=$2
  text=${text//__KUBEADM_TOKEN__/${KUBEADM_TOKEN:-}}
  text=${text//__KUBEADM_CERTIFICATE_KEY__/${KUBEADM_CERTIFICATE_KEY:-}}
  text=${text//__KUBEADM_CA_CERT_HASH__/${KUBEADM_CA_CERT_HASH:-}}
  install -d -m 0700 "$(dirname "${path}")"
  printf '%s\n' "${text}" | write_if_changed "${path}" 0600
}

# kubeadm_leftovers: what an earlier kubeadm init or join left on this host, if any
# (kubeconfigs, certificates, static pods, etcd data): kubeadm refuses to run over them.
kubeadm_leftovers() {
  local path
  for path in /etc/kubernetes/admin.conf /etc/kubernetes/kubelet.conf \
    /etc/kubernetes/bootstrap-kubelet.conf /etc/kubernetes/pki/ca.crt \
    /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/manifests/etcd.yaml; do
    [[ -e "${path}" ]] && return 0
  done
  [[ -d /var/lib/etcd && -n "$(ls -A /var/lib/etcd)" ]]
}

# kubeadm_reset: undoes a kubeadm init or join that did not complete, as kubeadm documents:
# `kubeadm reset`, then what it leaves (the rest of /etc/kubernetes but our own
# configuration, the etcd data directory).
kubeadm_reset() {
  say "kubeadm: an earlier run did not complete on $(hostname); resetting before trying again"
  tool_output kubeadm reset --force
  find /etc/kubernetes -mindepth 1 -maxdepth 1 ! -name deepseek -exec rm -rf {} +
  rm -rf /var/lib/etcd
  note_change
}

# --- steps whose output may carry a secret ---------------------------------------------------
# A failed step's error carries all it printed: pulumi-command builds it from the command's
# stdout and stderr, whatever the Command's `logging` says. So the steps that handle the join
# token, the certificate key or the admin kubeconfig (kubeadm-init, kubeadm-join,
# admin-kubeconfig) print nothing but their result line: `step_log STEP` sends everything the
# script and its tools print from then on to /var/log/deepseek/STEP.log on the host (root
# only; the previous run's kept as STEP.log.1). If the script fails, its stderr gets the last
# lines of that log with the secrets, and anything shaped like one, masked, and the log's
# path; result_emit prints the result line to the step's own stdout.
STEP_LOG=""
STEP_NAME=""

step_log() {
  local directory=/var/log/deepseek
  STEP_NAME=$1
  STEP_LOG=${directory}/$1.log
  install -d -m 0700 -o root -g root "${directory}"
  if [[ -e "${STEP_LOG}" || -L "${STEP_LOG}" ]]; then
    mv -f "${STEP_LOG}" "${STEP_LOG}.1"
  fi
  (umask 077 && : >"${STEP_LOG}")
  chmod 0600 "${STEP_LOG}"
  exec 3>&1 4>&2 >>"${STEP_LOG}" 2>&1
  trap 'step_log_failed "$?"' EXIT
}

# step_log_failed STATUS (the EXIT trap of a logged step): on failure, the log's tail, masked.
step_log_failed() {
  local status=$1 line
  set +e
  ((status)) || return 0
  exec 1>&3 2>&4
  {
    printf '%s failed (exit status %s). The last lines it and its tools printed, secrets masked; all of them are in %s on the host (root only):\n' \
      "${STEP_NAME}" "${status}" "${STEP_LOG}"
    tail -n 20 "${STEP_LOG}" | utf8_clean | while IFS= read -r line || [[ -n "${line}" ]]; do
      line=$(mask_secrets "${line}")
      printf '  | %s\n' "${line:0:300}"
    done
  } | utf8_clean >&2
}

# mask_secrets LINE: LINE with the step's secrets (compared in bash: no secret reaches a
# command line) and whatever looks like a secret replaced: bootstrap tokens, long hex and
# base64 runs (certificate keys, key material), what follows client-key-data, token:,
# certificateKey:, --token, --certificate-key.
mask_secrets() {
  local line=$1 secret pattern
  for secret in "${KUBEADM_TOKEN:-}" "${KUBEADM_CERTIFICATE_KEY:-}"; do
    if [[ -n "${secret}" ]]; then
      line=${line//"${secret}"/<masked>}
      if [[ "${secret}" == *.* && -n "${secret#*.}" ]]; then
        line=${line//"${secret#*.}"/<masked>} # a token's secret half
      fi
    fi
  done
  if [[ "${line}" == *client-key-data* ]]; then
    line="${line%%client-key-data*}client-key-data: <masked>"
  fi
  # Each pattern's masked part cannot start with "<": "<masked>" never matches again.
  for pattern in '([a-z0-9]{6}\.[a-z0-9]{16})' '([0-9A-Fa-f]{32,})' '([A-Za-z0-9+/]{40,}=*)' \
    '(--token|--certificate-key)[= ]+([^[:space:]<][^[:space:]]*)' \
    '(token|certificateKey|certificate-key|tokenSecret)["'"'"']?:[[:space:]]*([^[:space:]<][^[:space:]]*)'; do
    while [[ "${line}" =~ ${pattern} ]]; do
      line=${line//"${BASH_REMATCH[${#BASH_REMATCH[@]} - 1]}"/<masked>}
    done
  done
  printf '%s' "${line}"
}

# --- the step's result: the one line the program reads -------------------------------------
# A step's machine-readable result is one line, printed last:
#   ##### deepseek-result: {"step":"<step>","changed":true|false,<fields>}
# Everything else the script or its tools print is for people and may go anywhere; the
# program parses only this line (components/remote/steps.py: parse_result). A field whose key
# ends in ".b64" holds a tool's output verbatim, base64-encoded, so any bytes fit on the line.
RESULT_FIELDS=()
CHANGES=0

# json_string VALUE: VALUE as a JSON string (quotes, backslashes and control characters
# escaped), valid UTF-8 whatever VALUE held.
json_string() {
  local value
  value=$(
    printf '%s' "$1" | utf8_clean
    printf x
  )
  value=${value%x}
  value=${value//\\/\\\\}
  value=${value//\"/\\\"}
  value=${value//$'\t'/\\t}
  value=${value//$'\r'/\\r}
  value=${value//$'\n'/\\n}
  printf '"%s"' "$(printf '%s' "${value}" | tr -d '\000-\037')"
}

# note_change: the run changed the host in a way write_if_changed did not see.
note_change() {
  CHANGES=$((CHANGES + 1))
}

# result_field KEY VALUE: a plain value of the result.
result_field() {
  RESULT_FIELDS+=("\"$1\":$(json_string "$2")")
}

# result_output KEY FILE: a tool's output (saved in FILE) in the result, verbatim: base64
# under the key KEY.b64. (A file, not a pipe: a function at the end of a pipe runs in a
# subshell and its fields would be lost.)
result_output() {
  RESULT_FIELDS+=("\"$1.b64\":\"$(base64 -w0 <"$2")\"")
}

# result_emit STEP: prints the result line; "changed" is true when the run changed the host.
# The line starts after a newline of its own: a tool whose output did not end with one
# would otherwise glue it to the marker, and the program would read an earlier line (one
# the tool printed, perhaps forged) as the result.
result_emit() {
  local changed=false fields=""
  if ((CHANGES)); then changed=true; fi
  if ((${#RESULT_FIELDS[@]})); then
    fields=$(IFS=,; printf ',%s' "${RESULT_FIELDS[*]}")
  fi
  if [[ -n "${STEP_LOG}" ]]; then
    exec 1>&3 2>&4 3>&- 4>&-
    say "$1: what it and its tools printed is in ${STEP_LOG} on the host (root only)" >&2
  fi
  printf '\n##### deepseek-result: {"step":"%s","changed":%s%s}\n' "$1" "${changed}" "${fields}"
}

#!/usr/bin/env bash
# Shared functions of the host configuration scripts. The component sends this file ahead of
# each configuration script on the same shell's stdin, so the functions are defined there.

# `producer | write_if_changed …` must set CHANGED in this shell, not in a pipeline subshell
# (non-interactive bash runs a pipeline's last command in the current shell with lastpipe).
shopt -s lastpipe

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

# apt_install PACKAGE...: installs those not yet installed, from the configured sources only.
apt_install() {
  local package missing=()
  for package in "$@"; do
    if ! dpkg-query -W -f='${Status}' "${package%%=*}" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("${package}")
    fi
  done
  if ((${#missing[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

# file_digest PATH: a checksum to tell whether a tool rewrote a file ("absent" if missing).
file_digest() {
  if [[ -f "$1" ]]; then sha256sum "$1" | cut -d' ' -f1; else echo absent; fi
}

# install_kubernetes VERSION APT_REPO: kubelet, kubeadm and kubectl at exactly VERSION from
# the internal mirror of the Kubernetes package repository, held against upgrades.
install_kubernetes() {
  local version=$1 repo=$2
  write_if_changed /etc/apt/sources.list.d/deepseek-kubernetes.list 0644 <<LIST
# Managed by deepseek-onprem: Kubernetes packages from the internal mirror only.
deb ${repo} /
LIST
  if ((CHANGED)); then
    apt-get update
  fi
  local package
  for package in kubelet kubeadm kubectl; do
    if [[ "$(dpkg-query -W -f='${Version}' "${package}" 2>/dev/null)" != "${version}"-* ]]; then
      apt-mark unhold "${package}" >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends --allow-change-held-packages "${package}=${version}-*"
    fi
  done
  apt-mark hold kubelet kubeadm kubectl >/dev/null
  systemctl enable kubelet >/dev/null
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
  (
    umask 077
    printf '%s\n' "${text}" >"${path}"
  )
}

# --- the step's result: the one line the program reads -------------------------------------
# A step's machine-readable result is one line, printed last:
#   ##### deepseek-result: {"step":"<step>","changed":true|false,<fields>}
# Everything else the script or its tools print is for people and may go anywhere; the
# program parses only this line (components/metal/steps.py: parse_result). A field whose key
# ends in ".b64" holds a tool's output verbatim, base64-encoded, so any bytes fit on the line.
RESULT_FIELDS=()
CHANGES=0

# json_string VALUE: VALUE as a JSON string (quotes, backslashes and control characters escaped).
json_string() {
  local value=$1
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
result_emit() {
  local changed=false fields=""
  if ((CHANGES)); then changed=true; fi
  if ((${#RESULT_FIELDS[@]})); then
    fields=$(IFS=,; printf ',%s' "${RESULT_FIELDS[*]}")
  fi
  printf '##### deepseek-result: {"step":"%s","changed":%s%s}\n' "$1" "${changed}" "${fields}"
}

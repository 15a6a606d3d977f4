#!/usr/bin/env bash
# Shared functions of the host configuration scripts. The component sends this file ahead of
# each configuration script on the same shell's stdin, so the functions are defined there.

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

#!/usr/bin/env bash
# The node-local model cache's directory on a GPU host: CACHE_PATH (storage.modelCache.path),
# owned by CACHE_UID:CACHE_UID (the user the cache's fill Jobs write as and Triton reads as),
# mode 0755; its parents made as `install -d` makes them (root's, 0755). The site's `local`
# PersistentVolume names this directory on exactly the hosts that run this step; the kubelet
# does not create a local volume's path, so a pod of the cache would not start without it.
# Only the directory itself is changed (owner, mode): never what it holds.
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

: "${CACHE_PATH:?CACHE_PATH is required}"
: "${CACHE_UID:?CACHE_UID is required}"

if [[ ! "${CACHE_PATH}" =~ ^(/[A-Za-z0-9._-]+)+$ || "/${CACHE_PATH}/" == *"/../"* || "/${CACHE_PATH}/" == *"/./"* ]]; then
  refuse model-cache-dir CACHE_PATH "${CACHE_PATH}" "an absolute path of letters, digits, . _ - (no . or .. parts)"
fi
# Only a directory of its own in a data area, as config allows (storage.modelCache.path,
# components/config/storage.py): elsewhere under /var/lib and /opt live other programs' state
# and software (the kubelet's pods and Secrets, containerd, the CNI plugins run as root), which
# `install -d -o` would hand to the cache's user; nor the platform's own host directories.
case "${CACHE_PATH}" in
  /var/lib/deepseek/applied | /var/lib/deepseek/applied/* | /var/lib/deepseek/local-path | /var/lib/deepseek/local-path/*)
    refuse model-cache-dir CACHE_PATH "${CACHE_PATH}" "a directory of its own (not one the platform keeps)"
    ;;
  /var/lib/deepseek/?* | /srv/?* | /data/?* | /mnt/?*) ;;
  *)
    refuse model-cache-dir CACHE_PATH "${CACHE_PATH}" "a directory below /var/lib/deepseek, /srv, /data or /mnt"
    ;;
esac
if [[ ! "${CACHE_UID}" =~ ^[1-9][0-9]{0,9}$ ]]; then
  refuse model-cache-dir CACHE_UID "${CACHE_UID}" "a user id other than root's"
fi
if [[ -e "${CACHE_PATH}" && ! -d "${CACHE_PATH}" ]] || [[ -L "${CACHE_PATH}" ]]; then
  say "model-cache-dir: ${CACHE_PATH} exists and is not a directory; nothing was changed: move it away" >&2
  exit 1
fi

if [[ ! -d "${CACHE_PATH}" || "$(stat -c '%u:%g %a' "${CACHE_PATH}")" != "${CACHE_UID}:${CACHE_UID} 755" ]]; then
  install -d -o "${CACHE_UID}" -g "${CACHE_UID}" -m 0755 "${CACHE_PATH}"
  say "model-cache-dir: ${CACHE_PATH} is ${CACHE_UID}:${CACHE_UID} 0755"
  note_change
fi

result_field path "${CACHE_PATH}"
result_emit model-cache-dir

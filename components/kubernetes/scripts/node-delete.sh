#!/usr/bin/env bash
# Deletes a removed host's node from the cluster: the last step of its removal, after its
# drain and its host's `kubeadm reset` (a kubelet still running would register it again).
# Runs on the site's first control plane, as the cluster's admin, when the host's removal
# Command is deleted (a host taken out of config). A node that is not registered is gone
# already (deleted=absent).
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

: "${NODE:?NODE is required}"
: "${DELETE_TIMEOUT_SECONDS:=300}"
node_inputs node-delete DELETE_TIMEOUT_SECONDS

result_field node "${NODE}"
if ! node_registered node-delete; then
  result_field deleted absent
  result_emit node-delete
  exit 0
fi
tool_output kubectl_admin delete node "${NODE}" --wait=true --timeout="${DELETE_TIMEOUT_SECONDS}s"
note_change
say "node-delete: node ${NODE} deleted from the cluster"
result_field deleted true
result_emit node-delete

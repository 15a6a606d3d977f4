#!/usr/bin/env bash
# Drains one node before its host changes: cordon, then `kubectl drain` through the eviction
# API, which respects PodDisruptionBudgets (never --force, never --disable-eviction), within
# DRAIN_TIMEOUT_SECONDS. Runs on the site's first control plane, as the cluster's admin.
# A drain that fails or times out uncordons the node again if this run cordoned it (its host
# has not been changed yet) and fails, naming the node. A node that is not registered has
# nothing to drain (drained=absent). CHANGE (a digest of the host's change, which makes the
# step run whenever the host changes) is only logged.
# Runs after lib.sh (sent ahead of it by the component). Idempotent: a drained node is
# drained again, which evicts nothing.
set -euo pipefail

: "${NODE:?NODE is required}"
: "${DRAIN_TIMEOUT_SECONDS:?DRAIN_TIMEOUT_SECONDS is required}"
: "${CHANGE:=}"
node_inputs node-drain DRAIN_TIMEOUT_SECONDS

say "node-drain: node ${NODE}, change ${CHANGE:-(none given)}"
result_field node "${NODE}"
if ! node_registered node-drain; then
  result_field drained absent
  result_emit node-drain
  exit 0
fi

cordoned=$(kubectl_admin get node "${NODE}" -o 'jsonpath={.spec.unschedulable}')
if [[ "${cordoned}" != true ]]; then
  tool_output kubectl_admin cordon "${NODE}"
  note_change
fi
drain_log=$(mktemp)
if ! kubectl_admin drain "${NODE}" --ignore-daemonsets --delete-emptydir-data \
  --timeout="${DRAIN_TIMEOUT_SECONDS}s" >"${drain_log}" 2>&1; then
  utf8_clean <"${drain_log}"
  if grep -q ' evicted$' "${drain_log}"; then
    note_change
  fi
  if [[ "${cordoned}" != true ]]; then
    # Its host has not been changed yet: it may take work again, as before this run.
    tool_output kubectl_admin uncordon "${NODE}" || true
  fi
  say "node-drain: the pods on node ${NODE} could not be evicted within ${DRAIN_TIMEOUT_SECONDS}s (a PodDisruptionBudget allows no disruption now, or a pod would not end); nothing was forced, the node is $([[ "${cordoned}" == true ]] && echo "still cordoned, as it was" || echo uncordoned again), and its host was not changed. Look at \`kubectl get pdb -A\` and the pods above, then run again" >&2
  rm -f "${drain_log}"
  exit 1
fi
utf8_clean <"${drain_log}"
if grep -q ' evicted$' "${drain_log}"; then
  note_change
fi
rm -f "${drain_log}"
result_field drained true
# When this drain ran: node-uncordon takes it as an input, so a drain always brings its
# uncordon after it, even when nothing else of the uncordon's inputs changed (a change
# reverted after a failure half-way through its host).
result_field drainedAt "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
result_emit node-drain

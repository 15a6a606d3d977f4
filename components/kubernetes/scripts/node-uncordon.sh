#!/usr/bin/env bash
# Returns one node to work after its host changed and passed its checks (VERIFIED, set by
# the program once the host's GPU check passed): waits until the node is Ready and, where
# GPU_RESOURCE is set, until at least GPU_ALLOCATABLE of it are allocatable, for at most
# READY_TIMEOUT_SECONDS in all, then uncordons it. Past the timeout it fails naming what is
# missing and leaves the node cordoned: a node that failed its verification takes no work.
# Runs on the site's first control plane, as the cluster's admin. A node that is not
# registered is left alone (uncordoned=absent). CHANGE is only logged.
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

: "${NODE:?NODE is required}"
: "${READY_TIMEOUT_SECONDS:?READY_TIMEOUT_SECONDS is required}"
: "${GPU_RESOURCE:=}"
: "${GPU_ALLOCATABLE:=0}"
: "${CHANGE:=}"
: "${VERIFIED:=}"
# How often the allocatable GPUs are read again (a setting the program never sets).
: "${GPU_POLL_SECONDS:=5}"
node_inputs node-uncordon READY_TIMEOUT_SECONDS
# The program's verdict on the host's GPU check: "passed", or "no-gpu-check" for a host that
# has none. Anything else ("not-run": the check was created or replaced and ran nothing) keeps
# the node cordoned: it is never returned to work unchecked.
if [[ "${VERIFIED}" != passed && "${VERIFIED}" != no-gpu-check ]]; then
  refuse node-uncordon VERIFIED "${VERIFIED}" "passed or no-gpu-check (the host's checks have not passed: it stays cordoned)"
fi
if [[ -n "${GPU_RESOURCE}" ]] &&
  ! [[ "${GPU_RESOURCE}" =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?/[a-z0-9]([a-z0-9._-]*[a-z0-9])?$ ]]; then
  refuse node-uncordon GPU_RESOURCE "${GPU_RESOURCE}" "an extended resource name (vendor/name)"
fi
if ! [[ "${GPU_ALLOCATABLE}" =~ ^(0|[1-9][0-9]{0,3})$ ]]; then
  refuse node-uncordon GPU_ALLOCATABLE "${GPU_ALLOCATABLE}" "a count of GPUs"
fi

say "node-uncordon: node ${NODE}, change ${CHANGE:-(none given)}, verified ${VERIFIED}"
result_field node "${NODE}"
if ! node_registered node-uncordon; then
  result_field uncordoned absent
  result_emit node-uncordon
  exit 0
fi

deadline=$((SECONDS + READY_TIMEOUT_SECONDS))
if ! tool_output kubectl_admin wait --for=condition=Ready "node/${NODE}" \
  --timeout="${READY_TIMEOUT_SECONDS}s"; then
  say "node-uncordon: node ${NODE} was not Ready within ${READY_TIMEOUT_SECONDS}s; it stays cordoned (look at its kubelet: journalctl -u kubelet on the host)" >&2
  exit 1
fi
if [[ -n "${GPU_RESOURCE}" ]]; then
  # jsonpath: the dots of the resource name escaped, or they would be read as fields.
  path="{.status.allocatable.${GPU_RESOURCE//./\\.}}"
  while true; do
    allocatable=$(kubectl_admin get node "${NODE}" -o "jsonpath=${path}")
    [[ "${allocatable}" =~ ^[0-9]+$ ]] || allocatable=0
    if ((allocatable >= GPU_ALLOCATABLE)); then
      break
    fi
    if ((SECONDS >= deadline)); then
      say "node-uncordon: node ${NODE} has ${allocatable} ${GPU_RESOURCE} allocatable, not the ${GPU_ALLOCATABLE} expected, after ${READY_TIMEOUT_SECONDS}s; it stays cordoned (look at the GPU operator's device plugin on it)" >&2
      exit 1
    fi
    pause=$((deadline - SECONDS))
    ((pause <= GPU_POLL_SECONDS)) || pause=${GPU_POLL_SECONDS}
    ((pause >= 1)) || pause=1
    sleep "${pause}"
  done
  say "node-uncordon: node ${NODE} has ${allocatable} ${GPU_RESOURCE} allocatable"
fi
# Asked on its own line: a failed query stops the step (set -e) rather than reading as
# "not cordoned" and reporting an uncordon that never happened.
cordoned=$(kubectl_admin get node "${NODE}" -o 'jsonpath={.spec.unschedulable}')
if [[ "${cordoned}" == true ]]; then
  tool_output kubectl_admin uncordon "${NODE}"
  note_change
fi
result_field uncordoned true
result_emit node-uncordon

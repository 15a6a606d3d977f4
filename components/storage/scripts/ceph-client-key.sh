#!/usr/bin/env bash
# The cephx user ceph-csi maps RBD volumes with: client.CSI_USER, allowed what Ceph's `rbd`
# profiles allow on the pool RBD_POOL and nothing else (`ceph auth get-or-create`), its caps
# set again when they differ. Prints its key on the result line (the step's stdout is a
# secret: components/remote/steps.py), and nowhere else.
# Only the `ceph` command line tool, with the cluster and key it finds as it always does
# (CEPH_CONF, or /etc/ceph/ceph.conf and the admin keyring): no cephadm.
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

: "${CSI_USER:?CSI_USER is required}"
: "${RBD_POOL:?RBD_POOL is required}"

if [[ ! "${CSI_USER}" =~ ^[a-z0-9][a-z0-9_.-]{0,62}$ ]]; then
  refuse ceph-client-key CSI_USER "${CSI_USER}" "a user name of lower-case letters, digits, . _ - (without client.)"
fi
if [[ ! "${RBD_POOL}" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$ ]]; then
  refuse ceph-client-key RBD_POOL "${RBD_POOL}" "a pool name of letters, digits, . _ - (at most 63)"
fi

entity=client.${CSI_USER}
caps=(mon "profile rbd" osd "profile rbd pool=${RBD_POOL}" mgr "profile rbd pool=${RBD_POOL}")
errors=$(mktemp)
trap 'rm -f "${errors}"' EXIT

# What Ceph holds of the user: its caps, one `<daemon> <cap>` a line (its key stays in the
# variable, never printed).
status=0
current=$(ceph auth get "${entity}" --format json 2>"${errors}") || status=$?
if ((status == 2)) && grep -q ENOENT "${errors}"; then
  ceph auth get-or-create "${entity}" "${caps[@]}" >/dev/null
  say "ceph-client-key: created ${entity}"
  note_change
elif ((status != 0)); then
  utf8_clean <"${errors}" >&2
  say "ceph-client-key: could not read ${entity} from the cluster (above); nothing was changed" >&2
  exit 1
else
  held=$(python3 -c '
import json, sys
(entry,) = json.load(sys.stdin)
print("\n".join(f"{daemon} {cap}" for daemon, cap in sorted(entry.get("caps", {}).items())))
' <<<"${current}")
  wanted=$(printf '%s %s\n' "${caps[@]}" | sort)
  if [[ "${held}" != "${wanted}" ]]; then
    tool_output ceph auth caps "${entity}" "${caps[@]}"
    note_change
  fi
fi
key=$(ceph auth get-key "${entity}")
if [[ ! "${key}" =~ ^[A-Za-z0-9+/]{20,}={0,2}$ ]]; then
  say "ceph-client-key: \`ceph auth get-key ${entity}\` printed no cephx key" >&2
  exit 1
fi
say "ceph-client-key: ${entity} may use RBD images in pool ${RBD_POOL} only"
result_field user "${CSI_USER}"
result_field key "${key}"
result_emit ceph-client-key

#!/usr/bin/env bash
# Adds one storage host to the site's Ceph cluster (`ceph orch host add`), from the first
# storage host, which runs the cluster's manager and holds its admin keyring. The host must
# have authorized cephadm's SSH key already (its ceph-host-prep). Its name is its hostname,
# as cephadm requires; label `_admin`: cephadm keeps the cluster's ceph.conf and admin keyring
# on it, so any storage host can run the site's steps if the first one is lost.
# A host already in the cluster at that address is left alone; one at another address gets
# the new one (`ceph orch host set-addr`).
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

: "${HOST_NAME:?HOST_NAME is required}"
: "${HOST_ADDRESS:?HOST_ADDRESS is required}"

if [[ ! "${HOST_NAME}" =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]]; then
  refuse ceph-host-add HOST_NAME "${HOST_NAME}" "a host name (a DNS label)"
fi
if ! is_ip_address "${HOST_ADDRESS}"; then
  refuse ceph-host-add HOST_ADDRESS "${HOST_ADDRESS}" "an IP address"
fi

# json_query EXPRESSION [ARG...] < JSON: a Python expression over the document `d` (the
# arguments in `a`); a list is printed one item a line.
json_query() {
  python3 -c '
import json, sys
d = json.loads(sys.stdin.read() or "null")
a = sys.argv[2:]
r = eval(sys.argv[1])
print("\n".join(map(str, r)) if isinstance(r, (list, tuple)) else ("" if r is None else r))
' "$@"
}

label=_admin
hosts=$(ceph orch host ls --format json)
known=$(json_query '[h.get("addr", "") for h in d if h.get("hostname") == a[0]]' "${HOST_NAME}" <<<"${hosts}")
if [[ -z "${known}" ]]; then
  tool_output ceph orch host add "${HOST_NAME}" "${HOST_ADDRESS}" --labels "${label}"
  note_change
else
  if [[ "${known}" != "${HOST_ADDRESS}" ]]; then
    tool_output ceph orch host set-addr "${HOST_NAME}" "${HOST_ADDRESS}"
    note_change
  fi
  labels=$(json_query '[l for h in d if h.get("hostname") == a[0] for l in h.get("labels", [])]' "${HOST_NAME}" <<<"${hosts}")
  if ! grep -qxF -- "${label}" <<<"${labels}"; then
    tool_output ceph orch host label add "${HOST_NAME}" "${label}"
    note_change
  fi
fi
say "ceph-host-add: ${HOST_NAME} (${HOST_ADDRESS}) is a host of the cluster"
result_field host "${HOST_NAME}"
result_field address "${HOST_ADDRESS}"
result_emit ceph-host-add

#!/usr/bin/env bash
# Replication of the site's Ceph: the pool defaults (size REPLICA_SIZE, min_size MIN_SIZE, and
# the CRUSH rule below, which the pools RGW creates for itself take), a replicated CRUSH rule
# CRUSH_RULE whose failure domain is `host` (each copy on another host), and the RBD pool
# RBD_POOL (block storage for ceph-csi) on that rule with that size, its application `rbd`,
# initialized (`rbd pool init`). Each is changed only where it differs; a rule of that name
# with another failure domain is refused (a rule in use is not edited in place: name another).
# Only the `ceph`, `rados` and `rbd` command line tools, with the cluster and key they find as
# they always do (CEPH_CONF, or /etc/ceph/ceph.conf and the admin keyring): no cephadm.
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

: "${REPLICA_SIZE:?REPLICA_SIZE is required}"
: "${MIN_SIZE:?MIN_SIZE is required}"
: "${CRUSH_RULE:?CRUSH_RULE is required}"
: "${RBD_POOL:?RBD_POOL is required}"

for variable in REPLICA_SIZE MIN_SIZE; do
  if [[ ! "${!variable}" =~ ^[1-9]$ ]]; then
    refuse ceph-pools "${variable}" "${!variable}" "a number of copies from 1 to 9"
  fi
done
if ((MIN_SIZE > REPLICA_SIZE)); then
  refuse ceph-pools MIN_SIZE "${MIN_SIZE}" "at most REPLICA_SIZE (${REPLICA_SIZE})"
fi
for variable in CRUSH_RULE RBD_POOL; do
  if [[ ! "${!variable}" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$ ]]; then
    refuse ceph-pools "${variable}" "${!variable}" "a name of letters, digits, . _ - (at most 63)"
  fi
done

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

errors=$(mktemp)
trap 'rm -f "${errors}"' EXIT

# ceph_json ARG...: `ceph ARG... --format json`; exit status 2 when Ceph answers ENOENT (no
# such thing), and any other failure stops the step with Ceph's message.
ceph_json() {
  local status=0
  ceph "$@" --format json 2>"${errors}" || status=$?
  if ((status == 0)); then
    return 0
  fi
  if ((status == 2)) && grep -q ENOENT "${errors}"; then
    return 2
  fi
  utf8_clean <"${errors}" >&2
  say "ceph-pools: \`ceph $*\` failed (exit status ${status}); nothing more was changed" >&2
  exit 1
}

# set_default NAME VALUE: the cluster-wide (global) option NAME at VALUE.
set_default() {
  local current
  current=$(ceph_json config dump |
    json_query 'next((e["value"] for e in d if e["section"] == "global" and e["name"] == a[0]), "")' "$1")
  if [[ "${current}" != "$2" ]]; then
    tool_output ceph config set global "$1" "$2"
    note_change
  fi
}

# The rule: made if missing; refused if it places copies other than one per host.
status=0
rule=$(ceph_json osd crush rule dump "${CRUSH_RULE}") || status=$?
if ((status == 2)); then
  tool_output ceph osd crush rule create-replicated "${CRUSH_RULE}" default host
  note_change
  rule=$(ceph_json osd crush rule dump "${CRUSH_RULE}")
fi
domain=$(json_query '" ".join(s.get("type", "") for s in d["steps"] if s["op"].startswith("choose"))' <<<"${rule}")
root=$(json_query '" ".join(s.get("item_name", "") for s in d["steps"] if s["op"] == "take")' <<<"${rule}")
if [[ "${domain}" != host || "${root}" != default ]]; then
  say "ceph-pools: CRUSH rule ${CRUSH_RULE} exists, taking '${root}' with failure domain '${domain}', not 'default' with 'host': nothing was changed. A rule in use is not edited in place; name another rule" >&2
  exit 1
fi
rule_id=$(json_query 'd["rule_id"]' <<<"${rule}")

set_default osd_pool_default_size "${REPLICA_SIZE}"
set_default osd_pool_default_min_size "${MIN_SIZE}"
set_default osd_pool_default_crush_rule "${rule_id}"

# The RBD pool.
status=0
pool=$(ceph_json osd pool get "${RBD_POOL}" all) || status=$?
if ((status == 2)); then
  tool_output ceph osd pool create "${RBD_POOL}" replicated "${CRUSH_RULE}"
  note_change
  pool=$(ceph_json osd pool get "${RBD_POOL}" all)
fi
size=$(json_query 'd["size"]' <<<"${pool}")
min_size=$(json_query 'd["min_size"]' <<<"${pool}")
pool_rule=$(json_query 'd["crush_rule"]' <<<"${pool}")
if ((size != REPLICA_SIZE)); then
  tool_output ceph osd pool set "${RBD_POOL}" size "${REPLICA_SIZE}"
  note_change
  # A new size sets min_size to Ceph's default for it (size - size/2): read it again.
  min_size=$(ceph_json osd pool get "${RBD_POOL}" min_size | json_query 'd["min_size"]')
fi
if ((min_size != MIN_SIZE)); then
  tool_output ceph osd pool set "${RBD_POOL}" min_size "${MIN_SIZE}"
  note_change
fi
if [[ "${pool_rule}" != "${CRUSH_RULE}" ]]; then
  tool_output ceph osd pool set "${RBD_POOL}" crush_rule "${CRUSH_RULE}"
  note_change
fi
applications=$(ceph_json osd pool application get "${RBD_POOL}" | json_query 'sorted(d)')
if ! grep -qx rbd <<<"${applications}"; then
  tool_output ceph osd pool application enable "${RBD_POOL}" rbd
  note_change
fi
# `rbd pool init` writes the pool's rbd_info object: there until then.
if ! rados -p "${RBD_POOL}" stat rbd_info >/dev/null 2>&1; then
  tool_output rbd pool init "${RBD_POOL}"
  note_change
fi

say "ceph-pools: pool ${RBD_POOL}: ${REPLICA_SIZE} copies (at least ${MIN_SIZE} to write), rule ${CRUSH_RULE} (one copy per host)"
result_field pool "${RBD_POOL}"
result_field crushRule "${CRUSH_RULE}"
result_emit ceph-pools

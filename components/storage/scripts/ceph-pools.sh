#!/usr/bin/env bash
# Where the site's Ceph keeps what, by device class (DEVICE_CLASSES, the classes config gives
# the OSDs' disks, fastest first):
#   - a replicated CRUSH rule per class, CRUSH_RULE-<class>, failure domain `host` (each copy
#     on another host), over that class's OSDs only; a rule of that name placing copies
#     otherwise is refused (a rule in use is not edited in place: name another);
#   - the pool defaults: size REPLICA_SIZE, min_size MIN_SIZE and the fastest class's rule,
#     which the pools RGW creates for itself take (its default placement: the model store);
#     RGW's pools already there are moved onto that rule, but the backup placement's;
#   - the RBD pool RBD_POOL (block storage for ceph-csi) on the fastest class's rule, with
#     that size, its application `rbd`, initialized (`rbd pool init`);
#   - RGW's placement target BACKUP_PLACEMENT (the buckets of other sites' backups): its data
#     pool <zone>.rgw.BACKUP_PLACEMENT.data on BACKUP_CLASS's rule (HDD where the site has it),
#     its bucket index and multipart pools those of the default placement (small, on the
#     fastest class), in the zonegroup and zone RGW serves (`default`; made here as radosgw
#     makes it at its first start when no RGW ran yet). A running RGW reads placement targets
#     when it starts: ceph-rgw restarts it when they changed.
# A class Ceph keeps one of these pools on must have OSDs on REPLICA_SIZE hosts, or its pools
# never become active: refused before anything changes, naming the hosts of each class.
# Each is changed only where it differs. Only the `ceph`, `rados`, `rbd` and `radosgw-admin`
# command line tools, with the cluster and key they find as they always do (CEPH_CONF, or
# /etc/ceph/ceph.conf and the admin keyring): no cephadm.
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

: "${REPLICA_SIZE:?REPLICA_SIZE is required}"
: "${MIN_SIZE:?MIN_SIZE is required}"
: "${CRUSH_RULE:?CRUSH_RULE is required}"
: "${RBD_POOL:?RBD_POOL is required}"
: "${DEVICE_CLASSES:?DEVICE_CLASSES is required}"
: "${BACKUP_CLASS:?BACKUP_CLASS is required}"
: "${BACKUP_PLACEMENT:?BACKUP_PLACEMENT is required}"

for variable in REPLICA_SIZE MIN_SIZE; do
  if [[ ! "${!variable}" =~ ^[1-9]$ ]]; then
    refuse ceph-pools "${variable}" "${!variable}" "a number of copies from 1 to 9"
  fi
done
if ((MIN_SIZE > REPLICA_SIZE)); then
  refuse ceph-pools MIN_SIZE "${MIN_SIZE}" "at most REPLICA_SIZE (${REPLICA_SIZE})"
fi
for variable in CRUSH_RULE RBD_POOL; do
  if [[ ! "${!variable}" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,55}$ ]]; then
    refuse ceph-pools "${variable}" "${!variable}" "a name of letters, digits, . _ - (at most 56)"
  fi
done
read -r -d '' -a classes <<<"${DEVICE_CLASSES}" || true
if ((${#classes[@]} == 0)); then
  refuse ceph-pools DEVICE_CLASSES "${DEVICE_CLASSES}" "a list of device classes, fastest first"
fi
for class in "${classes[@]}"; do
  if [[ ! "${class}" =~ ^[a-z][a-z0-9_]{0,15}$ ]]; then
    refuse ceph-pools DEVICE_CLASSES "${class}" "a device class (nvme, ssd, hdd)"
  fi
done
if [[ " ${classes[*]} " != *" ${BACKUP_CLASS} "* ]]; then
  refuse ceph-pools BACKUP_CLASS "${BACKUP_CLASS}" "one of DEVICE_CLASSES (${classes[*]})"
fi
if [[ ! "${BACKUP_PLACEMENT}" =~ ^[a-z0-9][a-z0-9_-]{0,31}$ || "${BACKUP_PLACEMENT}" == default-placement ]]; then
  refuse ceph-pools BACKUP_PLACEMENT "${BACKUP_PLACEMENT}" "a placement target name (lower-case letters, digits, _ -) other than default-placement"
fi
fastest=${classes[0]}
fast_rule=${CRUSH_RULE}-${fastest}
backup_rule=${CRUSH_RULE}-${BACKUP_CLASS}

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

# The device classes the OSDs have, and on which hosts: "<class> <host>" a line.
tree=$(ceph_json osd tree)
placed=$(json_query '
sorted({(o.get("device_class") or "(none)") + " " + h["name"]
        for h in d["nodes"] if h["type"] == "host"
        for o in d["nodes"] if o["type"] == "osd" and o["id"] in h.get("children", [])})' <<<"${tree}")
found=$(awk '{ hosts[$1] = hosts[$1] (hosts[$1] == "" ? "" : ", ") $2 } END { for (c in hosts) print c " on " hosts[c] }' <<<"${placed}" | sort | paste -sd ';' - | sed 's/;/; /g')
for class in "${classes[@]}"; do
  hosts=$(awk -v class="${class}" '$1 == class { n++ } END { print n + 0 }' <<<"${placed}")
  needed=1
  if [[ "${class}" == "${fastest}" || "${class}" == "${BACKUP_CLASS}" ]]; then
    needed=${REPLICA_SIZE}
  fi
  if ((hosts < needed)); then
    say "ceph-pools: device class ${class} has OSDs on ${hosts} host(s), and its pools need ${needed} (one copy per host): nothing was changed. The OSDs' classes: ${found:-none}. An OSD made before its service named its class keeps the one Ceph detected (hdd or ssd): set it with \`ceph osd crush rm-device-class osd.<id>\` and \`ceph osd crush set-device-class ${class} osd.<id>\`" >&2
    exit 1
  fi
done

# The rules, one per class: made if missing; refused if one places copies otherwise.
declare -A rule_ids=()
for class in "${classes[@]}"; do
  name=${CRUSH_RULE}-${class}
  status=0
  rule=$(ceph_json osd crush rule dump "${name}") || status=$?
  if ((status == 2)); then
    tool_output ceph osd crush rule create-replicated "${name}" default host "${class}"
    note_change
    rule=$(ceph_json osd crush rule dump "${name}")
  fi
  domain=$(json_query '" ".join(s.get("type", "") for s in d["steps"] if s["op"].startswith("choose"))' <<<"${rule}")
  root=$(json_query '" ".join(s.get("item_name", "") for s in d["steps"] if s["op"] == "take")' <<<"${rule}")
  if [[ "${domain}" != host || "${root}" != "default~${class}" ]]; then
    say "ceph-pools: CRUSH rule ${name} exists, taking '${root}' with failure domain '${domain}', not 'default~${class}' (class ${class} under root default) with 'host': nothing more was changed. A rule in use is not edited in place; name another rule" >&2
    exit 1
  fi
  rule_ids[${class}]=$(json_query 'd["rule_id"]' <<<"${rule}")
done

set_default osd_pool_default_size "${REPLICA_SIZE}"
set_default osd_pool_default_min_size "${MIN_SIZE}"
set_default osd_pool_default_crush_rule "${rule_ids[${fastest}]}"

# ensure_pool NAME RULE APPLICATION: the replicated pool NAME on RULE, REPLICA_SIZE copies (at
# least MIN_SIZE to write), for APPLICATION.
ensure_pool() {
  local name=$1 rule=$2 application=$3 status=0 pool size min_size pool_rule applications
  pool=$(ceph_json osd pool get "${name}" all) || status=$?
  if ((status == 2)); then
    tool_output ceph osd pool create "${name}" replicated "${rule}"
    note_change
    pool=$(ceph_json osd pool get "${name}" all)
  fi
  size=$(json_query 'd["size"]' <<<"${pool}")
  min_size=$(json_query 'd["min_size"]' <<<"${pool}")
  pool_rule=$(json_query 'd["crush_rule"]' <<<"${pool}")
  if ((size != REPLICA_SIZE)); then
    tool_output ceph osd pool set "${name}" size "${REPLICA_SIZE}"
    note_change
    # A new size sets min_size to Ceph's default for it (size - size/2): read it again.
    min_size=$(ceph_json osd pool get "${name}" min_size | json_query 'd["min_size"]')
  fi
  if ((min_size != MIN_SIZE)); then
    tool_output ceph osd pool set "${name}" min_size "${MIN_SIZE}"
    note_change
  fi
  if [[ "${pool_rule}" != "${rule}" ]]; then
    tool_output ceph osd pool set "${name}" crush_rule "${rule}"
    note_change
  fi
  applications=$(ceph_json osd pool application get "${name}" | json_query 'sorted(d)')
  if ! grep -qx "${application}" <<<"${applications}"; then
    tool_output ceph osd pool application enable "${name}" "${application}"
    note_change
  fi
}

# The RBD pool.
ensure_pool "${RBD_POOL}" "${fast_rule}" rbd
# `rbd pool init` writes the pool's rbd_info object: there until then.
if ! rados -p "${RBD_POOL}" stat rbd_info >/dev/null 2>&1; then
  tool_output rbd pool init "${RBD_POOL}"
  note_change
fi

# RGW's zonegroup and zone: what radosgw makes at its first start, made here when no RGW ran
# yet (any radosgw-admin command that reads users does it) so that the backup placement is
# there before RGW starts.
# rgw_json KIND: `radosgw-admin KIND get`; exit status 2 when there is none yet.
rgw_json() {
  local status=0
  radosgw-admin "$1" get 2>"${errors}" || status=$?
  if ((status == 0)); then
    return 0
  fi
  if grep -q 'No such file or directory' "${errors}"; then
    return 2
  fi
  utf8_clean <"${errors}" >&2
  say "ceph-pools: \`radosgw-admin $1 get\` failed (exit status ${status}); nothing more was changed" >&2
  exit 1
}
status=0
zonegroup=$(rgw_json zonegroup) || status=$?
if ((status == 2)); then
  radosgw-admin user list >/dev/null
  say "ceph-pools: made RGW's default zonegroup and zone"
  note_change
  zonegroup=$(rgw_json zonegroup)
fi
zone=$(rgw_json zone)
realm=$(json_query 'd.get("realm_id", "")' <<<"${zone}")
if [[ -n "${realm}" ]]; then
  say "ceph-pools: RGW's zone belongs to realm ${realm} (multisite): its placement targets change through a period commit, which this step does not make; nothing more was changed" >&2
  exit 1
fi
zonegroup_name=$(json_query 'd["name"]' <<<"${zonegroup}")
zone_name=$(json_query 'd["name"]' <<<"${zone}")
default_placement=$(json_query 'd["default_placement"]' <<<"${zonegroup}")
default_pools=$(json_query 'next((p["val"] for p in d["placement_pools"] if p["key"] == a[0]), None)' "${default_placement}" <<<"${zone}")
if [[ -z "${default_pools}" ]]; then
  say "ceph-pools: RGW's zone ${zone_name} has no pools for its default placement ${default_placement}; nothing more was changed" >&2
  exit 1
fi
index_pool=$(json_query 'next(p["val"]["index_pool"] for p in d["placement_pools"] if p["key"] == a[0])' "${default_placement}" <<<"${zone}")
extra_pool=$(json_query 'next(p["val"]["data_extra_pool"] for p in d["placement_pools"] if p["key"] == a[0])' "${default_placement}" <<<"${zone}")
backup_pool=${zone_name}.rgw.${BACKUP_PLACEMENT}.data

# The backup placement's data pool exists before RGW writes to it (RGW would make it on the
# default rule).
ensure_pool "${backup_pool}" "${backup_rule}" rgw
targets=$(json_query '[t["name"] for t in d["placement_targets"]]' <<<"${zonegroup}")
if ! grep -qxF -- "${BACKUP_PLACEMENT}" <<<"${targets}"; then
  radosgw-admin zonegroup placement add --rgw-zonegroup "${zonegroup_name}" \
    --placement-id "${BACKUP_PLACEMENT}" >/dev/null
  say "ceph-pools: RGW placement target ${BACKUP_PLACEMENT} added to zonegroup ${zonegroup_name}"
  note_change
fi
held=$(json_query '
next((" ".join((p["val"]["storage_classes"].get("STANDARD", {}).get("data_pool", ""),
                p["val"]["index_pool"], p["val"]["data_extra_pool"]))
      for p in d["placement_pools"] if p["key"] == a[0]), "")' "${BACKUP_PLACEMENT}" <<<"${zone}")
if [[ -n "${held}" && "${held}" != "${backup_pool} ${index_pool} ${extra_pool}" ]]; then
  # Changed since this step added it (by hand): RGW finds a bucket's objects through its
  # placement's pools when it reads them, so moving it back would hide what was written since.
  say "ceph-pools: RGW placement ${BACKUP_PLACEMENT} of zone ${zone_name} keeps its objects in pools '${held}' (data, index, multipart), not '${backup_pool} ${index_pool} ${extra_pool}': changed by hand? Pointing it back would hide every object its buckets wrote since (RGW reads them through the placement's pools); nothing more was changed. Copy those buckets' objects out, set the placement back with \`radosgw-admin zone placement modify --rgw-zone ${zone_name} --placement-id ${BACKUP_PLACEMENT} --data-pool ${backup_pool} --index-pool ${index_pool} --data-extra-pool ${extra_pool}\`, copy them back, and run again" >&2
  exit 1
fi
if [[ -z "${held}" ]]; then
  radosgw-admin zone placement add --rgw-zone "${zone_name}" \
    --placement-id "${BACKUP_PLACEMENT}" --data-pool "${backup_pool}" \
    --index-pool "${index_pool}" --data-extra-pool "${extra_pool}" >/dev/null
  say "ceph-pools: RGW placement ${BACKUP_PLACEMENT} of zone ${zone_name} keeps its objects in ${backup_pool}"
  note_change
fi

# RGW's other pools on the fastest class (pools made before these rules, or by hand).
moves=$(ceph_json osd pool ls detail | json_query '
[p["pool_name"] for p in d
 if "rgw" in p.get("application_metadata", {}) and p["pool_name"] != a[0]
 and str(p["crush_rule"]) != a[1]]' "${backup_pool}" "${rule_ids[${fastest}]}")
while IFS= read -r name; do
  [[ -n "${name}" ]] || continue
  tool_output ceph osd pool set "${name}" crush_rule "${fast_rule}"
  note_change
done <<<"${moves}"

say "ceph-pools: pool ${RBD_POOL} and RGW's default placement on ${fastest} (rule ${fast_rule}), placement ${BACKUP_PLACEMENT} on ${BACKUP_CLASS} (pool ${backup_pool}, rule ${backup_rule}): ${REPLICA_SIZE} copies, one per host (at least ${MIN_SIZE} to write)"
result_field pool "${RBD_POOL}"
result_field crushRule "${fast_rule}"
result_field backupPlacement "${BACKUP_PLACEMENT}"
result_field backupPool "${backup_pool}"
result_field backupCrushRule "${backup_rule}"
result_emit ceph-pools

#!/usr/bin/env bash
# An S3 user of the site's RGW with the keys the stack generated, and its bucket:
#   - the user RGW_USER holds exactly the key RGW_ACCESS_KEY / RGW_SECRET_KEY (secrets, from
#     `export` lines on stdin). A user missing is created; a user with other keys gets this
#     one and loses the others (a rotation). The keys reach radosgw-admin only on its stdin,
#     as the user's metadata document (`radosgw-admin metadata put`): its --access-key and
#     --secret-key options would put them on a command line, which every user of the host
#     can read (ps);
#   - its default placement target PLACEMENT (set in the same metadata document), so any
#     bucket it makes lands there;
#   - the bucket BUCKET, owned by that user, on placement target PLACEMENT (`default-placement`
#     for the model store; `backups` for other sites' backups, whose data pool ceph-pools put
#     on HDD), created through RGW_ENDPOINT with an S3 request naming it
#     (`<LocationConstraint>:PLACEMENT</LocationConstraint>`, `curl --aws-sigv4`, the
#     credentials in curl's configuration on its stdin, never on its command line) when
#     radosgw-admin does not know it; one owned by another user, or on another placement (a
#     bucket's objects stay where it was made), is refused.
# Nothing here deletes a user, a key's data or a bucket. Only `radosgw-admin` and `curl`,
# with the cluster radosgw-admin finds as it always does (CEPH_CONF, or /etc/ceph/ceph.conf
# and the admin keyring): no cephadm.
# Runs after lib.sh (sent ahead of it by the component). Idempotent.
set -euo pipefail

: "${RGW_ACCESS_KEY:?RGW_ACCESS_KEY is required (secret, on stdin)}"
: "${RGW_SECRET_KEY:?RGW_SECRET_KEY is required (secret, on stdin)}"
: "${RGW_USER:?RGW_USER is required}"
: "${BUCKET:?BUCKET is required}"
: "${PLACEMENT:?PLACEMENT is required}"
: "${RGW_ENDPOINT:?RGW_ENDPOINT is required}"
# No program this script starts gets the keys in its environment.
export -n RGW_ACCESS_KEY RGW_SECRET_KEY

if [[ ! "${RGW_USER}" =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]]; then
  refuse ceph-rgw-user RGW_USER "${RGW_USER}" "a user id of lower-case letters, digits and - (at most 63)"
fi
if [[ ! "${BUCKET}" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]]; then
  refuse ceph-rgw-user BUCKET "${BUCKET}" "an S3 bucket name (3-63 lower-case letters, digits, . -)"
fi
if [[ ! "${PLACEMENT}" =~ ^[a-z0-9][a-z0-9_-]{0,31}$ ]]; then
  refuse ceph-rgw-user PLACEMENT "${PLACEMENT}" "an RGW placement target name (lower-case letters, digits, _ -)"
fi
if [[ ! "${RGW_ENDPOINT}" =~ ^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$ ]]; then
  refuse ceph-rgw-user RGW_ENDPOINT "${RGW_ENDPOINT}" "an http(s)://host[:port] URL"
fi
# The keys reach a JSON document and curl's configuration: checked, never shown.
if [[ ! "${RGW_ACCESS_KEY}" =~ ^[A-Za-z0-9]{16,128}$ ]]; then
  echo "ceph-rgw-user: RGW_ACCESS_KEY refused: it is not 16-128 letters and digits (not shown: it is a secret); nothing was changed" >&2
  exit 1
fi
if [[ ! "${RGW_SECRET_KEY}" =~ ^[A-Za-z0-9+/]{20,128}$ ]]; then
  echo "ceph-rgw-user: RGW_SECRET_KEY refused: it is not 20-128 letters, digits, + and / (not shown: it is a secret); nothing was changed" >&2
  exit 1
fi

errors=$(mktemp)
trap 'rm -f "${errors}"' EXIT

# user_metadata: the user's metadata document (keys included: it stays in a variable);
# exit status 2 when the user does not exist.
user_metadata() {
  local status=0
  radosgw-admin metadata get "user:${RGW_USER}" 2>"${errors}" || status=$?
  if ((status == 0)); then
    return 0
  fi
  if grep -q 'No such file or directory' "${errors}"; then
    return 2
  fi
  utf8_clean <"${errors}" >&2
  say "ceph-rgw-user: could not read user ${RGW_USER} from the cluster (above); nothing more was changed" >&2
  exit 1
}

status=0
metadata=$(user_metadata) || status=$?
if ((status == 2)); then
  # radosgw-admin makes it with keys of its own (printed, so not shown), replaced below.
  radosgw-admin user create --uid "${RGW_USER}" --display-name "${RGW_USER}" >/dev/null
  say "ceph-rgw-user: created user ${RGW_USER}"
  note_change
  metadata=$(user_metadata)
fi
# The document with exactly our key and PLACEMENT as the default placement, or nothing when
# it holds exactly that already. Python reads the keys and the document on its stdin (printf
# is bash's own: no command line); the placement, no secret, is its argument.
wanted=$(
  printf '%s\n%s\n%s' "${RGW_ACCESS_KEY}" "${RGW_SECRET_KEY}" "${metadata}" | python3 -c '
import json, sys
access, secret = sys.stdin.readline().strip(), sys.stdin.readline().strip()
document = json.loads(sys.stdin.read())
data = document["data"]
key = {"user": data["user_id"], "access_key": access, "secret_key": secret}
changed = []
if data.get("keys") != [key]:
    data["keys"] = [key]
    changed.append("keys")
if data.get("default_placement") != sys.argv[1]:
    data["default_placement"] = sys.argv[1]
    changed.append("placement")
if changed:
    print(" ".join(changed))
    print(json.dumps(document))
' "${PLACEMENT}"
)
if [[ -n "${wanted}" ]]; then
  printf '%s\n' "${wanted#*$'\n'}" | radosgw-admin metadata put "user:${RGW_USER}"
  if [[ "${wanted%%$'\n'*}" == *keys* ]]; then
    say "ceph-rgw-user: user ${RGW_USER} holds the stack's key (any other key it had was removed)"
  fi
  if [[ "${wanted%%$'\n'*}" == *placement* ]]; then
    say "ceph-rgw-user: user ${RGW_USER} makes its buckets on placement ${PLACEMENT}"
  fi
  note_change
fi
unset metadata wanted

# The bucket.
status=0
stats=$(radosgw-admin bucket stats --bucket="${BUCKET}" 2>"${errors}") || status=$?
if ((status == 0)); then
  owner=$(python3 -c 'import json, sys; print(json.load(sys.stdin).get("owner", ""))' <<<"${stats}")
  if [[ "${owner}" != "${RGW_USER}" ]]; then
    say "ceph-rgw-user: bucket ${BUCKET} exists, owned by ${owner}, not ${RGW_USER}: nothing was changed for it; name another bucket or move it by hand (\`radosgw-admin bucket link\`)" >&2
    exit 1
  fi
  placed=$(python3 -c 'import json, sys; print(json.load(sys.stdin).get("placement_rule", ""))' <<<"${stats}")
  if [[ "${placed}" != "${PLACEMENT}" ]]; then
    say "ceph-rgw-user: bucket ${BUCKET} exists on placement ${placed:-(none)}, not ${PLACEMENT}: its objects stay in the pools it was made on; nothing was changed for it. Copy what it holds to a bucket made on ${PLACEMENT} (or, empty, remove it: \`radosgw-admin bucket rm --bucket=${BUCKET}\`) and run again" >&2
    exit 1
  fi
elif grep -q '(2002)' "${errors}"; then
  # RGW requires the payload's hash header; curl signs it (--aws-sigv4) and older curls
  # (Ubuntu 22.04's 7.81) do not add it themselves. The placement target is the location
  # constraint's part after the colon (before it: the zonegroup's API name; empty: RGW's own).
  # The answer's body, then its HTTP status on a line of its own.
  location="<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>:${PLACEMENT}</LocationConstraint></CreateBucketConfiguration>"
  answer=$(
    printf 'user = "%s:%s"\n' "${RGW_ACCESS_KEY}" "${RGW_SECRET_KEY}" |
      curl --silent --show-error --config - --aws-sigv4 "aws:amz:us-east-1:s3" \
        --header "x-amz-content-sha256: UNSIGNED-PAYLOAD" --request PUT \
        --data-binary "${location}" \
        --max-time 60 --write-out '\n%{http_code}' "${RGW_ENDPOINT}/${BUCKET}"
  ) || answer=$'\n'"curl exit status $?"
  code=${answer##*$'\n'}
  if [[ "${code}" != 200 ]]; then
    say "${answer%$'\n'*}" >&2
    say "ceph-rgw-user: creating bucket ${BUCKET} at ${RGW_ENDPOINT} answered ${code} (above)" >&2
    exit 1
  fi
  say "ceph-rgw-user: created bucket ${BUCKET} on placement ${PLACEMENT}"
  note_change
else
  utf8_clean <"${errors}" >&2
  say "ceph-rgw-user: could not read bucket ${BUCKET} from the cluster (above)" >&2
  exit 1
fi

result_field user "${RGW_USER}"
result_field bucket "${BUCKET}"
result_field placement "${PLACEMENT}"
result_emit ceph-rgw-user

"""Another site's RGW, as the sandboxed host reaches it through curl (standins/curl): an S3
store the harness keeps in its control folder, outside the host (`s3/` there), for the steps
that write to a remote site's object store (the etcd snapshots' uploads). What it answers is
shaped as radosgw 16.2 answers curl (tests/fixtures/ceph: ListObjectsV2's XML, S3 errors),
with the rules the real one enforces on curl 7.88's SigV4 requests: the keys from curl's
configuration on stdin, the x-amz-content-sha256 header present and, for an upload, equal to
the body's hash (or UNSIGNED-PAYLOAD), a query's parameters in name order with their values
percent-encoded (curl signs the query as written).

Layout under the store (`STORE`): `endpoint` (http://ADDRESS:PORT), `users` (a line
`ACCESS SECRET BUCKET` per user and the one bucket it owns), `objects/BUCKET/<key,
percent-encoded>` and `objects/BUCKET/.index.json` (key → LastModified, size, ETag); and
`page-size`, if there, the most keys a listing's page holds.

Usage: `store.py STORE METHOD URL SIGV4 UPLOAD [HEADER...]` (UPLOAD: the file of --upload-file, or
""), credentials on stdin; prints the HTTP status on a line, then the body.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import sys
import urllib.parse
from pathlib import Path

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def xml_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def error(code: str, status: int, path: str) -> tuple[int, str]:
    request = f"tx{hashlib.sha256(path.encode()).hexdigest()[:20]}-standin"
    return status, (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message></Message>'
        f"<RequestId>{request}</RequestId><HostId>standin-remote-default</HostId></Error>"
    )


def now() -> str:
    moment = datetime.datetime.now(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def answer(
    store: Path, method: str, url: str, sigv4: str, upload: str, headers: list[str]
) -> tuple[int, str]:
    endpoint = (store / "endpoint").read_text().strip()
    parts = urllib.parse.urlsplit(url)
    path, query = parts.path, parts.query
    user = ""
    for line in sys.stdin.read().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "user":
            user = value.strip().strip('"')
    access, _, secret = user.partition(":")
    owners = {}
    for line in (store / "users").read_text().splitlines():
        if line.strip():
            key_id, key_secret, bucket = line.split()
            owners[key_id] = (key_secret, bucket)
    if not url.startswith(endpoint + "/"):
        raise SystemExit(7)
    if not sigv4 or access not in owners:
        return error("InvalidAccessKeyId" if sigv4 else "AccessDenied", 403, path)
    content_hash = [
        h.split(":", 1)[1].strip() for h in headers if h.lower().startswith("x-amz-content-sha256:")
    ]
    if owners[access][0] != secret or not content_hash:
        return error("SignatureDoesNotMatch", 403, path)
    bucket, _, key = path.lstrip("/").partition("/")
    if bucket != owners[access][1]:
        return error("AccessDenied", 403, path)
    objects = store / "objects" / bucket
    index_path = objects / ".index.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    key = urllib.parse.unquote(key)
    stored = objects / urllib.parse.quote(key, safe="")
    if key:
        if method == "PUT" and upload:
            body = Path(upload).read_bytes()
            if content_hash[0] not in ("UNSIGNED-PAYLOAD", hashlib.sha256(body).hexdigest()):
                return error("XAmzContentSHA256Mismatch", 400, path)
            objects.mkdir(parents=True, exist_ok=True)
            stored.write_bytes(body)
            index[key] = {
                "LastModified": now(),
                "Size": len(body),
                "ETag": hashlib.md5(body).hexdigest(),  # noqa: S324 (S3's ETag)
            }
            index_path.write_text(json.dumps(index, indent=1, sort_keys=True))
            return 200, ""
        if method == "DELETE":
            stored.unlink(missing_ok=True)
            if index.pop(key, None) is not None:
                index_path.write_text(json.dumps(index, indent=1, sort_keys=True))
            return 204, ""
        if method == "GET":
            if key not in index:
                return error("NoSuchKey", 404, path)
            return 200, stored.read_text(errors="replace")
        return error("NotImplemented", 501, path)
    if method != "GET":
        return error("NotImplemented", 501, path)
    pairs = [pair.partition("=") for pair in query.split("&") if pair]
    names = [name for name, _, _ in pairs]
    raw = dict((name, value) for name, _, value in pairs)
    # curl signs the query as written: RGW's canonical form sorts and encodes it.
    if names != sorted(names) or any(re.search(r"[^A-Za-z0-9%._~-]", v) for v in raw.values()):
        return error("SignatureDoesNotMatch", 403, path)
    if raw.get("list-type") != "2":
        return error("NotImplemented", 501, path)
    prefix = urllib.parse.unquote(raw.get("prefix", ""))
    max_keys = int(raw.get("max-keys", "1000"))
    # A server may return fewer keys than asked (a page size the test sets): clients page on.
    if (store / "page-size").is_file():
        max_keys = min(max_keys, int((store / "page-size").read_text()))
    token = urllib.parse.unquote(raw.get("continuation-token", ""))
    keys = sorted(k for k in index if k.startswith(prefix) and (not token or k > token))
    page, truncated = keys[:max_keys], len(keys) > max_keys
    contents = "".join(
        f"<Contents><Key>{xml_escape(k)}</Key><LastModified>{index[k]['LastModified']}"
        f"</LastModified><ETag>&quot;{index[k]['ETag']}&quot;</ETag><Size>{index[k]['Size']}"
        "</Size><StorageClass>STANDARD</StorageClass><Type>Normal</Type></Contents>"
        for k in page
    )
    head = f"<Name>{bucket}</Name><Prefix>{xml_escape(prefix)}</Prefix>"
    if token:
        head += f"<ContinuationToken>{xml_escape(token)}</ContinuationToken>"
    head += f"<MaxKeys>{max_keys}</MaxKeys><IsTruncated>{str(truncated).lower()}</IsTruncated>"
    tail = (
        f"<NextContinuationToken>{xml_escape(page[-1])}</NextContinuationToken>"
        if truncated
        else ""
    )
    return 200, (
        f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{NS}">{head}'
        f"{contents}{tail}<KeyCount>{len(page)}</KeyCount></ListBucketResult>"
    )


def main() -> int:
    store, method, url, sigv4, upload, *headers = sys.argv[1:]
    status, body = answer(Path(store), method, url, sigv4, upload, headers)
    sys.stdout.write(f"{status}\n{body}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Ceph cluster behind the sandbox's stand-ins for cephadm, ceph, rados, rbd,
radosgw-admin and RGW's S3 (curl), as far as the data layer's scripts use them, printing what
the real tools print (shapes from tests/fixtures/ceph/, captured from Ceph 16.2.15, and
cephadm's own messages). Called by the bash stand-ins after they recorded the call and
applied the harness's failure switch: `cluster.py TOOL ARG...`, STANDIN_LATE=1 for a call the
harness fails half-way.

The cluster's state is kept where its monitor keeps its store on the host that bootstrapped
it, /var/lib/ceph/FSID/mon.HOST/standin/ (so `cephadm rm-cluster` removes it with the rest),
as plain files: `config`, `hosts` and `pools/`, `rules`, `auth/`, `services/`, `objects/`,
`rgw/` (its users, buckets, zonegroup and zone, and the placement targets the running RGW read
when it last started: RGW reads them at start only). Everything it writes is derived from its
inputs (keys from names, no clock, no counter that depends on the path taken), so two runs that
converge leave identical hosts.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import struct
import sys
from pathlib import Path

import yaml

CONF = Path(os.environ.get("CEPH_CONF") or "/etc/ceph/ceph.conf")
ETC = Path("/etc/ceph")
KEYRING = ETC / "ceph.client.admin.keyring"
PUB = ETC / "ceph.pub"
DATA = Path("/var/lib/ceph")
IMAGES = Path("/var/lib/containers/storage/standin-images")
LATE = os.environ.get("STANDIN_LATE") == "1"
POOL_DETAIL_TEMPLATE = json.loads(
    '{"application_metadata":{"rbd":{}},"auid":0,"cache_min_evict_age":0,"cache_min_flush'
    '_age":0,"cache_mode":"none","cache_target_dirty_high_ratio_micro":600000,"cache_targ'
    'et_dirty_ratio_micro":400000,"cache_target_full_ratio_micro":800000,"create_time":"2'
    '026-11-29T17:06:16.053420+0000","crush_rule":1,"erasure_code_profile":"","expected_n'
    'um_objects":0,"fast_read":false,"flags":1,"flags_names":"hashpspool","grade_table":['
    '],"hit_set_count":0,"hit_set_grade_decay_rate":0,"hit_set_params":{"type":"none"},"h'
    'it_set_period":0,"hit_set_search_last_n":0,"last_change":"36","last_force_op_resend"'
    ':"0","last_force_op_resend_preluminous":"0","last_force_op_resend_prenautilus":"0","'
    'last_pg_merge_meta":{"last_epoch_clean":0,"last_epoch_started":0,"ready_epoch":0,"so'
    'urce_pgid":"0.0","source_version":"0\'0","target_version":"0\'0"},"min_read_recency_fo'
    'r_promote":0,"min_size":2,"min_write_recency_for_promote":0,"object_hash":2,"options'
    '":{},"peering_crush_bucket_barrier":0,"peering_crush_bucket_count":0,"peering_crush_'
    'bucket_mandatory_member":2147483647,"peering_crush_bucket_target":0,"pg_autoscale_mo'
    'de":"off","pg_num":8,"pg_num_pending":8,"pg_num_target":8,"pg_placement_num":8,"pg_p'
    'lacement_num_target":8,"pool_id":6,"pool_name":"test-rbd","pool_snaps":[],"quota_max'
    '_bytes":0,"quota_max_objects":0,"read_tier":-1,"removed_snaps":"[]","size":3,"snap_e'
    'poch":0,"snap_mode":"selfmanaged","snap_seq":0,"stripe_width":0,"target_max_bytes":0'
    ',"target_max_objects":0,"tier_of":-1,"tiers":[],"type":1,"use_gmt_hitset":true,"writ'
    'e_tier":-1}'
)
"""A pool of `ceph osd pool ls detail --format json` as Ceph 16.2.15 printed it
(tests/fixtures/ceph/ceph-osd-pool-ls-detail.json, its last pool): the stand-in's template."""
DEFAULTS = {
    ("mgr", "mgr/cephadm/container_image_haproxy"): "quay.io/ceph/haproxy:2.3",
    ("mgr", "mgr/cephadm/container_image_keepalived"): "quay.io/ceph/keepalived:2.2.4",
    ("global", "osd_pool_default_size"): "3",
    ("global", "osd_pool_default_min_size"): "0",
    ("global", "osd_pool_default_crush_rule"): "-1",
}
"""Ceph's defaults for the options the scripts read."""


class ToolError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- files ---------------------------------------------------------------------------------
def write(path: Path, text: str, mode: int = 0o644) -> None:
    """Writes `text` only when it differs (a tool with nothing to change leaves its files)."""
    if path.is_file() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def digest(*parts: str) -> bytes:
    return hashlib.sha256("/".join(parts).encode()).digest()


def cephx_key(*seed: str) -> str:
    """A well-formed cephx key (type 1, time 0, 16 bytes derived from `seed`)."""
    return base64.b64encode(struct.pack("<HIIH", 1, 0, 0, 16) + digest(*seed)[:16]).decode()


def table(path: Path) -> list[list[str]]:
    if not path.is_file():
        return []
    return [line.split("\t") for line in path.read_text().splitlines() if line]


def write_table(path: Path, rows: list[list[str]]) -> None:
    write(path, "".join("\t".join(row) + "\n" for row in sorted(rows)))


def fields(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def write_fields(path: Path, values: dict[str, str], mode: int = 0o644) -> None:
    write(path, "".join(f"{k}={v}\n" for k, v in sorted(values.items())), mode)


def conf_value(key: str) -> str:
    if not CONF.is_file():
        return ""
    for line in CONF.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.strip().replace(" ", "_") == key:
            return value.strip()
    return ""


def dump(value: object) -> None:
    """JSON as the ceph CLI prints it: a line break first, none after."""
    sys.stdout.write("\n" + json.dumps(value, separators=(",", ":")))


# --- the cluster ---------------------------------------------------------------------------
def store() -> Path:
    """The monitor's store of the cluster this host's ceph.conf names, or the error the ceph
    CLI prints when it cannot reach one."""
    if not CONF.is_file():
        raise ToolError(
            1,
            "Error initializing cluster client: ObjectNotFound('RADOS object not found "
            "(error calling conf_read_file)')",
        )
    fsid = conf_value("fsid")
    found = sorted(glob.glob(f"{DATA}/{fsid}/mon.*/standin")) if fsid else []
    if not found or not KEYRING.is_file():
        raise ToolError(1, "[errno 110] RADOS timed out (error connecting to the cluster)")
    return Path(found[0])


def hosts(s: Path) -> list[dict]:
    return [
        {
            "addr": addr,
            "hostname": name,
            "labels": [label for label in labels.split(",") if label],
            "status": "",
        }
        for name, addr, labels in table(s / "hosts")
    ]


def services(s: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((s / "services").glob("*.json"))}


def service_name(spec: dict) -> str:
    return (
        f"{spec['service_type']}.{spec['service_id']}"
        if spec.get("service_id")
        else spec["service_type"]
    )


def osd_list(s: Path) -> list[dict]:
    """One OSD per device an OSD service names on a host of the cluster, numbered in the order
    of the services and their hosts and devices; its CRUSH device class the service's
    `crush_device_class`, or what Ceph detects from the rotational flag (sd*: hdd, else ssd)."""
    known = {h["hostname"] for h in hosts(s)}
    found = []
    for spec in services(s).values():
        if spec["service_type"] != "osd":
            continue
        body = spec.get("spec", spec)
        devices = body.get("data_devices", {}).get("paths", [])
        for host in sorted(set(spec.get("placement", {}).get("hosts", [])) & known):
            for device in devices:
                detected = "hdd" if re.fullmatch(r"/dev/sd[a-z]+", device) else "ssd"
                found.append(
                    {
                        "id": len(found),
                        "host": host,
                        "device": device,
                        "class": body.get("crush_device_class") or detected,
                    }
                )
    return found


def osds(s: Path) -> int:
    return len(osd_list(s))


def osd_tree(s: Path) -> dict:
    """`ceph osd tree --format json`, shaped as tests/fixtures/ceph/ceph-osd-tree.json."""
    listed = osd_list(s)
    host_names = sorted({o["host"] for o in listed})
    host_ids = {name: -2 - n for n, name in enumerate(host_names)}
    nodes: list[dict] = [
        {
            "id": -1,
            "name": "default",
            "type": "root",
            "type_id": 11,
            "children": sorted(host_ids.values()),
        }
    ]
    for name in host_names:
        nodes.append(
            {
                "id": host_ids[name],
                "name": name,
                "type": "host",
                "type_id": 1,
                "pool_weights": {},
                "children": [o["id"] for o in listed if o["host"] == name],
            }
        )
        for o in listed:
            if o["host"] == name:
                nodes.append(
                    {
                        "id": o["id"],
                        "device_class": o["class"],
                        "name": f"osd.{o['id']}",
                        "type": "osd",
                        "type_id": 0,
                        "crush_weight": 1,
                        "depth": 2,
                        "pool_weights": {},
                        "exists": 1,
                        "status": "up",
                        "reweight": 1,
                        "primary_affinity": 1,
                    }
                )
    return {"nodes": nodes, "stray": []}


def config_rows(s: Path) -> list[list[str]]:
    return table(s / "config")


def config_get(s: Path, who: str, name: str) -> str:
    for section, key, value in config_rows(s):
        if section == who and key == name:
            return value
    for section, key, value in config_rows(s):
        if section == "global" and key == name:
            return value
    return DEFAULTS.get((who, name), DEFAULTS.get(("global", name), ""))


def config_set(s: Path, who: str, name: str, value: str) -> None:
    rows = [r for r in config_rows(s) if (r[0], r[1]) != (who, name)]
    write_table(s / "config", [*rows, [who, name, value]])


def rules(s: Path) -> dict[str, dict]:
    found = {"replicated_rule": {"id": "0", "root": "default", "type": "host", "class": ""}}
    for rule_id, name, root, kind, *device_class in table(s / "rules"):
        found[name] = {
            "id": rule_id,
            "root": root,
            "type": kind,
            "class": device_class[0] if device_class else "",
        }
    return found


def rule_by_id(s: Path, rule_id: str) -> str:
    return next((name for name, r in rules(s).items() if r["id"] == rule_id), "replicated_rule")


def pool(s: Path, name: str) -> dict[str, str]:
    values = fields(s / "pools" / name)
    if not values:
        raise ToolError(2, f"Error ENOENT: unrecognized pool '{name}'")
    return values


def pool_ids(s: Path) -> dict[str, int]:
    return {p.name: int(fields(p)["id"]) for p in (s / "pools").glob("*")}


# --- ceph ----------------------------------------------------------------------------------
def ceph(args: list[str]) -> int:
    words, options = parse(args, {"--format", "-f", "--connect-timeout", "-i", "--labels"})
    s = store()
    head = " ".join(words[:3])
    if words == ["fsid"]:
        print(conf_value("fsid"))
    elif words[:2] == ["cephadm", "get-pub-key"]:
        print((s / "ssh_identity_pub").read_text().strip())
    elif words[:3] == ["orch", "host", "ls"]:
        dump(hosts(s))
    elif words[:3] == ["orch", "host", "add"]:
        name, addr = words[3], words[4]
        rows = table(s / "hosts")
        if any(r[0] == name for r in rows):
            print(f"Added host '{name}' with addr '{addr}'")
            return 0
        write_table(s / "hosts", [*rows, [name, addr, options.get("--labels", "")]])
        print(f"Added host '{name}' with addr '{addr}'")
    elif words[:3] == ["orch", "host", "set-addr"]:
        name, addr = words[3], words[4]
        rows = [[n, addr if n == name else a, ls] for n, a, ls in table(s / "hosts")]
        write_table(s / "hosts", rows)
        print(f"Updated host '{name}' addr to '{addr}'")
    elif head == "orch host label" and words[3] == "add":
        name, label = words[4], words[5]
        rows = []
        for n, a, labels in table(s / "hosts"):
            if n == name:
                labels = ",".join(sorted({*filter(None, labels.split(",")), label}))
            rows.append([n, a, labels])
        write_table(s / "hosts", rows)
        print(f"Added label {label} to host {name}")
    elif words[:2] == ["orch", "ls"]:
        listed = []
        for name, spec in services(s).items():
            size = len(spec.get("placement", {}).get("hosts", [])) or 1
            listed.append(
                {
                    "placement": spec.get("placement", {}),
                    "service_name": name,
                    "service_type": spec["service_type"],
                    "status": {"running": size, "size": size},
                }
            )
        dump(listed)
    elif words[:2] == ["orch", "apply"] and "-i" in options:
        text = Path(options["-i"]).read_text()
        known = {h["hostname"] for h in hosts(s)}
        documents = [d for d in yaml.safe_load_all(text) if d]
        for spec in documents:
            if spec.get("service_type") not in ("mon", "mgr", "crash", "osd", "rgw", "ingress"):
                raise ToolError(
                    22, f"Error EINVAL: Service type {spec.get('service_type')} not found"
                )
            unknown = sorted(set(spec.get("placement", {}).get("hosts", [])) - known)
            if unknown:
                raise ToolError(
                    22,
                    "Error EINVAL: Cannot place "
                    f"<ServiceSpec for service_name={service_name(spec)}> "
                    f"on {', '.join(unknown)}: Unknown hosts",
                )
        for spec in documents:
            name = service_name(spec)
            path = s / "services" / f"{name}.json"
            text = json.dumps(spec, sort_keys=True) + "\n"
            # cephadm (re)deploys a service's daemons when its spec is new or changed.
            redeployed = not path.is_file() or path.read_text() != text
            write(path, text)
            if redeployed and spec["service_type"] == "rgw":
                rgw_started(s)
            print(f"Scheduled {name} update...")
    elif words[:2] == ["osd", "tree"]:
        dump(osd_tree(s))
    elif words[:2] == ["orch", "restart"]:
        name = words[2]
        spec = services(s).get(name)
        if spec is None:
            raise ToolError(
                22,
                f'Error EINVAL: No daemons exist under service name "{name}". View currently '
                'running services using "ceph orch ls"',
            )
        for host in spec.get("placement", {}).get("hosts", []):
            print(f"Scheduled to restart {name}.{host} on host '{host}'")
        if spec["service_type"] == "rgw":
            rgw_started(s)
    elif words[:2] == ["osd", "stat"]:
        n = osds(s)
        dump(
            {
                "epoch": 10 + n,
                "num_osds": n,
                "num_up_osds": n,
                "osd_up_since": 0,
                "num_in_osds": n,
                "osd_in_since": 0,
                "num_remapped_pgs": 0,
            }
        )
    elif words[:2] == ["config", "dump"]:
        dump(
            [
                {
                    "section": section,
                    "name": name,
                    "value": value,
                    "level": "advanced",
                    "can_update_at_runtime": True,
                    "mask": "",
                }
                for section, name, value in config_rows(s)
            ]
        )
    elif words[:2] == ["config", "set"]:
        config_set(s, words[2], words[3], words[4])
    elif words[:2] == ["config", "get"]:
        if words[2] == "global":
            raise ToolError(22, "Error EINVAL: unrecognized entity 'global'")
        print(config_get(s, words[2], words[3]))
    elif head == "osd crush rule":
        return crush_rule(s, words[3:])
    elif words[:2] == ["osd", "pool"]:
        return osd_pool(s, words[2:])
    elif words[:1] == ["auth"]:
        return auth(s, words[1:])
    else:
        raise ToolError(
            22, f"no valid command found; the stand-in does not know `ceph {' '.join(args)}`"
        )
    return 0


def parse(args: list[str], with_value: set[str]) -> tuple[list[str], dict[str, str]]:
    words, options = [], {}
    index = 0
    while index < len(args):
        arg = args[index]
        if "=" in arg and arg.split("=", 1)[0] in with_value:
            key, value = arg.split("=", 1)
            options[key] = value
        elif arg in with_value:
            options[arg] = args[index + 1]
            index += 1
        elif arg.startswith("--"):
            options[arg] = ""
        else:
            words.append(arg)
        index += 1
    return words, options


def crush_rule(s: Path, words: list[str]) -> int:
    if words[0] == "dump":
        name = words[1]
        rule = rules(s).get(name)
        if rule is None:
            raise ToolError(2, f"Error ENOENT: unknown crush rule '{name}'")
        dump(
            {
                "rule_id": int(rule["id"]),
                "rule_name": name,
                "ruleset": int(rule["id"]),
                "type": 1,
                "min_size": 1,
                "max_size": 10,
                "steps": [
                    {
                        "op": "take",
                        "item": -1 - 10 * len(rule["class"]),
                        "item_name": f"{rule['root']}~{rule['class']}"
                        if rule["class"]
                        else rule["root"],
                    },
                    {"op": "chooseleaf_firstn", "num": 0, "type": rule["type"]},
                    {"op": "emit"},
                ],
            }
        )
    elif words[0] == "ls":
        dump(sorted(rules(s), key=lambda n: int(rules(s)[n]["id"])))
    elif words[0] == "create-replicated":
        name, root, kind = words[1], words[2], words[3]
        device_class = words[4] if len(words) > 4 else ""
        if name in rules(s):
            print(f"rule {name} already exists", file=sys.stderr)
            return 0
        if device_class and device_class not in {o["class"] for o in osd_list(s)}:
            raise ToolError(22, f"Error EINVAL: device class {device_class} does not exist")
        rows = table(s / "rules")
        write_table(s / "rules", [*rows, [str(len(rows) + 1), name, root, kind, device_class]])
    else:
        raise ToolError(22, f"the stand-in does not know `ceph osd crush rule {' '.join(words)}`")
    return 0


def pool_detail(s: Path) -> list[dict]:
    """`ceph osd pool ls detail --format json`: each pool as the real record (the template)
    with its own name, id, size, rule and applications."""
    template = POOL_DETAIL_TEMPLATE
    records = []
    for path in sorted((s / "pools").glob("*"), key=lambda p: int(fields(p)["id"])):
        values = fields(path)
        applications = [a for a in values.get("applications", "").split(",") if a]
        records.append(
            {
                **template,
                "pool_id": int(values["id"]),
                "pool_name": path.name,
                "size": int(values["size"]),
                "min_size": int(values["min_size"]),
                "crush_rule": int(rules(s)[values["crush_rule"]]["id"]),
                "application_metadata": {a: {} for a in applications},
            }
        )
    return records


def osd_pool(s: Path, words: list[str]) -> int:
    verb = words[0]
    if verb == "ls" and words[1:2] == ["detail"]:
        dump(pool_detail(s))
        return 0
    if verb == "create":
        name = words[1]
        if (s / "pools" / name).is_file():
            print(f"pool '{name}' already exists", file=sys.stderr)
            return 0
        default_rule = rule_by_id(s, config_get(s, "mon", "osd_pool_default_crush_rule"))
        rule = words[3] if len(words) > 3 else default_rule
        if rule not in rules(s):
            raise ToolError(2, f"Error ENOENT: specified rule {rule} doesn't exist")
        size = int(config_get(s, "mon", "osd_pool_default_size"))
        min_size = int(config_get(s, "mon", "osd_pool_default_min_size")) or size - size // 2
        write_fields(
            s / "pools" / name,
            {
                "id": str(max(pool_ids(s).values(), default=0) + 1),
                "size": str(size),
                "min_size": str(min_size),
                "crush_rule": rule,
                "applications": "",
            },
        )
        print(f"pool '{name}' created", file=sys.stderr)
    elif verb == "get":
        name, key = words[1], words[2]
        values = pool(s, name)
        record = {
            "pool": name,
            "pool_id": int(values["id"]),
            "size": int(values["size"]),
            "min_size": int(values["min_size"]),
            "pg_num": 32,
            "pgp_num": 32,
            "crush_rule": values["crush_rule"],
            "hashpspool": True,
            "nodelete": False,
            "nopgchange": False,
            "nosizechange": False,
            "write_fadvise_dontneed": False,
            "noscrub": False,
            "nodeep-scrub": False,
            "use_gmt_hitset": True,
            "fast_read": 0,
            "pg_autoscale_mode": "on",
            "bulk": False,
        }
        dump(
            record
            if key == "all"
            else {"pool": name, "pool_id": record["pool_id"], key: record[key]}
        )
    elif verb == "set":
        name, key, value = words[1], words[2], words[3]
        values = pool(s, name)
        if key == "size":
            values["size"] = value
            values["min_size"] = str(int(value) - int(value) // 2)
        elif key == "min_size":
            if int(value) > int(values["size"]):
                raise ToolError(
                    22,
                    "Error EINVAL: pool min_size must be between 1 and size, which is set to "
                    + values["size"],
                )
            values["min_size"] = value
        elif key == "crush_rule":
            if value not in rules(s):
                raise ToolError(2, f"Error ENOENT: crush rule {value} does not exist")
            values["crush_rule"] = value
        else:
            raise ToolError(22, f"the stand-in does not know pool setting {key}")
        write_fields(s / "pools" / name, values)
        print(f"set pool {values['id']} {key} to {value}", file=sys.stderr)
    elif verb == "application":
        action, name = words[1], words[2]
        values = pool(s, name)
        applications = [a for a in values.get("applications", "").split(",") if a]
        if action == "get":
            dump({application: {} for application in applications})
        elif action == "enable":
            values["applications"] = ",".join(sorted({*applications, words[3]}))
            write_fields(s / "pools" / name, values)
            print(f"enabled application '{words[3]}' on pool '{name}'", file=sys.stderr)
        else:
            raise ToolError(22, f"the stand-in does not know `application {action}`")
    else:
        raise ToolError(22, f"the stand-in does not know `ceph osd pool {' '.join(words)}`")
    return 0


CAPS = re.compile(r"^(mon|osd|mgr|mds) ")


def auth(s: Path, words: list[str]) -> int:
    verb, entity = words[0], words[1]
    path = s / "auth" / entity
    held = fields(path)
    caps = dict(zip(words[2::2], words[3::2], strict=True))
    if verb == "get":
        if not held:
            raise ToolError(2, f"Error ENOENT: failed to find {entity} in keyring")
        dump(
            [
                {
                    "entity": entity,
                    "key": held["key"],
                    "caps": {k[5:]: v for k, v in sorted(held.items()) if k.startswith("caps.")},
                }
            ]
        )
        print(f"exported keyring for {entity}", file=sys.stderr)
    elif verb == "get-or-create":
        if held:
            for daemon, cap in caps.items():
                if held.get(f"caps.{daemon}") != cap:
                    raise ToolError(
                        22, f"Error EINVAL: key for {entity} exists but cap {daemon} does not match"
                    )
        else:
            held = {"key": cephx_key(conf_value("fsid"), entity)}
            held.update({f"caps.{d}": c for d, c in caps.items()})
            write_fields(path, held, 0o600)
        print(f"[{entity}]\n\tkey = {held['key']}")
    elif verb == "caps":
        if not held:
            raise ToolError(2, f"Error ENOENT: couldn't find entity '{entity}'")
        updated = {"key": held["key"], **{f"caps.{d}": c for d, c in caps.items()}}
        write_fields(path, updated, 0o600)
        print(f"updated caps for {entity}", file=sys.stderr)
    elif verb == "get-key":
        if not held:
            raise ToolError(2, f"Error ENOENT: failed to find {entity} in keyring")
        sys.stdout.write(held["key"])
    else:
        raise ToolError(22, f"the stand-in does not know `ceph auth {verb}`")
    return 0


# --- rados, rbd ----------------------------------------------------------------------------
def rados(args: list[str]) -> int:
    words, options = parse(args, {"-p", "--pool"})
    s = store()
    name = options.get("-p") or options.get("--pool", "")
    pool(s, name)
    if words[0] == "stat":
        obj = s / "objects" / name / words[1]
        if not obj.is_file():
            print(
                f" error stat-ing {name}/{words[1]}: (2) No such file or directory", file=sys.stderr
            )
            return 1
        print(f"{name}/{words[1]} mtime 2024-01-01T00:00:00.000000+0000, size {obj.stat().st_size}")
        return 0
    raise ToolError(1, f"the stand-in does not know `rados {' '.join(args)}`")


def rbd(args: list[str]) -> int:
    s = store()
    if args[:2] == ["pool", "init"]:
        name = args[2]
        values = pool(s, name)
        applications = {a for a in values.get("applications", "").split(",") if a}
        if "rbd" not in applications:
            values["applications"] = ",".join(sorted({*applications, "rbd"}))
            write_fields(s / "pools" / name, values)
        if LATE:
            raise ToolError(1, "rbd: error opening pool: (110) Connection timed out")
        write(s / "objects" / name / "rbd_info", "overwrite validated")
        return 0
    raise ToolError(1, f"the stand-in does not know `rbd {' '.join(args)}`")


# --- radosgw-admin -------------------------------------------------------------------------
QUOTA = {
    "enabled": False,
    "check_on_raw": False,
    "max_size": -1,
    "max_size_kb": 0,
    "max_objects": -1,
}


def user_document(uid: str, display: str, keys: list[dict]) -> dict:
    return {
        "user_id": uid,
        "display_name": display,
        "email": "",
        "suspended": 0,
        "max_buckets": 1000,
        "subusers": [],
        "keys": keys,
        "swift_keys": [],
        "caps": [],
        "op_mask": "read, write, delete",
        "default_placement": "",
        "default_storage_class": "",
        "placement_tags": [],
        "bucket_quota": QUOTA,
        "user_quota": QUOTA,
        "temp_url_keys": [],
        "type": "rgw",
        "mfa_ids": [],
    }


def pretty(value: object) -> None:
    """JSON as radosgw-admin prints it."""
    print(json.dumps(value, indent=4))


ZONE_POOLS = (".rgw.root", "default.rgw.log", "default.rgw.control", "default.rgw.meta")


def zone_paths(s: Path) -> tuple[Path, Path]:
    return s / "rgw" / "zonegroup.json", s / "rgw" / "zone.json"


def rgw_defaults(s: Path) -> None:
    """What radosgw (or a radosgw-admin command that reads users) makes when the cluster has
    no zone yet: the zonegroup and zone `default` with the placement `default-placement`, and
    their pools (on the default rule, application rgw)."""
    zonegroup_path, zone_path = zone_paths(s)
    if zonegroup_path.is_file():
        return
    for name in ZONE_POOLS:
        if not (s / "pools" / name).is_file():
            size = int(config_get(s, "mon", "osd_pool_default_size"))
            min_size = int(config_get(s, "mon", "osd_pool_default_min_size")) or size - size // 2
            write_fields(
                s / "pools" / name,
                {
                    "id": str(max(pool_ids(s).values(), default=0) + 1),
                    "size": str(size),
                    "min_size": str(min_size),
                    "crush_rule": rule_by_id(
                        s, config_get(s, "mon", "osd_pool_default_crush_rule")
                    ),
                    "applications": "rgw",
                },
            )
    zone_id = hashlib.sha256(conf_value("fsid").encode()).hexdigest()
    zone = {
        "id": f"{zone_id[:8]}-{zone_id[8:12]}-{zone_id[12:16]}-{zone_id[16:20]}-{zone_id[20:32]}",
        "name": "default",
        "domain_root": "default.rgw.meta:root",
        "control_pool": "default.rgw.control",
        "log_pool": "default.rgw.log",
        "system_key": {"access_key": "", "secret_key": ""},
        "placement_pools": [
            {
                "key": "default-placement",
                "val": {
                    "index_pool": "default.rgw.buckets.index",
                    "storage_classes": {"STANDARD": {"data_pool": "default.rgw.buckets.data"}},
                    "data_extra_pool": "default.rgw.buckets.non-ec",
                    "index_type": 0,
                },
            }
        ],
        "realm_id": "",
        "notif_pool": "default.rgw.log:notif",
    }
    zonegroup = {
        "id": zone["id"][::-1],
        "name": "default",
        "api_name": "default",
        "is_master": "true",
        "endpoints": [],
        "master_zone": zone["id"],
        "zones": [{"id": zone["id"], "name": "default", "endpoints": []}],
        "placement_targets": [
            {"name": "default-placement", "tags": [], "storage_classes": ["STANDARD"]}
        ],
        "default_placement": "default-placement",
        "realm_id": "",
    }
    write(zone_path, json.dumps(zone, indent=4) + "\n")
    write(zonegroup_path, json.dumps(zonegroup, indent=4) + "\n")


def zone_document(s: Path, kind: str) -> dict:
    path = zone_paths(s)[0 if kind == "zonegroup" else 1]
    if not path.is_file():
        raise ToolError(2, f"failed to init {kind}: (2) No such file or directory")
    return json.loads(path.read_text())


def placements(s: Path) -> list[str]:
    """The placement targets RGW serves: the zonegroup's that the zone has pools for."""
    try:
        zonegroup, zone = zone_document(s, "zonegroup"), zone_document(s, "zone")
    except ToolError:
        return []
    pooled = {p["key"] for p in zone["placement_pools"]}
    return sorted(t["name"] for t in zonegroup["placement_targets"] if t["name"] in pooled)


def rgw_started(s: Path) -> None:
    """RGW (re)started: it makes the default zone if there is none, and serves the placement
    targets there are now until its next start."""
    rgw_defaults(s)
    write(s / "rgw" / "running-placements", "".join(f"{t}\n" for t in placements(s)))


def placement_command(s: Path, words: list[str], options: dict[str, str]) -> None:
    """`radosgw-admin zonegroup|zone placement list|add|modify`."""
    kind, verb = words[0], words[2]
    document = zone_document(s, kind)
    path = zone_paths(s)[0 if kind == "zonegroup" else 1]
    if kind == "zonegroup":
        entries = document["placement_targets"]
        if verb == "list":
            pretty([{"key": t["name"], "val": t} for t in sorted(entries, key=lambda t: t["name"])])
            return
        name = options["--placement-id"]
        if verb == "add" and not any(t["name"] == name for t in entries):
            entries.append({"name": name, "tags": [], "storage_classes": ["STANDARD"]})
        write(path, json.dumps(document, indent=4) + "\n")
        pretty([{"key": t["name"], "val": t} for t in sorted(entries, key=lambda t: t["name"])])
        return
    entries = document["placement_pools"]
    if verb == "list":
        pretty(sorted(entries, key=lambda p: p["key"]))
        return
    name = options["--placement-id"]
    if not any(t["name"] == name for t in zone_document(s, "zonegroup")["placement_targets"]):
        raise ToolError(
            2, f"ERROR: placement id {name} is not configured in zonegroup placement targets"
        )
    entry = next((p for p in entries if p["key"] == name), None)
    if entry is None:
        if verb == "modify":
            raise ToolError(2, f"ERROR: zone placement target {name} does not exist")
        entry = {
            "key": name,
            "val": {
                "index_pool": "",
                "storage_classes": {},
                "data_extra_pool": "",
                "index_type": 0,
            },
        }
        entries.append(entry)
    if "--data-pool" in options:
        entry["val"]["storage_classes"]["STANDARD"] = {"data_pool": options["--data-pool"]}
    if "--index-pool" in options:
        entry["val"]["index_pool"] = options["--index-pool"]
    if "--data-extra-pool" in options:
        entry["val"]["data_extra_pool"] = options["--data-extra-pool"]
    write(path, json.dumps(document, indent=4) + "\n")
    pretty(document)


def radosgw_admin(args: list[str]) -> int:
    words, options = parse(
        args,
        {
            "--uid",
            "--display-name",
            "--bucket",
            "--access-key",
            "--secret-key",
            "--rgw-zonegroup",
            "--rgw-zone",
            "--placement-id",
            "--data-pool",
            "--index-pool",
            "--data-extra-pool",
        },
    )
    s = store()
    users = s / "rgw" / "users"
    if words in (["zonegroup", "get"], ["zone", "get"]):
        pretty(zone_document(s, words[0]))
    elif words[:2] in (["zonegroup", "placement"], ["zone", "placement"]):
        placement_command(s, words, options)
    elif words[:2] == ["user", "list"]:
        rgw_defaults(s)
        pretty(sorted(p.stem for p in users.glob("*.json")))
    elif words[:2] == ["metadata", "get"]:
        uid = words[2].removeprefix("user:")
        path = users / f"{uid}.json"
        if not path.is_file():
            raise ToolError(2, "ERROR: can't get key: (2) No such file or directory")
        data = json.loads(path.read_text())
        pretty(
            {
                "key": f"user:{uid}",
                "ver": {"tag": "_standin", "ver": 1},
                "mtime": "2024-01-01T00:00:00.000000Z",
                "data": {**data, "attrs": []},
            }
        )
    elif words[:2] == ["metadata", "put"]:
        uid = words[2].removeprefix("user:")
        document = json.loads(sys.stdin.read())
        data = document["data"]
        data.pop("attrs", None)
        if data.get("user_id") != uid:
            raise ToolError(22, "ERROR: can't put key: (22) Invalid argument")
        # Another user's access key is refused, as RGW's key index does.
        mine = {k["access_key"] for k in data.get("keys", [])}
        for other in users.glob("*.json"):
            if other.stem != uid and mine & {
                k["access_key"] for k in json.loads(other.read_text())["keys"]
            }:
                raise ToolError(17, "ERROR: can't put key: (17) File exists")
        write(users / f"{uid}.json", json.dumps(data, indent=4, sort_keys=True) + "\n", 0o600)
    elif words[:2] == ["user", "create"]:
        uid = options["--uid"]
        path = users / f"{uid}.json"
        if path.is_file():
            raise ToolError(
                17, f"could not create user: unable to parse parameters, user: {uid} exists"
            )
        # radosgw-admin's own keys: 20 upper-case letters and digits, 40 letters and digits.
        seed = digest(conf_value("fsid"), "rgw", uid)
        access = "".join("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[b % 36] for b in seed[:20])
        secret = base64.b64encode(digest("secret", uid) + seed[:12]).decode()[:40]
        secret = re.sub(r"[^A-Za-z0-9]", "x", secret)
        data = user_document(
            uid,
            options.get("--display-name", uid),
            [{"user": uid, "access_key": access, "secret_key": secret}],
        )
        write(path, json.dumps(data, indent=4, sort_keys=True) + "\n", 0o600)
        pretty(data)
    elif words[:2] == ["bucket", "stats"]:
        name = options.get("--bucket", "")
        bucket = fields(s / "rgw" / "buckets" / name)
        if not bucket:
            raise ToolError(210, "failure: (2002) Unknown error 2002: ")
        marker = hashlib.sha256(name.encode()).hexdigest()[:8]
        pretty(
            {
                "bucket": name,
                "num_shards": 11,
                "tenant": "",
                "zonegroup": "standin-zonegroup",
                "placement_rule": bucket.get("placement", "default-placement"),
                "explicit_placement": {"data_pool": "", "data_extra_pool": "", "index_pool": ""},
                "id": f"standin.{marker}",
                "marker": f"standin.{marker}",
                "index_type": "Normal",
                "owner": bucket["owner"],
                "ver": "0#1",
                "master_ver": "0#0",
                "mtime": "2024-01-01T00:00:00.000000Z",
                "creation_time": "2024-01-01T00:00:00.000000Z",
                "max_marker": "0#",
                "usage": {},
                "bucket_quota": QUOTA,
            }
        )
    else:
        raise ToolError(1, f"the stand-in does not know `radosgw-admin {' '.join(args)}`")
    return 0


# --- cephadm -------------------------------------------------------------------------------
def daemons() -> list[dict]:
    found = []
    for directory in sorted(DATA.glob("*/*.*")):
        fsid, name = directory.parent.name, directory.name
        if re.fullmatch(r"[0-9a-f-]{36}", fsid) and directory.is_dir():
            found.append(
                {
                    "style": "cephadm:v1",
                    "name": name,
                    "fsid": fsid,
                    "systemd_unit": f"ceph-{fsid}@{name}",
                }
            )
    return found


def cephadm(args: list[str]) -> int:
    words, options = parse(args, {"--image", "--fsid", "--mon-ip", "--name", "-n", "--output-dir"})
    if words == ["ls"]:
        print(json.dumps(daemons(), indent=4))
        return 0
    if words == ["rm-cluster"]:
        fsid = options.get("--fsid", "")
        if "--force" not in options:
            raise ToolError(
                1, "ERROR: must pass --force to proceed: this command may destroy precious data!"
            )
        shutil.rmtree(DATA / fsid, ignore_errors=True)
        shutil.rmtree(Path("/var/log/ceph") / fsid, ignore_errors=True)
        for unit in Path("/etc/systemd/system").glob(f"ceph-{fsid}*"):
            unit.unlink()
        # The files in /etc/ceph go with the host's last cluster.
        if not [d for d in DATA.glob("*-*-*-*-*") if d.is_dir()]:
            for shared in (ETC / "ceph.conf", KEYRING, PUB):
                shared.unlink(missing_ok=True)
        return 0
    if words == ["bootstrap"]:
        return bootstrap(options)
    raise ToolError(1, f"the stand-in does not know `cephadm {' '.join(args)}`")


def bootstrap(options: dict[str, str]) -> int:
    image, fsid, mon_ip = options.get("--image", ""), options.get("--fsid", ""), options["--mon-ip"]
    host = socket.gethostname()
    print("Verifying podman|docker is present...\nVerifying lvm2 is present...")
    if "--skip-pull" in options and image not in set(
        IMAGES.read_text().split() if IMAGES.is_file() else []
    ):
        raise ToolError(
            1,
            f"Error: {image}: image not known\nERROR: Failed command: /usr/bin/podman run "
            f"--rm --ipc=host --stop-signal=SIGTERM --net=host --entrypoint /usr/bin/ceph "
            f"{image} --version",
        )
    if fsid and (DATA / fsid).exists():
        raise ToolError(1, f"ERROR: A cluster with the same fsid '{fsid}' already exists.")
    for output in (ETC / "ceph.conf", KEYRING, PUB):
        if output.exists():
            raise ToolError(
                1, f"ERROR: {output} already exists; delete or pass --allow-overwrite to overwrite"
            )
    print(
        f"Cluster fsid: {fsid}\nVerifying IP {mon_ip} port 3300 ...\n"
        f"Verifying IP {mon_ip} port 6789 ..."
    )
    mgr = f"{host}.{hashlib.sha256(fsid.encode()).hexdigest()[:6]}"
    for daemon in (f"mon.{host}", f"mgr.{mgr}", f"crash.{host}"):
        write(DATA / fsid / daemon / "unit.image", image + "\n")
    s = DATA / fsid / f"mon.{host}" / "standin"
    s.mkdir(parents=True, exist_ok=True)
    write_table(
        s / "config",
        [["global", "container_image", image], ["mon", "public_network", f"{mon_ip}/32"]],
    )
    write(
        ETC / "ceph.conf",
        f"# minimal ceph.conf for {fsid}\n[global]\n\tfsid = {fsid}\n"
        f"\tmon_host = [v2:{mon_ip}:3300/0,v1:{mon_ip}:6789/0]\n",
    )
    print("Wrote config to /etc/ceph/ceph.conf")
    write(KEYRING, f"[client.admin]\n\tkey = {cephx_key(fsid, 'client.admin')}\n", 0o600)
    print("Wrote keyring to /etc/ceph/ceph.client.admin.keyring")
    if LATE:
        raise ToolError(
            1,
            "Error: mgr not available after 15 tries\n\n\t***************\n"
            "\tCephadm hit an issue during cluster installation.",
        )
    blob = b"\x00\x00\x00\x07ssh-rsa" + hashlib.sha512(fsid.encode()).digest() * 4
    key = f"ssh-rsa {base64.b64encode(blob).decode()} ceph-{fsid}"
    write(s / "ssh_identity_pub", key + "\n")
    write(PUB, key + "\n")
    print("Wrote public SSH key to /etc/ceph/ceph.pub")
    authorized = Path("/root/.ssh/authorized_keys")
    existing = authorized.read_text() if authorized.is_file() else ""
    if key not in existing.splitlines():
        authorized.parent.mkdir(mode=0o700, exist_ok=True)
        write(
            authorized,
            existing + ("" if not existing or existing.endswith("\n") else "\n") + key + "\n",
            0o600,
        )
    print("Adding key to root@localhost authorized_keys...")
    write_table(s / "hosts", [[host, mon_ip, "_admin"]])
    print(f"Adding host {host}...")
    for spec in (
        {"service_type": "mon"},
        {"service_type": "mgr"},
        {"service_type": "crash", "placement": {"host_pattern": "*"}},
    ):
        write(
            s / "services" / f"{service_name(spec)}.json", json.dumps(spec, sort_keys=True) + "\n"
        )
        print(f"Deploying {spec['service_type']} service with default placement...")
    print("Bootstrap complete.")
    return 0


# --- S3 (curl against RGW) -----------------------------------------------------------------
def s3(method: str, url: str, headers: list[str], sigv4: str, payload: str = "") -> tuple[int, str]:
    """(HTTP status, body) of an S3 request to the cluster's RGW endpoint, or ToolError(7) when
    nothing listens there. The credentials come from curl's configuration on stdin."""
    match = re.fullmatch(r"http://([^/:]+):([0-9]+)(/.*)?", url)
    if not match:
        raise ToolError(7, f"Failed to connect to {url}: Couldn't connect to server")
    address, port, path = match.group(1), match.group(2), match.group(3) or "/"
    try:
        s = store()
    except ToolError:
        raise ToolError(
            7, f"Failed to connect to {address} port {port} after 0 ms: Couldn't connect to server"
        ) from None
    listening = False
    specs = services(s)
    for spec in specs.values():
        if spec["service_type"] != "ingress":
            continue
        body = spec.get("spec", spec)
        if (
            body.get("virtual_ip", "").split("/")[0] == address
            and str(body.get("frontend_port")) == port
            and body.get("backend_service") in specs
        ):
            listening = True
    if not listening:
        raise ToolError(
            7, f"Failed to connect to {address} port {port} after 0 ms: Couldn't connect to server"
        )
    request = f"tx{hashlib.sha256((method + path).encode()).hexdigest()[:20]}-standin"
    user = ""
    for line in sys.stdin.read().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "user":
            user = value.strip().strip('"')

    def error(code: str, status: int, bucket: str = "") -> tuple[int, str]:
        name = f"<BucketName>{bucket}</BucketName>" if bucket else ""
        return status, (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message></Message>'
            f"{name}<RequestId>{request}</RequestId><HostId>standin-default-default</HostId></Error>"
        )

    if not sigv4 and not user:
        if method == "GET" and path == "/":
            return 200, (
                '<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult '
                'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>anonymous</ID>'
                "<DisplayName></DisplayName></Owner><Buckets></Buckets></ListAllMyBucketsResult>"
            )
        return error("AccessDenied", 403)
    access, _, secret = user.partition(":")
    owner = ""
    for path_ in (s / "rgw" / "users").glob("*.json"):
        for key in json.loads(path_.read_text())["keys"]:
            if key["access_key"] == access:
                owner = path_.stem if key["secret_key"] == secret else "-"
    if not owner:
        return error("InvalidAccessKeyId", 403)
    # RGW checks the payload's hash header the signature covers (curl 7.88 does not add it).
    if owner == "-" or not any(h.lower().startswith("x-amz-content-sha256:") for h in headers):
        return error("SignatureDoesNotMatch", 403)
    bucket = path.strip("/")
    if method == "PUT" and bucket and "/" not in bucket:
        existing = fields(s / "rgw" / "buckets" / bucket)
        if existing and existing["owner"] != owner:
            return error("BucketAlreadyExists", 409, bucket)
        # The placement: the location constraint's part after `:` (before it the zonegroup's
        # API name), else the user's default placement, else the zonegroup's; one the running
        # RGW did not read at its start does not exist for it.
        constraint = re.search(r"<LocationConstraint>([^<]*)</LocationConstraint>", payload)
        user_default = json.loads((s / "rgw" / "users" / f"{owner}.json").read_text()).get(
            "default_placement", ""
        )
        placement = (constraint.group(1).partition(":")[2] if constraint else "") or (
            user_default or "default-placement"
        )
        started = s / "rgw" / "running-placements"
        running = started.read_text().split() if started.is_file() else []
        if placement not in running:
            return 400, (
                '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidLocationConstraint'
                "</Code><Message>The specified placement target does not exist</Message>"
                f"<BucketName>{bucket}</BucketName><RequestId>{request}</RequestId>"
                "<HostId>standin-default-default</HostId></Error>"
            )
        if not existing:
            write_fields(s / "rgw" / "buckets" / bucket, {"owner": owner, "placement": placement})
        return 200, ""
    return error("NotImplemented", 501)


def main() -> int:
    tool, args = sys.argv[1], sys.argv[2:]
    try:
        if tool == "s3":
            method, url, sigv4, *headers = args
            status, body = s3(method, url, headers, sigv4, os.environ.get("STANDIN_BODY", ""))
            sys.stdout.write(f"{status}\n{body}")
            return 0
        return {
            "ceph": ceph,
            "rados": rados,
            "rbd": rbd,
            "radosgw-admin": radosgw_admin,
            "cephadm": cephadm,
        }[tool](args)
    except ToolError as failure:
        print(str(failure), file=sys.stderr)
        return failure.code


if __name__ == "__main__":
    sys.exit(main())

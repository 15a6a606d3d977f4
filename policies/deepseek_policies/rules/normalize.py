"""Normal forms the rules judge instead of spellings: capabilities, image references, URLs,
key names and secret-shaped values. Pure; imports nothing of Pulumi."""

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


def is_map(value: Any) -> bool:
    """CrossGuard hands properties over as read-only proxies: Mappings, not dicts."""
    return isinstance(value, Mapping)


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, scalar) for every leaf of nested maps and lists."""
    if is_map(value):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key))
    elif is_list(value):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    else:
        yield path, value


# --- capabilities ---------------------------------------------------------------------------


def capability(name: Any) -> str:
    """`cap_sys_admin`, `CAP_SYS_ADMIN`, ` sys_admin ` → `SYS_ADMIN` (the kernel's name)."""
    text = str(name).strip().upper().replace("-", "_")
    return text[4:] if text.startswith("CAP_") else text


def capabilities(names: Iterable[Any] | None) -> set[str]:
    return {capability(n) for n in names or []}


# --- image references -----------------------------------------------------------------------

DEFAULT_REGISTRY = "docker.io"


@dataclass(frozen=True)
class ImageRef:
    """An image reference as the container runtime resolves it."""

    registry: str
    """Host (and port), lower-case: `registry.bank.internal`, `docker.io`."""
    repository: str
    """Path below the registry: `deepseek/nvcr.io/nvidia/tritonserver`."""
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"


def parse_image(reference: str) -> ImageRef:
    """Docker's rules: the first component is a registry when it holds a `.` or `:` or is
    `localhost`; otherwise the image is on Docker Hub (`nginx` → docker.io/library/nginx)."""
    text = reference.strip()
    for scheme in ("oci://", "docker://", "https://", "http://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
    tag = None
    last = text.rsplit("/", 1)[-1]
    if ":" in last:
        text, tag = text.rsplit(":", 1)
    first, _, rest = text.partition("/")
    if rest and ("." in first or ":" in first or first.lower() == "localhost"):
        registry, repository = first.lower(), rest
    else:
        registry, repository = DEFAULT_REGISTRY, text
        if "/" not in repository:
            repository = f"library/{repository}"
    return ImageRef(registry, repository.strip("/"), tag or None, digest or None)


def registry_path(prefix: str) -> tuple[str, list[str]]:
    """A registry prefix (`registry.bank.internal/deepseek/quay.io/`) as host and path parts."""
    text = prefix.strip()
    for scheme in ("oci://", "docker://", "https://", "http://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
    host, _, rest = text.strip("/").partition("/")
    return host.lower(), [part for part in rest.split("/") if part]


def _below(host: str, path: list[str], allowed: Iterable[str]) -> bool:
    for entry in allowed:
        allowed_host, allowed_path = registry_path(entry)
        if host == allowed_host and path[: len(allowed_path)] == allowed_path:
            return True
    return False


def image_allowed(reference: str, allowed: Iterable[str]) -> bool:
    """Whether an image lies at or below an allowed registry prefix, compared as the runtime
    resolves it (registry host, then path component by component)."""
    image = parse_image(reference)
    return _below(image.registry, image.repository.split("/"), allowed)


def prefix_allowed(prefix: str, allowed: Iterable[str]) -> bool:
    """Whether a Helm `registry` value (a host, maybe with a path) lies below an allowed one."""
    host, path = registry_path(prefix)
    return _below(host, path, allowed)


# --- URLs and hosts -------------------------------------------------------------------------

URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>,;]+", re.IGNORECASE)


def urls_in(text: str) -> list[str]:
    """Every URL inside a string: a bare value, or one inside `--endpoint=https://...`."""
    return URL.findall(text)


def url_host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def url_userinfo(url: str) -> bool:
    """`https://user:secret@host/`: credentials inside the URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.password is not None or (parts.username is not None and "@" in parts.netloc)


CLUSTER_SUFFIXES = ("svc", "svc.cluster.local", "cluster.local")


def in_domains(host: str, domains: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d.lower() or host.endswith("." + d.lower()) for d in domains if d)


def ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def networks(cidrs: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    found = []
    for cidr in cidrs:
        try:
            found.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            continue
    return found


def within(cidr: str, allowed: Iterable[str]) -> bool:
    """Whether a network (or address) lies inside one of the allowed networks."""
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return False
    return any(
        network.version == candidate.version and network.subnet_of(candidate)
        for candidate in networks(allowed)
    )


def address_range(entry: str) -> tuple[str, str] | None:
    """MetalLB's `10.0.0.1-10.0.0.9` or a CIDR as (first, last) addresses."""
    text = entry.strip()
    if "-" in text:
        first, _, last = text.partition("-")
        if ip_address(first) and ip_address(last):
            return first.strip(), last.strip()
        return None
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return str(network.network_address), str(network.broadcast_address)


def range_within(entry: str, allowed: Iterable[str]) -> bool:
    bounds = address_range(entry)
    if bounds is None:
        return False
    return all(within(address, allowed) for address in bounds) and any(
        within(bounds[0], [a]) and within(bounds[1], [a]) for a in allowed
    )


# --- secrets by shape -----------------------------------------------------------------------

# The last word of a key says what its value is: `dbPassword`, `DB_PASS`, `KUBEADM_TOKEN` hold
# one; `secretName`, `tokenFile`, `passwordSecretRef` only name where one is kept.
SECRET_WORDS = {
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "credential",
    "credentials",
    "jwt",
    "bearer",
}
JOINED_SECRET_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "token",
    "secret",
    "secretkey",
    "privatekey",
    "accesskey",
    "apikey",
)
KEY_QUALIFIERS = {"private", "access", "api", "secret", "signing", "encryption", "ssh", "master"}
REFERENCE_QUALIFIERS = {"existing"}
"""`existingSecret`, the Helm charts' idiom (velero's `credentials.existingSecret`, ...): the
name of a Secret already in the cluster, not a secret."""


def key_words(key: str) -> list[str]:
    """`dbPassword` → [db, password]; `DB-PASS` → [db, pass]; `x.api_key` → [x, api, key]."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(key))
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def secret_key(key: str) -> bool:
    """Whether a key (env name, config key, Helm value) names a secret value itself."""
    words = key_words(key)
    if not words:
        return False
    if words[-1] == "secret" and len(words) > 1 and words[-2] in REFERENCE_QUALIFIERS:
        return False
    if words[-1] in SECRET_WORDS:
        return True
    if words[-1].endswith(JOINED_SECRET_WORDS):
        return True  # `PGPASSWORD`, `ADMINPASSWD`, `VAULTTOKEN`: one word in capitals
    if words[-1] == "key" and len(words) > 1 and words[-2] in KEY_QUALIFIERS:
        return True
    return "".join(words[-2:]) in {"apikey", "privatekey", "accesskey", "secretkey"}


PLACEHOLDER = re.compile(r"^(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|__[A-Z0-9_]+__|\{\{.*\}\}|\[secret\])$")

SECRET_VALUES = (
    (re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key"),
    (re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}"), "a Slack token"),
    (re.compile(r"\bgh[pousr]_[0-9A-Za-z]{30,}"), "a GitHub token"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{12,}"), "a bearer token"),
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        "a JWT",
    ),
    # `--db-password hunter2` on a command line: a secret-named flag and its value
    (
        re.compile(
            r"(?i)(?:^|[\s'\"=])--?[A-Za-z0-9_.-]*(password|passwd|token|secret|api[_-]?key)"
            r"[ \t]+[\"']?(?![-$_{\[<])[^\s'\"]{6,}"
        ),
        "a secret-named flag with its value",
    ),
    # key=value or key: value with a secret-named key, inside a longer string (shell, config)
    (
        re.compile(
            r"(?i)\b[A-Za-z0-9_.-]*(password|passwd|pwd|pass|passphrase|secret|token|api[_-]?key"
            r"|private[_-]?key|access[_-]?key|secret[_-]?key|credentials?)[\"']?[ \t]*[=:][ \t]*"
            r"[\"']?(?![$_{\[]|<)[^\s'\"]{6,}"
        ),
        "a secret-named assignment",
    ),
)


def secret_value(value: str) -> str | None:
    """What kind of secret a string holds in plain text, or None."""
    for url in urls_in(value):
        if url_userinfo(url):
            return "a URL with credentials"
    for pattern, what in SECRET_VALUES:
        if pattern.search(value):
            return what
    return None


NOT_SECRETS = {"true", "false", "yes", "no", "none", "null"}


def literal(value: Any) -> bool:
    """A literal string worth judging (not empty, a flag, a placeholder or a reference)."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return bool(text) and text.lower() not in NOT_SECRETS and not PLACEHOLDER.match(text)


ASSIGNMENT = re.compile(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s]+)")


def shell_assignments(command: str) -> Iterator[tuple[str, str]]:
    """`env A=1 B='x y' bash -s` → (A, 1), (B, x y)."""
    for name, value in ASSIGNMENT.findall(command):
        yield name, value.strip("'\"")

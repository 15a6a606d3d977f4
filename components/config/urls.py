"""URLs the platform writes into a shell, a host file or a manifest: parsed and checked as what
they are, and the allow-list of the bank's own domains they must be under."""

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

from components.config.base import FieldError

# Registries and repositories that are public: the platform must never pull from them.
PUBLIC_REGISTRIES = (
    "docker.io",
    "registry-1.docker.io",
    "index.docker.io",
    "ghcr.io",
    "quay.io",
    "gcr.io",
    "registry.k8s.io",
    "k8s.gcr.io",
    "nvcr.io",
    "public.ecr.aws",
    "mcr.microsoft.com",
    "huggingface.co",
)

# Suffixes under which anyone can register names: never "internal" to the bank, whatever a
# stack file says. Single labels (`com`, `io`, `internal`, ...) are refused on their own.
# A bank's own domain may sit below a registry's suffix (bank.co.uk) ...
REGISTRY_SUFFIXES = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "co.jp", "ne.jp", "com.br",
        "com.cn", "co.in", "co.nz", "co.za", "com.tr", "com.mx", "co.kr", "com.sg", "com.hk",
    }
)  # fmt: skip
# ... but nothing below a public hosting or DNS service is: every name there belongs to some
# customer on the internet (s3.amazonaws.com holds anyone's bucket, 8.8.8.8.nip.io resolves to
# 8.8.8.8), so these are refused as internal domains themselves and below.
HOSTING_SUFFIXES = frozenset(
    {
        "github.io", "gitlab.io", "amazonaws.com", "cloudfront.net", "azurewebsites.net",
        "cloudapp.net", "appspot.com", "herokuapp.com", "pages.dev", "workers.dev",
        "netlify.app", "vercel.app", "ngrok.io", "ngrok-free.app", "nip.io", "sslip.io",
        "windows.net", "azureedge.net", "googleusercontent.com", "web.app", "firebaseapp.com",
        "r2.dev", "fly.dev", "onrender.com", "trycloudflare.com", "xip.io", "traefik.me",
        "localtest.me", "duckdns.org", "dyndns.org", "no-ip.org", "ddns.net",
    }
)  # fmt: skip
PUBLIC_SUFFIXES = REGISTRY_SUFFIXES | HOSTING_SUFFIXES

# What would end a `deb <url> <suite>` line, split or escape a shell word, or smuggle a second
# host into a URL. Checked before parsing, so the message names the character itself.
_SHELL_SPECIAL = set("\\'\"`$;&|<>(){}[]*!^%")
# Used with fullmatch: `$` would also match before a trailing newline.
_DNS_NAME = re.compile(
    r"(?=.{1,253}\Z)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
)
_NETLOC = re.compile(r"(?P<host>[^:]*)(:(?P<port>[0-9]{1,5}))?")


def _forbidden_character(value: str) -> str | None:
    for char in value:
        if char in "\n\r":
            return (
                "contains a line break, which would start a new line in the file it is written to"
            )
        if char.isspace():
            return f"contains whitespace ({char!r}), which would split it into several words"
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return f"contains the control character {char!r}"
        if not char.isascii():
            return f"contains the non-ASCII character {char!r}"
        if char in _SHELL_SPECIAL:
            return f"contains {char!r}, which a shell or a host file would interpret"
    return None


def parse_url(value: str, schemes: tuple[str, ...], *, path: bool = True) -> tuple[str, int | None]:
    """Checks a URL the platform writes into a shell, a host file or a manifest, and returns its
    host and port. `schemes=()` parses `host[:port][/path]` without a scheme (an image
    registry). Raises `FieldError` (a ValueError) with the problem and its fix."""
    if not schemes:
        example = "registry.bank.internal/deepseek"
    else:
        example = f"{schemes[0]}://mirror.bank.internal" + ("/path" if path else ":8443")
    problem = _forbidden_character(value)
    if problem:
        raise FieldError(f"{problem}", f"write one plain URL and nothing else, e.g. {example}")
    if schemes:
        scheme, separator, _ = value.partition("://")
        if not separator or scheme not in schemes:
            allowed = " or ".join(f"{s}://" for s in schemes)
            raise FieldError(f"must start with {allowed}", f"write it like {example}")
        parts = urlsplit(value)
    else:
        if "://" in value:
            raise FieldError(
                "is written with a scheme", f"name the registry host only, like {example}"
            )
        parts = urlsplit("//" + value)
    if "?" in value or "#" in value:
        raise FieldError(
            "has a query or a fragment, which means nothing here", f"remove it, e.g. {example}"
        )
    if "@" in parts.netloc:
        userinfo, _, real_host = parts.netloc.rpartition("@")
        raise FieldError(
            f"puts {userinfo!r} before '@': that is a user name, and the host actually reached "
            f"is {real_host}",
            f"remove the user part, e.g. {example}",
        )
    netloc = _NETLOC.fullmatch(parts.netloc)
    host = netloc.group("host") if netloc else ""
    if not netloc or not _DNS_NAME.fullmatch(host):
        raise FieldError(
            f"has no valid host name ({parts.netloc!r}; lower-case DNS names only)",
            f"write it like {example}",
        )
    port = int(netloc.group("port")) if netloc.group("port") else None
    if port is not None and not 1 <= port <= 65535:
        raise FieldError(f"has port {port}, outside 1-65535", "correct the port")
    url_path = parts.path
    if url_path and not path:
        raise FieldError(
            f"has a path ({url_path}), which this endpoint does not take",
            f"write the scheme, host and port only, e.g. {example}",
        )
    segments = url_path.split("/")[1:]
    if any(segment in (".", "..") for segment in segments) or not re.fullmatch(
        r"[A-Za-z0-9._~+:/-]*", url_path
    ):
        raise FieldError(
            f"has a path ({url_path}) with '.' or '..' segments or characters other than letters, "
            f"digits and . _ ~ + : - /",
            f"write the plain path, e.g. {example}",
        )
    if not schemes:
        repository_path(url_path, example)
    return host, port


# One path component of an image reference (the distribution spec's grammar): lower-case
# letters and digits, joined by one '.', one or two '_', or any number of '-'.
_REPOSITORY_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")


def repository_path(url_path: str, example: str) -> None:
    """A registry's path prefix is the front of every image reference built on it
    (`<registry>/registry.k8s.io/...`): each component must be one an image name may hold,
    or every pull fails at deploy time while preview passes."""
    for component in url_path.split("/")[1:]:
        if not _REPOSITORY_COMPONENT.fullmatch(component):
            what = (
                "an empty component (a trailing or doubled '/')"
                if not component
                else f"the component {component!r}, which an image name cannot hold"
            )
            raise FieldError(
                f"has a path ({url_path}) with {what}",
                f"lower-case letters and digits "
                f"joined by '.', '_' or '-', components separated by one '/', e.g. {example}",
            )


def url_host(value: str) -> str:
    """The host of a URL (or a scheme-less registry reference) that passed `parse_url`."""
    return urlsplit(value if "://" in value else "//" + value).hostname or ""


def _url(*schemes: str, path: bool = True) -> AfterValidator:
    def check(value: str) -> str:
        parse_url(value, schemes, path=path)
        return value

    return AfterValidator(check)


def inside_domains(host: str, domains: list[str]) -> bool:
    """Whether `host` is one of `domains` or a name below one of them."""
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def public_registry(host: str) -> bool:
    return inside_domains(host, list(PUBLIC_REGISTRIES))


def _internal_domain(domain: str) -> str:
    if not _DNS_NAME.fullmatch(domain):
        raise FieldError(
            "is not a lower-case DNS suffix",
            "write the domain alone, e.g. bank.internal (no scheme, no leading dot, no wildcard)",
        )
    if not domain.rsplit(".", 1)[-1][0].isalpha():
        # A top-level label starts with a letter; one starting with a digit makes the suffix
        # part of an IPv4 address (`8.8` lets http://8.8.8.8 in, `0x8.0x8` the hex spelling
        # resolvers read as 8.8.8.8), and no address belongs to a domain.
        raise FieldError(
            "ends in a label that starts with a digit, so it matches IP addresses rather than "
            "names",
            "name a DNS domain, e.g. bank.internal (mirrors are named, not IPs)",
        )
    if "." not in domain or domain in PUBLIC_SUFFIXES:
        raise FieldError(
            "is a public suffix under which anyone can register names",
            "name the bank's own domain, e.g. bank.internal or corp.bank.example",
        )
    hosting = next((s for s in sorted(HOSTING_SUFFIXES) if domain.endswith("." + s)), None)
    if hosting is not None:
        raise FieldError(
            f"is below {hosting}, a public hosting service whose names belong to its customers "
            "on the internet (a public suffix)",
            "name the bank's own domain, e.g. bank.internal or corp.bank.example",
        )
    if public_registry(domain) or any(r.endswith("." + domain) for r in PUBLIC_REGISTRIES):
        raise FieldError(
            "holds public registries", "name only the bank's own domains, where its mirrors are"
        )
    return domain


InternalDomain = Annotated[str, AfterValidator(_internal_domain)]
"""A DNS suffix the bank owns, e.g. `bank.internal`."""

AptUrl = Annotated[str, _url("https", "http")]
ChartRepositoryUrl = Annotated[str, _url("https", "oci")]
RegistryReference = Annotated[str, _url()]
HttpsUrl = Annotated[str, _url("https")]
ServiceEndpoint = Annotated[str, _url("https", "http", path=False)]
S3Endpoint = Annotated[str, _url("https", path=False)]

"""Values that reach a shell, a host file or a manifest are validated as what they are: URLs
parsed, mirror hosts inside the internal domains, host paths under data prefixes, numbers
finite and bounded, StackReferences to another stack of this project."""

import copy
import math

import pytest
from pydantic import ValidationError

from components.config import Host, Mirrors, parse_url
from components.preflight import ConfigError
from components.stack_config import validate_config
from tests.stacks import raw_stack_config

MIRRORS = {
    "internalDomains": ["bank.internal"],
    "imageRegistry": "registry.bank.internal/deepseek",
    "chartRepository": "https://charts.bank.internal/stable",
    "aptMirror": "https://apt.bank.internal/ubuntu",
    "kubernetesAptRepo": "https://apt.bank.internal/kubernetes/core/stable/v1.31/deb/",
}


def _issues(raw: dict, stack: str = "prod") -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, stack)
    return {issue.path: f"{issue.problem}; fix: {issue.fix}" for issue in caught.value.issues}


@pytest.mark.parametrize(
    ("value", "schemes", "path", "host", "port"),
    [
        ("https://apt.bank.internal/ubuntu", ("https", "http"), True, "apt.bank.internal", None),
        (
            "http://apt.bank.internal:8080/ubuntu/",
            ("https", "http"),
            True,
            "apt.bank.internal",
            8080,
        ),
        ("oci://charts.bank.internal/stable", ("https", "oci"), True, "charts.bank.internal", None),
        ("registry.bank.internal:5000/deepseek", (), True, "registry.bank.internal", 5000),
        ("https://s3.dc-a.bank.internal:8443", ("https",), False, "s3.dc-a.bank.internal", 8443),
    ],
)
def test_well_formed_urls_parse_to_host_and_port(value, schemes, path, host, port):
    assert parse_url(value, schemes, path=path) == (host, port)


@pytest.mark.parametrize(
    ("value", "schemes", "path", "problem"),
    [
        (
            "https://apt.bank.internal/ubuntu\ndeb [trusted=yes] http://x/ jammy main",
            ("https",),
            True,
            "line break",
        ),
        ("https://apt.bank.internal/ubuntu\r", ("https",), True, "line break"),
        ("https://apt.bank.internal/ubuntu jammy", ("https",), True, "whitespace"),
        ("https://apt.bank.internal/ubuntu\tx", ("https",), True, "whitespace"),
        ("https://apt.bank.internal/ub\x00untu", ("https",), True, "control character"),
        ("https://apt.bank.internal/ub\x1buntu", ("https",), True, "control character"),
        ("https://apt.bank.internal/übuntu", ("https",), True, "non-ASCII"),
        (
            "https://apt.bank.internal@archive.ubuntu.com/ubuntu",
            ("https",),
            True,
            "archive.ubuntu.com",
        ),
        ("https://user:pw@apt.bank.internal/ubuntu", ("https",), True, "user name"),
        ("https://apt.bank.internal/ubuntu?x=1", ("https",), True, "query"),
        ("https://apt.bank.internal/ubuntu#top", ("https",), True, "fragment"),
        ("https://apt.bank.internal\\@evil.example/", ("https",), True, "'\\\\'"),
        ("https://apt.bank.internal/'ubuntu'", ("https",), True, '"\'"'),
        ('https://apt.bank.internal/"ubuntu"', ("https",), True, "'\"'"),
        ("https://apt.bank.internal/$HOME", ("https",), True, "'$'"),
        ("https://apt.bank.internal/`id`", ("https",), True, "'`'"),
        ("https://apt.bank.internal/a;reboot", ("https",), True, "';'"),
        ("https://apt.bank.internal/%0adeb", ("https",), True, "'%'"),
        ("ftp://apt.bank.internal/ubuntu", ("https", "http"), True, "must start with"),
        ("HTTPS://apt.bank.internal/ubuntu", ("https",), True, "must start with"),
        ("apt.bank.internal/ubuntu", ("https",), True, "must start with"),
        ("https://APT.bank.internal/ubuntu", ("https",), True, "host name"),
        ("https://apt_bank.internal/ubuntu", ("https",), True, "host name"),
        ("https:///ubuntu", ("https",), True, "host name"),
        ("https://apt.bank.internal:99999/ubuntu", ("https",), True, "port 99999"),
        ("https://apt.bank.internal:0/ubuntu", ("https",), True, "port 0"),
        ("https://apt.bank.internal:http/ubuntu", ("https",), True, "host name"),
        ("https://apt.bank.internal/ubuntu/../../etc", ("https",), True, "'..'"),
        ("https://apt.bank.internal/a=b", ("https",), True, "characters other than"),
        ("https://apt.bank.internal/a,b", ("https",), True, "characters other than"),
        ("https://s3.bank.internal/bucket", ("https",), False, "has a path"),
        ("https://s3.bank.internal/", ("https",), False, "has a path"),
        ("https://registry.bank.internal/deepseek", (), True, "scheme"),
    ],
)
def test_malformed_urls_are_refused_with_the_reason(value, schemes, path, problem):
    with pytest.raises(ValueError) as caught:
        parse_url(value, schemes, path=path)
    message = str(caught.value)
    assert problem in message
    assert "; fix: " in message


def test_a_line_break_in_a_mirror_never_reaches_the_host_file():
    """The attack of issue 11: os-prep writes `deb ${APT_MIRROR} ...`; a second line would be
    a trusted public source."""
    bad = dict(MIRRORS, aptMirror=MIRRORS["aptMirror"] + "\ndeb [trusted=yes] http://a/ b main")
    with pytest.raises(ValidationError) as caught:
        Mirrors.model_validate(bad)
    (error,) = caught.value.errors()
    assert error["loc"] == ("aptMirror",)
    assert "line break" in error["msg"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("aptMirror", "http://archive.ubuntu.com/ubuntu"),
        ("aptMirror", "https://apt.evil.example/ubuntu"),
        ("aptMirror", "https://evilbank.internal/ubuntu"),
        ("aptMirror", "https://bank.internal.evil.example/ubuntu"),
        ("kubernetesAptRepo", "https://pkgs.k8s.io/core:/stable:/v1.31/deb/"),
        ("chartRepository", "oci://ghcr.io/charts"),
        ("imageRegistry", "quay.io/deepseek"),
        ("imageRegistry", "registry.evil.example/deepseek"),
    ],
)
def test_mirrors_outside_the_internal_domains_are_refused(field, value):
    raw = raw_stack_config("prod")
    raw["mirrors"][field] = value
    issues = _issues(raw)
    assert f"mirrors.{field}" in issues, issues
    assert "is not inside the internal domains (bank.internal" in issues[f"mirrors.{field}"]


def test_the_allow_list_is_what_decides():
    """A host is accepted because its domain is listed, not because it is missing from a list
    of public names: the same mirror passes once its domain is allowed, fails once not."""
    raw = raw_stack_config("prod")
    raw["mirrors"]["aptMirror"] = "https://apt.mirrors.bank.example/ubuntu"
    assert "mirrors.aptMirror" in _issues(copy.deepcopy(raw))
    raw["mirrors"]["internalDomains"] = ["bank.internal", "mirrors.bank.example"]
    assert validate_config(raw, "prod").mirrors.apt_mirror.endswith("/ubuntu")

    raw = raw_stack_config("prod")
    raw["mirrors"]["internalDomains"] = ["corp.example"]
    # prod's sites read weights from their own RGW: give them external stores to check too.
    for s, site in enumerate(raw["sites"][:2]):
        site["modelStore"] = {
            "endpoint": f"https://s3.{site['name']}.bank.internal",
            "networks": [f"10.{10 * (s + 1)}.2.0/24"],
        }
    issues = _issues(raw)
    for path in (
        "mirrors.imageRegistry",
        "mirrors.chartRepository",
        "mirrors.aptMirror",
        "mirrors.kubernetesAptRepo",
        "sites[0].modelStore.endpoint",
        "sites[1].modelStore.endpoint",
        "gateway.identityProvider.issuer",
        "gateway.identityProvider.jwksUri",
    ):
        assert path in issues, (path, issues)
    assert "serving.prometheusUrl" not in issues  # the in-cluster service is not pulled from


def test_a_public_registry_is_named_as_such():
    raw = raw_stack_config("prod")
    raw["mirrors"]["imageRegistry"] = "docker.io/library"
    assert "public image registry" in _issues(raw)["mirrors.imageRegistry"]


@pytest.mark.parametrize(
    ("domain", "problem"),
    [
        ("com", "public suffix"),
        ("io", "public suffix"),
        ("internal", "public suffix"),
        ("co.uk", "public suffix"),
        ("amazonaws.com", "public suffix"),
        ("docker.io", "public registries"),
        (".bank.internal", "DNS suffix"),
        ("*.bank.internal", "DNS suffix"),
        ("https://bank.internal", "DNS suffix"),
        ("Bank.Internal", "DNS suffix"),
        ("bank.internal\n", "DNS suffix"),
        ("8.8", "IP addresses"),
        ("s3.amazonaws.com", "public suffix"),  # anyone's bucket: <bucket>.s3.amazonaws.com
        ("eu-west-1.elb.amazonaws.com", "public suffix"),
        ("8.8.8.8.nip.io", "public suffix"),  # apt.8.8.8.8.nip.io resolves to 8.8.8.8
        ("evil.github.io", "public suffix"),
        ("bank.blob.core.windows.net", "public suffix"),
        ("0x8.0x8", "IP addresses"),
        ("10.in-addr.1", "IP addresses"),
    ],
)
def test_internal_domains_must_be_the_banks_own(domain, problem):
    with pytest.raises(ValidationError) as caught:
        Mirrors.model_validate(dict(MIRRORS, internalDomains=[domain]))
    (error,) = caught.value.errors()
    assert error["loc"] == ("internalDomains", 0)
    assert problem in error["msg"]


def test_internal_domains_are_required():
    raw = raw_stack_config("prod")
    del raw["mirrors"]["internalDomains"]
    assert "mirrors.internalDomains" in _issues(raw)


def test_prometheus_is_an_in_cluster_service_or_internal():
    raw = raw_stack_config("prod")
    raw["serving"]["prometheusUrl"] = "http://prometheus.example.com:9090"
    assert "not inside the internal domains" in _issues(raw)["serving.prometheusUrl"]
    raw["serving"]["prometheusUrl"] = "http://prometheus-k8s.monitoring.svc.cluster.local:9090"
    validate_config(raw, "prod")
    raw["serving"]["prometheusUrl"] = "https://prometheus.dc-a.bank.internal"
    validate_config(raw, "prod")


HOST = {
    "name": "h1",
    "address": "10.0.0.1",
    "roles": ["worker"],
    "hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILikak0Iy2zp30x9vv1Sv0aFhF1nexU0WUEQ7o0ok9tB",
}


@pytest.mark.parametrize(
    "path",
    ["/var/lib/deepseek-preflight", "/srv/preflight", "/data/nvme0/fio", "/mnt/a/b", "/opt/x"],
)
def test_host_paths_under_data_prefixes_are_accepted(path):
    assert Host.model_validate(dict(HOST, preflightDir=path)).preflight_dir == path


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/", "outside the directories"),
        ("/etc", "outside the directories"),
        ("/etc/deepseek", "outside the directories"),
        ("/usr/local/fio", "outside the directories"),
        ("/boot/fio", "outside the directories"),
        ("/proc/sys", "outside the directories"),
        ("/sys/fio", "outside the directories"),
        ("/dev/nvme0n1", "outside the directories"),
        ("/var/lib", "outside the directories"),
        ("/var/library/x", "outside the directories"),
        ("/var/lib/../../etc", "resolves to /etc"),
        ("/var/lib/./x", "resolves to /var/lib/x"),
        ("/var/lib//x", "resolves to /var/lib/x"),
        ("//var/lib/x", "resolves to /var/lib/x"),
        ("/var/lib/x/", "resolves to /var/lib/x"),
        ("var/lib/x", "not an absolute path"),
        ("/var/lib/deepseek preflight", "letters, digits"),
        ("/var/lib/x\n", "letters, digits"),
        ("/var/lib/$(reboot)", "letters, digits"),
        ("/var/lib/x;rm", "letters, digits"),
    ],
)
def test_host_paths_elsewhere_are_refused(path, problem):
    with pytest.raises(ValidationError) as caught:
        Host.model_validate(dict(HOST, preflightDir=path))
    (error,) = caught.value.errors()
    assert error["loc"] == ("preflightDir",)
    assert problem in error["msg"]
    assert "; fix: " in error["msg"]


def _numeric_leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _numeric_leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _numeric_leaves(value, (*path, index))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path


def _dotted(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _set(raw, path, value):
    node = raw
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


PROD_NUMBERS = list(_numeric_leaves(raw_stack_config("prod")))


def test_the_sweep_covers_the_floats():
    names = {_dotted(p) for p in PROD_NUMBERS}
    assert {"models[0].requestsPerSecond", "cost.energyPricePerKwh", "cost.pue"} <= names


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_no_number_in_the_stack_file_may_be_infinite_or_nan(value):
    """Every number of the prod stack, set to .inf, -.inf or .nan, is refused by name."""
    for path in PROD_NUMBERS:
        raw = raw_stack_config("prod")
        _set(raw, path, value)
        issues = _issues(raw)
        assert _dotted(path) in issues, (path, issues)
        assert "finite number" in issues[_dotted(path)]


def test_no_number_in_the_stack_file_may_be_huge():
    """1e308 is finite, and overflows the sizing and cost arithmetic: every number has an
    upper bound."""
    for path in PROD_NUMBERS:
        raw = raw_stack_config("prod")
        _set(raw, path, 1e308)
        issues = _issues(raw)
        assert _dotted(path) in issues, (path, issues)


def test_the_largest_accepted_numbers_keep_the_estimate_finite():
    """The bounds are low enough for the arithmetic: at every upper bound the estimate is a
    number (round() of an infinity would raise OverflowError)."""
    from components.cost import stack_cost
    from components.plan import make_plan

    raw = raw_stack_config("prod")
    raw["cost"] = {
        **raw["cost"],
        "energyPricePerKwh": 1_000_000,
        "pue": 3.0,
        "serverWatts": 100_000,
        "serverPrice": 1e12,
        "gpuPrices": {"A100-80GB": 1e12, "V100-32GB": 1e12},
        "amortizationYears": 1,
    }
    config = validate_config(raw, "prod")
    cost = stack_cost(make_plan(config), config.cost)
    assert isinstance(cost["totalPerMonth"], int) and cost["totalPerMonth"] > 10**12


def test_stack_references_to_itself_or_another_project_are_refused():
    raw = raw_stack_config("dr")
    raw["replication"]["sourceStack"] = "organization/deepseek-onprem/dr"
    assert "names stack 'dr' itself" in _issues(raw, "dr")["replication.sourceStack"]
    raw["replication"]["sourceStack"] = "organization/other-project/prod"
    assert "project 'other-project'" in _issues(raw, "dr")["replication.sourceStack"]
    raw["replication"]["sourceStack"] = "another-org/deepseek-onprem/prod"
    validate_config(raw, "dr")


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_the_policy_packs_allow_lists_stay_inside_the_stacks_internal_domains(stack):
    """The pack (which imports nothing from components) has its own copy of the allowed
    domains, registries and chart repositories: none may reach past the stack's allow-list."""
    from components.config import inside_domains, url_host
    from offline.policy import read_policy_config

    domains = validate_config(raw_stack_config(stack), stack).mirrors.internal_domains
    policy = read_policy_config(stack)
    allowed = [
        *policy["replication-targets-in-jurisdiction"]["allowedEndpointDomains"],
        *map(url_host, policy["images-from-allowed-registries"]["allowedRegistries"]),
        *map(url_host, policy["charts-from-allowed-repositories"]["allowedChartRepositories"]),
    ]
    assert allowed
    for host in allowed:
        assert inside_domains(host, domains), (host, domains)


@pytest.mark.parametrize(
    ("key", "path", "value"),
    [
        ("gateway", ("identityProvider", "audiences", 0), "deepseek-api\nx"),
        ("gateway", ("identityProvider", "audiences", 0), "deepseek api"),
    ],
)
def test_other_strings_that_reach_manifests_are_one_plain_word(key, path, value):
    raw = raw_stack_config("prod")
    _set(raw[key], path, value)
    assert _dotted((key, *path)) in _issues(raw)


@pytest.mark.parametrize(
    "registry",
    [
        "registry.bank.internal/deepseek/",  # -> registry.bank.internal/deepseek//registry.k8s.io
        "registry.bank.internal//deepseek",
        "registry.bank.internal/",
        "registry.bank.internal/deep:seek",
        "registry.bank.internal/deep+seek",
        "registry.bank.internal/deep~seek",
        "registry.bank.internal/...",
        "registry.bank.internal/-deepseek",
    ],
)
def test_an_image_registry_path_is_one_every_image_reference_can_start_with(registry):
    """The registry prefixes every image the platform pulls (kubeadm's imageRepository, the
    kube-vip pod, containerd's hosts.toml, every chart's images): a path no image name can
    hold passes preview and fails every pull."""
    with pytest.raises(ValidationError, match="imageRegistry|image_registry") as caught:
        Mirrors.model_validate({**MIRRORS, "imageRegistry": registry})
    assert "fix: " in str(caught.value)


@pytest.mark.parametrize(
    "registry", ["registry.bank.internal", "registry.bank.internal:5000/a/b-c/d_e/f__g/h.i/j--k"]
)
def test_image_registry_paths_of_the_reference_grammar_are_accepted(registry):
    assert Mirrors.model_validate({**MIRRORS, "imageRegistry": registry}).image_registry == registry


@pytest.mark.parametrize(
    "image", ["deepseek//train:1", "/deepseek/train:1", "../train:1", "deepseek/train:-1", "x:.y"]
)
def test_the_training_image_is_a_repository_and_tag(image):
    raw = raw_stack_config("prod")
    raw["kubernetes"] = {**raw.get("kubernetes", {}), "trainingExample": {"image": image}}
    assert "kubernetes.trainingExample.image" in _issues(raw)


@pytest.mark.parametrize(
    ("domain", "mirror"),
    [("8.8", "http://8.8.8.8/ubuntu"), ("0x8.0x8", "http://0x8.0x8.0x8.0x8/u")],
)
def test_a_numeric_internal_domain_does_not_let_a_public_address_in(domain, mirror):
    raw = raw_stack_config("prod")
    raw["mirrors"]["internalDomains"] = ["bank.internal", domain]
    raw["mirrors"]["aptMirror"] = mirror
    assert "IP addresses" in _issues(raw)["mirrors.internalDomains[1]"]


def test_the_kubernetes_repository_holds_the_pinned_minor_version():
    """pkgs.k8s.io (and its mirror) has one repository per minor version: 1.32.0 from the
    v1.31 repository passes preview and fails every kubeadm step's apt-get install."""
    raw = raw_stack_config("prod")
    raw["kubernetes"] = {**raw["kubernetes"], "version": "1.32.0"}
    problem = _issues(raw)["mirrors.kubernetesAptRepo"]
    assert "v1.31 packages, but kubernetes.version is 1.32.0" in problem
    assert "/kubernetes/core/stable/v1.32/deb/" in problem
    raw["mirrors"]["kubernetesAptRepo"] = (
        "https://apt.bank.internal/kubernetes/core/stable/v1.32/deb/"
    )
    validate_config(raw, "prod")


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("kubernetes", "gpuOperatorChartVersion"),
        ("kubernetes", "trainingOperatorChartVersion"),
        ("kubernetes", "localPathVersion"),
        ("kubernetes", "version"),
        ("serving", "prometheusAdapterChartVersion"),
    ],
)
@pytest.mark.parametrize("version", ["v.", "1..2", "...", "1.8..1", "1.31.04", "1.31"])
def test_versions_are_three_numbers(key, field, version):
    """A version becomes a chart release, an image tag or an apt pin: `1..2` or `...` passed
    preview and failed at deploy."""
    raw = raw_stack_config("prod")
    raw[key] = {**raw.get(key, {}), field: version}
    assert f"{key}.{field}" in _issues(raw)


@pytest.mark.parametrize(
    ("package", "accepted"),
    [
        ("nvidia-container-toolkit", True),
        ("nvidia-container-toolkit=1.17.3-1", True),
        ("nvidia-container-toolkit=1:1.17.3-1ubuntu1~22.04", True),
        ("nvidia-container-toolkit=", False),  # apt-get: no version ''
        ("nvidia-container-toolkit==1.17.3-1", False),
        ("nvidia-container-toolkit=1.2=3", False),
        ("nvidia-container-toolkit=latest", False),
    ],
)
def test_the_toolkit_package_is_a_name_with_an_optional_version_pin(package, accepted):
    raw = raw_stack_config("prod")
    raw["nvidia"] = {**raw.get("nvidia", {}), "containerToolkitPackage": package}
    if accepted:
        validate_config(raw, "prod")
    else:
        assert "nvidia.containerToolkitPackage" in _issues(raw)

"""The serving layer's config: the models to serve, their canaries, the Triton defaults and
the model store each site fetches weights from."""

from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from components.catalog import MODELS
from components.config.base import CHART_VERSION, DnsLabel, FieldError, GpuModelName, Model
from components.config.urls import S3Endpoint, ServiceEndpoint, parse_url


class ModelStore(Model):
    """An S3-compatible bucket inside the site (Ceph RGW) holding model weights as
    `<model>/<precision>/<revision>/`."""

    endpoint: S3Endpoint
    bucket: str = Field(default="deepseek-models", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    networks: list[IPv4Network] = Field(min_length=1)
    """Where the endpoint's addresses are (e.g. the RGW hosts' network): serving pods may
    open connections there, on the endpoint's port, and nowhere else outside the cluster."""

    @property
    def port(self) -> int:
        _, port = parse_url(self.endpoint, ("https",), path=False)
        return port or 443


Revision = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
TritonRelease = Annotated[str, StringConstraints(pattern=r"^[0-9]{2}\.[0-9]{2}$")]


class Canary(Model):
    """A new version of a deployment's model, served beside the stable one (the guide's grey
    release). Promote: set the deployment's `revision` to this one and remove `canary`;
    roll back: remove `canary`."""

    revision: Revision
    weight: int = Field(ge=1, le=50)
    """Percent of the model's traffic the gateway sends to the canary."""
    replicas: int = Field(default=1, ge=1, le=16)
    """Replicas per site (fixed: a canary is not autoscaled)."""


Precision = Literal["bf16", "fp16", "fp8", "int8", "awq", "gptq"]


class ModelPlacement(Model):
    """How one site serves a deployment where it differs from the deployment's defaults (e.g.
    a site whose inference hosts have other GPUs): the keys it sets replace the deployment's
    at that site, for sizing, capacity, cost and the pods alike."""

    site: DnsLabel
    """A site of this stack (`sites[].name`)."""
    gpu_model: GpuModelName | None = None
    """GPUs that serve the model at this site; must be on the site's inference hosts."""
    precision: Precision | None = None
    """Precision of the weights at this site (fetched from `<model>/<precision>/<revision>/`)."""
    tensor_parallel_size: int | None = Field(default=None, ge=1, le=16)
    triton_release: TritonRelease | None = None
    """Triton release at this site (e.g. a newer one than Volta's on Hopper GPUs)."""

    def overrides(self) -> dict[str, object]:
        """The deployment fields this placement replaces, by field name."""
        return {
            field: value
            for field in ("gpu_model", "precision", "tensor_parallel_size", "triton_release")
            if (value := getattr(self, field)) is not None
        }


class ModelDeployment(Model):
    """A model to serve on every site, on the GPUs its defaults name or, at a site with a
    placement, on the placement's."""

    name: DnsLabel
    model: str
    """Catalog name of the model, e.g. 'DeepSeek-R1-Distill-Qwen-32B'."""
    precision: Precision
    """Default precision (a placement may set another at its site)."""
    gpu_model: GpuModelName
    """Default GPU model (a placement may set another at its site)."""
    backend: Literal["vllm", "tensorrtllm"] = "vllm"
    """Triton backend: vLLM (the default), or TensorRT-LLM with an engine built for the GPU."""
    tensor_parallel_size: int = Field(default=1, ge=1, le=16)
    hosts_per_replica: int = Field(default=1, ge=1, le=16)
    """More than one: pipeline parallel across hosts, which must declare RDMA."""
    max_model_len: int = Field(default=8192, ge=512, le=163840)
    max_concurrent_sequences: int = Field(default=8, ge=1, le=1024)
    gpu_memory_utilization: float = Field(default=0.90, gt=0.1, le=0.98)
    requests_per_second: float = Field(gt=0, le=100_000)
    """Peak load of the whole platform; every site must carry it alone (active-active)."""
    output_tokens_per_request: int = Field(default=512, ge=16, le=65536)
    """Average tokens generated per request: turns the token estimate into requests."""
    revision: Revision = "main"
    """Version of the weights in the model store (a release date or commit)."""
    replicas: int | None = Field(default=None, ge=1, le=256)
    """Replicas per site at rest; default: enough for the site's share of the load, at least 2."""
    max_replicas: int | None = Field(default=None, ge=1, le=256)
    """Autoscaling ceiling per site; default: what the site's GPUs hold beside the others."""
    triton_release: TritonRelease | None = None
    """Triton container release for this model; default `serving.tritonRelease`."""
    canary: Canary | None = None
    placements: list[ModelPlacement] = Field(default=[], max_length=64)
    """Per site, the GPU model, precision, tensor parallelism or Triton release that differ
    from the defaults above; sites without one use the defaults."""

    def placement_index(self, site: str) -> int | None:
        """Index in `placements` of the site's placement, if it has one."""
        return next(
            (p for p, placement in enumerate(self.placements) if placement.site == site), None
        )

    def at_site(self, site: str) -> "ModelDeployment":
        """The deployment as `site` serves it: its placement's keys over the defaults (without
        placements, so every layer reads one GPU model, precision and parallelism)."""
        p = self.placement_index(site)
        overrides = self.placements[p].overrides() if p is not None else {}
        return self.model_copy(update={**overrides, "placements": []})

    @field_validator("model")
    @classmethod
    def _known_model(cls, model: str) -> str:
        if model not in MODELS:
            raise FieldError("unknown model", f"use one of {', '.join(sorted(MODELS))}")
        return model


class Serving(Model):
    """Triton image and autoscaling of the serving layer."""

    triton_release: TritonRelease = "25.10"
    """NGC release of `nvcr.io/nvidia/tritonserver`, pulled through the internal registry as
    `<release>-vllm-python-py3` or `<release>-trtllm-python-py3`."""
    queue_time_target_ms: float = Field(default=50, gt=0, le=60_000)
    """Average time a request waits in Triton's queue before the autoscaler adds a replica."""
    prometheus_url: ServiceEndpoint = "http://prometheus-operated.monitoring.svc"
    """The Prometheus the custom-metrics adapter reads Triton's queue metrics from: an
    in-cluster service (`<name>.<namespace>.svc`) or a host under `mirrors.internalDomains`."""
    prometheus_adapter_chart_version: str = Field(default="4.11.0", pattern=CHART_VERSION)

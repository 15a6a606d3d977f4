"""Autoscaling on Triton's queue time, as Triton's own on-prem Helm chart does it: the
Prometheus adapter turns `nv_inference_queue_duration_us` / `nv_inference_request_success`
into a per-pod custom metric, and each model's HorizontalPodAutoscaler targets its average.

Pure spec functions; `queue_metrics_adapter.py` runs the adapter, `model_service.py` the
autoscalers."""

from components import contracts
from components.charts import mirror
from components.config import Mirrors, Monitoring, Serving
from components.serving.capacity import ServingPlan

QUEUE_TIME_METRIC = "avg_time_queue_us"
"""Average microseconds a request of the pod waited in Triton's queue over the last 30 s."""


def adapter_rule() -> dict:
    """The adapter's rule for the queue-time metric (the Prometheus adapter's rule schema)."""
    return {
        "seriesQuery": 'nv_inference_queue_duration_us{namespace!="",pod!=""}',
        "resources": {
            "overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
        },
        "name": {"matches": "nv_inference_queue_duration_us", "as": QUEUE_TIME_METRIC},
        # +1 keeps an idle pod (no requests in the window) at zero rather than NaN.
        "metricsQuery": (
            "avg(delta(nv_inference_queue_duration_us{<<.LabelMatchers>>}[30s])"
            " / (1 + delta(nv_inference_request_success{<<.LabelMatchers>>}[30s])))"
            " by (<<.GroupBy>>)"
        ),
    }


def hpa_spec(plan: ServingPlan, serving: Serving, monitoring: Monitoring, target: str) -> dict:
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        "minReplicas": plan.replicas,
        # What the site's GPUs hold beside the other models' replicas at rest.
        "maxReplicas": plan.max_replicas,
        "metrics": [
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": QUEUE_TIME_METRIC},
                    "target": {
                        "type": "AverageValue",
                        "averageValue": str(round(serving.queue_time_target_ms * 1000)),
                    },
                },
            }
        ],
        "behavior": {
            # A replica takes minutes to load: add one at a time, as soon as queues grow.
            "scaleUp": {
                "stabilizationWindowSeconds": 0,
                "selectPolicy": "Max",
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}],
            },
            # The guide: scale down what stayed idle for `monitoring.idleMinutes`.
            "scaleDown": {
                "stabilizationWindowSeconds": monitoring.idle_minutes * 60,
                "selectPolicy": "Min",
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 600}],
            },
        },
    }


def adapter_values(serving: Serving, mirrors: Mirrors) -> dict:
    url, _, port = serving.prometheus_url.rpartition(":")
    has_port = port.isdigit() and "//" in url
    return {
        "image": {
            "repository": mirror(mirrors, "registry.k8s.io/prometheus-adapter/prometheus-adapter")
        },
        "prometheus": {
            "url": url if has_port else serving.prometheus_url,
            "port": int(port) if has_port else contracts.PROMETHEUS_PORT,
        },
        "rules": {"default": False, "custom": [adapter_rule()]},
        "priorityClassName": contracts.HIGH_PRIORITY,
    }

"""The queue-time metric the autoscalers scale on, checked by Prometheus' own promtool: the
adapter's query, with the label matchers the adapter fills in, is valid PromQL and computes
the average time a request waited in Triton's queue."""

import shutil
import subprocess

import pytest
import yaml

from components.serving.autoscaling import QUEUE_TIME_METRIC, adapter_rule

PROMTOOL = shutil.which("promtool") or "promtool"  # installed by `make tools`


def _query(matchers: str, group_by: str) -> str:
    """The adapter's metricsQuery as the adapter renders it for one request."""
    return (
        adapter_rule()["metricsQuery"]
        .replace("<<.LabelMatchers>>", matchers)
        .replace("<<.GroupBy>>", group_by)
    )


@pytest.fixture
def rules(tmp_path):
    path = tmp_path / "rules.yml"
    expression = _query('namespace="inference",pod=~"triton-.*"', "pod")
    path.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "triton-queue",
                        "rules": [{"record": f"triton:{QUEUE_TIME_METRIC}", "expr": expression}],
                    }
                ]
            }
        )
    )
    return path


def test_the_query_is_valid_promql(rules):
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rules found" in result.stdout


def test_the_query_averages_queue_time_per_request(rules, tmp_path):
    # Every 15 s: one pod's requests waited 55 ms in all, over 5 requests; the other pod idles.
    # Over the 30 s window: 110,000 µs / (1 + 10 requests) = 10,000 µs on average.
    busy = {"namespace": "inference", "pod": "triton-a"}
    idle = {"namespace": "inference", "pod": "triton-b"}

    def series(name: str, labels: dict, values: str) -> dict:
        label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        return {"series": f"{name}{{{label_text}}}", "values": values}

    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": [
                    series("nv_inference_queue_duration_us", busy, "0+55000x8"),
                    series("nv_inference_request_success", busy, "0+5x8"),
                    series("nv_inference_queue_duration_us", idle, "0x8"),
                    series("nv_inference_request_success", idle, "0x8"),
                ],
                "promql_expr_test": [
                    {
                        "expr": f"triton:{QUEUE_TIME_METRIC}",
                        "eval_time": "60s",
                        "exp_samples": [
                            {
                                "labels": f'triton:{QUEUE_TIME_METRIC}{{pod="triton-a"}}',
                                "value": 10000,
                            },
                            # No request in the window: zero, not NaN, so it never scales up.
                            {"labels": f'triton:{QUEUE_TIME_METRIC}{{pod="triton-b"}}', "value": 0},
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(test))
    result = subprocess.run(
        [PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr

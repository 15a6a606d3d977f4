"""The data layer's config, attacked: values a hostile merge request or a tired operator could
write in storage.*, hosts[].disks, backup.* and backup.dataLake.*, each of which used to pass
validation and then fail (or do harm) on the live platform. Each must be refused before any
resource is registered, naming the field and the fix."""

import pytest

from components.config.storage import cron_problem
from components.preflight import ConfigError
from components.stack_config import validate_config
from tests.stacks import raw_stack_config


def _issues(raw: dict, stack: str = "prod") -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, stack)
    return {issue.path: f"{issue.problem}; fix: {issue.fix}" for issue in caught.value.issues}


def _storage_host(raw: dict, site: int = 0) -> dict:
    return next(h for h in raw["sites"][site]["hosts"] if "storage" in h["roles"])


# --- backup.schedule / backup.dataLake.schedule: what Velero and Kubernetes parse -----------
# Both parse a schedule with robfig/cron v3's standard parser (Velero's schedule controller,
# Kubernetes' CronJob controller): minute 0-59, hour 0-23, day of month 1-31, month 1-12, day
# of week 0-6. Velero does not refuse a bad one at apply: the Schedule's phase becomes
# FailedValidation and no backup is ever taken, which nobody sees until a restore is needed.


@pytest.mark.parametrize(
    ("schedule", "named"),
    [
        ("99 99 99 99 99", "minute"),
        ("60 2 * * *", "minute"),
        ("0 24 * * *", "hour"),
        ("0 2 0 * *", "day of month"),
        ("0 2 32 * *", "day of month"),
        ("0 2 * 0 *", "month"),
        ("0 2 * 13 *", "month"),
        # Sunday is 0 in robfig/cron: 7 is refused by Velero and Kubernetes alike.
        ("0 2 * * 7", "day of week"),
        ("*/0 * * * *", "minute"),
        ("5-1 * * * *", "minute"),
        ("1,,2 * * * *", "minute"),
        ("- * * * *", "minute"),
        ("1-2-3 * * * *", "minute"),
        ("*/5/5 * * * *", "minute"),
        ("*-5 * * * *", "minute"),
    ],
)
def test_a_schedule_cron_cannot_parse_is_refused_naming_the_field(schedule, named):
    problem = cron_problem(schedule)
    assert problem is not None and named in problem, (schedule, problem)
    raw = raw_stack_config("prod")
    raw["backup"]["schedule"] = schedule
    issues = _issues(raw)
    assert named in issues["backup.schedule"]
    assert "minute 0-59, hour 0-23" in issues["backup.schedule"]


@pytest.mark.parametrize("schedule", ["0 2 31 2 *", "0 2 30 2 *", "0 0 31 4,6,9,11 *"])
def test_a_schedule_that_never_fires_is_refused(schedule):
    """February 30th: the backups would be configured, and never taken."""
    raw = raw_stack_config("prod")
    raw["backup"]["schedule"] = schedule
    assert "never" in _issues(raw)["backup.schedule"]


def test_a_day_of_week_makes_an_impossible_day_of_month_fire():
    """robfig/cron: with both day fields restricted, either one matching fires."""
    assert cron_problem("0 2 31 2 1") is None


@pytest.mark.parametrize(
    "schedule",
    [
        "0 2 * * *",
        "30 3 * * *",
        "*/15 * * * *",
        "0 1-5/2 * * 0,6",
        "0 0 29 2 *",
        "59 23 31 12 6",
        "5/10 * * * *",
        "0 0 1 1-12/3 *",
    ],
)
def test_schedules_cron_parses_pass(schedule):
    assert cron_problem(schedule) is None


def test_the_data_lake_schedule_is_checked_alike():
    raw = raw_stack_config("prod")
    raw["backup"]["dataLake"] = {
        "namenodes": {
            "dc-a": "hdfs://nn.dc-a.bank.internal:8020/lake/dc-a",
            "dc-b": "hdfs://nn.dc-b.bank.internal:8020/lake/dc-b",
        },
        "image": "apache/hadoop:3.4.1",
        "networks": ["10.200.0.0/24"],
        "schedule": "0 3 * * 7",
    }
    assert "day of week" in _issues(raw)["backup.dataLake.schedule"]

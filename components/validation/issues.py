"""The one type every config problem takes, wherever it is found (a field's validator, a rule
comparing fields, the capacity plan): `ConfigIssue(path, value, problem, fix)`, and
`ConfigError`, which carries all of them at once."""

import json
from dataclasses import dataclass
from typing import Any

import pulumi
from pydantic import ValidationError

from components.config import FieldError, not_built


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in the stack config."""

    path: str
    """Where it is, e.g. `sites[1].hosts[4].address`."""
    value: Any
    problem: str
    fix: str

    def render(self) -> str:
        return f"{self.path} = {self.value!r}: {self.problem}\n    fix: {self.fix}"


class ConfigError(pulumi.RunError):
    """The stack config is invalid. A `RunError`, so `pulumi up` prints the message
    without a Python traceback and registers nothing."""

    def __init__(self, stack: str, issues: list[ConfigIssue], fields_only: bool = False):
        self.issues = issues
        self.fields_only = fields_only
        """Only the per-field checks ran (they failed): the rules across fields did not, so
        more problems may show once these are fixed. Said in the message, so the count is not
        taken for every problem of the config."""
        noun = "problem" if len(issues) == 1 else "problems"
        lines = [
            f"stack '{stack}': the configuration has {len(issues)} {noun}; nothing was deployed.",
            *(f"  {issue.render()}" for issue in issues),
        ]
        if fields_only:
            lines.append(
                "  (these are the per-field checks; the checks across fields and layers run once"
                " they pass, and may find more)"
            )
        super().__init__("\n".join(lines))


# What to do about each kind of pydantic error, when the message itself has no fix.
_FIXES = {
    "missing": "add this key",
    "extra_forbidden": "remove this key or correct its spelling (keys are camelCase)",
    "literal_error": "use one of the values listed",
    "string_pattern_mismatch": "correct the value's format",
    "ip_v4_address": "write an IPv4 address like 10.10.0.11",
    "ip_v4_network": "write a network like 10.10.0.0/22 with the host bits zero",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "greater_than_equal": "raise the value",
    "less_than_equal": "lower the value",
    "too_short": "add entries",
    "list_type": "write a YAML list",
    "model_type": "write a YAML mapping of keys to values",
    "dict_type": "write a YAML mapping of keys to values",
    "string_type": "write a string",
    "bool_type": "write true or false",
    "finite_number": "write a finite number (.inf and .nan are not quantities)",
    "float_type": "write a number",
    "float_parsing": "write a number",
    "greater_than": "raise the value",
    "less_than": "lower the value",
}


def _path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def issues_from_validation_error(error: ValidationError) -> list[ConfigIssue]:
    """Turns pydantic's errors into path/value/problem/fix issues: a `FieldError` raised by
    one of our validators carries its own problem and fix, a key whose layer is not built
    names that layer's issue (`not_built`), and pydantic's own errors get the fix for their
    kind."""
    issues = []
    for err in error.errors(include_url=False):
        path = _path(err["loc"])
        raised = err.get("ctx", {}).get("error")
        if isinstance(raised, FieldError):
            problem, fix = raised.problem, raised.fix
        elif err["type"] == "extra_forbidden" and not_built(path):
            problem, fix = not_built(path)
        else:
            problem, fix = err["msg"].removeprefix("Value error, "), ""
        value = err.get("input") if err["type"] != "missing" else "(not set)"
        if err["type"] == "string_type" and isinstance(value, bool) and not fix:
            # YAML 1.1 (the CLI's and PyYAML's) reads unquoted NO, no, yes, on, off as
            # booleans: Norway's jurisdiction `NO` arrives as false.
            fix = (
                "quote it: YAML reads an unquoted NO, No, no, yes, on or off as true/false "
                "(e.g. jurisdiction: 'NO')"
            )
        if isinstance(value, (dict, list)):
            value = json.dumps(value)[:80]
        issues.append(
            ConfigIssue(
                path,
                value,
                problem[0].lower() + problem[1:] if problem else err["type"],
                fix or _FIXES.get(err["type"], "correct the value"),
            )
        )
    return issues

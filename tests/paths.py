"""Where the tests find the project and the real tool outputs they parse.

The shared fixtures live beside the project (`../shared/fixtures`, see CONVENTIONS); set
DEEPSEEK_SHARED_FIXTURES to read them from elsewhere (a CI cache, another checkout).
"""

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = Path(
    os.environ.get("DEEPSEEK_SHARED_FIXTURES") or PROJECT_DIR.parent / "shared" / "fixtures"
).resolve()
LOCAL_FIXTURES = PROJECT_DIR / "tests" / "fixtures"
DIAGNOSTICS_FIXTURES = SHARED_FIXTURES / "diagnostics"


def shared(name: str) -> str:
    """A real tool output from the shared diagnostics fixtures, as the tool printed it."""
    return (DIAGNOSTICS_FIXTURES / name).read_text()


def local(name: str) -> str:
    """A real tool output kept with the project's own tests (tests/fixtures)."""
    return (LOCAL_FIXTURES / name).read_text()


ENGINE_PINS = PROJECT_DIR / "tools" / "engine" / "versions.env"


def engine_pins() -> dict[str, str]:
    """tools/engine/versions.env as a dict (KEY=VALUE lines; comments and blanks skipped)."""
    out = {}
    for line in ENGINE_PINS.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out

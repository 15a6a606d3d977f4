"""The offline command line run inside the test process: `python -m offline ARGS` is
`sys.exit(main(ARGS))`, so calling `main` is the command's own path without a new interpreter
(tests/external/test_offline_cli.py keeps the few cases that need a real process)."""

import pytest

from offline.__main__ import main


def run_offline(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `python -m offline ARGS`."""
    capsys.readouterr()  # what earlier steps of the test printed is not the command's
    try:
        status = main(list(args))
    except SystemExit as exited:
        status = exited.code
    out, err = capsys.readouterr()
    return (0 if status is None else status), out, err

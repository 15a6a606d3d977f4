"""Remote steps, outside every layer: the registry of steps and their result-line contract
(`steps.py`), the runner that sends a script over SSH as a `remote.Command` (`runner.py`) and
lib.sh, sent ahead of every script. The scripts stay in their layers' `scripts/` folders."""

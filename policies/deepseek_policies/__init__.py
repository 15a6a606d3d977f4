"""The rules of the deepseek-onprem policy pack: pure judges in `rules/` (no Pulumi import, so
they judge live objects too), CrossGuard policies by concern beside them, all in `pack.py`."""

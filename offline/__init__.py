"""Offline evaluation: runs `__main__.py` under the Pulumi SDK's mock runtime and checks
what it registers, since no machine here has the Pulumi CLI or provider plugins."""

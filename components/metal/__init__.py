"""Compute layer, bare metal: hosts brought up over SSH with preflight diagnostics."""

"""Data layer: Ceph per site, the model cache and the 3-2-1 protection (backups, the
data-lake sync)."""

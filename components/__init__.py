"""deepseek-onprem components: one folder per layer, one ComponentResource per file."""

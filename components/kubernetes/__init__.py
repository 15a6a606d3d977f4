"""Compute layer, Kubernetes: kubeadm per site and the cluster add-ons."""

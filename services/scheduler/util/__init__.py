"""Helpers the plugins share: quantities, pod requests, taints/tolerations, node selectors."""

"""The Kubernetes version kubemu models: what `/version` reports and what kubelets put in their
Node's `nodeInfo` (with a `-kubemu` suffix, as distributions mark their builds)."""

KUBERNETES_VERSION = "v1.32.4"
MAJOR, MINOR = "1", "32"

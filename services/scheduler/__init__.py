"""kubemu's kube-scheduler: binds pending pods to nodes through a plugin framework (filter, score, bind)."""

"""kube-controller-manager for kubemu: control loops that drive the cluster toward its objects' specs."""

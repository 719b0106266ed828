"""kube-apiserver, smaller: the only process that touches the store."""

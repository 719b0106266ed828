"""kube-proxy: Service ClusterIPs and NodePorts forwarded to ready endpoints (userspace mode)."""

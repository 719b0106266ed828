"""Loaded by the `python` image's interpreter (PYTHONPATH): a socket bound to all IPv4 addresses
("" or 0.0.0.0) is bound to the pod's IP instead.

Why: kubemu's pods share the node's network namespace, so two pods serving `python -m http.server
8000` would collide on 0.0.0.0:8000; in Kubernetes each has its own network namespace, where
"all addresses" means the pod's own IP. Binding the pod IP gives the same result on one host.
"""

import os
import socket

_POD_IP = os.environ.get("KUBEMU_POD_IP", "")

if _POD_IP:
    _bind = socket.socket.bind

    def _bind_pod_ip(self, address):
        if self.family == socket.AF_INET and isinstance(address, tuple) and address and address[0] in ("", "0.0.0.0"):
            address = (_POD_IP, *address[1:])
        return _bind(self, address)

    socket.socket.bind = _bind_pod_ip

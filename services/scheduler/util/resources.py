"""Resource amounts as the scheduler counts them, and a pod's effective requests.

Guarantees:
- `Resource` holds integers: millicores of cpu, bytes of memory and ephemeral-storage, a pod
  count, and extended ("scalar") resources by name.
- `pod_requests` follows Kubernetes' resourcehelper.PodRequests: the sum of the app containers'
  requests, raised to the largest init container's (sidecar init containers, restartPolicy
  Always, keep running and so count with every later container), plus `spec.overhead`.
- `non_zero_requests` is the same with kube-scheduler's defaults for a container that requests no
  cpu (100m) or memory (200Mi): scoring uses it so that request-less pods still spread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.scheduler.util import quantity

CPU, MEMORY, EPHEMERAL_STORAGE, PODS = "cpu", "memory", "ephemeral-storage", "pods"
DEFAULT_MILLI_CPU_REQUEST = 100  # kube-scheduler's schedutil.DefaultMilliCPURequest
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024  # schedutil.DefaultMemoryRequest
_NON_ZERO_DEFAULTS = {CPU: "100m", MEMORY: "200Mi"}


@dataclass(slots=True)
class Resource:
    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pod_number: int = 0
    scalar: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_list(cls, resources: dict | None) -> Resource:
        """A `Resource` from a ResourceList such as `{"cpu": "2", "memory": "4Gi", "pods": "110"}`."""
        out = cls()
        for name, amount in (resources or {}).items():
            out._set(name, amount)
        return out

    def _set(self, name: str, amount: str | int) -> None:
        if name == CPU:
            self.milli_cpu = quantity.milli_value(amount)
        elif name == MEMORY:
            self.memory = quantity.value(amount)
        elif name == EPHEMERAL_STORAGE:
            self.ephemeral_storage = quantity.value(amount)
        elif name == PODS:
            self.allowed_pod_number = quantity.value(amount)
        else:
            self.scalar[name] = quantity.value(amount)

    def add(self, other: Resource) -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.ephemeral_storage += other.ephemeral_storage
        self.allowed_pod_number += other.allowed_pod_number
        for name, amount in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) + amount

    def sub(self, other: Resource) -> None:
        self.milli_cpu -= other.milli_cpu
        self.memory -= other.memory
        self.ephemeral_storage -= other.ephemeral_storage
        self.allowed_pod_number -= other.allowed_pod_number
        for name, amount in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) - amount

    def set_max(self, other: Resource) -> None:
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral_storage = max(self.ephemeral_storage, other.ephemeral_storage)
        self.allowed_pod_number = max(self.allowed_pod_number, other.allowed_pod_number)
        for name, amount in other.scalar.items():
            self.scalar[name] = max(self.scalar.get(name, 0), amount)

    def copy(self) -> Resource:
        return Resource(self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pod_number,
                        dict(self.scalar))

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalar.values()))


def _container_requests(container: dict, non_missing: dict | None) -> Resource:
    requests = (container.get("resources") or {}).get("requests") or {}
    if non_missing:
        requests = {**non_missing, **requests}
    return Resource.from_list(requests)


def _requests(pod: dict, non_missing: dict | None) -> Resource:
    spec = pod.get("spec") or {}
    total = Resource()
    for container in spec.get("containers") or []:
        total.add(_container_requests(container, non_missing))
    init_max, sidecars = Resource(), Resource()
    for container in spec.get("initContainers") or []:
        this = _container_requests(container, non_missing)
        if container.get("restartPolicy") == "Always":
            # A sidecar keeps running next to the app containers and every later init container.
            total.add(this)
            sidecars.add(this)
            peak = sidecars.copy()
        else:
            peak = this
            peak.add(sidecars)
        init_max.set_max(peak)
    total.set_max(init_max)
    if spec.get("overhead"):
        total.add(Resource.from_list(spec["overhead"]))
    return total


def pod_requests(pod: dict) -> Resource:
    """What `pod` asks of a node, as NodeResourcesFit filters it."""
    return _requests(pod, None)


def non_zero_requests(pod: dict) -> Resource:
    """`pod_requests` with 100m cpu / 200Mi memory for containers that request none (for scoring)."""
    return _requests(pod, _NON_ZERO_DEFAULTS)

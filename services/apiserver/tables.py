"""meta.k8s.io/v1 Table rendering for `kubectl get`, with kubectl's columns and cell values.

Guarantees:
- `to_table(resource, objects, now=...)` returns the Table the API server answers to
  `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. Columns and cells follow kube-apiserver's
  printers (pkg/printers/internalversion): pods NAME READY STATUS RESTARTS AGE (+ IP, NODE,
  NOMINATED NODE, READINESS GATES at priority 1, shown by `-o wide`), nodes, deployments,
  replicasets, daemonsets (NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE),
  controllerrevisions (NAME CONTROLLER REVISION AGE), jobs (NAME STATUS COMPLETIONS DURATION
  AGE), cronjobs (NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE), services, namespaces,
  events, endpoints, endpointslices, configmaps, secrets, serviceaccounts, leases,
  poddisruptionbudgets, priorityclasses, RBAC roles and bindings; NAME/AGE for anything else. All
  columns are always filled, as the server does; kubectl hides those with priority > 0 unless
  asked for wide output.
- A pod's STATUS is computed as kubectl's printer computes it (CrashLoopBackOff, Completed, Error,
  ErrImagePull, ContainerCreating, Terminating, Init:N/M, Init:<reason>, NotReady, ...).
- AGE is `translateTimestampSince`: "45s", "5m3s", "3h20m", "2d5h", "<unknown>" when unset.
- Each row's `object` is a PartialObjectMetadata (so -A and --show-labels work), or the full
  object / nothing for `includeObject=Object|None`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from .registry import Resource
from .selectors import label_selector_to_string

Obj = dict[str, Any]
Column = tuple[str, str, int, str, str]  # name, type, priority, format, description

_NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, although some "
              "resources may allow a client to request the generation of an appropriate name automatically.")
_AGE_DESC = ("CreationTimestamp is a timestamp representing the server time when this object was created. "
             "It is represented in RFC3339 form and is in UTC.")
NAME: Column = ("Name", "string", 0, "name", _NAME_DESC)
AGE: Column = ("Age", "string", 0, "", _AGE_DESC)


# ---- time ---------------------------------------------------------------------------------------


def parse_time(value: str | None) -> datetime | None:
    """RFC 3339 (`2026-01-01T00:00:00Z`, with optional fraction) to an aware datetime."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    secs = int(seconds)
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        return f"{minutes}m{secs % 60}s" if secs % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def translate_timestamp_since(value: str | None, now: datetime) -> str:
    when = parse_time(value)
    if when is None:
        return "<unknown>"
    return human_duration((now - when).total_seconds())


def _age(obj: Obj, now: datetime) -> str:
    return translate_timestamp_since(_get(obj, "metadata", "creationTimestamp"), now)


def _get(obj: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return default
        obj = obj.get(key)
    return default if obj is None else obj


def _name(obj: Obj) -> str:
    return _get(obj, "metadata", "name", default="")


def format_labels(labels: dict[str, str] | None) -> str:
    """labels.FormatLabels: "a=b,c=d" sorted by key, "<none>" when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


# ---- pods ---------------------------------------------------------------------------------------

POD_COLUMNS: list[Column] = [
    NAME,
    ("Ready", "string", 0, "", "The aggregate readiness state of this pod for accepting traffic."),
    ("Status", "string", 0, "", "The aggregate status of the containers in this pod."),
    ("Restarts", "string", 0, "", "The number of times the containers in this pod have been restarted and "
                                   "when the last container in this pod has restarted."),
    AGE,
    ("IP", "string", 1, "", "podIP address allocated to the pod. Routable at least within the cluster. "
                            "Empty if not yet allocated."),
    ("Node", "string", 1, "", "NodeName indicates in which node this pod is scheduled."),
    ("Nominated Node", "string", 1, "", "nominatedNodeName is set only when this pod preempts other pods on "
                                        "the node, but it cannot be scheduled right away as preemption victims "
                                        "receive their graceful termination periods."),
    ("Readiness Gates", "string", 1, "", "If specified, all readiness gates will be evaluated for pod readiness."),
]


def _restartable_init(container: Obj | None) -> bool:
    return bool(container) and container.get("restartPolicy") == "Always"


def _later(a: str, b: str | None) -> str:
    """The later of two RFC 3339 times ("" is the zero time)."""
    if not b:
        return a
    if not a:
        return b
    ta, tb = parse_time(a), parse_time(b)
    return b if ta is None or (tb is not None and tb > ta) else a


def _terminated_reason(term: Obj, prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + term["reason"]
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def _pod_init_status(pod: Obj, state: dict) -> bool:
    """Walk init container statuses as printPod does; returns whether the pod is initializing."""
    init_specs = {c.get("name"): c for c in _get(pod, "spec", "initContainers", default=[])}
    n_init = len(_get(pod, "spec", "initContainers", default=[]))
    for i, cs in enumerate(_get(pod, "status", "initContainerStatuses", default=[])):
        restartable = _restartable_init(init_specs.get(cs.get("name")))
        state["restarts"] += cs.get("restartCount", 0)
        finished = _get(cs, "lastState", "terminated", "finishedAt", default="")
        state["last"] = _later(state["last"], finished)
        if restartable:
            state["sidecar_restarts"] += cs.get("restartCount", 0)
            state["sidecar_last"] = _later(state["sidecar_last"], finished)
        term, waiting = _get(cs, "state", "terminated"), _get(cs, "state", "waiting")
        if term is not None and term.get("exitCode", 0) == 0:
            continue
        if restartable and cs.get("started"):
            state["ready"] += 1 if cs.get("ready") else 0
            continue
        if term is not None:
            state["reason"] = _terminated_reason(term, "Init:")
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            state["reason"] = "Init:" + waiting["reason"]
        else:
            state["reason"] = f"Init:{i}/{n_init}"
        return True
    return False


def _condition_true(pod: Obj, cond_type: str) -> bool:
    return any(c.get("type") == cond_type and c.get("status") == "True"
               for c in _get(pod, "status", "conditions", default=[]))


def _pod_container_status(pod: Obj, state: dict) -> None:
    state["restarts"], state["last"] = state["sidecar_restarts"], state["sidecar_last"]
    has_running = False
    for cs in reversed(_get(pod, "status", "containerStatuses", default=[])):
        state["restarts"] += cs.get("restartCount", 0)
        state["last"] = _later(state["last"], _get(cs, "lastState", "terminated", "finishedAt", default=""))
        waiting, term = _get(cs, "state", "waiting"), _get(cs, "state", "terminated")
        if waiting is not None and waiting.get("reason"):
            state["reason"] = waiting["reason"]
        elif term is not None:
            state["reason"] = _terminated_reason(term)
        elif cs.get("ready") and _get(cs, "state", "running") is not None:
            has_running = True
            state["ready"] += 1
    if state["reason"] == "Completed" and has_running:
        state["reason"] = "Running" if _condition_true(pod, "Ready") else "NotReady"


def pod_status(pod: Obj, now: datetime | None = None) -> tuple[str, str, str]:
    """(READY, STATUS, RESTARTS) exactly as kubectl's printPod computes them."""
    now = now or datetime.now(timezone.utc)
    phase = _get(pod, "status", "phase", default="")
    reason = _get(pod, "status", "reason", default="") or phase
    for cond in _get(pod, "status", "conditions", default=[]):
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    total = len(_get(pod, "spec", "containers", default=[]))
    total += sum(1 for c in _get(pod, "spec", "initContainers", default=[]) if _restartable_init(c))
    state = {"reason": reason, "ready": 0, "restarts": 0, "last": "", "sidecar_restarts": 0, "sidecar_last": ""}
    initializing = _pod_init_status(pod, state)
    if not initializing or _condition_true(pod, "Initialized"):
        _pod_container_status(pod, state)
    reason = state["reason"]
    if _get(pod, "metadata", "deletionTimestamp"):
        if _get(pod, "status", "reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    restarts = str(state["restarts"])
    if state["restarts"] and state["last"]:
        restarts = f"{state['restarts']} ({translate_timestamp_since(state['last'], now)} ago)"
    return f"{state['ready']}/{total}", reason, restarts


def _readiness_gates(pod: Obj) -> str:
    gates = _get(pod, "spec", "readinessGates", default=[])
    if not gates:
        return "<none>"
    conditions = {c.get("type"): c.get("status") for c in _get(pod, "status", "conditions", default=[])}
    true = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
    return f"{true}/{len(gates)}"


def _pod_cells(pod: Obj, now: datetime) -> list:
    ready, status, restarts = pod_status(pod, now)
    ips = _get(pod, "status", "podIPs", default=[])
    pod_ip = (ips[0].get("ip") if ips else "") or _get(pod, "status", "podIP", default="") or "<none>"
    return [_name(pod), ready, status, restarts, _age(pod, now), pod_ip,
            _get(pod, "spec", "nodeName", default="") or "<none>",
            _get(pod, "status", "nominatedNodeName", default="") or "<none>", _readiness_gates(pod)]


def _pod_conditions(pod: Obj) -> list[Obj] | None:
    phase = _get(pod, "status", "phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded",
                 "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return None


# ---- nodes --------------------------------------------------------------------------------------

NODE_COLUMNS: list[Column] = [
    NAME,
    ("Status", "string", 0, "", "The status of the node"),
    ("Roles", "string", 0, "", "The roles of the node"),
    AGE,
    ("Version", "string", 0, "", "Kubelet Version reported by the node."),
    ("Internal-IP", "string", 1, "", "List of addresses reachable to the node. Queried from cloud provider, if available."),
    ("External-IP", "string", 1, "", "List of addresses reachable to the node. Queried from cloud provider, if available."),
    ("OS-Image", "string", 1, "", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
    ("Kernel-Version", "string", 1, "", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
    ("Container-Runtime", "string", 1, "", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
]


def node_roles(node: Obj) -> list[str]:
    roles = set()
    for key, value in (_get(node, "metadata", "labels", default={})).items():
        if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/"):]:
            roles.add(key[len("node-role.kubernetes.io/"):])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return sorted(roles)


def _node_address(node: Obj, kind: str) -> str:
    for addr in _get(node, "status", "addresses", default=[]):
        if addr.get("type") == kind:
            return addr.get("address", "")
    return "<none>"


def node_status(node: Obj) -> str:
    status = []
    for cond in _get(node, "status", "conditions", default=[]):
        if cond.get("type") == "Ready":
            status = ["Ready" if cond.get("status") == "True" else "NotReady"]
    if not status:
        status = ["Unknown"]
    if _get(node, "spec", "unschedulable"):
        status.append("SchedulingDisabled")
    return ",".join(status)


def _node_cells(node: Obj, now: datetime) -> list:
    info = _get(node, "status", "nodeInfo", default={})
    return [_name(node), node_status(node), ",".join(node_roles(node)) or "<none>", _age(node, now),
            info.get("kubeletVersion", ""), _node_address(node, "InternalIP"), _node_address(node, "ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


# ---- workloads ----------------------------------------------------------------------------------

_WIDE_TEMPLATE: list[Column] = [
    ("Containers", "string", 1, "", "Names of each container in the template."),
    ("Images", "string", 1, "", "Images referenced by each container in the template."),
    ("Selector", "string", 1, "", "Label selector for pods. Existing ReplicaSets whose pods are selected by this "
                                  "will be the ones affected by this deployment."),
]

DEPLOYMENT_COLUMNS: list[Column] = [
    NAME,
    ("Ready", "string", 0, "", "Number of the pod with ready state"),
    ("Up-to-date", "integer", 0, "", "Total number of non-terminated pods targeted by this deployment that have "
                                     "the desired template spec."),
    ("Available", "integer", 0, "", "Total number of available pods (ready for at least minReadySeconds) "
                                    "targeted by this deployment."),
    AGE,
    *_WIDE_TEMPLATE,
]

REPLICASET_COLUMNS: list[Column] = [
    NAME,
    ("Desired", "integer", 0, "", "Replicas is the number of desired replicas."),
    ("Current", "integer", 0, "", "Replicas is the most recently observed number of replicas."),
    ("Ready", "integer", 0, "", "The number of ready replicas for this replica set."),
    AGE,
    *_WIDE_TEMPLATE,
]


DAEMONSET_COLUMNS: list[Column] = [
    NAME,
    ("Desired", "integer", 0, "", "The total number of nodes that should be running the daemon pod (including "
                                  "nodes correctly running the daemon pod)."),
    ("Current", "integer", 0, "", "The number of nodes that are running at least 1 daemon pod and are supposed to "
                                  "run the daemon pod."),
    ("Ready", "integer", 0, "", "numberReady is the number of nodes that should be running the daemon pod and have "
                                "one or more of the daemon pod running with a Ready Condition."),
    ("Up-to-date", "integer", 0, "", "The total number of nodes that are running updated daemon pod"),
    ("Available", "integer", 0, "", "The number of nodes that should be running the daemon pod and have one or more "
                                    "of the daemon pod running and available (ready for at least "
                                    "spec.minReadySeconds)"),
    ("Node Selector", "string", 0, "", "NodeSelector is a selector which must be true for the pod to fit on a node. "
                                       "Selector which must match a node's labels for the pod to be scheduled on "
                                       "that node."),
    AGE,
    *_WIDE_TEMPLATE,
]
CONTROLLERREVISION_COLUMNS: list[Column] = [
    NAME,
    ("Controller", "string", 0, "", "Controller of the object"),
    ("Revision", "integer", 0, "", "Revision indicates the revision of the state represented by Data."),
    AGE,
]

# A job template's -o wide columns (the Selector is described as JobSpec's).
_WIDE_JOB_TEMPLATE: list[Column] = [*_WIDE_TEMPLATE[:2], (
    "Selector", "string", 1, "", "A label query over pods that should match the pod count. Normally, the system "
                                 "sets this field for you.")]

JOB_COLUMNS: list[Column] = [
    NAME,
    ("Status", "string", 0, "", "Status of the job."),
    ("Completions", "string", 0, "", "The number of pods which reached phase Succeeded. The value increases "
                                     "monotonically for a given spec. However, it may decrease in reaction to "
                                     "scale down of elastic indexed jobs."),
    ("Duration", "string", 0, "", "Time required to complete the job."),
    AGE,
    *_WIDE_JOB_TEMPLATE,
]


CRONJOB_COLUMNS: list[Column] = [
    NAME,
    ("Schedule", "string", 0, "", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
    ("Timezone", "string", 0, "", "The time zone name for the given schedule, see "
                                  "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."),
    ("Suspend", "boolean", 0, "", "This flag tells the controller to suspend subsequent executions, it does not "
                                  "apply to already started executions.  Defaults to false."),
    ("Active", "integer", 0, "", "A list of pointers to currently running jobs."),
    ("Last Schedule", "string", 0, "", "Information when was the last time the job was successfully scheduled."),
    AGE,
    *_WIDE_JOB_TEMPLATE,
]


def _template_cells(obj: Obj) -> list:
    containers = _get(obj, "spec", "template", "spec", "containers", default=[])
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers),
            _selector_text(_get(obj, "spec", "selector"))]


def _selector_text(selector: Obj | None) -> str:
    text = label_selector_to_string(selector)
    return "" if text == "<none>" and selector is not None else text


def _deployment_cells(obj: Obj, now: datetime) -> list:
    status = _get(obj, "status", default={})
    desired = _get(obj, "spec", "replicas", default=0)
    return [_name(obj), f"{status.get('readyReplicas', 0)}/{desired}", status.get("updatedReplicas", 0),
            status.get("availableReplicas", 0), _age(obj, now), *_template_cells(obj)]


def _has_condition(obj: Obj, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True"
               for c in _get(obj, "status", "conditions", default=[]) if isinstance(c, dict))


def job_status(job: Obj) -> str:
    """The STATUS column of `kubectl get jobs` (printJob, Kubernetes 1.30+)."""
    if _has_condition(job, "Complete"):
        return "Complete"
    if _has_condition(job, "Failed"):
        return "Failed"
    if _get(job, "metadata", "deletionTimestamp"):
        return "Terminating"
    if _has_condition(job, "Suspended"):
        return "Suspended"
    if _has_condition(job, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_cells(job: Obj, now: datetime) -> list:
    status = _get(job, "status", default={})
    succeeded = status.get("succeeded", 0)
    completions = _get(job, "spec", "completions")
    if completions is not None:
        done = f"{succeeded}/{completions}"
    else:
        parallelism = _get(job, "spec", "parallelism", default=0)
        done = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    started, finished = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = "" if started is None else human_duration(((finished or now) - started).total_seconds())
    return [_name(job), job_status(job), done, duration, _age(job, now), *_template_cells(job)]


def _cronjob_cells(cronjob: Obj, now: datetime) -> list:
    spec, status = _get(cronjob, "spec", default={}), _get(cronjob, "status", default={})
    suspend = spec.get("suspend")
    last = status.get("lastScheduleTime")
    return [_name(cronjob), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            "<unset>" if suspend is None else ("True" if suspend else "False"), len(status.get("active") or []),
            translate_timestamp_since(last, now) if last else "<none>", _age(cronjob, now),
            *_template_cells(spec.get("jobTemplate") or {})]


def _daemonset_cells(obj: Obj, now: datetime) -> list:
    status = _get(obj, "status", default={})
    return [_name(obj), status.get("desiredNumberScheduled", 0), status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0), status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            format_labels(_get(obj, "spec", "template", "spec", "nodeSelector")), _age(obj, now),
            *_template_cells(obj)]


def _controllerrevision_cells(obj: Obj, now: datetime) -> list:
    """CONTROLLER is `<kind>.<group>/<name>` of the controller ownerReference (formatResourceName)."""
    owner = next((r for r in _get(obj, "metadata", "ownerReferences", default=[]) if r.get("controller")), None)
    controller = "<none>"
    if owner is not None:
        group = owner.get("apiVersion", "").rpartition("/")[0]
        kind = f"{owner.get('kind', '')}.{group}" if group else owner.get("kind", "")
        controller = f"{kind.lower()}/{owner.get('name', '')}"
    return [_name(obj), controller, obj.get("revision", 0), _age(obj, now)]


def _replicaset_cells(obj: Obj, now: datetime) -> list:
    status = _get(obj, "status", default={})
    return [_name(obj), _get(obj, "spec", "replicas", default=0), status.get("replicas", 0),
            status.get("readyReplicas", 0), _age(obj, now), *_template_cells(obj)]


# ---- services, endpoints ------------------------------------------------------------------------

SERVICE_COLUMNS: list[Column] = [
    NAME,
    ("Type", "string", 0, "", "The type of service."),
    ("Cluster-IP", "string", 0, "", "clusterIP is the IP address of the service and is usually assigned randomly."),
    ("External-IP", "string", 0, "", "externalIPs is a list of IP addresses for which nodes in the cluster will "
                                     "also accept traffic for this service."),
    ("Port(s)", "string", 0, "", "The list of ports that are exposed by this service."),
    AGE,
    ("Selector", "string", 1, "", "Route service traffic to pods with label keys and values matching this selector."),
]


def _port_string(ports: list[Obj]) -> str:
    pieces = []
    for port in ports:
        proto = port.get("protocol", "TCP")
        if port.get("nodePort"):
            pieces.append(f"{port.get('port')}:{port['nodePort']}/{proto}")
        else:
            pieces.append(f"{port.get('port')}/{proto}")
    return ",".join(pieces)


def _load_balancer_ips(svc: Obj) -> list[str]:
    return [i.get("ip") or i.get("hostname", "") for i in _get(svc, "status", "loadBalancer", "ingress", default=[])]


def service_external_ip(svc: Obj) -> str:
    spec = _get(svc, "spec", default={})
    svc_type, external = spec.get("type", "ClusterIP"), spec.get("externalIPs") or []
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if svc_type == "LoadBalancer":
        return ",".join(_load_balancer_ips(svc) + external) or "<pending>"
    if svc_type == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _service_cells(svc: Obj, now: datetime) -> list:
    spec = _get(svc, "spec", default={})
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [_name(svc), spec.get("type", ""), cluster_ips[0] if cluster_ips else "<none>", service_external_ip(svc),
            _port_string(spec.get("ports") or []) or "<none>", _age(svc, now), format_labels(spec.get("selector"))]


ENDPOINTS_COLUMNS: list[Column] = [
    NAME, ("Endpoints", "string", 0, "", "Endpoints of the service"), AGE]


def format_endpoints(endpoints: Obj) -> str:
    subsets = endpoints.get("subsets") or []
    if not subsets:
        return "<none>"
    listed, count, more, limit = [], 0, False, 3
    for subset in subsets:
        addresses = subset.get("addresses") or []
        targets = [a.get("ip", "") for a in addresses] if not subset.get("ports") else [
            _host_port(a.get("ip", ""), p.get("port")) for p in subset["ports"] for a in addresses]
        count += len(targets)
        for target in targets:
            if len(listed) == limit:
                more = True
                break
            listed.append(target)
    text = ",".join(listed)
    return f"{text} + {count - limit} more..." if more else text


def _host_port(ip: str, port: Any) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _endpoints_cells(obj: Obj, now: datetime) -> list:
    return [_name(obj), format_endpoints(obj), _age(obj, now)]


ENDPOINTSLICE_COLUMNS: list[Column] = [
    NAME,
    ("AddressType", "string", 0, "", "Type of address carried by this EndpointSlice"),
    ("Ports", "string", 0, "", "Ports present in the EndpointSlice"),
    ("Endpoints", "string", 0, "", "Endpoints present in the EndpointSlice"),
    AGE,
]


def _limited(items: list[str], limit: int = 3) -> str:
    if not items:
        return "<unset>"
    if len(items) > limit:
        return f"{','.join(items[:limit])} + {len(items) - limit} more..."
    return ",".join(items)


def _endpointslice_cells(obj: Obj, now: datetime) -> list:
    ports = [str(p["port"]) if p.get("port") is not None else "<unset>" for p in obj.get("ports") or []]
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    return [_name(obj), obj.get("addressType", ""), _limited(ports), _limited(addresses), _age(obj, now)]


# ---- others -------------------------------------------------------------------------------------

NAMESPACE_COLUMNS: list[Column] = [
    NAME, ("Status", "string", 0, "", "The status of the namespace"), AGE]

EVENT_COLUMNS: list[Column] = [
    ("Last Seen", "string", 0, "", "The time at which the most recent occurrence of this event was recorded."),
    ("Type", "string", 0, "", "Type of this event (Normal, Warning), new types could be added in the future."),
    ("Reason", "string", 0, "", "This should be a short, machine understandable string that gives the reason "
                                "for this event being generated."),
    ("Object", "string", 0, "", "The object that this event is about."),
    ("Subobject", "string", 1, "", "If referring to a piece of an object instead of an entire object, this "
                                   "string should contain a valid JSON/Go field access statement."),
    ("Source", "string", 1, "", "The component reporting this event. Should be a short machine understandable string."),
    ("Message", "string", 0, "", "A human-readable description of the status of this operation."),
    ("First Seen", "string", 1, "", "The time at which the event was first recorded. (Time of server receipt "
                                    "is in TypeMeta.)"),
    ("Count", "string", 1, "", "The number of times this event has occurred."),
    ("Name", "string", 1, "name", _NAME_DESC),
]


def _event_cells(ev: Obj, now: datetime) -> list:
    first = translate_timestamp_since(ev.get("firstTimestamp"), now)
    if not ev.get("firstTimestamp"):
        first = translate_timestamp_since(ev.get("eventTime"), now)
    last = translate_timestamp_since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 0
    if ev.get("series"):
        last = translate_timestamp_since(ev["series"].get("lastObservedTime"), now)
        count = ev["series"].get("count", 0)
    elif count == 0:
        count = 1  # singleton events of the new API have no count
    inv = ev.get("involvedObject") or {}
    kind = (inv.get("kind") or "").lower()
    target = f"{kind}/{inv['name']}" if inv.get("name") else kind
    source = ev.get("source") or {}
    component = source.get("component") or ev.get("reportingComponent") or ""
    instance = source.get("host") or ev.get("reportingInstance") or ""
    return [last, ev.get("type", ""), ev.get("reason", ""), target, inv.get("fieldPath", ""),
            f"{component}, {instance}" if instance else component, (ev.get("message") or "").strip(),
            first, count, _name(ev)]


def _namespace_cells(obj: Obj, now: datetime) -> list:
    return [_name(obj), _get(obj, "status", "phase", default=""), _age(obj, now)]


CONFIGMAP_COLUMNS: list[Column] = [NAME, ("Data", "integer", 0, "", "Number of data entries"), AGE]
SECRET_COLUMNS: list[Column] = [
    NAME, ("Type", "string", 0, "", "The type of the secret"),
    ("Data", "integer", 0, "", "Number of data entries"), AGE]
SERVICEACCOUNT_COLUMNS: list[Column] = [
    NAME, ("Secrets", "string", 0, "", "Secrets is a list of the secrets in the same namespace that pods running "
                                       "using this ServiceAccount are allowed to use."), AGE]
LEASE_COLUMNS: list[Column] = [
    NAME, ("Holder", "string", 0, "", "holderIdentity contains the identity of the holder of a current lease."), AGE]
PRIORITYCLASS_COLUMNS: list[Column] = [
    NAME, ("Value", "integer", 0, "", "value represents the integer value of this priority class."),
    ("Global-Default", "boolean", 0, "", "globalDefault specifies whether this PriorityClass should be considered "
                                         "as the default priority for pods that do not have any priority class."),
    AGE, ("PreemptionPolicy", "string", 0, "", "preemptionPolicy is the Policy for preempting pods with lower "
                                               "priority.")]
PDB_COLUMNS: list[Column] = [
    NAME,
    ("Min Available", "string", 0, "", "The minimum number of pods that must be available simultaneously.  This can be "
                                       "either an integer or a string specifying a percentage, e.g. \"28%\"."),
    ("Max Unavailable", "string", 0, "", "The maximum number of pods that may be unavailable simultaneously.  This can "
                                         "be either an integer or a string specifying a percentage, e.g. \"28%\"."),
    ("Allowed Disruptions", "integer", 0, "", "Calculated number of pods that may be disrupted at this time."),
    AGE,
]
ROLE_COLUMNS: list[Column] = [
    NAME, ("Created At", "date", 0, "", "CreationTimestamp is a timestamp representing the server time when this "
                                        "object was created.")]
BINDING_COLUMNS: list[Column] = [
    NAME, ("Role", "string", 0, "", "RoleRef references the Role or ClusterRole this binding grants."), AGE,
    ("Users", "string", 1, "", "Users in the binding"),
    ("Groups", "string", 1, "", "Groups in the binding"),
    ("ServiceAccounts", "string", 1, "", "ServiceAccounts in the binding"),
]
DEFAULT_COLUMNS: list[Column] = [NAME, AGE]


def _binding_cells(binding: Obj, now: datetime) -> list:
    ref = binding.get("roleRef") or {}
    subjects = binding.get("subjects") or []
    names = {kind: ", ".join(s.get("name", "") for s in subjects if s.get("kind") == kind)
             for kind in ("User", "Group")}
    accounts = ", ".join(f"{s.get('namespace', '')}/{s.get('name', '')}" for s in subjects
                         if s.get("kind") == "ServiceAccount")
    return [_name(binding), f"{ref.get('kind', '')}/{ref.get('name', '')}", _age(binding, now),
            names["User"], names["Group"], accounts]


def _data_count(obj: Obj) -> int:
    return len(obj.get("data") or {}) + len(obj.get("binaryData") or {})


_PRINTERS: dict[str, tuple[list[Column], Callable[[Obj, datetime], list]]] = {
    "pods": (POD_COLUMNS, _pod_cells),
    "nodes": (NODE_COLUMNS, _node_cells),
    "deployments": (DEPLOYMENT_COLUMNS, _deployment_cells),
    "replicasets": (REPLICASET_COLUMNS, _replicaset_cells),
    "daemonsets": (DAEMONSET_COLUMNS, _daemonset_cells),
    "controllerrevisions": (CONTROLLERREVISION_COLUMNS, _controllerrevision_cells),
    "jobs": (JOB_COLUMNS, _job_cells),
    "cronjobs": (CRONJOB_COLUMNS, _cronjob_cells),
    "services": (SERVICE_COLUMNS, _service_cells),
    "endpoints": (ENDPOINTS_COLUMNS, _endpoints_cells),
    "endpointslices": (ENDPOINTSLICE_COLUMNS, _endpointslice_cells),
    "namespaces": (NAMESPACE_COLUMNS, _namespace_cells),
    "events": (EVENT_COLUMNS, _event_cells),
    "configmaps": (CONFIGMAP_COLUMNS, lambda o, now: [_name(o), _data_count(o), _age(o, now)]),
    "secrets": (SECRET_COLUMNS, lambda o, now: [_name(o), o.get("type", ""), _data_count(o), _age(o, now)]),
    "serviceaccounts": (SERVICEACCOUNT_COLUMNS,
                        lambda o, now: [_name(o), str(len(o.get("secrets") or [])), _age(o, now)]),
    "leases": (LEASE_COLUMNS,
               lambda o, now: [_name(o), _get(o, "spec", "holderIdentity", default="<none>"), _age(o, now)]),
    "poddisruptionbudgets": (PDB_COLUMNS,
                             lambda o, now: [_name(o), str(_get(o, "spec", "minAvailable", default="N/A")),
                                             str(_get(o, "spec", "maxUnavailable", default="N/A")),
                                             _get(o, "status", "disruptionsAllowed", default=0), _age(o, now)]),
    "roles": (ROLE_COLUMNS, lambda o, now: [_name(o), _get(o, "metadata", "creationTimestamp", default="")]),
    "clusterroles": (ROLE_COLUMNS, lambda o, now: [_name(o), _get(o, "metadata", "creationTimestamp", default="")]),
    "rolebindings": (BINDING_COLUMNS, _binding_cells),
    "clusterrolebindings": (BINDING_COLUMNS, _binding_cells),
    "priorityclasses": (PRIORITYCLASS_COLUMNS,
                        lambda o, now: [_name(o), _get(o, "value", default=0), bool(o.get("globalDefault")),
                                        _age(o, now), _get(o, "preemptionPolicy", default="")]),
}


def _printer(resource: Resource) -> tuple[list[Column], Callable[[Obj, datetime], list]]:
    if resource.group in ("", "apps", "batch", "policy", "discovery.k8s.io", "coordination.k8s.io",
                          "scheduling.k8s.io", "rbac.authorization.k8s.io") \
            and resource.plural in _PRINTERS:
        return _PRINTERS[resource.plural]
    return DEFAULT_COLUMNS, lambda o, now: [_name(o), _age(o, now)]


def column_definitions(resource: Resource) -> list[Obj]:
    columns, _ = _printer(resource)
    return [{"name": n, "type": t, "format": f, "description": d, "priority": p} for n, t, p, f, d in columns]


def partial_object_metadata(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def _row(obj: Obj, cells: list, include_object: str, conditions: list[Obj] | None) -> Obj:
    row: Obj = {"cells": cells}
    if conditions:
        row["conditions"] = conditions
    if include_object == "Object":
        row["object"] = obj
    elif include_object != "None":
        row["object"] = partial_object_metadata(obj)
    return row


def to_table(resource: Resource, objects: Iterable[Obj] | Obj, *, now: datetime | None = None,
             resource_version: str = "", continue_token: str = "", remaining_item_count: int | None = None,
             include_object: str = "Metadata", headers: bool = True) -> Obj:
    """A meta.k8s.io/v1 Table of `objects` (a list, or one object for a watch event).

    `include_object` is the `includeObject` query parameter: Metadata (default), Object or None."""
    now = now or datetime.now(timezone.utc)
    if isinstance(objects, dict):  # one object, as for a watch event
        objects = [objects]
    _, cells_of = _printer(resource)
    rows = [_row(obj, cells_of(obj, now), include_object,
                 _pod_conditions(obj) if resource.plural == "pods" and not resource.group else None)
            for obj in objects]
    metadata: Obj = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining_item_count is not None:
        metadata["remainingItemCount"] = remaining_item_count
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": column_definitions(resource) if headers else [], "rows": rows}


def wants_table(accept: str | None) -> bool:
    """Whether an Accept header asks for a meta.k8s.io Table (kubectl get does)."""
    for part in (accept or "").split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            return True
    return False


def table_api_version(accept: str | None) -> str:
    """meta.k8s.io/v1 unless the client only accepts v1beta1."""
    for part in (accept or "").split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            return f"meta.k8s.io/{params['v']}"
    return "meta.k8s.io/v1"

"""Kubernetes' defaulting (SetDefaults_*) and create/update preparation (strategy PrepareFor*), per kind.

Guarantees:
- `apply_defaults(resource, obj)` fills in, in place, the defaults kube-apiserver fills in for the
  fields kubemu models, and never overwrites a value the client set:
  pods (restartPolicy Always, terminationGracePeriodSeconds 30, dnsPolicy ClusterFirst,
  schedulerName default-scheduler, securityContext {}, enableServiceLinks true,
  serviceAccountName "default"... and per container
  imagePullPolicy (Always for `:latest` or no tag, else IfNotPresent), terminationMessagePath
  /dev/termination-log, terminationMessagePolicy File, port protocol TCP, probe timings),
  pod templates inside deployments/replicasets/jobs the same way, deployments (replicas 1,
  RollingUpdate 25%/25%, revisionHistoryLimit 10, progressDeadlineSeconds 600), replicasets
  (replicas 1), daemonsets (RollingUpdate, maxUnavailable 1, maxSurge 0, revisionHistoryLimit 10),
  jobs (completions and parallelism 1, backoffLimit 6, completionMode NonIndexed,
  suspend false, podReplacementPolicy TerminatingOrFailed), cronjobs (concurrencyPolicy Allow,
  suspend false, history limits 3/1), services (type ClusterIP, sessionAffinity None, port protocol TCP,
  targetPort = port, internalTrafficPolicy Cluster, ipFamilyPolicy SingleStack, ipFamilies IPv4,
  ClientIP affinity timeout 10800 s), hostNetwork pods (hostPort = containerPort),
  namespaces (spec.finalizers ["kubernetes"], status.phase Active), nodes (allocatable = capacity),
  secrets (type Opaque; stringData merged into data), endpoint ports (protocol TCP),
  priority classes (preemptionPolicy PreemptLowerPriority). A pod's priority and
  preemptionPolicy are admission's (priority.py), as in Kubernetes.
- `prepare_for_create` / `prepare_for_update` / `prepare_for_status_update` do what the registry
  strategies do: status reset on create (pods start Pending with a qosClass), a Job's selector
  and template labels generated on create (controller-uid, job-name), generation set to 1
  on create and bumped when the spec changes, status kept on main-resource updates and spec kept
  on status updates.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from .quantity import QuantityError, parse_quantity

Obj = dict[str, Any]


def _setdefault(obj: Obj, key: str, value: Any) -> None:
    if obj.get(key) is None:
        obj[key] = value


def image_pull_policy(image: str) -> str:
    """Always for `:latest` or an untagged image (digests count as tagged), else IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):
        _setdefault(probe, key, value)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        _setdefault(http, "path", "/")
        _setdefault(http, "scheme", "HTTP")


def _default_container(container: Any) -> None:
    if not isinstance(container, dict):
        return
    image = container.get("image")
    _setdefault(container, "imagePullPolicy", image_pull_policy(image) if isinstance(image, str) and image
                else "IfNotPresent")
    _setdefault(container, "terminationMessagePath", "/dev/termination-log")
    _setdefault(container, "terminationMessagePolicy", "File")
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            _setdefault(port, "protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(container.get(probe))
    _default_requests_from_limits(container)


def _default_host_ports(container: Any) -> None:
    """With hostNetwork a container port is a host port: hostPort defaults to containerPort."""
    for port in (container or {}).get("ports") or []:
        if isinstance(port, dict) and not port.get("hostPort"):
            port["hostPort"] = port.get("containerPort")


def _default_requests_from_limits(container: Obj) -> None:
    """SetDefaults_ResourceList / defaultRequests: requests default to limits when only limits are set."""
    resources = container.get("resources")
    if not isinstance(resources, dict) or not isinstance(resources.get("limits"), dict):
        return
    requests = resources.setdefault("requests", {})
    if isinstance(requests, dict):
        for name, value in resources["limits"].items():
            if _positive(value) is not None or str(value) == "0":  # an invalid limit is reported once
                requests.setdefault(name, value)


def default_pod_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    for key, value in (("restartPolicy", "Always"), ("terminationGracePeriodSeconds", 30),
                       ("dnsPolicy", "ClusterFirst"), ("schedulerName", "default-scheduler"),
                       ("securityContext", {}), ("enableServiceLinks", True)):
        _setdefault(spec, key, value)
    if spec.get("serviceAccount") and not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            _default_container(container)
            if spec.get("hostNetwork"):
                _default_host_ports(container)
    default_ephemeral_containers(spec)
    for toleration in spec.get("tolerations") or []:
        if isinstance(toleration, dict) and toleration.get("operator") is None:
            toleration["operator"] = "Equal"


def default_ephemeral_containers(spec: Any) -> None:
    """SetDefaults for each EphemeralContainer: as a container's (pull policy, termination message)."""
    if isinstance(spec, dict):
        for container in spec.get("ephemeralContainers") or []:
            _default_container(container)


def _default_pod(obj: Obj) -> None:
    spec = obj.get("spec")
    default_pod_spec(spec)
    if isinstance(spec, dict):
        # ServiceAccount admission fills these in Kubernetes; kubemu does it here. (priority and
        # preemptionPolicy come from the Priority admission plugin: priority.py.)
        _setdefault(spec, "serviceAccountName", "default")
        _setdefault(spec, "serviceAccount", spec["serviceAccountName"])
        _default_tolerations(spec)


def _default_tolerations(spec: Obj) -> None:
    """DefaultTolerationSeconds admission: tolerate not-ready/unreachable nodes for 300 s."""
    tolerations = spec.setdefault("tolerations", [])
    if not isinstance(tolerations, list):
        return
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(_tolerates_no_execute(t, key) for t in tolerations if isinstance(t, dict)):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})


def _tolerates_no_execute(toleration: Obj, key: str) -> bool:
    """Whether a toleration already covers the NoExecute taint `key` (then admission adds none)."""
    if toleration.get("effect") not in (None, "", "NoExecute"):
        return False
    return toleration.get("key") == key or (not toleration.get("key") and toleration.get("operator") == "Exists")


def _default_template(obj: Obj) -> None:
    template = (obj.get("spec") or {}).get("template")
    if isinstance(template, dict):
        default_pod_spec(template.get("spec"))


def _default_deployment(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    _setdefault(spec, "replicas", 1)
    strategy = spec.setdefault("strategy", {})
    if isinstance(strategy, dict):
        _setdefault(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                _setdefault(rolling, "maxUnavailable", "25%")
                _setdefault(rolling, "maxSurge", "25%")
    _setdefault(spec, "revisionHistoryLimit", 10)
    _setdefault(spec, "progressDeadlineSeconds", 600)
    _default_template(obj)


def _default_daemonset(obj: Obj) -> None:
    """SetDefaults_DaemonSet: RollingUpdate with maxUnavailable 1 and maxSurge 0, 10 revisions kept."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    strategy = spec.setdefault("updateStrategy", {})
    if isinstance(strategy, dict):
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                _setdefault(rolling, "maxUnavailable", 1)
                _setdefault(rolling, "maxSurge", 0)
    _setdefault(spec, "revisionHistoryLimit", 10)
    _default_template(obj)


def _default_replicaset(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _setdefault(spec, "replicas", 1)
    _default_template(obj)


# The labels the job strategy puts on a Job's pod template and selects on (batch/v1 types.go).
JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
CONTROLLER_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"


def _default_job(obj: Obj) -> None:
    """SetDefaults_Job: both counts unset -> 1/1; parallelism 1, backoffLimit 6, NonIndexed,
    suspend false, podReplacementPolicy TerminatingOrFailed. A Job without labels takes its
    template's, generated ones included (Go shares the map, so they show on the Job by its
    first update at the latest)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    _setdefault(spec, "parallelism", 1)
    _setdefault(spec, "backoffLimit", 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6)
    _setdefault(spec, "completionMode", "NonIndexed")
    _setdefault(spec, "suspend", False)
    _setdefault(spec, "podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
    _alias_template_labels(obj)
    _default_template(obj)


def _default_cronjob(obj: Obj) -> None:
    """SetDefaults_CronJob: concurrencyPolicy Allow, suspend false, history limits 3 and 1. The job
    template's pod template is defaulted as a pod's; Job defaults come when a Job is made from it."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    _setdefault(spec, "suspend", False)
    _setdefault(spec, "successfulJobsHistoryLimit", 3)
    _setdefault(spec, "failedJobsHistoryLimit", 1)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict):
        _default_template(job_template)


def _alias_template_labels(job: Obj) -> None:
    template = (job.get("spec") or {}).get("template")
    labels = template.get("metadata", {}).get("labels") if isinstance(template, dict) and \
        isinstance(template.get("metadata"), dict) else None
    meta = job.get("metadata")
    if isinstance(labels, dict) and isinstance(meta, dict) and not meta.get("labels"):
        meta["labels"] = dict(labels)


def generate_job_selector(job: Obj) -> None:
    """The job strategy's generateSelector (run on create unless spec.manualSelector): template
    labels job-name/controller-uid (legacy and batch.kubernetes.io/ forms) unless the user set
    them, and a selector on batch.kubernetes.io/controller-uid. A conflicting hand-written
    value is left for validation to reject."""
    spec = job.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    if not isinstance(template, dict) or spec.get("manualSelector") is True:
        return
    meta = job.get("metadata") or {}
    template_meta = template.setdefault("metadata", {})
    if not isinstance(template_meta, dict):
        return
    labels = template_meta.get("labels")
    if not isinstance(labels, dict):
        labels = template_meta["labels"] = {}
    for key in JOB_NAME_LABELS:
        labels.setdefault(key, meta.get("name", ""))
    for key in CONTROLLER_UID_LABELS:
        labels.setdefault(key, meta.get("uid", ""))
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    match_labels = selector.get("matchLabels")
    if not isinstance(match_labels, dict):
        match_labels = selector["matchLabels"] = {}
    match_labels.setdefault(CONTROLLER_UID_LABEL, meta.get("uid", ""))


def _default_service(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    _setdefault(spec, "type", "ClusterIP")
    _setdefault(spec, "sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            _setdefault(port, "protocol", "TCP")
            if port.get("targetPort") in (None, 0, ""):
                port["targetPort"] = port.get("port")
    if spec["type"] != "ExternalName":
        _setdefault(spec, "internalTrafficPolicy", "Cluster")
        _setdefault(spec, "ipFamilyPolicy", "SingleStack")
        _setdefault(spec, "ipFamilies", ["IPv4"])
    if spec["type"] in ("NodePort", "LoadBalancer"):
        _setdefault(spec, "externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        _setdefault(spec, "allocateLoadBalancerNodePorts", True)
    if spec["sessionAffinity"] == "ClientIP":
        config = spec.setdefault("sessionAffinityConfig", {})
        if isinstance(config, dict):
            client_ip = config.setdefault("clientIP", {})
            if isinstance(client_ip, dict):
                _setdefault(client_ip, "timeoutSeconds", 10800)


def _default_namespace(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict):
        _setdefault(spec, "finalizers", ["kubernetes"])
    status = obj.setdefault("status", {})
    if isinstance(status, dict):
        _setdefault(status, "phase", "Active")


def _default_secret(obj: Obj) -> None:
    _setdefault(obj, "type", "Opaque")
    # stringData is write-only: Kubernetes merges it into data (base64) and never stores it.
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.setdefault("data", {})
        if isinstance(data, dict):
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()


def _default_endpoints(obj: Obj) -> None:
    for subset in obj.get("subsets") or []:
        for port in (subset or {}).get("ports") or []:
            if isinstance(port, dict):
                _setdefault(port, "protocol", "TCP")


def _default_endpointslice(obj: Obj) -> None:
    for port in obj.get("ports") or []:
        if isinstance(port, dict):
            _setdefault(port, "protocol", "TCP")
            _setdefault(port, "name", "")


def _default_node(obj: Obj) -> None:
    """SetDefaults_NodeStatus: allocatable defaults to capacity."""
    status = obj.get("status")
    if isinstance(status, dict) and isinstance(status.get("capacity"), dict) and not status.get("allocatable"):
        status["allocatable"] = dict(status["capacity"])


def _default_priority_class(obj: Obj) -> None:
    _setdefault(obj, "preemptionPolicy", "PreemptLowerPriority")


_DEFAULTERS = {
    ("", "Node"): _default_node,
    ("", "Pod"): _default_pod,
    ("apps", "Deployment"): _default_deployment,
    ("apps", "ReplicaSet"): _default_replicaset,
    ("apps", "DaemonSet"): _default_daemonset,
    ("batch", "Job"): _default_job,
    ("batch", "CronJob"): _default_cronjob,
    ("", "Service"): _default_service,
    ("", "Namespace"): _default_namespace,
    ("", "Secret"): _default_secret,
    ("", "Endpoints"): _default_endpoints,
    ("discovery.k8s.io", "EndpointSlice"): _default_endpointslice,
    ("scheduling.k8s.io", "PriorityClass"): _default_priority_class,
}


def apply_defaults(resource: Any, obj: Obj) -> Obj:
    """Fill in the kind's defaults in place; returns `obj`. apiVersion/kind are set too."""
    if not isinstance(obj, dict):
        return obj
    obj["apiVersion"] = obj.get("apiVersion") or resource.api_version
    obj["kind"] = obj.get("kind") or resource.kind
    if not isinstance(obj.get("metadata"), dict):
        obj["metadata"] = {}
    defaulter = _DEFAULTERS.get((resource.group, resource.kind))
    if defaulter is not None:
        defaulter(obj)
    return obj


# ---- strategies: what the registry does around a write ----------------------------------------


def _positive(value: Any) -> Any:
    try:
        q = parse_quantity(str(value)).value
    except QuantityError:
        return None
    return q if q > 0 else None


def _add_compute(total: dict, values: Any) -> set[str]:
    found = set()
    for name, value in (values or {}).items() if isinstance(values, dict) else ():
        q = _positive(value)
        if name in ("cpu", "memory") and q is not None:
            total[name] = total.get(name, 0) + q
            found.add(name)
    return found


def pod_qos_class(pod: Obj) -> str:
    """qos.ComputePodQOS: BestEffort when no container requests or limits cpu/memory, Guaranteed when
    every container limits both and requests equal limits, else Burstable."""
    spec = pod.get("spec") or {}
    containers = [c for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
                  if isinstance(c, dict)]
    requests: dict = {}
    limits: dict = {}
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        _add_compute(requests, resources.get("requests"))
        if _add_compute(limits, resources.get("limits")) != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(name) == value for name, value in requests.items()) \
            and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def prepare_for_create(resource: Any, obj: Obj) -> Obj:
    """What the kind's strategy PrepareForCreate does: reset status, set generation 1."""
    meta = obj.setdefault("metadata", {})
    meta["generation"] = 1
    kind = (resource.group, resource.kind)
    if kind == ("", "Pod"):
        obj["status"] = {"phase": "Pending", "qosClass": pod_qos_class(obj)}
    elif kind in (("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "DaemonSet"), ("batch", "Job"),
                  ("batch", "CronJob"), ("policy", "PodDisruptionBudget"), ("", "Service")):
        obj["status"] = {"loadBalancer": {}} if kind == ("", "Service") else {}
    if kind == ("batch", "Job"):
        generate_job_selector(obj)
    elif kind == ("apps", "DaemonSet"):
        meta.setdefault("annotations", {})[TEMPLATE_GENERATION] = "1"
    return obj


# apps/v1 keeps the internal DaemonSetSpec.TemplateGeneration in this annotation; the DaemonSet
# controller labels its pods pod-template-generation=<it>.
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def daemonset_template_generation(new: Obj, old: Obj) -> None:
    """The daemonset strategy's PrepareForUpdate: the template generation is the server's, kept
    from `old` and one more when the pod template changed."""
    from .validation import semantic

    old_value = ((old.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION, "1")
    try:
        generation = int(old_value)
    except ValueError:
        generation = 1
    if semantic((new.get("spec") or {}).get("template")) != semantic((old.get("spec") or {}).get("template")):
        generation += 1
    annotations = new.setdefault("metadata", {}).get("annotations")
    if not isinstance(annotations, dict):
        annotations = new["metadata"]["annotations"] = {}
    annotations[TEMPLATE_GENERATION] = str(generation)


def _spec_of(obj: Obj) -> Any:
    """The part of an object whose change bumps metadata.generation (empty and absent alike)."""
    from .validation import semantic

    return semantic({k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")})


def prepare_for_update(resource: Any, new: Obj, old: Obj) -> Obj:
    """Main-resource update: status is kept from `old` (for kinds with a status subresource),
    generation is bumped when anything outside metadata/status changed."""
    if resource.has_status:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    meta = new.setdefault("metadata", {})
    generation = (old.get("metadata") or {}).get("generation", 1)
    meta["generation"] = generation + 1 if _spec_of(new) != _spec_of(old) else generation
    return new


def prepare_for_status_update(resource: Any, new: Obj, old: Obj) -> Obj:
    """`/status` update: everything but status comes from `old` (labels and annotations may change,
    as in Kubernetes; ownerReferences, deletionTimestamp and finalizers may not)."""
    result = copy.deepcopy(old)
    result["status"] = copy.deepcopy(new.get("status", {}))
    new_meta, meta = new.get("metadata") or {}, result.setdefault("metadata", {})
    for key in ("labels", "annotations"):
        if key in new_meta:
            meta[key] = copy.deepcopy(new_meta[key])
        else:
            meta.pop(key, None)
    if "resourceVersion" in new_meta:
        meta["resourceVersion"] = new_meta["resourceVersion"]
    return result

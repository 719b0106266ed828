"""OpenAPI v3 documents generated from the registry, and strict field validation from the same schemas.

Guarantees:
- `openapi_v3_root(registry)` is the /openapi/v3 discovery document listing every served
  group-version (`api/v1`, `apis/apps/v1`, ...) with a `serverRelativeURL` carrying a content hash.
- `openapi_v3_document(registry, group, version)` is the per group-version document: component
  schemas named as Kubernetes names them (`io.k8s.api.core.v1.PodSpec`), each kind's schema with
  `x-kubernetes-group-version-kind`, and per kind the usual operations; every PATCH, POST and PUT
  has a `fieldValidation` query parameter, which tells kubectl to leave validation to the server.
- The schemas model the fields kubemu works with (metadata, pod spec and containers, ports, env,
  resources, probes, deployment/replicaset spec and strategy, service spec and ports, ...).
  A subtree not modeled is `x-kubernetes-preserve-unknown-fields: true`, so it is never rejected.
- `unknown_fields(resource, obj)` lists the paths of fields the schema does not know
  (`spec.containers[0].imagee`), in document order, for fieldValidation=Strict/Warn;
  `strict_decoding_message` is Kubernetes' message for them.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from shared.version import KUBERNETES_VERSION

from .patch import SCHEMA as PATCH_SCHEMA
from .registry import Registry, Resource

Obj = dict[str, Any]

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
BATCH = "io.k8s.api.batch.v1."
DISCOVERY = "io.k8s.api.discovery.v1."
COORD = "io.k8s.api.coordination.v1."
SCHEDULING = "io.k8s.api.scheduling.v1."
POLICY = "io.k8s.api.policy.v1."
RBAC = "io.k8s.api.rbac.v1."
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
TIME = META + "Time"
MICRO_TIME = META + "MicroTime"

# Field type notation: "string", "integer", "boolean", "number", "any" (not modeled: preserved),
# "[]T" (list), "map[T]" (map of T), or a schema name. A field is (type, description).
F = tuple[str, str]


def _t(description: str, fields: dict[str, F], required: tuple[str, ...] = ()) -> tuple[str, dict[str, F], tuple]:
    return (description, fields, required)


_TYPE_META: dict[str, F] = {
    "apiVersion": ("string", "APIVersion defines the versioned schema of this representation of an object."),
    "kind": ("string", "Kind is a string value representing the REST resource this object represents."),
}


def _kind(description: str, spec: str | None = None, status: str | None = None, **extra: F) -> tuple:
    fields: dict[str, F] = {**_TYPE_META, "metadata": (META + "ObjectMeta", "Standard object's metadata.")}
    if spec:
        fields["spec"] = (spec, "Specification of the desired behavior.")
    if status:
        fields["status"] = (status, "Most recently observed status. Populated by the system. Read-only.")
    fields.update(extra)
    return _t(description, fields)


_PROBE_FIELDS: dict[str, F] = {
    "exec": (CORE + "ExecAction", "Exec specifies a command to execute in the container."),
    "httpGet": (CORE + "HTTPGetAction", "HTTPGet specifies an HTTP GET request to perform."),
    "tcpSocket": (CORE + "TCPSocketAction", "TCPSocket specifies a connection to a TCP port."),
    "grpc": ("any", "GRPC specifies a GRPC HealthCheckRequest."),
    "initialDelaySeconds": ("integer", "Number of seconds after the container has started before probes are initiated."),
    "timeoutSeconds": ("integer", "Number of seconds after which the probe times out. Defaults to 1 second."),
    "periodSeconds": ("integer", "How often (in seconds) to perform the probe. Default to 10 seconds."),
    "successThreshold": ("integer", "Minimum consecutive successes for the probe to be considered successful after having failed. Defaults to 1."),
    "failureThreshold": ("integer", "Minimum consecutive failures for the probe to be considered failed after having succeeded. Defaults to 3."),
    "terminationGracePeriodSeconds": ("integer", "Duration in seconds the pod needs to terminate gracefully upon probe failure."),
}

_VOLUME_SOURCES = (
    "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "configMap", "csi", "downwardAPI",
    "emptyDir", "ephemeral", "fc", "flexVolume", "flocker", "gcePersistentDisk", "gitRepo", "glusterfs",
    "hostPath", "image", "iscsi", "nfs", "persistentVolumeClaim", "photonPersistentDisk", "portworxVolume",
    "projected", "quobyte", "rbd", "scaleIO", "secret", "storageos", "vsphereVolume",
)

TYPES: dict[str, tuple[str, dict[str, F], tuple]] = {
    META + "ObjectMeta": _t(
        "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.", {
            "name": ("string", "Name must be unique within a namespace. Cannot be updated."),
            "generateName": ("string", "An optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided."),
            "namespace": ("string", "Namespace defines the space within which each name must be unique. Cannot be updated."),
            "selfLink": ("string", "Deprecated: selfLink is a legacy read-only field that is no longer populated by the system."),
            "uid": ("string", "UID is the unique in time and space value for this object. Populated by the system. Read-only."),
            "resourceVersion": ("string", "An opaque value that represents the internal version of this object; used for optimistic concurrency. Read-only."),
            "generation": ("integer", "A sequence number representing a specific generation of the desired state. Populated by the system. Read-only."),
            "creationTimestamp": (TIME, "CreationTimestamp is a timestamp representing the server time when this object was created."),
            "deletionTimestamp": (TIME, "RFC 3339 date and time at which this resource will be deleted. Set by the server when a graceful deletion is requested."),
            "deletionGracePeriodSeconds": ("integer", "Number of seconds allowed for this object to gracefully terminate before it will be removed from the system."),
            "labels": ("map[string]", "Map of string keys and values that can be used to organize and categorize (scope and select) objects."),
            "annotations": ("map[string]", "Annotations is an unstructured key value map stored with a resource that may be set by external tools."),
            "ownerReferences": ("[]" + META + "OwnerReference", "List of objects depended by this object. If ALL objects in the list have been deleted, this object will be garbage collected."),
            "finalizers": ("[]string", "Must be empty before the object is deleted from the registry."),
            "managedFields": ("[]any", "ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow."),
        }),
    META + "OwnerReference": _t(
        "OwnerReference contains enough information to let you identify an owning object.", {
            "apiVersion": ("string", "API version of the referent."),
            "kind": ("string", "Kind of the referent."),
            "name": ("string", "Name of the referent."),
            "uid": ("string", "UID of the referent."),
            "controller": ("boolean", "If true, this reference points to the managing controller."),
            "blockOwnerDeletion": ("boolean", "If true, the owner cannot be deleted from the key-value store until this reference is removed (foreground deletion)."),
        }, ("apiVersion", "kind", "name", "uid")),
    META + "LabelSelector": _t(
        "A label selector is a label query over a set of resources. An empty label selector matches all objects. A null label selector matches no objects.", {
            "matchLabels": ("map[string]", "matchLabels is a map of {key,value} pairs, ANDed with matchExpressions."),
            "matchExpressions": ("[]" + META + "LabelSelectorRequirement", "matchExpressions is a list of label selector requirements. The requirements are ANDed."),
        }),
    META + "LabelSelectorRequirement": _t(
        "A label selector requirement is a selector that contains values, a key, and an operator that relates the key and values.", {
            "key": ("string", "key is the label key that the selector applies to."),
            "operator": ("string", "operator represents a key's relationship to a set of values. Valid operators are In, NotIn, Exists and DoesNotExist."),
            "values": ("[]string", "values is an array of string values. Must be non-empty for In and NotIn, empty for Exists and DoesNotExist."),
        }, ("key", "operator")),
    CORE + "Pod": _kind("Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts.",
                        CORE + "PodSpec", CORE + "PodStatus"),
    CORE + "PodTemplateSpec": _t("PodTemplateSpec describes the data a pod should have when created from a template", {
        "metadata": (META + "ObjectMeta", "Standard object's metadata."),
        "spec": (CORE + "PodSpec", "Specification of the desired behavior of the pod."),
    }),
    CORE + "PodSpec": _t("PodSpec is a description of a pod.", {
        "volumes": ("[]" + CORE + "Volume", "List of volumes that can be mounted by containers belonging to the pod."),
        "initContainers": ("[]" + CORE + "Container", "List of initialization containers belonging to the pod. They run in order, each to completion, before the app containers start."),
        "containers": ("[]" + CORE + "Container", "List of containers belonging to the pod. Containers cannot currently be added or removed. There must be at least one container in a Pod. Cannot be updated."),
        "ephemeralContainers": ("[]any", "List of ephemeral containers run in this pod."),
        "restartPolicy": ("string", "Restart policy for all containers within the pod. One of Always, OnFailure, Never. Default to Always."),
        "terminationGracePeriodSeconds": ("integer", "Optional duration in seconds the pod needs to terminate gracefully. Defaults to 30 seconds."),
        "activeDeadlineSeconds": ("integer", "Optional duration in seconds the pod may be active on the node relative to StartTime before the system will actively try to mark it failed and kill associated containers."),
        "dnsPolicy": ("string", "Set DNS policy for the pod. Defaults to \"ClusterFirst\"."),
        "nodeSelector": ("map[string]", "NodeSelector is a selector which must be true for the pod to fit on a node."),
        "serviceAccountName": ("string", "ServiceAccountName is the name of the ServiceAccount to use to run this pod."),
        "serviceAccount": ("string", "DeprecatedServiceAccount is a deprecated alias for ServiceAccountName."),
        "automountServiceAccountToken": ("boolean", "AutomountServiceAccountToken indicates whether a service account token should be automatically mounted."),
        "nodeName": ("string", "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName."),
        "hostNetwork": ("boolean", "Host networking requested for this pod. Default to false."),
        "hostPID": ("boolean", "Use the host's pid namespace. Default to false."),
        "hostIPC": ("boolean", "Use the host's ipc namespace. Default to false."),
        "shareProcessNamespace": ("boolean", "Share a single process namespace between all of the containers in a pod."),
        "securityContext": ("any", "SecurityContext holds pod-level security attributes and common container settings."),
        "imagePullSecrets": ("[]" + CORE + "LocalObjectReference", "ImagePullSecrets is an optional list of references to secrets in the same namespace to use for pulling any of the images used by this PodSpec."),
        "hostname": ("string", "Specifies the hostname of the Pod. If not specified, the pod's hostname will be set to a system-defined value."),
        "subdomain": ("string", "If specified, the fully qualified Pod hostname will be \"<hostname>.<subdomain>.<pod namespace>.svc.<cluster domain>\"."),
        "affinity": ("any", "If specified, the pod's scheduling constraints"),
        "schedulerName": ("string", "If specified, the pod will be dispatched by specified scheduler. If not specified, the pod will be dispatched by default scheduler."),
        "tolerations": ("[]" + CORE + "Toleration", "If specified, the pod's tolerations."),
        "hostAliases": ("[]" + CORE + "HostAlias", "HostAliases is an optional list of hosts and IPs that will be injected into the pod's hosts file."),
        "priorityClassName": ("string", "If specified, indicates the pod's priority."),
        "priority": ("integer", "The priority value. The higher the value, the higher the priority."),
        "dnsConfig": ("any", "Specifies the DNS parameters of a pod."),
        "readinessGates": ("[]any", "If specified, all readiness gates will be evaluated for pod readiness."),
        "runtimeClassName": ("string", "RuntimeClassName refers to a RuntimeClass object in the node.k8s.io group, which should be used to run this pod."),
        "enableServiceLinks": ("boolean", "EnableServiceLinks indicates whether information about services should be injected into pod's environment variables. Optional: Defaults to true."),
        "preemptionPolicy": ("string", "PreemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority."),
        "overhead": ("map[" + QUANTITY + "]", "Overhead represents the resource overhead associated with running a pod for a given RuntimeClass."),
        "topologySpreadConstraints": ("[]any", "TopologySpreadConstraints describes how a group of pods ought to spread across topology domains."),
        "setHostnameAsFQDN": ("boolean", "If true the pod's hostname will be configured as the pod's FQDN, rather than the leaf name (the default)."),
        "os": ("any", "Specifies the OS of the containers in the pod."),
        "hostUsers": ("boolean", "Use the host's user namespace. Default to true."),
        "schedulingGates": ("[]any", "SchedulingGates is an opaque list of values that if specified will block scheduling the pod."),
        "resourceClaims": ("[]any", "ResourceClaims defines which ResourceClaims must be allocated and reserved before the Pod is allowed to start."),
        "resources": (CORE + "ResourceRequirements", "Resources is the total amount of CPU and Memory resources required by all containers in the pod."),
    }, ("containers",)),
    CORE + "Container": _t("A single application container that you want to run within a pod.", {
        "name": ("string", "Name of the container specified as a DNS_LABEL. Each container in a pod must have a unique name (DNS_LABEL). Cannot be updated."),
        "image": ("string", "Container image name."),
        "command": ("[]string", "Entrypoint array. Not executed within a shell. The container image's ENTRYPOINT is used if this is not provided. Cannot be updated."),
        "args": ("[]string", "Arguments to the entrypoint. The container image's CMD is used if this is not provided. Cannot be updated."),
        "workingDir": ("string", "Container's working directory. Cannot be updated."),
        "ports": ("[]" + CORE + "ContainerPort", "List of ports to expose from the container. Cannot be updated."),
        "envFrom": ("[]any", "List of sources to populate environment variables in the container."),
        "env": ("[]" + CORE + "EnvVar", "List of environment variables to set in the container. Cannot be updated."),
        "resources": (CORE + "ResourceRequirements", "Compute Resources required by this container."),
        "resizePolicy": ("[]any", "Resources resize policy for the container."),
        "restartPolicy": ("string", "RestartPolicy defines the restart behavior of individual containers in a pod (only \"Always\", for sidecar init containers)."),
        "volumeMounts": ("[]" + CORE + "VolumeMount", "Pod volumes to mount into the container's filesystem. Cannot be updated."),
        "volumeDevices": ("[]any", "volumeDevices is the list of block devices to be used by the container."),
        "livenessProbe": (CORE + "Probe", "Periodic probe of container liveness. Container will be restarted if the probe fails. Cannot be updated."),
        "readinessProbe": (CORE + "Probe", "Periodic probe of container service readiness. Container will be removed from service endpoints if the probe fails. Cannot be updated."),
        "startupProbe": (CORE + "Probe", "StartupProbe indicates that the Pod has successfully initialized. If specified, no other probes are executed until this completes successfully."),
        "lifecycle": ("any", "Actions that the management system should take in response to container lifecycle events. Cannot be updated."),
        "terminationMessagePath": ("string", "Path at which the file to which the container's termination message will be written is mounted into the container's filesystem. Defaults to /dev/termination-log. Cannot be updated."),
        "terminationMessagePolicy": ("string", "Indicate how the termination message should be populated. File or FallbackToLogsOnError. Defaults to File. Cannot be updated."),
        "imagePullPolicy": ("string", "Image pull policy. One of Always, Never, IfNotPresent. Defaults to Always if :latest tag is specified, or IfNotPresent otherwise. Cannot be updated."),
        "securityContext": ("any", "SecurityContext defines the security options the container should be run with."),
        "stdin": ("boolean", "Whether this container should allocate a buffer for stdin in the container runtime."),
        "stdinOnce": ("boolean", "Whether the container runtime should close the stdin channel after it has been opened by a single attach."),
        "tty": ("boolean", "Whether this container should allocate a TTY for itself, also requires 'stdin' to be true."),
    }, ("name",)),
    CORE + "ContainerPort": _t("ContainerPort represents a network port in a single container.", {
        "name": ("string", "If specified, this must be an IANA_SVC_NAME and unique within the pod. Each named port in a pod must have a unique name."),
        "hostPort": ("integer", "Number of port to expose on the host."),
        "containerPort": ("integer", "Number of port to expose on the pod's IP address. This must be a valid port number, 0 < x < 65536."),
        "protocol": ("string", "Protocol for port. Must be UDP, TCP, or SCTP. Defaults to \"TCP\"."),
        "hostIP": ("string", "What host IP to bind the external port to."),
    }, ("containerPort",)),
    CORE + "EnvVar": _t("EnvVar represents an environment variable present in a Container.", {
        "name": ("string", "Name of the environment variable. Must be a C_IDENTIFIER."),
        "value": ("string", "Variable references $(VAR_NAME) are expanded using the previously defined environment variables in the container and any service environment variables. Defaults to \"\"."),
        "valueFrom": ("any", "Source for the environment variable's value. Cannot be used if value is not empty."),
    }, ("name",)),
    CORE + "ResourceRequirements": _t("ResourceRequirements describes the compute resource requirements.", {
        "limits": ("map[" + QUANTITY + "]", "Limits describes the maximum amount of compute resources allowed."),
        "requests": ("map[" + QUANTITY + "]", "Requests describes the minimum amount of compute resources required. If Requests is omitted for a container, it defaults to Limits if that is explicitly specified."),
        "claims": ("[]any", "Claims lists the names of resources, defined in spec.resourceClaims, that are used by this container."),
    }),
    CORE + "VolumeMount": _t("VolumeMount describes a mounting of a Volume within a container.", {
        "name": ("string", "This must match the Name of a Volume."),
        "readOnly": ("boolean", "Mounted read-only if true, read-write otherwise (false or unspecified). Defaults to false."),
        "recursiveReadOnly": ("string", "RecursiveReadOnly specifies whether read-only mounts should be handled recursively."),
        "mountPath": ("string", "Path within the container at which the volume should be mounted. Must not contain ':'."),
        "subPath": ("string", "Path within the volume from which the container's volume should be mounted. Defaults to \"\" (volume's root)."),
        "mountPropagation": ("string", "mountPropagation determines how mounts are propagated from the host to container and the other way around."),
        "subPathExpr": ("string", "Expanded path within the volume from which the container's volume should be mounted."),
    }, ("name", "mountPath")),
    CORE + "Volume": _t("Volume represents a named volume in a pod that may be accessed by any container in the pod.", {
        "name": ("string", "name of the volume. Must be a DNS_LABEL and unique within the pod."),
        **{source: ("any", f"{source} volume source (not modeled by kubemu; kept as given).") for source in _VOLUME_SOURCES},
    }, ("name",)),
    CORE + "Probe": _t("Probe describes a health check to be performed against a container to determine whether it is alive or ready to receive traffic.", _PROBE_FIELDS),
    CORE + "ExecAction": _t("ExecAction describes a \"run in container\" action.", {
        "command": ("[]string", "Command is the command line to execute inside the container; it is not run inside a shell. Exit status of 0 is treated as live/healthy and non-zero is unhealthy."),
    }),
    CORE + "HTTPGetAction": _t("HTTPGetAction describes an action based on HTTP Get requests.", {
        "path": ("string", "Path to access on the HTTP server."),
        "port": (INT_OR_STRING, "Name or number of the port to access on the container. Number must be in the range 1 to 65535."),
        "host": ("string", "Host name to connect to, defaults to the pod IP."),
        "scheme": ("string", "Scheme to use for connecting to the host. Defaults to HTTP."),
        "httpHeaders": ("[]any", "Custom headers to set in the request. HTTP allows repeated headers."),
    }, ("port",)),
    CORE + "TCPSocketAction": _t("TCPSocketAction describes an action based on opening a socket", {
        "port": (INT_OR_STRING, "Number or name of the port to access on the container. Number must be in the range 1 to 65535."),
        "host": ("string", "Optional: Host name to connect to, defaults to the pod IP."),
    }, ("port",)),
    CORE + "Toleration": _t("The pod this Toleration is attached to tolerates any taint that matches the triple <key,value,effect> using the matching operator <operator>.", {
        "key": ("string", "Key is the taint key that the toleration applies to. Empty means match all taint keys."),
        "operator": ("string", "Operator represents a key's relationship to the value. Valid operators are Exists and Equal. Defaults to Equal."),
        "value": ("string", "Value is the taint value the toleration matches to."),
        "effect": ("string", "Effect indicates the taint effect to match. Empty means match all taint effects. When specified, allowed values are NoSchedule, PreferNoSchedule and NoExecute."),
        "tolerationSeconds": ("integer", "TolerationSeconds represents the period of time the toleration (which must be of effect NoExecute) tolerates the taint."),
    }),
    CORE + "HostAlias": _t("HostAlias holds the mapping between IP and hostnames that will be injected as an entry in the pod's hosts file.", {
        "ip": ("string", "IP address of the host file entry."),
        "hostnames": ("[]string", "Hostnames for the above IP address."),
    }, ("ip",)),
    CORE + "LocalObjectReference": _t("LocalObjectReference contains enough information to let you locate the referenced object inside the same namespace.", {
        "name": ("string", "Name of the referent."),
    }),
    CORE + "PodStatus": _t("PodStatus represents information about the status of a pod. Status may trail the actual state of a system.", {
        "phase": ("string", "The phase of a Pod is a simple, high-level summary of where the Pod is in its lifecycle: Pending, Running, Succeeded, Failed or Unknown."),
        "conditions": ("[]any", "Current service state of pod."),
        "message": ("string", "A human readable message indicating details about why the pod is in this condition."),
        "reason": ("string", "A brief CamelCase message indicating details about why the pod is in this state. e.g. 'Evicted'"),
        "nominatedNodeName": ("string", "nominatedNodeName is set only when this pod preempts other pods on the node."),
        "hostIP": ("string", "hostIP holds the IP address of the host to which the pod is assigned."),
        "hostIPs": ("[]any", "hostIPs holds the IP addresses allocated to the host."),
        "podIP": ("string", "podIP address allocated to the pod. Routable at least within the cluster."),
        "podIPs": ("[]any", "podIPs holds the IP addresses allocated to the pod."),
        "startTime": (TIME, "RFC 3339 date and time at which the object was acknowledged by the Kubelet."),
        "initContainerStatuses": ("[]any", "Statuses of init containers in this pod."),
        "containerStatuses": ("[]any", "Statuses of containers in this pod."),
        "qosClass": ("string", "The Quality of Service (QOS) classification assigned to the pod based on resource requirements: Guaranteed, Burstable or BestEffort."),
        "ephemeralContainerStatuses": ("[]any", "Statuses for any ephemeral containers that have run in this pod."),
        "resize": ("string", "Status of resources resize desired for pod's containers."),
        "resourceClaimStatuses": ("[]any", "Status of resource claims."),
    }),
    APPS + "Deployment": _kind("Deployment enables declarative updates for Pods and ReplicaSets.",
                               APPS + "DeploymentSpec", APPS + "DeploymentStatus"),
    APPS + "DeploymentSpec": _t("DeploymentSpec is the specification of the desired behavior of the Deployment.", {
        "replicas": ("integer", "Number of desired pods. This is a pointer to distinguish between explicit zero and not specified. Defaults to 1."),
        "selector": (META + "LabelSelector", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels."),
        "template": (CORE + "PodTemplateSpec", "Template describes the pods that will be created. The only allowed template.spec.restartPolicy value is \"Always\"."),
        "strategy": (APPS + "DeploymentStrategy", "The deployment strategy to use to replace existing pods with new ones."),
        "minReadySeconds": ("integer", "Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available. Defaults to 0."),
        "revisionHistoryLimit": ("integer", "The number of old ReplicaSets to retain to allow rollback. Defaults to 10."),
        "paused": ("boolean", "Indicates that the deployment is paused."),
        "progressDeadlineSeconds": ("integer", "The maximum time in seconds for a deployment to make progress before it is considered to be failed. Defaults to 600s."),
    }, ("selector", "template")),
    APPS + "DeploymentStrategy": _t("DeploymentStrategy describes how to replace existing pods with new ones.", {
        "type": ("string", "Type of deployment. Can be \"Recreate\" or \"RollingUpdate\". Default is RollingUpdate."),
        "rollingUpdate": (APPS + "RollingUpdateDeployment", "Rolling update config params. Present only if DeploymentStrategyType = RollingUpdate."),
    }),
    APPS + "RollingUpdateDeployment": _t("Spec to control the desired behavior of rolling update.", {
        "maxUnavailable": (INT_OR_STRING, "The maximum number of pods that can be unavailable during the update. Value can be an absolute number (ex: 5) or a percentage of desired pods (ex: 10%). Defaults to 25%."),
        "maxSurge": (INT_OR_STRING, "The maximum number of pods that can be scheduled above the desired number of pods. Value can be an absolute number (ex: 5) or a percentage of desired pods (ex: 10%). Defaults to 25%."),
    }),
    APPS + "DeploymentStatus": _t("DeploymentStatus is the most recently observed status of the Deployment.", {
        "observedGeneration": ("integer", "The generation observed by the deployment controller."),
        "replicas": ("integer", "Total number of non-terminating pods targeted by this deployment (their labels match the selector)."),
        "updatedReplicas": ("integer", "Total number of non-terminating pods targeted by this deployment that have the desired template spec."),
        "readyReplicas": ("integer", "Total number of non-terminating pods targeted by this Deployment with a Ready Condition."),
        "availableReplicas": ("integer", "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment."),
        "unavailableReplicas": ("integer", "Total number of unavailable pods targeted by this deployment."),
        "terminatingReplicas": ("integer", "Total number of terminating pods targeted by this deployment."),
        "conditions": ("[]any", "Represents the latest available observations of a deployment's current state."),
        "collisionCount": ("integer", "Count of hash collisions for the Deployment."),
    }),
    APPS + "ReplicaSet": _kind("ReplicaSet ensures that a specified number of pod replicas are running at any given time.",
                               APPS + "ReplicaSetSpec", APPS + "ReplicaSetStatus"),
    APPS + "ReplicaSetSpec": _t("ReplicaSetSpec is the specification of a ReplicaSet.", {
        "replicas": ("integer", "Replicas is the number of desired pods. Defaults to 1."),
        "minReadySeconds": ("integer", "Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available."),
        "selector": (META + "LabelSelector", "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels."),
        "template": (CORE + "PodTemplateSpec", "Template is the object that describes the pod that will be created if insufficient replicas are detected."),
    }, ("selector",)),
    APPS + "ReplicaSetStatus": _t("ReplicaSetStatus represents the current status of a ReplicaSet.", {
        "replicas": ("integer", "Replicas is the most recently observed number of non-terminating pods."),
        "fullyLabeledReplicas": ("integer", "The number of non-terminating pods that have labels matching the labels of the pod template of the replicaset."),
        "readyReplicas": ("integer", "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition."),
        "availableReplicas": ("integer", "The number of available non-terminating pods (ready for at least minReadySeconds) for this replica set."),
        "terminatingReplicas": ("integer", "The number of terminating pods for this replica set."),
        "observedGeneration": ("integer", "ObservedGeneration reflects the generation of the most recently observed ReplicaSet."),
        "conditions": ("[]any", "Represents the latest available observations of a replica set's current state."),
    }, ("replicas",)),
    BATCH + "Job": _kind("Job represents the configuration of a single job.", BATCH + "JobSpec", BATCH + "JobStatus"),
    BATCH + "JobSpec": _t("JobSpec describes how the job execution will look like.", {
        "parallelism": ("integer", "Specifies the maximum desired number of pods the job should run at any given time. The actual number of pods running in steady state will be less than this number when ((.spec.completions - .status.successful) < .spec.parallelism), i.e. when the work left to do is less than max parallelism."),
        "completions": ("integer", "Specifies the desired number of successfully finished pods the job should be run with.  Setting to null means that the success of any pod signals the success of all pods, and allows parallelism to have any positive value.  Setting to 1 means that parallelism is limited to 1 and the success of that pod signals the success of the job."),
        "activeDeadlineSeconds": ("integer", "Specifies the duration in seconds relative to the startTime that the job may be continuously active before the system tries to terminate it; value must be positive integer."),
        "podFailurePolicy": ("any", "Specifies the policy of handling failed pods. Not implemented by kubemu's job controller."),
        "successPolicy": ("any", "successPolicy specifies the policy when the Job can be declared as succeeded. Not implemented by kubemu's job controller."),
        "backoffLimit": ("integer", "Specifies the number of retries before marking this job failed. Defaults to 6"),
        "backoffLimitPerIndex": ("integer", "Specifies the limit for the number of retries within an index before marking this index as failed. Not implemented by kubemu's job controller."),
        "maxFailedIndexes": ("integer", "Specifies the maximal number of failed indexes before marking the Job as failed, when backoffLimitPerIndex is set."),
        "selector": (META + "LabelSelector", "A label query over pods that should match the pod count. Normally, the system sets this field for you."),
        "manualSelector": ("boolean", "manualSelector controls generation of pod labels and pod selectors. Leave `manualSelector` unset unless you are certain what you are doing."),
        "template": (CORE + "PodTemplateSpec", "Describes the pod that will be created when executing a job. The only allowed template.spec.restartPolicy values are \"Never\" or \"OnFailure\"."),
        "ttlSecondsAfterFinished": ("integer", "ttlSecondsAfterFinished limits the lifetime of a Job that has finished execution (either Complete or Failed). If this field is set, ttlSecondsAfterFinished after the Job finishes, it is eligible to be automatically deleted."),
        "completionMode": ("string", "completionMode specifies how Pod completions are tracked. It can be `NonIndexed` (default) or `Indexed`."),
        "suspend": ("boolean", "suspend specifies whether the Job controller should create Pods or not. If a Job is created with suspend set to true, no Pods are created by the Job controller. If a Job is suspended after creation (i.e. the flag goes from false to true), the Job controller will delete all active Pods associated with this Job."),
        "podReplacementPolicy": ("string", "podReplacementPolicy specifies when to create replacement Pods. Possible values are: TerminatingOrFailed, Failed."),
        "managedBy": ("string", "ManagedBy field indicates the controller that manages a Job."),
    }, ("template",)),
    BATCH + "JobStatus": _t("JobStatus represents the current state of a Job.", {
        "conditions": ("[]" + BATCH + "JobCondition", "The latest available observations of an object's current state. When a Job fails, one of the conditions will have type \"Failed\" and status true. When a Job is suspended, one of the conditions will have type \"Suspended\" and status true; when the Job is resumed, the status of this condition will become false. When a Job is completed, one of the conditions will have type \"Complete\" and status true."),
        "startTime": (TIME, "Represents time when the job controller started processing a job."),
        "completionTime": (TIME, "Represents time when the job was completed."),
        "active": ("integer", "The number of pending and running pods which are not terminating (without a deletionTimestamp)."),
        "succeeded": ("integer", "The number of pods which reached phase Succeeded."),
        "failed": ("integer", "The number of pods which reached phase Failed."),
        "terminating": ("integer", "The number of pods which are terminating (that have .metadata.deletionTimestamp)."),
        "ready": ("integer", "The number of active pods which have a Ready condition and are not terminating (without a deletionTimestamp)."),
        "completedIndexes": ("string", "completedIndexes holds the completed indexes when .spec.completionMode = \"Indexed\" in a text format."),
        "failedIndexes": ("string", "FailedIndexes holds the failed indexes when spec.backoffLimitPerIndex is set."),
        "uncountedTerminatedPods": (BATCH + "UncountedTerminatedPods", "uncountedTerminatedPods holds the UIDs of Pods that have terminated but the job controller hasn't yet accounted for in the status counters."),
    }),
    BATCH + "JobCondition": _t("JobCondition describes current state of a job.", {
        "type": ("string", "Type of job condition, Complete or Failed."),
        "status": ("string", "Status of the condition, one of True, False, Unknown."),
        "lastProbeTime": (TIME, "Last time the condition was checked."),
        "lastTransitionTime": (TIME, "Last time the condition transit from one status to another."),
        "reason": ("string", "(brief) reason for the condition's last transition."),
        "message": ("string", "Human readable message indicating details about last transition."),
    }, ("type", "status")),
    BATCH + "CronJob": _kind("CronJob represents the configuration of a single cron job.",
                             BATCH + "CronJobSpec", BATCH + "CronJobStatus"),
    BATCH + "CronJobSpec": _t("CronJobSpec describes how the job execution will look like and when it will actually run.", {
        "schedule": ("string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
        "timeZone": ("string", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process."),
        "startingDeadlineSeconds": ("integer", "Optional deadline in seconds for starting the job if it misses scheduled time for any reason.  Missed jobs executions will be counted as failed ones."),
        "concurrencyPolicy": ("string", "Specifies how to treat concurrent executions of a Job. Valid values are:\n\n- \"Allow\" (default): allows CronJobs to run concurrently; - \"Forbid\": forbids concurrent runs, skipping next run if previous run hasn't finished yet; - \"Replace\": cancels currently running job and replaces it with a new one"),
        "suspend": ("boolean", "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false."),
        "jobTemplate": (BATCH + "JobTemplateSpec", "Specifies the job that will be created when executing a CronJob."),
        "successfulJobsHistoryLimit": ("integer", "The number of successful finished jobs to retain. Value must be non-negative integer. Defaults to 3."),
        "failedJobsHistoryLimit": ("integer", "The number of failed finished jobs to retain. Value must be non-negative integer. Defaults to 1."),
    }, ("schedule", "jobTemplate")),
    BATCH + "JobTemplateSpec": _t("JobTemplateSpec describes the data a Job should have when created from a template", {
        "metadata": (META + "ObjectMeta", "Standard object's metadata of the jobs created from this template."),
        "spec": (BATCH + "JobSpec", "Specification of the desired behavior of the job."),
    }),
    BATCH + "CronJobStatus": _t("CronJobStatus represents the current state of a cron job.", {
        "active": ("[]" + CORE + "ObjectReference", "A list of pointers to currently running jobs."),
        "lastScheduleTime": (TIME, "Information when was the last time the job was successfully scheduled."),
        "lastSuccessfulTime": (TIME, "Information when was the last time the job successfully completed."),
    }),
    BATCH + "UncountedTerminatedPods": _t("UncountedTerminatedPods holds UIDs of Pods that have terminated but haven't been accounted in Job status counters.", {
        "succeeded": ("[]string", "succeeded holds UIDs of succeeded Pods."),
        "failed": ("[]string", "failed holds UIDs of failed Pods."),
    }),
    APPS + "DaemonSet": _kind("DaemonSet represents the configuration of a daemon set.",
                              APPS + "DaemonSetSpec", APPS + "DaemonSetStatus"),
    APPS + "DaemonSetSpec": _t("DaemonSetSpec is the specification of a daemon set.", {
        "selector": (META + "LabelSelector", "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels."),
        "template": (CORE + "PodTemplateSpec", "An object that describes the pod that will be created. The DaemonSet will create exactly one copy of this pod on every node that matches the template's node selector (or on every node if no node selector is specified). The only allowed template.spec.restartPolicy value is \"Always\"."),
        "updateStrategy": (APPS + "DaemonSetUpdateStrategy", "An update strategy to replace existing DaemonSet pods with new pods."),
        "minReadySeconds": ("integer", "The minimum number of seconds for which a newly created DaemonSet pod should be ready without any of its container crashing, for it to be considered available. Defaults to 0 (pod will be considered available as soon as it is ready)."),
        "revisionHistoryLimit": ("integer", "The number of old history to retain to allow rollback. Defaults to 10."),
    }, ("selector", "template")),
    APPS + "DaemonSetUpdateStrategy": _t("DaemonSetUpdateStrategy is a struct used to control the update strategy for a DaemonSet.", {
        "type": ("string", "Type of daemon set update. Can be \"RollingUpdate\" or \"OnDelete\". Default is RollingUpdate."),
        "rollingUpdate": (APPS + "RollingUpdateDaemonSet", "Rolling update config params. Present only if type = \"RollingUpdate\"."),
    }),
    APPS + "RollingUpdateDaemonSet": _t("Spec to control the desired behavior of daemon set rolling update.", {
        "maxUnavailable": (INT_OR_STRING, "The maximum number of DaemonSet pods that can be unavailable during the update. Value can be an absolute number (ex: 5) or a percentage of total number of DaemonSet pods at the start of the update (ex: 10%). Default value is 1."),
        "maxSurge": (INT_OR_STRING, "The maximum number of nodes with an existing available DaemonSet pod that can have an updated DaemonSet pod during during an update. Default value is 0."),
    }),
    APPS + "DaemonSetStatus": _t("DaemonSetStatus represents the current status of a daemon set.", {
        "currentNumberScheduled": ("integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
        "numberMisscheduled": ("integer", "The number of nodes that are running the daemon pod, but are not supposed to run the daemon pod."),
        "desiredNumberScheduled": ("integer", "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod)."),
        "numberReady": ("integer", "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition."),
        "observedGeneration": ("integer", "The most recent generation observed by the daemon set controller."),
        "updatedNumberScheduled": ("integer", "The total number of nodes that are running updated daemon pod"),
        "numberAvailable": ("integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
        "numberUnavailable": ("integer", "The number of nodes that should be running the daemon pod and have none of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
        "collisionCount": ("integer", "Count of hash collisions for the DaemonSet. The DaemonSet controller uses this field as a collision-avoidance mechanism when it needs to create the name for the newest ControllerRevision."),
        "conditions": ("[]any", "Represents the latest available observations of a DaemonSet's current state."),
    }, ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady")),
    APPS + "ControllerRevision": _kind("ControllerRevision implements an immutable snapshot of state data. Clients are responsible for serializing and deserializing the objects that contain their internal state. Once a ControllerRevision has been successfully created, it can not be updated.",
                                       None, None,
                                       data=("any", "Data is the serialized representation of the state."),
                                       revision=("integer", "Revision indicates the revision of the state represented by Data.")),
    POLICY + "PodDisruptionBudget": _kind("PodDisruptionBudget is an object to define the max disruption that can be caused to a collection of pods",
                                          POLICY + "PodDisruptionBudgetSpec", POLICY + "PodDisruptionBudgetStatus"),
    POLICY + "PodDisruptionBudgetSpec": _t("PodDisruptionBudgetSpec is a description of a PodDisruptionBudget.", {
        "minAvailable": (INT_OR_STRING, "An eviction is allowed if at least \"minAvailable\" pods selected by \"selector\" will still be available after the eviction, i.e. even in the absence of the evicted pod.  So for example you can prevent all voluntary evictions by specifying \"100%\"."),
        "selector": (META + "LabelSelector", "Label query over pods whose evictions are managed by the disruption budget. A null selector will match no pods, while an empty ({}) selector will select all pods within the namespace."),
        "maxUnavailable": (INT_OR_STRING, "An eviction is allowed if at most \"maxUnavailable\" pods selected by \"selector\" are unavailable after the eviction, i.e. even in absence of the evicted pod. For example, one can prevent all voluntary evictions by specifying 0. This is a mutually exclusive setting with \"minAvailable\"."),
        "unhealthyPodEvictionPolicy": ("string", "UnhealthyPodEvictionPolicy defines the criteria for when unhealthy pods should be considered for eviction. Valid policies are IfHealthyBudget and AlwaysAllow. If no policy is specified, the default behavior will be used, which corresponds to the IfHealthyBudget policy."),
    }),
    POLICY + "PodDisruptionBudgetStatus": _t("PodDisruptionBudgetStatus represents information about the status of a PodDisruptionBudget. Status may trail the actual state of a system.", {
        "observedGeneration": ("integer", "Most recent generation observed when updating this PDB status."),
        "disruptedPods": ("map[" + TIME + "]", "DisruptedPods contains information about pods whose eviction was processed by the API server eviction subresource handler but has not yet been observed by the PodDisruptionBudget controller."),
        "disruptionsAllowed": ("integer", "Number of pod disruptions that are currently allowed."),
        "currentHealthy": ("integer", "current number of healthy pods"),
        "desiredHealthy": ("integer", "minimum desired number of healthy pods"),
        "expectedPods": ("integer", "total number of pods counted by this disruption budget"),
        "conditions": ("[]any", "Conditions contain conditions for PDB. The disruption controller sets the DisruptionAllowed condition."),
    }, ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods")),
    RBAC + "Role": _kind("Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding.",
                         rules=("[]" + RBAC + "PolicyRule", "Rules holds all the PolicyRules for this Role")),
    RBAC + "ClusterRole": _kind("ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding or ClusterRoleBinding.",
                                rules=("[]" + RBAC + "PolicyRule", "Rules holds all the PolicyRules for this ClusterRole"),
                                aggregationRule=("any", "AggregationRule is an optional field that describes how to build the Rules for this ClusterRole. Not implemented by kubemu (no aggregation controller).")),
    RBAC + "RoleBinding": _kind("RoleBinding references a role, but does not contain it.  It can reference a Role in the same namespace or a ClusterRole in the global namespace.",
                                subjects=("[]" + RBAC + "Subject", "Subjects holds references to the objects the role applies to."),
                                roleRef=(RBAC + "RoleRef", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. This field is immutable.")),
    RBAC + "ClusterRoleBinding": _kind("ClusterRoleBinding references a ClusterRole, but not contain it.  It can reference a ClusterRole in the global namespace, and adds who information via Subject.",
                                       subjects=("[]" + RBAC + "Subject", "Subjects holds references to the objects the role applies to."),
                                       roleRef=(RBAC + "RoleRef", "RoleRef can only reference a ClusterRole in the global namespace. This field is immutable.")),
    RBAC + "PolicyRule": _t("PolicyRule holds information that describes a policy rule, but does not contain information about who the rule applies to or which namespace the rule applies to.", {
        "verbs": ("[]string", "Verbs is a list of Verbs that apply to ALL the ResourceKinds contained in this rule. '*' represents all verbs."),
        "apiGroups": ("[]string", "APIGroups is the name of the APIGroup that contains the resources.  If multiple API groups are specified, any action requested against one of the enumerated resources in any API group will be allowed. \"\" represents the core API group and \"*\" represents all API groups."),
        "resources": ("[]string", "Resources is a list of resources this rule applies to. '*' represents all resources."),
        "resourceNames": ("[]string", "ResourceNames is an optional white list of names that the rule applies to.  An empty set means that everything is allowed."),
        "nonResourceURLs": ("[]string", "NonResourceURLs is a set of partial urls that a user should have access to.  *s are allowed, but only as the full, final step in the path."),
    }, ("verbs",)),
    RBAC + "Subject": _t("Subject contains a reference to the object or user identities a role binding applies to.", {
        "kind": ("string", "Kind of object being referenced. Values defined by this API group are \"User\", \"Group\", and \"ServiceAccount\"."),
        "apiGroup": ("string", "APIGroup holds the API group of the referenced subject. Defaults to \"\" for ServiceAccount subjects. Defaults to \"rbac.authorization.k8s.io\" for User and Group subjects."),
        "name": ("string", "Name of the object being referenced."),
        "namespace": ("string", "Namespace of the referenced object."),
    }, ("kind", "name")),
    RBAC + "RoleRef": _t("RoleRef contains information that points to the role being used", {
        "apiGroup": ("string", "APIGroup is the group for the resource being referenced"),
        "kind": ("string", "Kind is the type of resource being referenced"),
        "name": ("string", "Name is the name of resource being referenced"),
    }, ("apiGroup", "kind", "name")),
    CORE + "Service": _kind("Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.",
                            CORE + "ServiceSpec", "any"),
    CORE + "ServiceSpec": _t("ServiceSpec describes the attributes that a user creates on a service.", {
        "ports": ("[]" + CORE + "ServicePort", "The list of ports that are exposed by this service."),
        "selector": ("map[string]", "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints."),
        "clusterIP": ("string", "clusterIP is the IP address of the service and is usually assigned randomly. It cannot be changed through updates. \"None\" makes a headless service."),
        "clusterIPs": ("[]string", "ClusterIPs is a list of IP addresses assigned to this service, and are usually assigned randomly."),
        "type": ("string", "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer."),
        "externalIPs": ("[]string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
        "sessionAffinity": ("string", "Supports \"ClientIP\" and \"None\". Used to maintain session affinity. Defaults to None."),
        "loadBalancerIP": ("string", "Only applies to Service Type: LoadBalancer. Deprecated."),
        "loadBalancerSourceRanges": ("[]string", "If specified and supported by the platform, this will restrict traffic through the cloud-provider load-balancer to the specified client IPs."),
        "externalName": ("string", "externalName is the external reference that discovery mechanisms will return as an alias for this service (e.g. a DNS CNAME record)."),
        "externalTrafficPolicy": ("string", "externalTrafficPolicy describes how nodes distribute service traffic they receive on one of the Service's \"externally-facing\" addresses. Cluster or Local."),
        "healthCheckNodePort": ("integer", "healthCheckNodePort specifies the healthcheck nodePort for the service."),
        "publishNotReadyAddresses": ("boolean", "publishNotReadyAddresses indicates that any agent which deals with endpoints for this Service should disregard any indications of ready/not-ready."),
        "sessionAffinityConfig": ("any", "sessionAffinityConfig contains the configurations of session affinity."),
        "ipFamilies": ("[]string", "IPFamilies is a list of IP families (e.g. IPv4, IPv6) assigned to this service."),
        "ipFamilyPolicy": ("string", "IPFamilyPolicy represents the dual-stack-ness requested or required by this Service."),
        "allocateLoadBalancerNodePorts": ("boolean", "allocateLoadBalancerNodePorts defines if NodePorts will be automatically allocated for services with type LoadBalancer."),
        "loadBalancerClass": ("string", "loadBalancerClass is the class of the load balancer implementation this Service belongs to."),
        "internalTrafficPolicy": ("string", "InternalTrafficPolicy describes how nodes distribute service traffic they receive on the ClusterIP. Cluster or Local."),
        "trafficDistribution": ("string", "TrafficDistribution offers a way to express preferences for how traffic is distributed to Service endpoints."),
    }),
    CORE + "ServicePort": _t("ServicePort contains information on service's port.", {
        "name": ("string", "The name of this port within the service. This must be a DNS_LABEL. All ports within a ServiceSpec must have unique names."),
        "protocol": ("string", "The IP protocol for this port. Supports \"TCP\", \"UDP\", and \"SCTP\". Default is TCP."),
        "appProtocol": ("string", "The application protocol for this port."),
        "port": ("integer", "The port that will be exposed by this service."),
        "targetPort": (INT_OR_STRING, "Number or name of the port to access on the pods targeted by the service. If this is not specified, the value of the 'port' field is used."),
        "nodePort": ("integer", "The port on each node on which this service is exposed when type is NodePort or LoadBalancer. Usually assigned by the system."),
    }, ("port",)),
    CORE + "Namespace": _kind("Namespace provides a scope for Names. Use of multiple namespaces is optional.",
                              CORE + "NamespaceSpec", CORE + "NamespaceStatus"),
    CORE + "NamespaceSpec": _t("NamespaceSpec describes the attributes on a Namespace.", {
        "finalizers": ("[]string", "Finalizers is an opaque list of values that must be empty to permanently remove object from storage."),
    }),
    CORE + "NamespaceStatus": _t("NamespaceStatus is information about the current status of a Namespace.", {
        "phase": ("string", "Phase is the current lifecycle phase of the namespace: Active or Terminating."),
        "conditions": ("[]any", "Represents the latest available observations of a namespace's current state."),
    }),
    CORE + "Node": _kind("Node is a worker node in Kubernetes. Each node will have a unique identifier in the cache (i.e. in etcd).",
                         CORE + "NodeSpec", "any"),
    CORE + "NodeSpec": _t("NodeSpec describes the attributes that a node is created with.", {
        "podCIDR": ("string", "PodCIDR represents the pod IP range assigned to the node."),
        "podCIDRs": ("[]string", "podCIDRs represents the IP ranges assigned to the node for usage by Pods on that node."),
        "providerID": ("string", "ID of the node assigned by the cloud provider."),
        "unschedulable": ("boolean", "Unschedulable controls node schedulability of new pods. By default, node is schedulable."),
        "taints": ("[]" + CORE + "Taint", "If specified, the node's taints."),
        "configSource": ("any", "Deprecated: Previously used to specify the source of the node's configuration."),
        "externalID": ("string", "Deprecated. Not all kubelets will set this field."),
    }),
    CORE + "Taint": _t("The node this Taint is attached to has the \"effect\" on any pod that does not tolerate the Taint.", {
        "key": ("string", "Required. The taint key to be applied to a node."),
        "value": ("string", "The taint value corresponding to the taint key."),
        "effect": ("string", "Required. The effect of the taint on pods that do not tolerate the taint. Valid effects are NoSchedule, PreferNoSchedule and NoExecute."),
        "timeAdded": (TIME, "TimeAdded represents the time at which the taint was added."),
    }, ("key", "effect")),
    CORE + "ConfigMap": _kind("ConfigMap holds configuration data for pods to consume.",
                              data=("map[string]", "Data contains the configuration data."),
                              binaryData=("map[string]", "BinaryData contains the binary data (base64)."),
                              immutable=("boolean", "Immutable, if set to true, ensures that data stored in the ConfigMap cannot be updated.")),
    CORE + "Secret": _kind("Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.",
                           data=("map[string]", "Data contains the secret data. Each value must be base64 encoded."),
                           stringData=("map[string]", "stringData allows specifying non-binary secret data in string form. It is merged into data on write."),
                           type=("string", "Used to facilitate programmatic handling of secret data."),
                           immutable=("boolean", "Immutable, if set to true, ensures that data stored in the Secret cannot be updated.")),
    CORE + "ServiceAccount": _kind("ServiceAccount binds together: a name, understood by users, and perhaps by peripheral systems, for an identity; a principal that can be authenticated and authorized; a set of secrets",
                                   secrets=("[]any", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
                                   imagePullSecrets=("[]" + CORE + "LocalObjectReference", "ImagePullSecrets is a list of references to secrets in the same namespace to use for pulling any images in pods that reference this ServiceAccount."),
                                   automountServiceAccountToken=("boolean", "AutomountServiceAccountToken indicates whether pods running as this service account should have an API token automatically mounted.")),
    CORE + "Endpoints": _kind("Endpoints is a collection of endpoints that implement the actual service.",
                              subsets=("[]any", "The set of all endpoints is the union of all subsets.")),
    CORE + "Event": _kind("Event is a report of an event somewhere in the cluster.",
                          involvedObject=(CORE + "ObjectReference", "The object that this event is about."),
                          reason=("string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
                          message=("string", "A human-readable description of the status of this operation."),
                          source=("any", "The component reporting this event."),
                          firstTimestamp=(TIME, "The time at which the event was first recorded."),
                          lastTimestamp=(TIME, "The time at which the most recent occurrence of this event was recorded."),
                          count=("integer", "The number of times this event has occurred."),
                          type=("string", "Type of this event (Normal, Warning), new types could be added in the future"),
                          eventTime=(MICRO_TIME, "Time when this Event was first observed."),
                          series=("any", "Data about the Event series this event represents or nil if it's a singleton Event."),
                          action=("string", "What action was taken/failed regarding to the Regarding object."),
                          related=("any", "Optional secondary object for more complex actions."),
                          reportingComponent=("string", "Name of the controller that emitted this Event, e.g. `kubernetes.io/kubelet`."),
                          reportingInstance=("string", "ID of the controller instance, e.g. `kubelet-xyzf`.")),
    CORE + "ObjectReference": _t("ObjectReference contains enough information to let you inspect or modify the referred object.", {
        "kind": ("string", "Kind of the referent."),
        "namespace": ("string", "Namespace of the referent."),
        "name": ("string", "Name of the referent."),
        "uid": ("string", "UID of the referent."),
        "apiVersion": ("string", "API version of the referent."),
        "resourceVersion": ("string", "Specific resourceVersion to which this reference is made, if any."),
        "fieldPath": ("string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]."),
    }),
    DISCOVERY + "EndpointSlice": _kind("EndpointSlice represents a subset of the endpoints that implement a service.",
                                       addressType=("string", "addressType specifies the type of address carried by this EndpointSlice: IPv4, IPv6 or FQDN."),
                                       endpoints=("[]any", "endpoints is a list of unique endpoints in this slice."),
                                       ports=("[]any", "ports specifies the list of network ports exposed by each endpoint in this slice.")),
    COORD + "Lease": _kind("Lease defines a lease concept.", COORD + "LeaseSpec"),
    COORD + "LeaseSpec": _t("LeaseSpec is a specification of a Lease.", {
        "holderIdentity": ("string", "holderIdentity contains the identity of the holder of a current lease."),
        "leaseDurationSeconds": ("integer", "leaseDurationSeconds is a duration that candidates for a lease need to wait to force acquire it."),
        "acquireTime": (MICRO_TIME, "acquireTime is a time when the current lease was acquired."),
        "renewTime": (MICRO_TIME, "renewTime is a time when the current holder of a lease has last updated the lease."),
        "leaseTransitions": ("integer", "leaseTransitions is the number of transitions of a lease between holders."),
        "strategy": ("string", "Strategy indicates the strategy for picking the leader for coordinated leader election."),
        "preferredHolder": ("string", "PreferredHolder signals to a lease holder that the lease has a more optimal holder and should be given up."),
    }),
    SCHEDULING + "PriorityClass": _t(
        "PriorityClass defines mapping from a priority class name to the priority integer value. The value can be any valid integer.", {
            **_TYPE_META, "metadata": (META + "ObjectMeta", "Standard object's metadata."),
            "value": ("integer", "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec."),
            "globalDefault": ("boolean", "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`."),
            "description": ("string", "description is an arbitrary string that usually provides guidelines on when this priority class should be used."),
            "preemptionPolicy": ("string", "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset."),
        }, ("value",)),
}

_SCALARS = {
    TIME: {"type": "string", "format": "date-time", "description": "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON."},
    MICRO_TIME: {"type": "string", "format": "date-time", "description": "MicroTime is version of Time with microsecond level precision."},
    INT_OR_STRING: {"type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True,
                    "description": "IntOrString is a type that can hold an int32 or a string."},
    QUANTITY: {"type": "string", "description": "Quantity is a fixed-point representation of a number, e.g. \"100m\", \"128Mi\", \"1.5\"; see resource.Quantity.",
               "x-kubernetes-int-or-string": True},
}

# Closed sets of values (Kubernetes' +enum types); `kubectl explain` lists them as ENUM.
_ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    (CORE + "PodSpec", "restartPolicy"): ("Always", "Never", "OnFailure"),
    (CORE + "PodSpec", "dnsPolicy"): ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"),
    (CORE + "PodSpec", "preemptionPolicy"): ("Never", "PreemptLowerPriority"),
    (CORE + "Container", "imagePullPolicy"): ("Always", "IfNotPresent", "Never"),
    (CORE + "Container", "terminationMessagePolicy"): ("FallbackToLogsOnError", "File"),
    (CORE + "ContainerPort", "protocol"): ("SCTP", "TCP", "UDP"),
    (CORE + "ServicePort", "protocol"): ("SCTP", "TCP", "UDP"),
    (CORE + "ServiceSpec", "type"): ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"),
    (CORE + "ServiceSpec", "sessionAffinity"): ("ClientIP", "None"),
    (CORE + "ServiceSpec", "externalTrafficPolicy"): ("Cluster", "Local"),
    (CORE + "ServiceSpec", "internalTrafficPolicy"): ("Cluster", "Local"),
    (CORE + "HTTPGetAction", "scheme"): ("HTTP", "HTTPS"),
    (CORE + "Toleration", "operator"): ("Equal", "Exists"),
    (CORE + "Toleration", "effect"): ("NoExecute", "NoSchedule", "PreferNoSchedule"),
    (CORE + "Taint", "effect"): ("NoExecute", "NoSchedule", "PreferNoSchedule"),
    (CORE + "PodStatus", "phase"): ("Failed", "Pending", "Running", "Succeeded", "Unknown"),
    (CORE + "PodStatus", "qosClass"): ("BestEffort", "Burstable", "Guaranteed"),
    (CORE + "NamespaceStatus", "phase"): ("Active", "Terminating"),
    (APPS + "DeploymentStrategy", "type"): ("Recreate", "RollingUpdate"),
    (APPS + "DaemonSetUpdateStrategy", "type"): ("OnDelete", "RollingUpdate"),
    (BATCH + "JobSpec", "completionMode"): ("Indexed", "NonIndexed"),
    (BATCH + "JobSpec", "podReplacementPolicy"): ("Failed", "TerminatingOrFailed"),
    (BATCH + "CronJobSpec", "concurrencyPolicy"): ("Allow", "Forbid", "Replace"),
    (SCHEDULING + "PriorityClass", "preemptionPolicy"): ("Never", "PreemptLowerPriority"),
    (POLICY + "PodDisruptionBudgetSpec", "unhealthyPodEvictionPolicy"): ("AlwaysAllow", "IfHealthyBudget"),
}

# Status written by other components (kubelet, controllers) may carry fields newer than this table;
# a full object read back and sent again (kubectl edit/replace) must not fail strict validation.
_OPEN_TYPES = {CORE + "PodStatus", APPS + "DeploymentStatus", APPS + "ReplicaSetStatus", APPS + "DaemonSetStatus",
               BATCH + "JobStatus",
               BATCH + "CronJobStatus", POLICY + "PodDisruptionBudgetStatus", CORE + "NamespaceStatus"}

_SCHEMA_PREFIX = {"": CORE, "apps": APPS, "batch": BATCH, "discovery.k8s.io": DISCOVERY, "coordination.k8s.io": COORD,
                  "scheduling.k8s.io": SCHEDULING, "policy": POLICY, "rbac.authorization.k8s.io": RBAC}


def schema_name(resource: Resource) -> str:
    """`io.k8s.api.core.v1.Pod` for pods."""
    return _SCHEMA_PREFIX.get(resource.group, f"io.k8s.api.{resource.group}.{resource.version}.") + resource.kind


# ---- schema rendering --------------------------------------------------------------------------


def _ref(name: str) -> Obj:
    return {"$ref": f"#/components/schemas/{name}"}


def _preserve() -> Obj:
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _type_schema(typ: str) -> Obj:
    if typ in ("string", "integer", "boolean", "number"):
        schema: Obj = {"type": typ}
        if typ == "integer":
            schema["format"] = "int64"
        return schema
    if typ == "any":
        return _preserve()
    if typ.startswith("[]"):
        return {"type": "array", "items": _type_schema(typ[2:])}
    if typ.startswith("map["):
        return {"type": "object", "additionalProperties": _type_schema(typ[4:-1])}
    return _ref(typ)


def _patch_extensions(owner: str, field: str) -> Obj:
    """x-kubernetes-patch-strategy/merge-key from the same table the server merges with: kubectl
    builds its strategic merge patches (and `$setElementOrder`/`$patch: delete`) from these."""
    meta = PATCH_SCHEMA.get(owner.rsplit(".", 1)[-1], {}).get(field)
    if meta is None or not meta.strategy:
        return {}
    ext: Obj = {"x-kubernetes-patch-strategy": meta.strategy}
    if meta.merge_key:
        ext["x-kubernetes-patch-merge-key"] = meta.merge_key
    return ext


def _field_schema(typ: str, description: str, owner: str = "", field: str = "") -> Obj:
    schema = _type_schema(typ)
    ext = _patch_extensions(owner, field) if owner else {}
    if (owner, field) in _ENUMS:
        ext["enum"] = list(_ENUMS[(owner, field)])
    if "$ref" in schema:  # OpenAPI 3.0 ignores siblings of $ref; Kubernetes wraps it in allOf
        return {"description": description, "allOf": [schema], **ext}
    return {"description": description, **schema, **ext}


def _component(name: str, gvk: Obj | None) -> Obj:
    if name in _SCALARS:
        return dict(_SCALARS[name])
    description, fields, required = TYPES[name]
    schema: Obj = {"description": description, "type": "object",
                   "properties": {k: _field_schema(t, d, name, k) for k, (t, d) in fields.items()}}
    if required:
        schema["required"] = list(required)
    if gvk is not None:
        schema["x-kubernetes-group-version-kind"] = [gvk]
    if name in _OPEN_TYPES:
        schema["x-kubernetes-preserve-unknown-fields"] = True
    return schema


def _references(name: str, seen: set[str]) -> None:
    if name in seen or name in ("any",):
        return
    seen.add(name)
    if name in _SCALARS:
        return
    for typ, _ in TYPES[name][1].values():
        base = typ
        while base.startswith("[]") or base.startswith("map["):
            base = base[2:] if base.startswith("[]") else base[4:-1]
        if base not in ("string", "integer", "boolean", "number", "any"):
            _references(base, seen)


def _gvk(res: Resource) -> Obj:
    return {"group": res.group, "version": res.version, "kind": res.kind}


# ---- paths -------------------------------------------------------------------------------------


def _param(name: str, description: str, where: str = "query", required: bool = False) -> Obj:
    return {"name": name, "in": where, "description": description, "required": required,
            "schema": {"type": "string", "uniqueItems": True}}


_FIELD_VALIDATION = _param(
    "fieldValidation",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing "
    "unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict (the default).")
_DRY_RUN = _param("dryRun", "When present, indicates that modifications should not be persisted.")
_FIELD_MANAGER = _param("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes.")
_FORCE = _param("force", "Force is going to \"force\" Apply requests. It must be unset for non-apply patch requests.")


def _response(name: str) -> Obj:
    return {"description": "OK", "content": {"application/json": {"schema": _ref(name)}}}


def _op(res: Resource, action: str, op_id: str, name: str, params: list[Obj], body: bool) -> Obj:
    op: Obj = {"tags": [f"{res.group or 'core'}_{res.version}"], "operationId": op_id,
               "description": f"{op_id} {res.kind}", "parameters": params,
               "responses": {"200": _response(name)}, "x-kubernetes-action": action,
               "x-kubernetes-group-version-kind": _gvk(res)}
    if body:
        types = ["application/json"] if action != "patch" else [
            "application/apply-patch+yaml", "application/json-patch+json",
            "application/merge-patch+json", "application/strategic-merge-patch+json"]
        op["requestBody"] = {"content": {t: {"schema": _ref(name) if action != "patch" else {"type": "object"}}
                                         for t in types}, "required": True}
    return op


def _paths(res: Resource) -> Obj:
    base = f"/api/{res.version}" if not res.group else f"/apis/{res.group}/{res.version}"
    scope = f"{base}/namespaces/{{namespace}}" if res.namespaced else base
    name, cap = schema_name(res), res.kind
    suffix = "Namespaced" + cap if res.namespaced else cap
    path_params = [_param("namespace", "object name and auth scope", "path", True)] if res.namespaced else []
    item_params = path_params + [_param("name", f"name of the {res.kind}", "path", True)]
    item = {
        "get": _op(res, "get", f"read{suffix}", name, [], False),
        "put": _op(res, "put", f"replace{suffix}", name, [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION], True),
        "patch": _op(res, "patch", f"patch{suffix}", name,
                     [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION, _FORCE], True),
        "delete": _op(res, "delete", f"delete{suffix}", name, [_DRY_RUN], False),
        "parameters": item_params,
    }
    collection = {
        "get": _op(res, "list", f"list{suffix}", name, [], False),
        "post": _op(res, "post", f"create{suffix}", name, [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION], True),
        "parameters": path_params,
    }
    return {f"{scope}/{res.plural}": collection, f"{scope}/{res.plural}/{{name}}": item}


# ---- documents ---------------------------------------------------------------------------------


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_v3_document(registry: Registry, group: str, version: str) -> Obj | None:
    """The OpenAPI v3 document for one group-version, or None when it is not served."""
    return _document(registry, group, version)


@lru_cache(maxsize=64)
def _document_cached(registry: Registry, group: str, version: str) -> str:
    resources = registry.in_group_version(group, version)
    names: set[str] = set()
    paths: Obj = {}
    for res in resources:
        _references(schema_name(res), names)
        paths.update(_paths(res))
    gvks = {schema_name(r): _gvk(r) for r in resources}
    schemas = {n: _component(n, gvks.get(n)) for n in sorted(names)}
    doc = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
           "paths": paths, "components": {"schemas": schemas}}
    return json.dumps(doc, sort_keys=True)


def _document(registry: Registry, group: str, version: str) -> Obj | None:
    if not registry.in_group_version(group, version):
        return None
    return json.loads(_document_cached(registry, group, version))


def document_hash(registry: Registry, group: str, version: str) -> str:
    """Kubernetes puts a content hash in serverRelativeURL so clients can cache documents."""
    text = _document_cached(registry, group, version)
    return hashlib.sha512(text.encode()).hexdigest().upper()[:128]


def openapi_v3_root(registry: Registry) -> Obj:
    """/openapi/v3: every served group-version and where its document is."""
    paths = {}
    for group, version in registry.group_versions():
        path = _gv_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={document_hash(registry, group, version)}"}
    return {"paths": paths}


def parse_openapi_v3_path(path: str) -> tuple[str, str] | None:
    """"/openapi/v3/apis/apps/v1" -> ("apps", "v1"); "/openapi/v3/api/v1" -> ("", "v1")."""
    parts = path.strip("/").split("/")
    if parts[:2] != ["openapi", "v3"]:
        return None
    rest = parts[2:]
    if len(rest) == 2 and rest[0] == "api":
        return ("", rest[1])
    if len(rest) == 3 and rest[0] == "apis":
        return (rest[1], rest[2])
    return None


# ---- strict field validation -------------------------------------------------------------------


def unknown_fields(resource: Resource, obj: Any) -> list[str]:
    """Paths of fields in `obj` its schema does not know, in document order (`spec.containers[0].imagee`).

    `obj` may be an object or a strategic merge patch: directive keys (`$patch`, `$setElementOrder/x`,
    `$deleteFromPrimitiveList/x`, `$retainKeys`) are never unknown."""
    out: list[str] = []
    _walk(obj, schema_name(resource), "", out)
    return out


def _walk(value: Any, typ: str, path: str, out: list[str]) -> None:
    if value is None or typ in ("string", "integer", "boolean", "number", "any") or typ in _SCALARS:
        return
    if typ.startswith("[]"):
        if isinstance(value, list):
            for i, item in enumerate(value):
                _walk(item, typ[2:], f"{path}[{i}]", out)
        return
    if typ.startswith("map["):
        if isinstance(value, dict):
            for key, item in value.items():
                _walk(item, typ[4:-1], f"{path}.{key}" if path else key, out)
        return
    if not isinstance(value, dict) or typ not in TYPES:
        return
    fields = TYPES[typ][1]
    for key, item in value.items():
        if key.startswith("$"):  # strategic merge patch directives ($patch, $setElementOrder/...)
            continue
        child = f"{path}.{key}" if path else key
        if key not in fields:
            if typ not in _OPEN_TYPES:
                out.append(child)
        else:
            _walk(item, fields[key][0], child, out)


# Integer fields Kubernetes declares int64 (the rest of the integers kubemu models are int32), for
# the Go type named in a decode error.
_INT64_FIELDS = frozenset({"terminationGracePeriodSeconds", "activeDeadlineSeconds", "tolerationSeconds",
                           "deletionGracePeriodSeconds", "generation", "observedGeneration", "runAsUser",
                           "runAsGroup", "fsGroup", "expirationSeconds", "sizeBytes", "revision",
                           "startingDeadlineSeconds"})
_JSON_KINDS = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}


def type_error(resource: Resource, obj: Any) -> str | None:
    """The message kube-apiserver's decoder gives for the first value of the wrong JSON type in `obj`
    (a string where an integer goes...), or None. Go's decoder keeps the first such error:
    `Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into
    Go struct field DeploymentSpec.spec.replicas of type int32`. Fields the schema leaves open
    (`any`, preserved unknown fields) are not checked."""
    found = _first_type_error(obj, schema_name(resource), "", "")
    if found is None:
        return None
    return f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: {found}'


def _first_type_error(value: Any, typ: str, path: str, owner: str) -> str | None:
    if value is None or typ == "any":
        return None  # null decodes to the zero value
    if typ in ("string", "integer", "boolean", "number") or typ in _SCALARS:
        return None if _scalar_ok(value, typ) else _unmarshal(value, typ, path, owner)
    if typ.startswith("[]"):
        if not isinstance(value, list):
            return _unmarshal(value, typ, path, owner)
        for item in value:
            if (err := _first_type_error(item, typ[2:], path, owner)) is not None:
                return err
        return None
    if typ.startswith("map["):
        if not isinstance(value, dict):
            return _unmarshal(value, typ, path, owner)
        for item in value.values():
            if (err := _first_type_error(item, typ[4:-1], path, owner)) is not None:
                return err
        return None
    if typ not in TYPES:
        return None
    if not isinstance(value, dict):
        return _unmarshal(value, typ, path, owner)
    fields = TYPES[typ][1]
    struct = typ.rsplit(".", 1)[-1]
    for key, item in value.items():
        if key in fields:
            if (err := _first_type_error(item, fields[key][0], f"{path}.{key}" if path else key, struct)) is not None:
                return err
    return None


def _scalar_ok(value: Any, typ: str) -> bool:
    if typ == "string" or typ in (TIME, MICRO_TIME):
        return isinstance(value, str)
    if typ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "boolean":
        return isinstance(value, bool)
    if typ == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typ in (QUANTITY, INT_OR_STRING):  # both unmarshal from a string or a number
        return isinstance(value, (str, int, float)) and not isinstance(value, bool)
    return True


def _go_type(typ: str, field: str) -> str:
    if typ == "integer":
        return "int64" if field in _INT64_FIELDS else "int32"
    if typ in ("string", TIME, MICRO_TIME):
        return {"string": "string", TIME: "v1.Time", MICRO_TIME: "v1.MicroTime"}[typ]
    if typ in ("boolean", "number"):
        return {"boolean": "bool", "number": "float64"}[typ]
    if typ == QUANTITY:
        return "resource.Quantity"
    if typ == INT_OR_STRING:
        return "intstr.IntOrString"
    if typ.startswith("[]"):
        return "[]" + _go_type(typ[2:], field)
    if typ.startswith("map["):
        return f"map[string]{_go_type(typ[4:-1], field)}"
    return "v1." + typ.rsplit(".", 1)[-1]


def _unmarshal(value: Any, typ: str, path: str, owner: str) -> str:
    kind = _JSON_KINDS.get(type(value), "value")
    if kind == "number" and typ == "integer":
        kind = f"number {value}"  # Go names the literal when a number does not fit the integer type
    field = path.rsplit(".", 1)[-1]
    target = f"Go struct field {owner}.{path}" if owner else "Go value"
    return f"json: cannot unmarshal {kind} into {target} of type {_go_type(typ, field)}"


def strict_decoding_message(resource: Resource, unknown: list[str]) -> str:
    """The 400 message Kubernetes gives for unknown fields with fieldValidation=Strict."""
    detail = ", ".join(f'unknown field "{p}"' for p in unknown)
    return (f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: '
            f"strict decoding error: {detail}")


def unknown_field_warnings(unknown: list[str]) -> list[str]:
    """The `Warning` header texts for fieldValidation=Warn: `unknown field "spec.foo"`."""
    return [f'unknown field "{p}"' for p in unknown]

"""kube-controller-manager for kubemu: control loops that drive the cluster toward its objects' specs.

`python -m services.controller_manager --kubeconfig FILE` runs, in one process and over one shared
set of informers, the controllers `--controllers` selects (default `*`; names as
kube-controller-manager's, e.g. `*,-nodelifecycle`):

| controller | module | does |
|---|---|---|
| deployment-controller | controllers/deployment.py | ReplicaSets per template, rolling/recreate, revisions, status |
| replicaset-controller | controllers/replicaset.py | pods per ReplicaSet, adoption, expectations, status |
| endpointslice-controller | controllers/endpointslice.py | EndpointSlices of Services with a selector |
| endpoints-controller | controllers/endpoints.py | the legacy Endpoints object per Service |
| garbage-collector-controller | controllers/garbagecollector.py | ownerReferences: background/foreground/orphan |
| namespace-controller | controllers/namespace.py | empties and finalizes Terminating namespaces |
| serviceaccount-controller | controllers/serviceaccount.py | the "default" ServiceAccount per namespace |
| node-lifecycle-controller | controllers/nodelifecycle.py | Lease-based node health, conditions, taints |
| taint-eviction-controller | controllers/tainteviction.py | deletes pods whose NoExecute toleration ran out |
| node-ipam-controller | controllers/nodeipam.py | spec.podCIDR per node from --cluster-cidr |
| pod-garbage-collector-controller | controllers/podgc.py | pods of vanished nodes, too many finished pods |
| job-controller | controllers/job.py | pods per Job, finalizer-tracked counts, backoff, deadline, suspend |
| ttl-after-finished-controller | controllers/ttlafterfinished.py | deletes finished Jobs after ttlSecondsAfterFinished |
| cronjob-controller | controllers/cronjob.py | Jobs on a cron schedule, concurrency policy, history |
| daemonset-controller | controllers/daemonset.py | one pod per eligible node, revisions, rolling update, status |
| disruption-controller | controllers/disruption.py | PodDisruptionBudget status: healthy pods, disruptions allowed |

Each controller is informers → event handlers that enqueue keys → a workqueue → `sync(key)`
(base.py). With `--leader-elect` (default) they run only while this process holds the
kube-system/kube-controller-manager Lease. /healthz and /metrics are served on `--secure-port`
(10257, plain HTTP in kubemu).
"""

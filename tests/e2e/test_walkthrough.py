"""The README walkthrough, run as a user runs it: `make up`'s launcher, the real kubectl, curl.

The tests run in file order against one cluster per store (etcd, embedded); each step builds on
the one before, as the walkthrough does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.e2e.conftest import ROOT, Cluster, pod_processes, wait_for

pytestmark = pytest.mark.e2e

EXAMPLES = ROOT / "examples"


def curl(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--max-time", "3", *args, url], capture_output=True, text=True)


def nginx_pods(c: Cluster) -> list[dict]:
    return c.get_json("pods", "-l", "app=nginx")["items"]


def running(pods: list[dict]) -> list[dict]:
    return [p for p in pods if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
            and all(cs.get("ready") for cs in p["status"].get("containerStatuses", []))]


def wait_ready_replicas(c: Cluster, n: int, timeout: float = 60) -> list[dict]:
    return wait_for(f"{n} ready nginx pods", lambda: (lambda r: r if len(r) == n and len(nginx_pods(c)) == n else None)(
        running(nginx_pods(c))), timeout=timeout)


def test_nodes_register_and_become_ready(cluster: Cluster) -> None:
    def ready_nodes():
        nodes = cluster.get_json("nodes")["items"]
        return [n["metadata"]["name"] for n in nodes
                if any(cd["type"] == "Ready" and cd["status"] == "True" for cd in n["status"].get("conditions", []))]
    assert sorted(wait_for("both nodes Ready", lambda: (r := ready_nodes()) and len(r) == 2 and r)) == ["node-1", "node-2"]
    nodes = cluster.get_json("nodes")["items"]
    assert {n["spec"].get("podCIDR") for n in nodes} == {"127.244.1.0/24", "127.244.2.0/24"}


def test_deployment_runs_on_both_nodes_with_distinct_ips(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(EXAMPLES / "nginx-deployment.yaml"))
    cluster.kubectl("apply", "-f", str(EXAMPLES / "nginx-service.yaml"))
    pods = wait_ready_replicas(cluster, 3)
    assert {p["spec"]["nodeName"] for p in pods} == {"node-1", "node-2"}
    ips = [p["status"]["podIP"] for p in pods]
    assert len(set(ips)) == 3 and all(ip.startswith("127.244.") for ip in ips)
    table = cluster.kubectl("get", "pods", "-o", "wide")
    assert table.split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table.count("Running") == 3
    scheduled = [e for e in cluster.log("scheduler") if e.get("event") == "pod.scheduled"]
    assert {e.get("key") for e in scheduled} >= {f"default/{p['metadata']['name']}" for p in pods}


def test_service_answers_on_cluster_ip_and_node_port(cluster: Cluster) -> None:
    svc = cluster.get_json("service", "nginx")
    cluster_ip, port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]
    assert cluster_ip.startswith("127.96.")

    def answers(url: str):
        r = curl(url)
        return r.returncode == 0 and "Welcome to nginx!" in r.stdout

    wait_for("the ClusterIP to answer", lambda: answers(f"http://{cluster_ip}:{port['port']}/"))
    for node_ip in ("127.0.1.1", "127.0.1.2"):
        wait_for(f"NodePort on {node_ip}", lambda: answers(f"http://{node_ip}:{port['nodePort']}/"))


def test_kubectl_logs_shows_the_access_line(cluster: Cluster) -> None:
    pod = running(nginx_pods(cluster))[0]
    name, ip = pod["metadata"]["name"], pod["status"]["podIP"]
    marker = f"/e2e-{int(time.time())}"
    assert curl(f"http://{ip}:80{marker}").returncode == 0
    wait_for("the access line in kubectl logs", lambda: f"GET {marker} HTTP/1.1" in cluster.kubectl("logs", name))


def test_killed_container_is_restarted(cluster: Cluster) -> None:
    pod = running(nginx_pods(cluster))[0]
    name = pod["metadata"]["name"]
    pids = pod_processes(name)
    assert pids, f"no process found for pod {name}"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)

    def restarted():
        p = cluster.get_json("pod", name)
        cs = p["status"]["containerStatuses"][0]
        return cs["restartCount"] == 1 and cs.get("ready") and p
    p = wait_for("restartCount 1 and Ready again", restarted)
    assert "terminated" in p["status"]["containerStatuses"][0]["lastState"]


def test_deleted_pod_is_replaced(cluster: Cluster) -> None:
    victim = running(nginx_pods(cluster))[0]["metadata"]["name"]
    cluster.kubectl("delete", "pod", victim)
    pods = wait_ready_replicas(cluster, 3)
    assert victim not in {p["metadata"]["name"] for p in pods}
    wait_for(f"{victim}'s processes to end", lambda: not pod_processes(victim))


@pytest.mark.parametrize("replicas", [5, 2])
def test_scale(cluster: Cluster, replicas: int) -> None:
    cluster.kubectl("scale", "deployment/nginx", f"--replicas={replicas}")
    wait_ready_replicas(cluster, replicas)


def test_rollout_and_undo(cluster: Cluster) -> None:
    cluster.kubectl("set", "image", "deployment/nginx", "nginx=nginx:1.27")
    cluster.kubectl("rollout", "status", "deployment/nginx", "--timeout=90s", timeout=100)
    assert {p["spec"]["containers"][0]["image"] for p in wait_ready_replicas(cluster, 2)} == {"nginx:1.27"}
    cluster.kubectl("rollout", "undo", "deployment/nginx")
    cluster.kubectl("rollout", "status", "deployment/nginx", "--timeout=90s", timeout=100)
    assert {p["spec"]["containers"][0]["image"] for p in wait_ready_replicas(cluster, 2)} == {"nginx"}


def test_stopped_kubelet_pods_move_to_the_other_node(cluster: Cluster) -> None:
    cluster.kubectl("scale", "deployment/nginx", "--replicas=4")
    pods = wait_ready_replicas(cluster, 4)
    assert {p["spec"]["nodeName"] for p in pods} == {"node-1", "node-2"}
    # Short tolerations so eviction happens in seconds, not the default 300 s.
    cluster.kubectl("patch", "deployment/nginx", "--type=strategic", "-p",
                    '{"spec":{"template":{"spec":{"tolerations":['
                    '{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":2},'
                    '{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":2}]}}}}')
    cluster.kubectl("rollout", "status", "deployment/nginx", "--timeout=90s", timeout=100)
    wait_ready_replicas(cluster, 4)
    kubelet = cluster.pid("kubelet-node-2")
    os.kill(kubelet, signal.SIGSTOP)  # the node's kubelet freezes: no more heartbeats
    try:
        def moved():
            pods = running(nginx_pods(cluster))
            return len(pods) == 4 and {p["spec"]["nodeName"] for p in pods} == {"node-1"} and pods
        wait_for("all 4 pods Running on node-1", moved, timeout=90)
        node = cluster.get_json("node", "node-2")
        assert any(t["key"] == "node.kubernetes.io/unreachable" for t in node["spec"].get("taints", []))
    finally:
        os.kill(kubelet, signal.SIGCONT)

    def untainted():
        taints = cluster.get_json("node", "node-2")["spec"].get("taints", [])
        return not any(t["key"].startswith("node.kubernetes.io/") for t in taints)
    wait_for("node-2 back without taints", untainted, timeout=60)


def test_a_higher_priority_pod_preempts_a_lower_one(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(EXAMPLES / "filler-deployment.yaml"))
    wait_for("2 filler pods running", lambda: len(running(cluster.get_json("pods", "-l", "app=filler")["items"])) == 2)
    cluster.kubectl("apply", "-f", str(EXAMPLES / "urgent-pod.yaml"))

    def urgent_running():
        pod = cluster.get_json("pod", "urgent")
        return pod if running([pod]) else None
    urgent = wait_for("urgent Running", urgent_running)
    assert urgent["spec"]["priority"] == 1000
    assert urgent["status"]["nominatedNodeName"] == urgent["spec"]["nodeName"]
    [event] = cluster.get_json("events", "--field-selector", "reason=Preempted")["items"]
    assert event["involvedObject"]["name"].startswith("filler-")
    assert event["message"] == f"Preempted by pod {urgent['metadata']['uid']} on node {urgent['spec']['nodeName']}"

    def replacement_waits():
        pods = [p for p in cluster.get_json("pods", "-l", "app=filler")["items"]
                if not p["metadata"].get("deletionTimestamp")]
        pending = [p for p in pods if p["status"].get("phase") == "Pending"]
        conditions = [c for p in pending for c in p["status"].get("conditions", []) if c["type"] == "PodScheduled"]
        return len(pods) == 2 and len(pending) == 1 and conditions and conditions[0]
    condition = wait_for("the victim's replacement Pending, unschedulable", replacement_waits)
    assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")
    assert condition["message"].startswith("0/2 nodes are available: 2 Insufficient cpu. preemption: ")
    cluster.kubectl("delete", "-f", str(EXAMPLES / "urgent-pod.yaml"), "-f", str(EXAMPLES / "filler-deployment.yaml"))
    for prefix in ("urgent", "filler"):
        wait_for(f"no {prefix} pod processes", lambda: not pod_processes(prefix), timeout=60)


def test_required_anti_affinity_keeps_one_replica_per_node(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(EXAMPLES / "spread-deployment.yaml"))

    def two_running_one_waiting():
        pods = cluster.get_json("pods", "-l", "app=spread")["items"]
        up, waiting = running(pods), [p for p in pods if p["status"].get("phase") == "Pending"]
        conditions = [c for p in waiting for c in p["status"].get("conditions", []) if c["type"] == "PodScheduled"]
        return len(up) == 2 and len(waiting) == 1 and conditions and (up, conditions[0])
    up, condition = wait_for("2 spread pods running and 1 unschedulable", two_running_one_waiting)
    assert {p["spec"]["nodeName"] for p in up} == {"node-1", "node-2"}
    assert condition["message"].startswith("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.")
    cluster.kubectl("delete", "-f", str(EXAMPLES / "spread-deployment.yaml"))
    wait_for("no spread pod processes", lambda: not pod_processes("spread"), timeout=60)


def test_a_daemonset_runs_one_pod_per_node(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(EXAMPLES / "node-agent-daemonset.yaml"))
    assert "successfully rolled out" in cluster.kubectl("rollout", "status", "ds/node-agent", "--timeout=60s",
                                                        timeout=70)
    pods = cluster.get_json("pods", "-l", "app=node-agent")["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["node-1", "node-2"]
    for p in pods:
        logs = cluster.kubectl("logs", p["metadata"]["name"])
        assert logs.strip() == f"watching {p['spec']['nodeName']}"  # the downward API's spec.nodeName
    assert [r.split()[1] for r in cluster.kubectl("get", "controllerrevisions").splitlines()[1:]] == [
        "daemonset.apps/node-agent"]


def test_drain_respects_the_pod_disruption_budget(cluster: Cluster) -> None:
    cluster.kubectl("scale", "deployment", "nginx", "--replicas=3")
    wait_ready_replicas(cluster, 3)
    cluster.kubectl("create", "pdb", "nginx", "--selector=app=nginx", "--min-available=3")
    wait_for("the budget processed", lambda: (cluster.get_json("pdb", "nginx").get("status") or {}).get(
        "observedGeneration") == 1)
    node = running(nginx_pods(cluster))[0]["spec"]["nodeName"]
    blocked = subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "drain", node,
                              "--ignore-daemonsets", "--timeout=6s"], capture_output=True, text=True, timeout=30)
    assert blocked.returncode != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget." in blocked.stderr
    assert len(running(nginx_pods(cluster))) == 3  # nothing went
    cluster.kubectl("scale", "deployment", "nginx", "--replicas=4")
    wait_ready_replicas(cluster, 4)
    out = cluster.kubectl("drain", node, "--ignore-daemonsets", "--timeout=90s", timeout=100)
    assert f"node/{node} drained" in out
    assert all(p["spec"]["nodeName"] != node for p in running(nginx_pods(cluster)))
    assert len(running(nginx_pods(cluster))) == 4
    cluster.kubectl("uncordon", node)
    cluster.kubectl("delete", "pdb", "nginx")
    cluster.kubectl("delete", "-f", str(EXAMPLES / "node-agent-daemonset.yaml"))
    wait_for("no node-agent pod processes", lambda: not pod_processes("node-agent"), timeout=60)


def test_a_job_runs_to_completion_and_a_cronjob_makes_jobs(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(EXAMPLES / "countdown-job.yaml"))
    assert "condition met" in cluster.kubectl("wait", "--for=condition=complete", "job/countdown", "--timeout=60s",
                                              timeout=70)
    job = cluster.get_json("job", "countdown")
    assert (job["status"]["succeeded"], job["status"].get("failed", 0)) == (3, 0)
    assert [line.split()[:3] for line in cluster.kubectl("get", "jobs").splitlines()[1:]] == [
        ["countdown", "Complete", "3/3"]]
    pods = cluster.get_json("pods", "-l", "batch.kubernetes.io/job-name=countdown")["items"]
    assert len(pods) == 3 and {p["status"]["phase"] for p in pods} == {"Succeeded"}
    assert not any(p["metadata"].get("finalizers") for p in pods)  # counted, so the tracking finalizer is gone
    assert cluster.kubectl("logs", "job/countdown").split() == ["3", "2", "1", "liftoff"]
    # A CronJob's template, run by hand: the Job is the CronJob's, and its pod really runs.
    cluster.kubectl("apply", "-f", str(EXAMPLES / "date-cronjob.yaml"))
    cluster.kubectl("create", "job", "now", "--from=cronjob/date")
    cluster.kubectl("wait", "--for=condition=complete", "job/now", "--timeout=60s", timeout=70)
    assert "hello from a CronJob" in cluster.kubectl("logs", "job/now")
    assert [o["kind"] for o in cluster.get_json("job", "now")["metadata"]["ownerReferences"]] == ["CronJob"]
    cluster.kubectl("delete", "-f", str(EXAMPLES / "date-cronjob.yaml"), "-f", str(EXAMPLES / "countdown-job.yaml"))
    wait_for("the CronJob's and countdown's jobs and pods collected",
             lambda: not cluster.get_json("jobs")["items"] and not cluster.get_json("pods", "-l", "job-name")["items"],
             timeout=60)


def test_deleting_everything_leaves_no_pod_process(cluster: Cluster) -> None:
    cluster.kubectl("delete", "-f", str(EXAMPLES / "nginx-service.yaml"))
    cluster.kubectl("delete", "-f", str(EXAMPLES / "nginx-deployment.yaml"))
    wait_for("no nginx pods", lambda: not nginx_pods(cluster), timeout=60)
    wait_for("no nginx pod processes", lambda: not pod_processes("nginx"), timeout=60)
    assert cluster.get_json("replicasets")["items"] == []

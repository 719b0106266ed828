"""The real kubectl (1.32, via the dispatcher) against kubemu's API server."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.fixtures.apiserver import ApiServerHandle

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


class Kubectl:
    def __init__(self, handle: ApiServerHandle, cache_dir: Path) -> None:
        self.base = ["kubectl", "--kubeconfig", str(handle.kubeconfig), "--cache-dir", str(cache_dir)]

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([*self.base, *args], input=stdin, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def out(self, *args: str, stdin: str | None = None) -> str:
        return self.run(*args, stdin=stdin).stdout

    def json(self, *args: str) -> dict:
        return json.loads(self.out(*args, "-o", "json"))


@pytest.fixture
def kubectl(apiserver: ApiServerHandle, tmp_path: Path) -> Kubectl:
    return Kubectl(apiserver, tmp_path / "kube-cache")


def test_get_raw_healthz(kubectl: Kubectl) -> None:
    assert kubectl.out("get", "--raw", "/healthz") == "ok"


def test_create_get_wide_yaml_json_delete(kubectl: Kubectl) -> None:
    assert "pod/hello created" in kubectl.out("create", "-f", str(EXAMPLES / "pod.yaml"))
    table = kubectl.out("get", "pods")
    assert table.split("\n")[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table.split("\n")[1].split()[:3] == ["hello", "0/1", "Pending"]
    wide = kubectl.out("get", "pods", "-o", "wide").split("\n")[0].split()
    assert wide[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    pod = yaml.safe_load(kubectl.out("get", "pod", "hello", "-o", "yaml"))
    assert pod["metadata"]["name"] == "hello" and pod["spec"]["containers"][0]["image"] == "busybox"
    assert kubectl.json("get", "po", "hello")["metadata"]["uid"] == pod["metadata"]["uid"]
    assert 'pod "hello" deleted' in kubectl.out("delete", "pod", "hello")
    proc = kubectl.run("get", "pod", "hello", check=False)
    assert proc.returncode == 1
    assert 'Error from server (NotFound): pods "hello" not found' in proc.stderr


def test_labels_all_namespaces_and_selectors(kubectl: Kubectl) -> None:
    kubectl.out("create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": "team"}}))
    kubectl.out("run", "a", "--image", "nginx", "--labels", "app=a")
    kubectl.out("run", "b", "--image", "nginx", "-n", "team", "--labels", "app=b")
    rows = kubectl.out("get", "pods", "-A").strip().split("\n")
    assert rows[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert sorted(tuple(r.split()[:2]) for r in rows[1:]) == [("default", "a"), ("team", "b")]
    assert kubectl.out("get", "pods", "-A", "-l", "app=b", "-o", "name").split() == ["pod/b"]
    assert "pod/a labeled" in kubectl.out("label", "pod", "a", "tier=fe")
    assert "pod/a annotated" in kubectl.out("annotate", "pod", "a", "note=hello")
    pod = kubectl.json("get", "pod", "a")
    assert pod["metadata"]["labels"] == {"app": "a", "tier": "fe"}
    assert pod["metadata"]["annotations"]["note"] == "hello"
    assert kubectl.out("get", "pods", "-l", "tier=fe", "-o", "name").split() == ["pod/a"]
    assert "a" in kubectl.out("get", "pods", "--show-labels")


def test_apply_twice_then_change_scale_and_describe(kubectl: Kubectl) -> None:
    path = str(EXAMPLES / "nginx-deployment.yaml")
    assert "deployment.apps/nginx created" in kubectl.out("apply", "-f", path)
    second = kubectl.out("apply", "-f", path)
    assert "deployment.apps/nginx" in second and ("unchanged" in second or "configured" in second)
    changed = Path(path).read_text().replace("replicas: 3", "replicas: 2").replace("image: nginx",
                                                                                  "image: nginx:1.27")
    assert "deployment.apps/nginx configured" in kubectl.out("apply", "-f", "-", stdin=changed)
    dep = kubectl.json("get", "deploy", "nginx")
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    assert dep["metadata"]["generation"] == 2
    assert "deployment.apps/nginx scaled" in kubectl.out("scale", "deploy", "nginx", "--replicas=5")
    assert kubectl.json("get", "deploy", "nginx")["spec"]["replicas"] == 5
    header = kubectl.out("get", "deploy").split("\n")[0].split()
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    described = kubectl.out("describe", "deploy", "nginx")
    assert "Name:" in described and "nginx" in described and "Replicas:" in described


def test_apply_server_side_creates_and_updates(kubectl: Kubectl) -> None:
    path = str(EXAMPLES / "nginx-service.yaml")
    assert "service/nginx serverside-applied" in kubectl.out("apply", "--server-side", "-f", path)
    svc = kubectl.json("get", "svc", "nginx")
    assert svc["spec"]["clusterIP"].startswith("127.96.")
    assert 30000 <= svc["spec"]["ports"][0]["nodePort"] <= 32767
    assert "serverside-applied" in kubectl.out("apply", "--server-side", "-f", path)
    row = kubectl.out("get", "svc", "nginx").split("\n")[1].split()
    assert row[:2] == ["nginx", "NodePort"] and row[4].startswith("80:")


def test_replace_and_describe_pod(kubectl: Kubectl) -> None:
    kubectl.out("create", "-f", str(EXAMPLES / "pod.yaml"))
    pod = yaml.safe_load(kubectl.out("get", "pod", "hello", "-o", "yaml"))
    pod["metadata"]["labels"]["replaced"] = "yes"
    assert "pod/hello replaced" in kubectl.out("replace", "-f", "-", stdin=yaml.safe_dump(pod))
    assert kubectl.json("get", "pod", "hello")["metadata"]["labels"]["replaced"] == "yes"
    stale = kubectl.run("replace", "-f", "-", stdin=yaml.safe_dump(pod), check=False)
    assert stale.returncode != 0 and "Conflict" in stale.stderr
    described = kubectl.out("describe", "pod", "hello")
    assert "Name:" in described and "hello" in described and "Tolerations:" in described


def test_get_watch(kubectl: Kubectl) -> None:
    kubectl.out("run", "first", "--image", "nginx")
    proc = subprocess.Popen([*kubectl.base, "get", "pods", "-w", "--request-timeout=4s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        kubectl.out("run", "second", "--image", "nginx")
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    names = [line.split()[0] for line in out.strip().split("\n")[1:]]
    assert "first" in names and "second" in names


def test_namespace_lifecycle(kubectl: Kubectl) -> None:
    kubectl.out("create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": "doomed"}}))
    kubectl.out("delete", "namespace", "doomed", "--wait=false")
    assert kubectl.json("get", "ns", "doomed")["status"]["phase"] == "Terminating"
    refused = kubectl.run("run", "x", "-n", "doomed", "--image", "nginx", check=False)
    assert refused.returncode != 0 and "because it is being terminated" in refused.stderr
    protected = kubectl.run("delete", "ns", "default", check=False)
    assert "this namespace may not be deleted" in protected.stderr


def test_invalid_and_unknown_field_errors(kubectl: Kubectl) -> None:
    bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    proc = kubectl.run("create", "-f", "-", stdin=json.dumps(bad), check=False)
    assert proc.returncode != 0 and 'The Pod "Bad_Name" is invalid' in proc.stderr
    typo = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "typo"},
            "spec": {"containers": [{"name": "c", "image": "nginx", "imagee": "x"}]}}
    proc = kubectl.run("create", "-f", "-", stdin=json.dumps(typo), check=False)
    assert proc.returncode != 0 and "imagee" in proc.stderr


def test_create_generators_send_protobuf(kubectl: Kubectl) -> None:
    assert "namespace/gen created" in kubectl.out("create", "namespace", "gen")
    assert "configmap/cfg created" in kubectl.out("create", "configmap", "cfg", "--from-literal=a=b", "-n", "gen")
    assert "secret/sec created" in kubectl.out("create", "secret", "generic", "sec", "--from-literal=a=b")
    assert "serviceaccount/robot created" in kubectl.out("create", "serviceaccount", "robot")
    assert "deployment.apps/web created" in kubectl.out("create", "deployment", "web", "--image", "nginx",
                                                        "--replicas", "2", "--port", "80")
    assert "service/web created" in kubectl.out("create", "service", "nodeport", "web", "--tcp=80:8080")
    assert kubectl.json("get", "cm", "cfg", "-n", "gen")["data"] == {"a": "b"}
    assert kubectl.json("get", "secret", "sec")["data"] == {"a": "Yg=="}
    dep = kubectl.json("get", "deploy", "web")
    assert dep["spec"]["replicas"] == 2 and dep["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx" and container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    svc = kubectl.json("get", "svc", "web")
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["targetPort"] == 8080
    assert "priorityclass.scheduling.k8s.io/batch created" in kubectl.out(
        "create", "priorityclass", "batch", "--value=5", "--description=five", "--preemption-policy=Never")
    pc = kubectl.json("get", "priorityclass", "batch")
    assert (pc["value"], pc["description"], pc["preemptionPolicy"], pc.get("globalDefault", False)) == (
        5, "five", "Never", False)


def test_exec_and_logs_go_through_the_kubelet(kubectl: Kubectl, apiserver: ApiServerHandle) -> None:
    """`kubectl exec` speaks v5.channel.k8s.io WebSockets, `kubectl logs` plain HTTP; the API server
    relays both to the pod's kubelet (here a fake one)."""
    import asyncio
    import threading

    from aiohttp import web

    from tests.conftest import free_port

    seen: dict = {}

    async def exec_handler(request: web.Request) -> web.WebSocketResponse:
        seen.update(path=request.path, command=request.query.getall("command"))
        ws = web.WebSocketResponse(protocols=["v5.channel.k8s.io", "v4.channel.k8s.io"])
        await ws.prepare(request)
        await ws.send_bytes(b"\x01" + " ".join(seen["command"][1:]).encode() + b"\n")
        await ws.send_bytes(b"\x03" + json.dumps({"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                                                    "details": {"causes": [{"reason": "ExitCode",
                                                                            "message": "3"}]}}).encode())
        await ws.close()
        return ws

    async def logs_handler(request: web.Request) -> web.Response:
        seen.update(log_query=dict(request.query))
        return web.Response(text="first line\nsecond line\n")

    port = free_port()
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/exec/{ns}/{pod}/{container}", exec_handler)
    app.router.add_get("/containerLogs/{ns}/{pod}/{container}", logs_handler)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
                "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                           "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}
        kubectl.out("create", "-f", "-", stdin=json.dumps(node))
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "box"},
               "spec": {"nodeName": "node-1", "containers": [{"name": "main", "image": "busybox"}]}}
        kubectl.out("create", "-f", "-", stdin=json.dumps(pod))
        proc = kubectl.run("exec", "box", "--", "echo", "hello", "world", check=False)
        assert proc.stdout == "hello world\n", proc.stderr
        assert proc.returncode == 3
        assert seen["path"] == "/exec/default/box/main" and seen["command"] == ["echo", "hello", "world"]
        assert kubectl.out("logs", "box", "--tail", "5") == "first line\nsecond line\n"
        assert seen["log_query"]["tailLines"] == "5"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_auth_can_i_and_whoami(kubectl: Kubectl) -> None:
    assert kubectl.out("auth", "can-i", "create", "pods").strip() == "yes"
    assert "admin" in kubectl.out("auth", "whoami")


PRIORITY_MANIFESTS = """
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
description: for the pods that matter
---
apiVersion: v1
kind: Pod
metadata: {name: important}
spec:
  priorityClassName: high
  containers: [{name: c, image: busybox}]
"""


def test_priority_classes_set_pod_priority(kubectl: Kubectl) -> None:
    table = [line.split() for line in kubectl.out("get", "priorityclasses").strip().split("\n")]
    assert table[0] == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert [(r[0], r[1], r[2], r[-1]) for r in table[1:]] == [
        ("system-cluster-critical", "2000000000", "false", "PreemptLowerPriority"),
        ("system-node-critical", "2000001000", "false", "PreemptLowerPriority")]
    out = kubectl.out("apply", "-f", "-", stdin=PRIORITY_MANIFESTS)
    assert "priorityclass.scheduling.k8s.io/high created" in out and "pod/important created" in out
    spec = kubectl.json("get", "pod", "important")["spec"]
    assert (spec["priorityClassName"], spec["priority"], spec["preemptionPolicy"]) == ("high", 1000,
                                                                                       "PreemptLowerPriority")
    assert kubectl.out("get", "pc", "high", "-o", "jsonpath={.value}") == "1000"
    bad = kubectl.run("run", "nobody", "--image=busybox", "--overrides",
                      '{"spec": {"priorityClassName": "nope"}}', check=False)
    assert bad.returncode == 1
    assert 'Error from server (Forbidden): pods "nobody" is forbidden: no PriorityClass with name nope was found' \
        in bad.stderr
    gone = kubectl.run("delete", "pc", "system-node-critical", check=False)
    assert 'is forbidden: this is a system priority class and cannot be deleted' in gone.stderr
    assert kubectl.run("patch", "pc", "high", "--type=merge", "-p", '{"value": 5}', check=False).returncode == 1


JOB_WITHOUT_RESTART_POLICY = """
apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  template:
    spec:
      containers: [{name: pi, image: busybox, command: [sh, -c, "echo 3.14"]}]
"""


def test_jobs_create_get_apply_and_immutable_template(kubectl: Kubectl) -> None:
    # `kubectl create job` sends a protobuf body; the server generates the selector and labels.
    assert kubectl.out("create", "job", "hello", "--image=busybox", "--", "echo", "hi").strip() == \
        "job.batch/hello created"
    job = kubectl.json("get", "job", "hello")
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert job["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "hello"
    assert (job["spec"]["completions"], job["spec"]["parallelism"], job["spec"]["backoffLimit"]) == (1, 1, 6)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    table = [line.split() for line in kubectl.out("get", "jobs").strip().split("\n")]
    assert table[0] == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert table[1][:3] == ["hello", "Running", "0/1"]
    assert "job.batch/hello" in kubectl.out("get", "all")
    # A Job's pods may not restart in place forever: restartPolicy must be OnFailure or Never.
    bad = kubectl.run("apply", "-f", "-", stdin=JOB_WITHOUT_RESTART_POLICY, check=False)
    assert bad.returncode == 1
    assert 'The Job "pi" is invalid: spec.template.spec.restartPolicy: Required value: valid values: ' \
           '"OnFailure", "Never"' in bad.stderr
    fixed = JOB_WITHOUT_RESTART_POLICY.replace("    spec:\n", "    spec:\n      restartPolicy: Never\n")
    assert "job.batch/pi created" in kubectl.out("apply", "-f", "-", stdin=fixed)
    assert "job.batch/pi unchanged" in kubectl.out("apply", "-f", "-", stdin=fixed)
    changed = kubectl.run("apply", "-f", "-", stdin=fixed.replace("3.14", "2.71"), check=False)
    assert changed.returncode == 1
    assert 'The Job "pi" is invalid: spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable' \
        in changed.stderr
    assert kubectl.json("get", "job", "pi")["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "echo 3.14"
    described = {line.split(":", 1)[0]: line.split(":", 1)[1].strip()
                 for line in kubectl.out("describe", "job", "pi").splitlines() if ":" in line and line[0] != " "}
    assert (described["Completions"], described["Backoff Limit"], described["Pods Statuses"]) == (
        "1", "6", "0 Active / 0 Succeeded / 0 Failed")


def test_cronjobs_create_get_and_job_from_cronjob(kubectl: Kubectl) -> None:
    assert kubectl.out("create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--",
                       "echo", "tock").strip() == "cronjob.batch/tick created"
    table = [line.split() for line in kubectl.out("get", "cj").strip().split("\n")]
    assert table[0] == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
    assert table[1][:8] == ["tick", "*/5", "*", "*", "*", "*", "<none>", "False"]
    spec = kubectl.json("get", "cronjob", "tick")["spec"]
    assert (spec["concurrencyPolicy"], spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (
        "Allow", 3, 1)
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    bad = kubectl.run("create", "cronjob", "bad", "--image=busybox", "--schedule=* * *", check=False)
    assert 'spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]' in bad.stderr
    # `kubectl create job --from=cronjob/...` copies the template and makes the CronJob its owner.
    assert "job.batch/by-hand created" in kubectl.out("create", "job", "by-hand", "--from=cronjob/tick")
    job = kubectl.json("get", "job", "by-hand")
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert [(o["kind"], o["name"]) for o in job["metadata"]["ownerReferences"]] == [("CronJob", "tick")]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "tock"]


def test_daemonsets_apply_get_and_validation(kubectl: Kubectl) -> None:
    manifest = (Path(__file__).resolve().parents[3] / "examples" / "node-agent-daemonset.yaml").read_text()
    assert "daemonset.apps/node-agent created" in kubectl.out("apply", "-f", "-", stdin=manifest)
    assert "daemonset.apps/node-agent unchanged" in kubectl.out("apply", "-f", "-", stdin=manifest)
    table = [line.split() for line in kubectl.out("get", "ds").strip().split("\n")]
    assert table[0] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR", "AGE"]
    assert table[1][:7] == ["node-agent", "0", "0", "0", "0", "0", "kubernetes.io/os=linux"]
    strategy = kubectl.json("get", "daemonset", "node-agent")["spec"]["updateStrategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    both = kubectl.run("patch", "ds", "node-agent", "--type=merge", "-p",
                       '{"spec":{"updateStrategy":{"rollingUpdate":{"maxSurge":1}}}}', check=False)
    assert 'The DaemonSet "node-agent" is invalid: spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: ' \
           'may not be set when maxUnavailable is non-zero' in both.stderr
    assert kubectl.json("get", "ds", "node-agent")["spec"]["updateStrategy"]["rollingUpdate"]["maxSurge"] == 0


def test_pod_disruption_budgets_create_and_get(kubectl: Kubectl) -> None:
    # `kubectl create pdb` sends a protobuf body with an IntOrString.
    assert kubectl.out("create", "pdb", "web", "--selector=app=web", "--min-available=50%").strip() == \
        "poddisruptionbudget.policy/web created"
    assert kubectl.json("get", "pdb", "web")["spec"] == {"minAvailable": "50%",
                                                         "selector": {"matchLabels": {"app": "web"}}}
    table = [line.split() for line in kubectl.out("get", "pdb").strip().split("\n")]
    assert table[0] == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"]
    assert table[1][:4] == ["web", "50%", "N/A", "0"]
    both = kubectl.run("create", "pdb", "both", "--selector=app=web", "--min-available=1", "--max-unavailable=1",
                       check=False)
    assert both.returncode != 0  # kubectl itself refuses both; the API server would too
    bad = kubectl.run("patch", "pdb", "web", "--type=merge", "-p", '{"spec":{"maxUnavailable":1}}', check=False)
    assert 'spec: Invalid value: policy.PodDisruptionBudgetSpec{...}: minAvailable and maxUnavailable cannot be ' \
           'both set' in bad.stderr

"""`python -m services.kubelet`: parse the kubelet's flags (named as the real kubelet's) and run.

`python -m services.kubelet shutdown-node --root-dir DIR` stops every container a kubelet left
running under DIR (what a node shutdown does; the launcher calls it after stopping the kubelets).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path

from shared.client import ApiClient, add_client_flags
from shared.service import add_common_flags, add_flag, env_default, run_service, setup_logging
from services.kubelet.app import create_app
from services.kubelet.config import KubeletConfig

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text: str) -> float:
    """Seconds from `10`, `10s`, `500ms`, `1m30s` (Go durations, as the kubelet's flags take)."""
    text = str(text).strip()
    if re.fullmatch(r"[0-9.]+", text):
        return float(text)
    parts = re.findall(r"([0-9.]+)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def key_values(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if item) if text else {}


def taints(text: str) -> list[dict[str, str]]:
    out = []
    for item in filter(None, (text or "").split(",")):
        kv, _, effect = item.partition(":")
        key, _, value = kv.partition("=")
        out.append({"key": key, **({"value": value} if value else {}), "effect": effect})
    return out


def default_node_ip(node_name: str) -> str:
    match = re.fullmatch(r".*?-(\d+)", node_name)
    n = int(match.group(1)) if match else 1
    return f"127.0.1.{n}" if 0 < n < 255 else "127.0.1.1"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = KubeletConfig()
    p = argparse.ArgumentParser(prog="kubelet", description="kubemu's kubelet")
    add_common_flags(p)
    add_client_flags(p)
    add_flag(p, "--node-name", "--hostname-override", env="KUBEMU_NODE_NAME", default=d.node_name,
          help="this node's name")
    add_flag(p, "--node-ip", env="KUBEMU_NODE_IP", default="", help="InternalIP; node-N -> 127.0.1.N")
    add_flag(p, "--port", env="KUBEMU_KUBELET_PORT", default=d.port, type=int, help="the kubelet API's port")
    add_flag(p, "--pod-cidr", env="KUBEMU_POD_CIDR", default="", help="pod CIDR when the Node has no spec.podCIDR")
    add_flag(p, "--max-pods", env="KUBEMU_MAX_PODS", default=d.max_pods, type=int)
    add_flag(p, "--cpu", env="KUBEMU_NODE_CPU", default=d.cpu, help="the node's CPU capacity")
    add_flag(p, "--memory", env="KUBEMU_NODE_MEMORY", default=d.memory, help="the node's memory capacity")
    add_flag(p, "--root-dir", env="KUBEMU_KUBELET_ROOT_DIR", default="",
          help="state: sandboxes, containers, logs; default .kubemu/kubelet/<node>")
    p.add_argument("--runtime", "--container-runtime", choices=["process", "fake"],
                   default=env_default("KUBEMU_KUBELET_RUNTIME", d.runtime), help="container runtime")
    add_flag(p, "--fake-start-delay", env="KUBEMU_FAKE_START_DELAY", default=0.0, type=duration,
          help="how long a fake container takes to run")
    add_flag(p, "--node-labels", env="KUBEMU_NODE_LABELS", default="", type=key_values, help="k=v,k2=v2")
    add_flag(p, "--register-with-taints", env="KUBEMU_REGISTER_WITH_TAINTS", default="", type=taints,
          help="key=value:Effect,...")
    add_flag(p, "--node-status-update-frequency", env="KUBEMU_NODE_STATUS_UPDATE_FREQUENCY",
          default=d.node_status_update_frequency, type=duration)
    add_flag(p, "--node-status-report-frequency", env="KUBEMU_NODE_STATUS_REPORT_FREQUENCY",
          default=d.node_status_report_frequency, type=duration)
    add_flag(p, "--node-lease-duration-seconds", "--node-lease-duration", env="KUBEMU_NODE_LEASE_DURATION",
          default=d.node_lease_duration_seconds, type=int)
    add_flag(p, "--node-lease-renew-interval", env="KUBEMU_NODE_LEASE_RENEW_INTERVAL",
          default=d.node_lease_renew_interval, type=duration)
    add_flag(p, "--crashloop-backoff-base", env="KUBEMU_CRASHLOOP_BACKOFF_BASE", default=d.crashloop_backoff_base,
          type=duration)
    add_flag(p, "--crashloop-backoff-max", env="KUBEMU_CRASHLOOP_BACKOFF_MAX", default=d.crashloop_backoff_max,
          type=duration)
    add_flag(p, "--image-pull-backoff-base", env="KUBEMU_IMAGE_PULL_BACKOFF_BASE", default=d.image_pull_backoff_base,
          type=duration)
    add_flag(p, "--image-pull-backoff-max", env="KUBEMU_IMAGE_PULL_BACKOFF_MAX", default=d.image_pull_backoff_max,
          type=duration)
    add_flag(p, "--sync-frequency", env="KUBEMU_SYNC_FREQUENCY", default=d.sync_frequency, type=duration)
    add_flag(p, "--minimum-grace-period", env="KUBEMU_MINIMUM_GRACE_PERIOD", default=d.minimum_grace_period,
          type=duration, help="least seconds a container gets between its stop signal and SIGKILL")
    add_flag(p, "--hollow-nodes", env="KUBEMU_HOLLOW_NODES", default=0, type=int,
          help="run this many fake-runtime nodes in this process")
    add_flag(p, "--hollow-node-prefix", env="KUBEMU_HOLLOW_NODE_PREFIX", default=d.hollow_node_prefix)
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> KubeletConfig:
    return KubeletConfig(
        node_name=args.node_name, node_ip=args.node_ip or default_node_ip(args.node_name), port=args.port,
        pod_cidr=args.pod_cidr, max_pods=args.max_pods, cpu=args.cpu, memory=args.memory,
        root_dir=Path(args.root_dir or f".kubemu/kubelet/{args.node_name}").absolute(), runtime=args.runtime,
        fake_start_delay=args.fake_start_delay, node_labels=args.node_labels,
        register_with_taints=args.register_with_taints,
        node_status_update_frequency=args.node_status_update_frequency,
        node_status_report_frequency=args.node_status_report_frequency,
        node_lease_duration_seconds=args.node_lease_duration_seconds,
        node_lease_renew_interval=args.node_lease_renew_interval,
        crashloop_backoff_base=args.crashloop_backoff_base, crashloop_backoff_max=args.crashloop_backoff_max,
        image_pull_backoff_base=args.image_pull_backoff_base, image_pull_backoff_max=args.image_pull_backoff_max,
        sync_frequency=args.sync_frequency, minimum_grace_period=args.minimum_grace_period,
        hollow_nodes=args.hollow_nodes, hollow_node_prefix=args.hollow_node_prefix,
    )


def shutdown_node(argv: list[str]) -> None:
    from services.kubelet.runtime.process import shutdown_node as stop_all

    p = argparse.ArgumentParser(prog="kubelet shutdown-node")
    p.add_argument("--root-dir", required=True)
    p.add_argument("--grace-period", type=duration, default=10.0)
    args = p.parse_args(argv)
    for line in asyncio.run(stop_all(Path(args.root_dir), grace=args.grace_period)):
        print(line, flush=True)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["shutdown-node"]:
        return shutdown_node(argv[1:])
    args = parse_args(argv)
    setup_logging("kubelet", args)
    config = config_from_args(args)
    app = create_app(config, client=ApiClient.from_args(args))
    run_service(app, host=config.node_ip, port=config.port)


if __name__ == "__main__":
    main()

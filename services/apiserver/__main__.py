"""`python -m services.apiserver`: parse flags (each with an env default) and serve the API."""

from __future__ import annotations

import argparse
from pathlib import Path

from services.apiserver import tls
from services.apiserver.app import create_app
from services.apiserver.config import ApiServerConfig
from shared.service import add_common_flags, env_default, run_service, setup_logging, use_uvloop


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m services.apiserver", description="kubemu's kube-apiserver")
    add_common_flags(p)
    p.add_argument("--bind-address", default=env_default("KUBEMU_BIND_ADDRESS", "127.0.0.1"),
                   help="address to serve HTTPS on (env KUBEMU_BIND_ADDRESS)")
    p.add_argument("--port", "--secure-port", type=int, default=int(env_default("KUBEMU_PORT", "6443")),
                   help="HTTPS port (env KUBEMU_PORT)")
    p.add_argument("--storage", choices=["etcd", "embedded"], default=env_default("KUBEMU_STORAGE"),
                   help="store (default: etcd when --etcd-servers is given, else embedded; env KUBEMU_STORAGE)")
    p.add_argument("--etcd-servers", default=env_default("KUBEMU_ETCD_SERVERS"),
                   help="comma-separated etcd URLs (env KUBEMU_ETCD_SERVERS)")
    p.add_argument("--etcd-prefix", default=env_default("KUBEMU_ETCD_PREFIX", "/registry"),
                   help="key prefix of every object: <prefix>/<resource>/<namespace>/<name> (env KUBEMU_ETCD_PREFIX)")
    p.add_argument("--data-dir", default=env_default("KUBEMU_DATA_DIR", "/var/lib/kubemu"),
                   help="embedded store directory (env KUBEMU_DATA_DIR)")
    p.add_argument("--cert-dir", default=env_default("KUBEMU_CERT_DIR", "/var/run/kubemu"),
                   help="where the self-signed CA and serving cert are kept (env KUBEMU_CERT_DIR)")
    p.add_argument("--tls-cert-file", default=env_default("KUBEMU_TLS_CERT_FILE"),
                   help="serving certificate (default: generated in --cert-dir; env KUBEMU_TLS_CERT_FILE)")
    p.add_argument("--tls-private-key-file", default=env_default("KUBEMU_TLS_PRIVATE_KEY_FILE"),
                   help="its private key (env KUBEMU_TLS_PRIVATE_KEY_FILE)")
    p.add_argument("--insecure-http", action="store_true",
                   default=env_default("KUBEMU_INSECURE_HTTP", "") in ("1", "true"),
                   help="serve plain HTTP (kubectl then sends no token; for debugging only)")
    p.add_argument("--token-auth-file", default=env_default("KUBEMU_TOKEN_AUTH_FILE"),
                   help='CSV of token,user,uid,"group1,group2" (none: everyone is anonymous; '
                        "env KUBEMU_TOKEN_AUTH_FILE)")
    p.add_argument("--service-cluster-ip-range", default=env_default("KUBEMU_SERVICE_CLUSTER_IP_RANGE",
                                                                      "127.96.0.0/16"),
                   help="CIDR ClusterIPs come from (env KUBEMU_SERVICE_CLUSTER_IP_RANGE)")
    p.add_argument("--service-node-port-range", default=env_default("KUBEMU_SERVICE_NODE_PORT_RANGE",
                                                                     "30000-32767"),
                   help="NodePort range (env KUBEMU_SERVICE_NODE_PORT_RANGE)")
    p.add_argument("--watch-cache-size", type=int, default=int(env_default("KUBEMU_WATCH_CACHE_SIZE", "10000")),
                   help="events kept per resource; older resourceVersions get 410 Gone (env KUBEMU_WATCH_CACHE_SIZE)")
    p.add_argument("--watch-bookmark-interval", type=float,
                   default=float(env_default("KUBEMU_WATCH_BOOKMARK_INTERVAL", "60")),
                   help="seconds between BOOKMARK events (env KUBEMU_WATCH_BOOKMARK_INTERVAL)")
    p.add_argument("--min-request-timeout", type=float,
                   default=float(env_default("KUBEMU_MIN_REQUEST_TIMEOUT", "1800")),
                   help="a watch without timeoutSeconds lasts this to twice this long (env KUBEMU_MIN_REQUEST_TIMEOUT)")
    p.add_argument("--etcd-compaction-interval", type=float,
                   default=float(env_default("KUBEMU_ETCD_COMPACTION_INTERVAL", "300")),
                   help="seconds between compactions of the store's history, 0 for none "
                        "(env KUBEMU_ETCD_COMPACTION_INTERVAL)")
    p.add_argument("--kubelet-scheme", choices=["http", "https"],
                   default=env_default("KUBEMU_KUBELET_SCHEME", "http"),
                   help="how to reach kubelets for logs and exec (env KUBEMU_KUBELET_SCHEME)")
    p.add_argument("--max-requests-inflight", type=int,
                   default=int(env_default("KUBEMU_MAX_REQUESTS_INFLIGHT", "400")),
                   help="get/list requests served at once, more get 429; 0 for no limit "
                        "(env KUBEMU_MAX_REQUESTS_INFLIGHT)")
    p.add_argument("--max-mutating-requests-inflight", type=int,
                   default=int(env_default("KUBEMU_MAX_MUTATING_REQUESTS_INFLIGHT", "200")),
                   help="other (mutating) requests served at once, more get 429; 0 for no limit "
                        "(env KUBEMU_MAX_MUTATING_REQUESTS_INFLIGHT)")
    p.add_argument("--authorization-mode", type=_authorization_mode,
                   default=env_default("KUBEMU_AUTHORIZATION_MODE", "AlwaysAllow"),
                   help="comma-separated authorizers: AlwaysAllow (the default, as kube-apiserver's), "
                        "AlwaysDeny, RBAC (env KUBEMU_AUTHORIZATION_MODE)")
    return p.parse_args(argv)


def _authorization_mode(value: str) -> str:
    from services.apiserver.rbac import MODES

    modes = [m.strip() for m in value.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if not modes or unknown:
        raise argparse.ArgumentTypeError(f"authorization modes {unknown or [value]} are not known; use "
                                         f"{', '.join(MODES)}")
    return ",".join(modes)


def config_from_args(args: argparse.Namespace) -> ApiServerConfig:
    storage = args.storage or ("etcd" if args.etcd_servers else "embedded")
    return ApiServerConfig(
        bind_address=args.bind_address, port=args.port, storage=storage,
        etcd_servers=[s for s in (args.etcd_servers or "http://127.0.0.1:2379").split(",") if s],
        etcd_prefix=args.etcd_prefix, data_dir=Path(args.data_dir), tls=not args.insecure_http,
        cert_dir=Path(args.cert_dir),
        tls_cert_file=Path(args.tls_cert_file) if args.tls_cert_file else None,
        tls_private_key_file=Path(args.tls_private_key_file) if args.tls_private_key_file else None,
        token_auth_file=Path(args.token_auth_file) if args.token_auth_file else None,
        service_cluster_ip_range=args.service_cluster_ip_range,
        service_node_port_range=args.service_node_port_range, watch_cache_size=args.watch_cache_size,
        min_request_timeout=args.min_request_timeout, kubelet_scheme=args.kubelet_scheme,
        bookmark_interval=args.watch_bookmark_interval, compaction_interval=args.etcd_compaction_interval,
        max_requests_inflight=args.max_requests_inflight,
        max_mutating_requests_inflight=args.max_mutating_requests_inflight,
        authorization_mode=args.authorization_mode,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging("apiserver", args)
    use_uvloop()
    config = config_from_args(args)
    ssl_context = tls.ssl_context_for(config) if config.tls else None
    run_service(create_app(config), host=config.bind_address, port=config.port, ssl_context=ssl_context,
                shutdown_timeout=config.shutdown_timeout)


if __name__ == "__main__":
    main()

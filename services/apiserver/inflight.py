"""kube-apiserver's max-in-flight filter (`--max-requests-inflight`, `--max-mutating-requests-inflight`).

Guarantees (as k8s.io/apiserver's WithMaxInFlightLimit, the filter used when API Priority and
Fairness is off; kubemu has no APF):
- At most `read_only` get/list requests and `mutating` requests of every other verb are served
  at once; a limit of 0 leaves that kind unlimited.
- Long-running requests are never counted: watches and the log, exec, attach, portforward and
  proxy subresources (kube-apiserver's BasicLongRunningRequestCheck).
- A request over the limit is answered at once, not queued: 429 with `Retry-After: 1` and
  kube-apiserver's plain-text body "Too many requests, please try again later." (that filter
  answers with http.Error, not a Status). Clients retry after Retry-After, as client-go does.
- Members of `system:masters` are always served ("a system:master is so powerful that they should
  always get an answer"), though they still count while they are served.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

MASTERS = "system:masters"
RETRY_AFTER = "1"
MESSAGE = "Too many requests, please try again later.\n"
READ_ONLY, MUTATING = "readOnly", "mutating"  # the request_kind label values
_LONG_RUNNING_SUBRESOURCES = frozenset({"log", "exec", "attach", "portforward", "proxy"})
_TRUE = frozenset({"true", "1"})


def request_kind(request: web.Request) -> str | None:
    """READ_ONLY, MUTATING, or None for a long-running request (not limited)."""
    read = request.method in ("GET", "HEAD")
    parts = [p for p in request.path.split("/") if p]
    if parts[:1] in (["api"], ["apis"]):
        # /api/v1/... or /apis/<group>/<version>/...: then [watch/][namespaces/<ns>/]<resource>/<name>/<sub>
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        if read and (rest[:1] == ["watch"] or request.query.get("watch", "").lower() in _TRUE):
            return None
        if len(rest) >= 3 and rest[0] == "namespaces":
            rest = rest[2:]
        if len(rest) >= 3 and rest[2] in _LONG_RUNNING_SUBRESOURCES:
            return None
    return READ_ONLY if read else MUTATING


class MaxInFlight:
    def __init__(self, read_only: int, mutating: int) -> None:
        self.limits = {READ_ONLY: read_only, MUTATING: mutating}
        self.current = {READ_ONLY: 0, MUTATING: 0}

    def admit(self, kind: str | None, groups: tuple[str, ...]) -> Callable[[], None] | None:
        """Count a request of `kind` in; its release function, or None when it must get a 429.
        A long-running request (kind None) is not counted."""
        if kind is None:
            return _nothing
        limit = self.limits[kind]
        if limit and self.current[kind] >= limit and MASTERS not in groups:
            return None
        self.current[kind] += 1

        def release() -> None:
            self.current[kind] -= 1

        return release


def _nothing() -> None:
    pass


def too_many_requests() -> web.Response:
    return web.Response(status=429, text=MESSAGE, headers={"Retry-After": RETRY_AFTER,
                                                           "X-Content-Type-Options": "nosniff"})

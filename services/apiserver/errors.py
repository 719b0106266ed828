"""Kubernetes `Status` errors, with kube-apiserver's exact reasons, codes and message shapes.

Guarantees: every failure the API server answers is an `ApiStatusError` carrying a `Status` dict
(`kind: Status`, `status: Failure`, `reason`, `code`, `message`, `details`), built by the helpers
below so that messages read the way kube-apiserver's do (`pods "x" not found`, `Operation cannot be
fulfilled on ...`, `Pod "x" is invalid: spec.containers[0].image: Required value`).
"""

from __future__ import annotations

from typing import Any

MAX_BODY_BYTES = 3 * 1024 * 1024


class ApiStatusError(Exception):
    """An error the API server answers as a `Status` object with `code`."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None,
                 *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        return status_object(self.code, self.reason, self.message, self.details)


def status_object(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:  # Kubernetes' errors carry details, `{}` when there is nothing to say
        body["details"] = details
    return body


def success_status(*, name: str, group: str, kind: str, uid: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "group": group, "kind": kind}
    if uid:
        details["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def qualified(plural: str, group: str) -> str:
    """`pods`, `deployments.apps`: how kube-apiserver names a resource in messages."""
    return f"{plural}.{group}" if group else plural


def _details(name: str | None, plural: str, group: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = plural
    details.update(extra)
    return details


def not_found(plural: str, group: str, name: str) -> ApiStatusError:
    return ApiStatusError(404, "NotFound", f'{qualified(plural, group)} "{name}" not found',
                          _details(name, plural, group))


def path_not_found() -> ApiStatusError:
    return ApiStatusError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(plural: str, group: str, name: str) -> ApiStatusError:
    return ApiStatusError(409, "AlreadyExists", f'{qualified(plural, group)} "{name}" already exists',
                          _details(name, plural, group))


def conflict(plural: str, group: str, name: str, why: str) -> ApiStatusError:
    return ApiStatusError(
        409, "Conflict", f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": {why}',
        _details(name, plural, group))


MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def stale(plural: str, group: str, name: str) -> ApiStatusError:
    return conflict(plural, group, name, MODIFIED)


def invalid(kind: str, group: str, name: str, causes: list[dict[str, Any]]) -> ApiStatusError:
    """422 with one cause per field: `{"reason": "FieldValueRequired", "message": ..., "field": ...}`."""
    parts = [_cause_text(c) for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details = {"name": name, "group": group, "kind": kind, "causes": causes} if group else \
        {"name": name, "kind": kind, "causes": causes}
    return ApiStatusError(422, "Invalid", f'{kind}{"." + group if group else ""} "{name}" is invalid: {summary}',
                          details)


def _cause_text(cause: dict[str, Any]) -> str:
    field = cause.get("field")
    return f"{field}: {cause.get('message', '')}" if field else str(cause.get("message", ""))


def bad_request(message: str) -> ApiStatusError:
    return ApiStatusError(400, "BadRequest", message)


def unauthorized() -> ApiStatusError:
    return ApiStatusError(401, "Unauthorized", "Unauthorized")


def forbidden(plural: str, group: str, name: str, why: str, causes: list[dict[str, Any]] | None = None
              ) -> ApiStatusError:
    subject = f'{qualified(plural, group)} "{name}"' if name else qualified(plural, group)
    extra = {"causes": causes} if causes else {}
    return ApiStatusError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(name, plural, group, **extra))


def method_not_allowed() -> ApiStatusError:
    return ApiStatusError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def not_acceptable() -> ApiStatusError:
    return ApiStatusError(406, "NotAcceptable",
                          "only the following media types are accepted: application/json, application/yaml")


def gone(message: str) -> ApiStatusError:
    return ApiStatusError(410, "Gone", message)


def expired(message: str) -> ApiStatusError:
    return ApiStatusError(410, "Expired", message)


def too_old(requested: int, oldest: int) -> ApiStatusError:
    return expired(f"too old resource version: {requested} ({oldest})")


def too_large() -> ApiStatusError:
    return ApiStatusError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_BODY_BYTES}")


def unsupported_media_type(content_type: str) -> ApiStatusError:
    return ApiStatusError(
        415, "UnsupportedMediaType",
        f"the body of the request was in an unknown format ({content_type or 'no content type'}) - accepted media "
        "types include: application/json, application/yaml, application/json-patch+json, "
        "application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json")


def unavailable(message: str = "storage is unavailable") -> ApiStatusError:
    return ApiStatusError(503, "ServiceUnavailable", message)


def timeout(message: str = "request did not complete within requested timeout - context deadline exceeded"
            ) -> ApiStatusError:
    return ApiStatusError(504, "Timeout", f"Timeout: {message}", {})


def too_many_requests(message: str, retry_after: int = 0) -> ApiStatusError:
    """NewTooManyRequests: 429, with details.retryAfterSeconds and a Retry-After header when > 0."""
    details: dict[str, Any] = {"retryAfterSeconds": retry_after} if retry_after else {}
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return ApiStatusError(429, "TooManyRequests", message, details, headers=headers)


def internal(message: str) -> ApiStatusError:
    return ApiStatusError(500, "InternalError", f"Internal error occurred: {message}",
                          {"causes": [{"message": message}]})

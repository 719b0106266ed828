"""The API's errors as exceptions: one class per kind of Kubernetes `Status` failure (after kopf).

Guarantees:
- Every failed API call raises an `ApiError` whose `.status` is the `Status` dict the server sent
  (or one built the way client-go builds it when the body was not a Status), with `.code`,
  `.reason`, `.message` and `.details` read from it.
- The class says what happened, by Status `reason` first and HTTP code second, as apimachinery's
  `errors.IsNotFound`/`IsConflict`/... decide: `NotFound` 404, `AlreadyExists` 409 reason
  AlreadyExists, `Conflict` other 409s, `Gone` 410 (also reason Expired), `Invalid` 422,
  `BadRequest` 400, `Unauthorized` 401, `Forbidden` 403, `MethodNotAllowed` 405,
  `RequestEntityTooLarge` 413, `TooManyRequests` 429, `InternalError` 500,
  `ServerUnavailable` 503/504 and connection failures (code 503, reason ServiceUnavailable).
- The exception is chained (`raise ... from`) to the transport's error (aiohttp's
  `ClientResponseError` or connection error), so tracebacks show both.
"""

from __future__ import annotations

from typing import Any

_REASON_FOR_CODE = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Gone",
    413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}


class ApiError(Exception):
    """A failed API call; `.status` is the Kubernetes `Status` object."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.status = status
        super().__init__(self.message or self.reason)

    @property
    def code(self) -> int:
        return int(self.status.get("code") or 0)

    @property
    def reason(self) -> str:
        return self.status.get("reason") or _REASON_FOR_CODE.get(self.code, "Unknown")

    @property
    def message(self) -> str:
        return self.status.get("message") or ""

    @property
    def details(self) -> dict[str, Any]:
        return self.status.get("details") or {}

    @property
    def causes(self) -> list[dict[str, Any]]:
        """The field errors of an `Invalid` (`[{"reason", "message", "field"}]`)."""
        return self.details.get("causes") or []

    @property
    def retry_after(self) -> float | None:
        """The server's `details.retryAfterSeconds`, if it asked the client to come back later."""
        seconds = self.details.get("retryAfterSeconds")
        return float(seconds) if seconds else None


class BadRequest(ApiError): ...
class Unauthorized(ApiError): ...
class Forbidden(ApiError): ...
class NotFound(ApiError): ...
class MethodNotAllowed(ApiError): ...
class Conflict(ApiError): ...
class AlreadyExists(ApiError): ...
class Gone(ApiError): ...
class RequestEntityTooLarge(ApiError): ...
class Invalid(ApiError): ...
class TooManyRequests(ApiError): ...
class InternalError(ApiError): ...
class ServerUnavailable(ApiError): ...


_BY_REASON: dict[str, type[ApiError]] = {
    "AlreadyExists": AlreadyExists, "Conflict": Conflict, "NotFound": NotFound, "Gone": Gone,
    "Expired": Gone, "Invalid": Invalid, "BadRequest": BadRequest, "Unauthorized": Unauthorized,
    "Forbidden": Forbidden, "MethodNotAllowed": MethodNotAllowed, "TooManyRequests": TooManyRequests,
    "RequestEntityTooLarge": RequestEntityTooLarge, "InternalError": InternalError,
    "ServiceUnavailable": ServerUnavailable, "Timeout": ServerUnavailable,
}
_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed,
    409: Conflict, 410: Gone, 413: RequestEntityTooLarge, 422: Invalid, 429: TooManyRequests,
    500: InternalError, 503: ServerUnavailable, 504: ServerUnavailable,
}


def status_for(code: int, message: str, *, reason: str | None = None) -> dict[str, Any]:
    """A `Status` for a failure the server did not describe (client-go's unstructured error)."""
    return {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason or _REASON_FOR_CODE.get(code, "Unknown"), "code": code,
    }


def error_for(code: int, body: Any) -> ApiError:
    """The `ApiError` subclass for an HTTP `code` and decoded response `body`."""
    if isinstance(body, dict) and body.get("kind") == "Status":
        status = dict(body)
        status.setdefault("code", code)
    else:
        text = body if isinstance(body, str) else ""
        status = status_for(code, text.strip() or f"the server responded with code {code}")
    cls = _BY_REASON.get(status.get("reason") or "") or _BY_CODE.get(int(status.get("code") or code), ApiError)
    return cls(status)


def connection_error(message: str) -> ServerUnavailable:
    """The error for a server that cannot be reached (refused, reset, timed out)."""
    return ServerUnavailable(status_for(503, message, reason="ServiceUnavailable"))

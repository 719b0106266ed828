"""kubemu's client for the Kubernetes API: `ApiClient`, its flags, and the API's errors.

`from shared.client import ApiClient, add_client_flags, ApiError, NotFound, ...` is the whole
surface components use; see rest.py (the client), config.py (kubeconfig and flags) and errors.py.
"""

from shared.client.config import ClientConfig, ConfigError, add_client_flags, config_from_args, load_kubeconfig
from shared.client.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    ServerUnavailable,
    TooManyRequests,
    Unauthorized,
)
from shared.client.rest import PATCH_CONTENT_TYPES, ApiClient

__all__ = [
    "AlreadyExists", "ApiClient", "ApiError", "BadRequest", "ClientConfig", "ConfigError", "Conflict",
    "Forbidden", "Gone", "InternalError", "Invalid", "MethodNotAllowed", "NotFound", "PATCH_CONTENT_TYPES",
    "RequestEntityTooLarge", "ServerUnavailable", "TooManyRequests", "Unauthorized", "add_client_flags",
    "config_from_args", "load_kubeconfig",
]

"""Kubernetes' defaulting per kind (placeholder until filled in: no defaults yet)."""

from __future__ import annotations

from typing import Any


def apply_defaults(resource: Any, obj: dict[str, Any]) -> dict[str, Any]:
    return obj

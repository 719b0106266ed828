"""Structured logging for every component (structlog).

Guarantees: every line carries `component`; JSON lines when stderr is not a TTY or when
`fmt="json"`, a readable console rendering otherwise. Per-call context (such as the object `key`
a controller is syncing) is bound with `structlog.contextvars.bound_contextvars`, so it reaches
every line logged while that work runs.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import orjson
import structlog

LogFormat = Literal["json", "console"]


def _dumps(obj: object, default=None) -> str:
    return orjson.dumps(obj, default=default or str).decode()


def configure_logging(component: str, fmt: LogFormat | None = None, level: str = "info") -> None:
    """Configure structlog for this process; call once, early, from the service's __main__."""
    if fmt is None:
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(component=component)


def get_logger(**initial: object) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(**initial)

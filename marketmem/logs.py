"""Logging set-up: one line per event, with source, channel and run id when known.

Pass context through ``extra=context(source, channel, run_id, **more)`` (or a plain
``extra={"source": ...}``); every extra key is printed, the three context keys first.
``--log-format text`` (the default) is for people: a message's own line breaks are escaped so
each event stays on one line, and a traceback follows on the lines below it.
``--log-format json`` prints exactly one JSON object per line, traceback included, for
machines (journald, Loki, ``jq``). ``--log-level`` filters both.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import msgspec

CONTEXT_KEYS = ("source", "channel", "run_id")

# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}

# Values JSON cannot hold (paths, exceptions, ...) are logged as their str().
_json = msgspec.json.Encoder(enc_hook=str)

# hypercorn.error logs "Running on ..." at INFO for every server (the API and each local venue);
# its warnings and errors still show.
NOISY_LOGGERS = (
    "httpx",
    "httpcore",
    "hypercorn.access",
    "hypercorn.error",
    "trio-websocket",
    "mcp",  # the MCP session manager logs its start and stop at INFO
)


def context(
    source: str | None = None, channel: str | None = None, run_id: str | None = None, **more: Any
) -> dict[str, Any]:
    """``extra=`` for a log call; None values are left out."""
    out: dict[str, Any] = {"source": source, "channel": channel, "run_id": run_id}
    out.update(more)
    return {k: v for k, v in out.items() if v is not None}


class ContextLogger(logging.LoggerAdapter):
    """A logger that adds a fixed context (source, channel, run id) to every line.

    Unlike the stdlib adapter on Python 3.11, an ``extra=`` given at the call site is merged
    with the fixed context instead of being dropped.
    """

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs


def record_context(record: logging.LogRecord) -> dict[str, Any]:
    """The context of a record: source, channel, run_id, then any other extra keys."""
    out = {k: getattr(record, k) for k in CONTEXT_KEYS if getattr(record, k, None) is not None}
    for k, v in record.__dict__.items():
        if k not in _STANDARD and k not in out and v is not None and not k.startswith("_"):
            out[k] = v
    return out


def _timestamp(record: logging.LogRecord) -> str:
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{ts}.{int(record.msecs):03d}Z"


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _text_value(value: Any) -> str:
    text = _one_line(str(value))
    if not text or any(c in text for c in ' ="'):
        return '"' + text.replace('"', '\\"') + '"'
    return text


class TextFormatter(logging.Formatter):
    """``2026-11-25T00:00:00.000Z INFO    logger [source=... channel=... run_id=...] msg``."""

    def format(self, record: logging.LogRecord) -> str:
        ctx = " ".join(f"{k}={_text_value(v)}" for k, v in record_context(record).items())
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name}"
        if ctx:
            line += f" [{ctx}]"
        line += f" {_one_line(record.getMessage())}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the context keys, exc, stack."""

    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in record_context(record).items():
            obj.setdefault(k, v)  # an extra named like a base key never replaces it
        if record.exc_info:
            obj["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            obj["stack"] = self.formatStack(record.stack_info)
        return _json.encode(obj).decode()


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Route every log record (and Python warnings) to stderr in the chosen format."""
    if fmt not in ("text", "json"):
        raise ValueError(f"unknown log format {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # warnings.warn() output would otherwise bypass the format (and break JSON lines).
    logging.captureWarnings(True)
    # Library chatter stays out of the service log unless asked for.
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))

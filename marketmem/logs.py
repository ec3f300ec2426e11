"""Logging set-up: one line per event, with source, channel and run id when known.

Pass context through ``extra={"source": ..., "channel": ..., "run_id": ...}`` (or use
``context()``). ``--log-format json`` prints one JSON object per line for machines.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import msgspec

CONTEXT_KEYS = ("source", "channel", "run_id")
_json = msgspec.json.Encoder()


def context(
    source: str | None = None, channel: str | None = None, run_id: str | None = None, **more: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"source": source, "channel": channel, "run_id": run_id}
    out.update(more)
    return {k: v for k, v in out.items() if v is not None}


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ctx = " ".join(
            f"{k}={getattr(record, k)}" for k in CONTEXT_KEYS if getattr(record, k, None)
        )
        line = f"{ts}.{int(record.msecs):03d}Z {record.levelname:<7} {record.name}"
        if ctx:
            line += f" [{ctx}]"
        line += f" {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k in CONTEXT_KEYS:
            v = getattr(record, k, None)
            if v:
                obj[k] = v
        if record.exc_info:
            obj["exc"] = self.formatException(record.exc_info)
        return _json.encode(obj).decode()


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library chatter stays out of the service log unless asked for.
    for noisy in ("httpx", "httpcore", "hypercorn.access", "trio-websocket"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))

"""Shared HTTP plumbing for the source clients (httpx on trio): retries, backoff, decoding.

- Timeouts, connection errors, 429 and 5xx are retried with capped exponential backoff and
  full jitter; a 429 (or 503) with ``Retry-After`` waits what the server asked.
- Any other 4xx fails at once with the response text (``HttpStatusError``).
- ``decode`` turns a body into the source's wire Struct; a malformed body or a missing
  required field becomes ``PayloadError`` naming the field path.

These errors carry ``expected = True``: they are the outside world misbehaving, logged and
recorded as failed runs without a traceback.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import msgspec
import trio

log = logging.getLogger(__name__)

T = TypeVar("T")


class SourceError(Exception):
    """An error from a source (HTTP, payload); recorded as a failed run."""

    expected = True


class HttpStatusError(SourceError):
    def __init__(self, status: int, url: str, body: str) -> None:
        self.status = status
        self.url = url
        self.body = body
        super().__init__(f"HTTP {status} from {url}: {body[:500].strip()}")


class TransportFailed(SourceError):
    """Retries exhausted on timeouts / connection errors / 429 / 5xx.

    ``unreachable``: no attempt got an answer at all (connection refused, unknown host,
    timeouts), as when the machine is offline; ``cause`` is the last attempt's failure.
    """

    def __init__(self, message: str, *, unreachable: bool = False, cause: str = "") -> None:
        super().__init__(message)
        self.unreachable = unreachable
        self.cause = cause or message


class PayloadError(SourceError):
    """A body that does not decode into the expected wire type."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # total tries, first included
    initial_s: float = 0.5
    max_s: float = 30.0
    # Cap on a server-requested Retry-After, so one answer cannot park a channel for hours.
    max_retry_after_s: float = 120.0


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse a Retry-After header: delta-seconds or an HTTP date. None when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Full jitter: uniform in [0.5, 1] x min(max, initial x 2^attempt)."""
    base = min(policy.max_s, policy.initial_s * (2**attempt))
    return base * rng.uniform(0.5, 1.0)


_rng = random.Random()


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    params: dict[str, Any] | list[tuple[str, Any]] | None = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
    policy: RetryPolicy = RetryPolicy(),
    before_attempt: Callable[[], Awaitable[None]] | None = None,
    rng: random.Random | None = None,
) -> httpx.Response:
    """Send a request with the retry rules above; returns a 2xx/3xx response."""
    rng = rng or _rng
    last = ""
    answered = False
    for attempt in range(policy.attempts):
        if before_attempt is not None:
            await before_attempt()
        delay: float | None = None
        try:
            resp = await client.request(method, url, params=params, json=json, headers=headers)
        except httpx.TimeoutException as exc:
            last = f"timeout ({type(exc).__name__}) on {method} {url}"
        except httpx.TransportError as exc:
            last = f"connection error on {method} {url}: {type(exc).__name__}: {exc}"
        else:
            answered = True
            status = resp.status_code
            if status < 400:
                return resp
            body = resp.text
            if status == 429 or status >= 500:
                last = f"HTTP {status} from {url}: {body[:200].strip()}"
                ra = retry_after_seconds(resp.headers.get("retry-after"))
                if ra is not None:
                    delay = min(ra, policy.max_retry_after_s)
            else:
                raise HttpStatusError(status, url, body)
        if attempt + 1 >= policy.attempts:
            break
        if delay is None:
            delay = backoff_delay(attempt, policy, rng)
        # INFO: a retry is the client doing its job; the run that fails when every attempt
        # did is the one WARNING line (``runs.execute_run``).
        log.info("%s; retry %d/%d in %.2fs", last, attempt + 1, policy.attempts - 1, delay)
        await trio.sleep(delay)
    raise TransportFailed(
        f"gave up after {policy.attempts} attempt(s): {last}", unreachable=not answered, cause=last
    )


def decode(body: bytes, type: type[T], what: str, *, strict: bool = True) -> T:
    """Decode JSON ``body`` into ``type`` (``strict=False``: msgspec's lax mode); errors name
    ``what`` and the field path."""
    try:
        return msgspec.json.decode(body, type=type, strict=strict)
    except msgspec.ValidationError as exc:
        # A typed decode stops at the first type mismatch, before it would find that the body
        # is not JSON at all (an error page): say which it is.
        try:
            msgspec.json.decode(body)
        except msgspec.DecodeError as syntax:
            raise _malformed(body, what, syntax) from None
        raise PayloadError(f"{what}: unexpected payload: {exc}") from None
    except msgspec.DecodeError as exc:
        raise _malformed(body, what, exc) from None


def _malformed(body: bytes, what: str, exc: msgspec.DecodeError) -> PayloadError:
    snippet = body[:80].decode("utf-8", "replace")
    return PayloadError(f"{what}: malformed JSON ({exc}): {snippet!r}")

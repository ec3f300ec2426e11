"""API errors: one exception type carrying status, code and message, rendered as JSON.

Every error body is ``{"error": {"code": ..., "message": ...}}``. Handlers raise ``ApiError``;
the endpoint wrapper in ``app`` turns it (and anything unexpected) into that body.
"""

from __future__ import annotations

import msgspec
from starlette.responses import Response

_encoder = msgspec.json.Encoder()


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, {"WWW-Authenticate": 'Bearer realm="marketmem"'})


def invalid_parameter(name: str, message: str) -> ApiError:
    return ApiError(422, "invalid_parameter", f"{name}: {message}")


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    body = _encoder.encode({"error": {"code": code, "message": message}})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def api_error_response(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.headers)

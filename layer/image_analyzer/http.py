"""The API's HTTP conventions: JSON everywhere, CORS for the configured origins, errors as {error, message}.

Built on Powertools' API Gateway HTTP API resolver; imports nothing heavy (cold starts)."""

from __future__ import annotations

import binascii
import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from image_analyzer.callers import Caller
from image_analyzer.config import list_setting
from image_analyzer.definitions import CORS
from image_analyzer.errors import ApiError, ErrorCode

# On every API response: JSON is never sniffed into something else, never cached (it holds presigned URLs), never
# framed, and names no referrer.
API_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body),
        headers={**API_SECURITY_HEADERS, **(headers or {})},
    )


def error_response(status: int, code: ErrorCode, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"error": code.value, "message": message}, headers)


def caller(event: APIGatewayProxyEventV2) -> Caller:
    """Raises ApiError 403 for a verified token that names no subject: API Gateway's JWT authorizer does not
    require ``sub``, and without one a job would have no owner (every caller could read it) and the quota would
    count by address."""
    context = event.request_context
    authorizer = context.get("authorizer") or {}
    subject = None
    if "jwt" in authorizer:  # the route is authenticated: the request passed the stack's JWT authorizer
        subject = str(((authorizer.get("jwt") or {}).get("claims") or {}).get("sub") or "").strip()
        if not subject:
            raise ApiError(403, ErrorCode.FORBIDDEN, "The token names no subject (sub): it cannot own a job.")
    return Caller(subject, context.http.source_ip or "unknown")


def request_body(event: APIGatewayProxyEventV2) -> str | None:
    """The body as text; a body that is not valid base64 or not UTF-8 is the client's error, not a 500."""
    try:
        return event.decoded_body
    except (UnicodeDecodeError, binascii.Error, ValueError, TypeError):
        raise ApiError(400, ErrorCode.BAD_REQUEST, "Request body must be UTF-8 encoded JSON.") from None


def cors_config() -> CORSConfig:
    origins = list_setting("ALLOWED_ORIGINS") or ["*"]
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:] or None,
        allow_headers=list(CORS.api_headers),
        expose_headers=list(CORS.api_expose_headers),
        max_age=CORS.max_age_s,
    )


def create_resolver(logger: Logger) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(cors=cors_config())

    @app.exception_handler(ApiError)
    def _client_error(exc: ApiError) -> Response:
        logger.info("request rejected", extra={"errorCode": exc.code.value, "status": exc.status})
        return error_response(exc.status, exc.code, exc.message, exc.headers or None)

    @app.not_found
    def _not_found(_: NotFoundError) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, ErrorCode.NOT_FOUND, "No such route.")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The log keeps the details; the client gets no stack trace and no internal names.
        logger.exception("unhandled error")
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, ErrorCode.INTERNAL, "Internal error; please retry.")

    return app

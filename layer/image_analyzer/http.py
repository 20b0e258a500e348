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

from image_analyzer.config import list_setting
from image_analyzer.errors import ApiError, ErrorCode


def json_response(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def error_response(status: int, code: ErrorCode, message: str) -> Response:
    return json_response(status, {"error": code.value, "message": message})


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
        allow_headers=["Content-Type"],
        max_age=600,
    )


def create_resolver(logger: Logger) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(cors=cors_config())

    @app.exception_handler(ApiError)
    def _client_error(exc: ApiError) -> Response:
        logger.info("request rejected", extra={"errorCode": exc.code.value, "status": exc.status})
        return error_response(exc.status, exc.code, exc.message)

    @app.not_found
    def _not_found(_: NotFoundError) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, ErrorCode.NOT_FOUND, "No such route.")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The log keeps the details; the client gets no stack trace and no internal names.
        logger.exception("unhandled error")
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, ErrorCode.INTERNAL, "Internal error; please retry.")

    return app

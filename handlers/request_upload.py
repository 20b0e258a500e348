"""POST /request-upload → create a pending job and hand out presigned upload URLs."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_analyzer import use_cases
from image_analyzer.adapters import adapters
from image_analyzer.config import int_setting
from image_analyzer.http import caller, create_resolver, json_response, request_body
from image_analyzer.observability import get_logger, get_tracer
from image_analyzer.uploads import parse_body, validate_upload_request

logger = get_logger()
tracer = get_tracer()
app = create_resolver(logger)


@app.post("/request-upload")
def request_upload() -> Response:
    limits = use_cases.UploadLimits(
        max_bytes=int_setting("MAX_UPLOAD_BYTES", minimum=1),
        url_expiry_s=int_setting("URL_EXPIRY_SECONDS", minimum=1),
        retention_days=int_setting("RETENTION_DAYS", minimum=1),
        daily_quota=int_setting("DAILY_UPLOAD_QUOTA"),
    )
    request = validate_upload_request(parse_body(request_body(app.current_event)), limits.max_bytes)
    body = use_cases.request_upload(adapters(), request, caller(app.current_event), limits)
    logger.append_keys(jobId=body["jobId"])
    logger.info("upload requested", extra={"fileType": request.file_type, "declaredSize": request.file_size})
    return json_response(200, body)


@tracer.capture_lambda_handler(capture_response=False)  # no responses in traces: the API's hold presigned URLs
# correlation_id: the API's requestId, which the stage's access log carries too.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

"""POST /request-upload → create a pending job and hand out presigned upload URLs."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_analyzer import aws
from image_analyzer.config import int_setting, required
from image_analyzer.http import caller, create_resolver, json_response, request_body
from image_analyzer.jobs import NewJob, utc_now
from image_analyzer.objects import ObjectStore
from image_analyzer.observability import get_logger, get_tracer
from image_analyzer.quota import DailyQuota
from image_analyzer.store import JobStore
from image_analyzer.uploads import new_job_id, parse_body, upload_key, validate_upload_request

logger = get_logger()
tracer = get_tracer()
app = create_resolver(logger)


@app.post("/request-upload")
def request_upload() -> Response:
    max_bytes = int_setting("MAX_UPLOAD_BYTES", minimum=1)
    expires_in = int_setting("URL_EXPIRY_SECONDS", minimum=1)
    request = validate_upload_request(parse_body(request_body(app.current_event)), max_bytes)
    who = caller(app.current_event)
    table = aws.dynamodb_table(required("TABLE_NAME"))
    now = utc_now()
    DailyQuota(table, int_setting("DAILY_UPLOAD_QUOTA"), "uploads").take(who.quota_key, now)
    job_id = new_job_id()
    logger.append_keys(jobId=job_id)
    key = upload_key(job_id)
    objects = ObjectStore(aws.s3_client(), required("UPLOAD_BUCKET"))
    retention = int_setting("RETENTION_DAYS", minimum=1)
    JobStore(table).create(NewJob(job_id, key, request.file_type, request.extension, who.subject, retention), now)
    logger.info("upload requested", extra={"fileType": request.file_type, "declaredSize": request.file_size})
    return json_response(
        200,
        {
            "jobId": job_id,
            "uploadUrl": objects.presigned_put(key, request.file_type, expires_in, request.file_size),
            "uploadHeaders": {"Content-Type": request.file_type},
            "expiresIn": expires_in,
            "upload": objects.presigned_post(key, request.file_type, max_bytes, expires_in),
        },
    )


@tracer.capture_lambda_handler(capture_response=False)  # no responses in traces: the API's hold presigned URLs
# correlation_id: the API's requestId, which the stage's access log carries too.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

"""GET /get-results?jobId=… → the job's status, results and a presigned URL of the analysed image."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_analyzer import aws
from image_analyzer.config import int_setting, required
from image_analyzer.errors import ApiError, ErrorCode
from image_analyzer.http import caller, create_resolver, json_response, may_read
from image_analyzer.jobs import JobStatus, api_view
from image_analyzer.objects import ObjectStore
from image_analyzer.observability import get_logger, get_tracer
from image_analyzer.store import JobStore
from image_analyzer.uploads import is_job_id

logger = get_logger()
tracer = get_tracer()
app = create_resolver(logger)


@app.get("/get-results")
def get_results() -> Response:
    job_id = app.current_event.get_query_string_value("jobId", "")
    who = caller(app.current_event)  # before anything is read: a token that cannot own a job reads nothing
    if not is_job_id(job_id):
        raise ApiError(400, ErrorCode.INVALID_JOB_ID, "jobId must be the UUID returned by /request-upload.")
    logger.append_keys(jobId=job_id)
    item = JobStore(aws.dynamodb_table(required("TABLE_NAME"))).get(job_id)
    if item is None or not may_read(item, who):
        raise ApiError(404, ErrorCode.JOB_NOT_FOUND, "No job with this id (it may have expired).")
    image_url = crop_url = None
    if item.get("status") == JobStatus.COMPLETE and item.get("imageKey"):
        objects = ObjectStore(aws.s3_client(), required("UPLOAD_BUCKET"))
        expiry = int_setting("URL_EXPIRY_SECONDS", minimum=1)
        image_url = objects.presigned_get(str(item["imageKey"]), expiry)
        if item.get("cropKey"):
            crop_url = objects.presigned_get(str(item["cropKey"]), expiry)
    return json_response(200, api_view(item, image_url, crop_url))


@tracer.capture_lambda_handler(capture_response=False)  # no responses in traces: the API's hold presigned URLs
# correlation_id: the API's requestId, which the stage's access log carries too.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

"""GET /render?jobId=…&window=lung (or &center=…&width=…) → a presigned URL of the DICOM image in that window.

The renderer is the processor's; each view is rendered once and kept under converted/{jobId}/.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_analyzer import aws
from image_analyzer.config import int_setting, required
from image_analyzer.errors import ApiError, ErrorCode, ProcessingError
from image_analyzer.http import caller, create_resolver, json_response, may_read
from image_analyzer.jobs import JobStatus, from_dynamo, utc_now
from image_analyzer.keys import view_source_key
from image_analyzer.objects import ObjectStore
from image_analyzer.observability import get_logger, get_tracer
from image_analyzer.quota import DailyQuota
from image_analyzer.store import JobStore
from image_analyzer.uploads import is_job_id
from image_analyzer.views import View, parse_view

VIEW_SOURCE_MAX_BYTES = 512 * 2**20
logger = get_logger()
tracer = get_tracer()
app = create_resolver(logger)


def _render(data: bytes, view: View) -> bytes:
    from image_analyzer import dicom  # numpy and pydicom: only when a view must be rendered

    return dicom.render(data, window=view.window).to_png()


def _view_limit(max_custom: int) -> ApiError:
    return ApiError(
        429,
        ErrorCode.VIEW_LIMIT_REACHED,
        f"This job keeps {max_custom} custom windows already: use one of them or a preset.",
    )


@app.get("/render")
def render_view() -> Response:
    event = app.current_event
    who = caller(app.current_event)  # before anything is read: a token that cannot own a job reads nothing
    job_id = event.get_query_string_value("jobId", "")
    if not is_job_id(job_id):
        raise ApiError(400, ErrorCode.INVALID_JOB_ID, "jobId must be the UUID returned by /request-upload.")
    logger.append_keys(jobId=job_id)
    view = parse_view(
        event.get_query_string_value("window"),
        event.get_query_string_value("center"),
        event.get_query_string_value("width"),
    )
    table = aws.dynamodb_table(required("TABLE_NAME"))
    store = JobStore(table)
    item = store.get(job_id)
    if item is None or not may_read(item, who):
        raise ApiError(404, ErrorCode.JOB_NOT_FOUND, "No job with this id (it may have expired).")
    dicom_meta = (item.get("results") or {}).get("dicom")
    if item.get("status") != JobStatus.COMPLETE or not dicom_meta:
        raise ApiError(409, ErrorCode.VIEW_NOT_AVAILABLE, "Only a completed DICOM job can be shown in another window.")
    if dicom_meta.get("window") is None:
        raise ApiError(409, ErrorCode.VIEW_NOT_AVAILABLE, "This DICOM image is in colour: colour is never windowed.")
    objects = ObjectStore(aws.s3_client(), required("UPLOAD_BUCKET"))
    key = view.key(job_id)
    if not objects.exists(key):
        # What one job may store, and one caller may have rendered a day, is bounded: presets (six) always, a
        # few custom windows, then only those kept. Checked before the quota counts, and counted atomically after.
        max_custom = int_setting("MAX_CUSTOM_VIEWS", minimum=0)
        custom = view.preset is None
        if custom and int(item.get("customViews") or 0) >= max_custom:
            raise _view_limit(max_custom)
        DailyQuota(table, int_setting("DAILY_RENDER_QUOTA"), "renders").take(who.quota_key, utc_now())
        if custom and not store.count_custom_view(job_id, max_custom):
            raise _view_limit(max_custom)
        # The frame's stored values, kept at processing time (the upload itself is deleted); written by the
        # processor within its memory budget, so its size needs no other limit here.
        stored = objects.read(view_source_key(job_id), VIEW_SOURCE_MAX_BYTES)
        if stored is None or stored.body is None:
            raise ApiError(410, ErrorCode.UPLOAD_GONE, "This job's image data is no longer stored.")
        try:
            png = _render(stored.body, view)
        except ProcessingError as exc:
            raise ApiError(422, exc.code, exc.message) from None
        objects.write(key, png, "image/png")
        logger.info("view rendered", extra={"view": view.slug})
    url = objects.presigned_get(key, int_setting("URL_EXPIRY_SECONDS", minimum=1))
    window = view.described(from_dynamo(dicom_meta["window"]))
    return json_response(200, {"jobId": job_id, "view": view.slug, "window": window, "imageUrl": url})


@tracer.capture_lambda_handler(capture_response=False)  # no responses in traces: the API's hold presigned URLs
# correlation_id: the API's requestId, which the stage's access log carries too.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

"""GET /render?jobId=…&window=lung (or &center=…&width=…) → a presigned URL of the DICOM image in that window.

The renderer is the processor's; each view is rendered once and kept under converted/{jobId}/.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_analyzer import use_cases
from image_analyzer.adapters import adapters
from image_analyzer.config import int_setting
from image_analyzer.http import caller, create_resolver, json_response
from image_analyzer.observability import get_logger, get_tracer
from image_analyzer.views import View, parse_view

logger = get_logger()
tracer = get_tracer()
app = create_resolver(logger)


def _render(data: bytes, view: View) -> bytes:
    from image_analyzer import dicom  # numpy and pydicom: only when a view must be rendered

    png = dicom.render(data, window=view.window).to_png()
    logger.info("view rendered", extra={"view": view.slug})
    return png


@app.get("/render")
def render_view() -> Response:
    event = app.current_event
    who = caller(event)  # before anything is read: a token that cannot own a job reads nothing
    job_id = event.get_query_string_value("jobId", "")
    use_cases.check_job_id(job_id)  # reported before a bad view, and before the id is logged
    logger.append_keys(jobId=job_id)
    view = parse_view(
        event.get_query_string_value("window"),
        event.get_query_string_value("center"),
        event.get_query_string_value("width"),
    )
    limits = use_cases.ViewLimits(
        max_custom_views=int_setting("MAX_CUSTOM_VIEWS", minimum=0),
        daily_render_quota=int_setting("DAILY_RENDER_QUOTA"),
        url_expiry_s=int_setting("URL_EXPIRY_SECONDS", minimum=1),
    )
    job = use_cases.job_as_caller(adapters(), job_id, who)
    return json_response(200, use_cases.render_view(adapters(), job, view, who, limits, _render))


@tracer.capture_lambda_handler(capture_response=False)  # no responses in traces: the API's hold presigned URLs
# correlation_id: the API's requestId, which the stage's access log carries too.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

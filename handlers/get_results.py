"""GET /get-results?jobId=… → the job's status, results and a presigned URL of the analysed image."""

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

logger = get_logger()
tracer = get_tracer()
app = create_resolver(logger)


@app.get("/get-results")
def get_results() -> Response:
    job_id = app.current_event.get_query_string_value("jobId", "")
    who = caller(app.current_event)  # before anything is read: a token that cannot own a job reads nothing
    use_cases.check_job_id(job_id)  # before it is logged: only a well-formed id reaches a log line
    logger.append_keys(jobId=job_id)
    job = use_cases.job_as_caller(adapters(), job_id, who)
    expiry = int_setting("URL_EXPIRY_SECONDS", minimum=1)
    return json_response(200, use_cases.job_results(adapters(), job, expiry))


@tracer.capture_lambda_handler(capture_response=False)  # no responses in traces: the API's hold presigned URLs
# correlation_id: the API's requestId, which the stage's access log carries too.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

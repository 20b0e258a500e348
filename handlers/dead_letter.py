"""Dead-letter queue → end every job whose upload could not be processed as PROCESSING_FAILED.

The processor marks a job failed itself when it can; this catches the deliveries that never returned (a worker killed
for memory or time), so that no job stays ``processing`` for good.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_analyzer.adapters import adapters
from image_analyzer.config import bool_setting
from image_analyzer.events import object_keys, s3_event_from_message
from image_analyzer.observability import get_logger, get_metrics, get_tracer
from image_analyzer.processing import Outcome, end_dead_lettered

logger = get_logger()
metrics = get_metrics()
tracer = get_tracer()
batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _handle_record(record: SQSRecord) -> None:
    s3_event = s3_event_from_message(record.body)
    if s3_event is None:
        return
    for key in object_keys(s3_event):
        result = end_dead_lettered(adapters().jobs, adapters().objects, key, bool_setting("KEEP_ORIGINALS"))
        extra = {"jobId": result.job_id, "outcome": result.outcome.value}
        if result.outcome is Outcome.FAILED:
            logger.warning("job ended PROCESSING_FAILED after its message was dead-lettered", extra=extra)
            metrics.add_metric(name="JobsDeadLettered", unit=MetricUnit.Count, value=1)
        else:
            logger.info("dead-lettered message for a job that had already finished", extra=extra)


@tracer.capture_lambda_handler(capture_response=False)  # no responses in traces: the API's hold presigned URLs
@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="DeadLetterMessages", unit=MetricUnit.Count, value=len(event.get("Records") or []))
    return process_partial_response(event=event, record_handler=_handle_record, processor=batch, context=context)

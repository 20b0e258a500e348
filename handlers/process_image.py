"""S3 ObjectCreated (through SQS, or directly) → render, label and record every uploaded object.

Every record of every message is processed; one bad image never re-drives its neighbours (partial batch failures).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_analyzer import aws
from image_analyzer.adapters import adapters
from image_analyzer.classifier import ClassifierStage, StageState
from image_analyzer.config import bool_setting, choice_setting, float_setting, int_setting, setting
from image_analyzer.events import object_keys, s3_event_from_message
from image_analyzer.labels import LabelDetector
from image_analyzer.objects import ObjectStore
from image_analyzer.observability import get_logger, get_metrics, get_tracer
from image_analyzer.processing import Outcome, Processor, Result
from image_analyzer.redaction import RedactMode
from image_analyzer.text import TextDetector
from image_analyzer.text_search import TextDetection, TextSearch

if TYPE_CHECKING:
    from image_analyzer.text_model import TextModel

logger = get_logger()
metrics = get_metrics()
tracer = get_tracer()
# Report failures per item even when every item failed, rather than failing the invocation.
batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@aws.per_container
def processor() -> Processor:
    return Processor(
        store=adapters().jobs,
        objects=adapters().objects,
        labels=LabelDetector(aws.rekognition_client(), int_setting("MAX_LABELS", 1), float_setting("MIN_CONFIDENCE")),
        max_upload_bytes=int_setting("MAX_UPLOAD_BYTES", minimum=1),
        text=text_search(),
        redact_mode=RedactMode(choice_setting("REDACT_TEXT", tuple(RedactMode))),
        classifier=classifier_stage(),
        keep_originals=bool_setting("KEEP_ORIGINALS"),
        decode_time_limit_s=float_setting("DECODE_TIME_LIMIT_S") or None,
    )


@aws.per_container
def text_model() -> TextModel:
    """The in-function text detector, loaded once per warm container on first use."""
    from image_analyzer.text_model import TextModel

    return TextModel()


def text_search() -> TextSearch:
    mode = TextDetection(choice_setting("TEXT_DETECTION", tuple(TextDetection)))
    rekognition = TextDetector(aws.rekognition_client()) if mode is not TextDetection.FUNCTION else None
    return TextSearch(mode, rekognition, text_model if mode is not TextDetection.REKOGNITION else None)


@aws.per_container
def classifier_stage() -> ClassifierStage:
    """The configured model, loaded once per warm worker (or why it cannot be loaded, recorded on each job)."""
    from image_analyzer.models import load_stage  # onnxruntime: only with a classifier configured

    def s3_read(bucket: str, key: str) -> bytes:
        return ObjectStore(aws.s3_client(), bucket).read_all(key)

    stage = load_stage(setting("CLASSIFIER_SPEC"), s3_read)
    if stage.state is StageState.BROKEN:
        logger.error("classifier unavailable; jobs complete without it", extra={"reason": stage.reason})
    return stage


def lease_seconds(context: LambdaContext) -> float:
    """A job is leased for the rest of this invocation: after that, a retry may take it over."""
    return max(1.0, context.get_remaining_time_in_millis() / 1000)


def _record(result: Result) -> None:
    if result.job_id:
        logger.append_keys(jobId=result.job_id)
    log = logger.warning if result.outcome in (Outcome.FAILED, Outcome.UNKNOWN_JOB) else logger.info
    log(
        "object processed",
        extra={"outcome": result.outcome.value, "errorCode": result.error_code, "seconds": round(result.seconds, 3)},
    )
    if result.outcome is Outcome.COMPLETED:
        metrics.add_metric(name="JobsCompleted", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="ProcessingTime", unit=MetricUnit.Milliseconds, value=result.seconds * 1000)
    elif result.outcome is Outcome.FAILED:
        metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    logger.remove_keys(["jobId"])


def _process_s3_records(s3_event: dict[str, Any], final_attempt: bool, context: LambdaContext) -> None:
    failures: list[Exception] = []
    for key in object_keys(s3_event):
        try:
            _record(processor().process(key, lease_seconds(context), final_attempt))
        except Exception as exc:  # a transient failure of one record must not stop the others
            logger.exception("processing failed; the delivery will be retried")
            failures.append(exc)
    if failures:
        raise failures[0]


def _handle_sqs_record(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """Powertools passes the invocation's context to a record handler that asks for ``lambda_context``."""
    body = s3_event_from_message(record.body)
    if body is None:
        return  # S3 sends a test event once when the notification is configured
    final = int(record.attributes.approximate_receive_count or 1) >= int_setting("MAX_RECEIVE_COUNT", 1)
    _process_s3_records(body, final_attempt=final, context=lambda_context)


@tracer.capture_lambda_handler(capture_response=False)  # no responses in traces: the API's hold presigned URLs
@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    metrics.add_metric(name="MessagesReceived", unit=MetricUnit.Count, value=len(records))
    if records and records[0].get("eventSource") == "aws:s3":
        # A direct S3 trigger (the original design): a failure raises and Lambda's asynchronous retries apply.
        _process_s3_records(event, final_attempt=False, context=context)
        return {"batchItemFailures": []}
    return process_partial_response(event=event, record_handler=_handle_sqs_record, processor=batch, context=context)

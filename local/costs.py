"""What a run costs on AWS, from what the local stack counted: each function's AWS requests (local.calls), its
billed duration at its memory size (local.runtime), the API's requests and the client's own S3 transfers.

List prices, us-east-1, arm64 Lambda, beyond the free tiers, in one table; they change: check them on
https://aws.amazon.com/pricing/ before relying on the figures.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

PRICES_AS_OF = "2025-01 (AWS list prices, us-east-1)"
# Price per unit, in USD.
PRICES = {
    "lambda_gb_s": 0.0000133334,  # arm64, per GB-second
    "lambda_request": 0.20 / 1e6,
    "api_request": 1.00 / 1e6,  # HTTP API, first 300 million a month
    "s3_put": 0.005 / 1000,  # PUT, COPY, POST, LIST
    "s3_get": 0.0004 / 1000,  # GET and all other requests (DELETE is free)
    "dynamodb_write": 0.625 / 1e6,  # on-demand write request unit
    "dynamodb_read": 0.125 / 1e6,  # on-demand read request unit (a consistent read of up to 4 KB)
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk of a request
    "rekognition_image": 1.00 / 1000,  # DetectLabels and DetectText, each, first million images a month
    "xray_trace": 5.00 / 1e6,  # active tracing: one trace recorded per invocation
    "logs_gb": 0.50,  # CloudWatch Logs ingestion (the metrics are embedded in the logs)
}
_S3_PUTS = {"PutObject", "PostObject", "CopyObject", "ListObjectsV2"}
_DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


@dataclass(frozen=True)
class Usage:
    """What one run used, as counted locally."""

    images: int
    calls: Counter[tuple[str, str]]  # (service, operation) → count, made by the functions
    billed_gb_s: float
    invocations: int
    api_requests: int
    client_s3_puts: int  # the uploads (presigned PUT or POST)
    client_s3_gets: int  # the analysed images the client downloaded
    sqs_requests: int  # S3's notifications and the event source mapping's receives and deletes
    log_bytes: int


def cost_by_service(usage: Usage) -> dict[str, float]:
    """USD for the whole run, by service."""
    calls = usage.calls
    s3_puts = sum(n for (service, op), n in calls.items() if service == "s3" and op in _S3_PUTS) + usage.client_s3_puts
    s3_gets = sum(n for (service, op), n in calls.items() if service == "s3" and op == "GetObject")
    writes = sum(n for (service, op), n in calls.items() if service == "dynamodb" and op in _DYNAMODB_WRITES)
    reads = sum(n for (service, op), n in calls.items() if service == "dynamodb" and op in {"GetItem", "Query"})
    images = sum(n for (service, op), n in calls.items() if service == "rekognition")
    return {
        "Lambda": usage.billed_gb_s * PRICES["lambda_gb_s"] + usage.invocations * PRICES["lambda_request"],
        "API Gateway": usage.api_requests * PRICES["api_request"],
        "S3": s3_puts * PRICES["s3_put"] + (s3_gets + usage.client_s3_gets) * PRICES["s3_get"],
        "DynamoDB": writes * PRICES["dynamodb_write"] + reads * PRICES["dynamodb_read"],
        "SQS": usage.sqs_requests * PRICES["sqs_request"],
        "Rekognition": images * PRICES["rekognition_image"],
        "X-Ray": usage.invocations * PRICES["xray_trace"],
        "CloudWatch Logs": usage.log_bytes / 1e9 * PRICES["logs_gb"],
    }


def per_thousand_images(usage: Usage) -> dict[str, float]:
    return {service: 1000 * cost / max(usage.images, 1) for service, cost in cost_by_service(usage).items()}

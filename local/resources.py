"""Create the stack's resources on an emulator from the definitions the Pulumi program uses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from image_analyzer.definitions import (
    CORS,
    PROJECT,
    QUEUE,
    TABLE_HASH_KEY,
    TABLE_NAME,
    TABLE_TTL_ATTRIBUTE,
    UPLOAD_PREFIX,
)


@dataclass(frozen=True)
class StackResources:
    bucket: str
    table: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str


@dataclass(frozen=True)
class ResourceNames:
    bucket: str
    table: str
    queue: str
    dlq: str


def resource_names(suffix: str) -> ResourceNames:
    """Names of one local stack's resources (the table is named per stack, as the Pulumi program does)."""
    return ResourceNames(
        bucket=f"{PROJECT}-uploads-{suffix}",
        table=f"{TABLE_NAME}-{suffix}",
        queue=f"{PROJECT}-ingest-{suffix}",
        dlq=f"{PROJECT}-dlq-{suffix}",
    )


def provision(
    session: boto3.session.Session,
    endpoint_url: str | None,
    *,
    suffix: str = "local",
    visibility_timeout_s: int | None = None,
    max_receive_count: int = 3,
    allowed_origins: list[str] | None = None,
) -> StackResources:
    names = resource_names(suffix)
    bucket, table = names.bucket, names.table
    s3 = session.client("s3", endpoint_url=endpoint_url)
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)

    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={"CORSRules": [CORS.bucket_rule(allowed_origins or ["*"])]},
    )

    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": TABLE_HASH_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": TABLE_HASH_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": TABLE_TTL_ATTRIBUTE}
    )

    dlq_url = sqs.create_queue(QueueName=names.dlq, Attributes={"MessageRetentionPeriod": str(QUEUE.dlq_retention_s)})[
        "QueueUrl"
    ]
    dlq_arn = _queue_arn(sqs, dlq_url)
    visibility = visibility_timeout_s if visibility_timeout_s is not None else QUEUE.visibility_timeout_s()
    queue_url = sqs.create_queue(
        QueueName=names.queue,
        Attributes={
            "VisibilityTimeout": str(visibility),
            "MessageRetentionPeriod": str(QUEUE.message_retention_s),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}),
        },
    )["QueueUrl"]
    queue_arn = _queue_arn(sqs, queue_url)

    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": UPLOAD_PREFIX}]}},
                }
            ]
        },
    )
    return StackResources(bucket, table, queue_url, queue_arn, dlq_url, dlq_arn)


def _queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

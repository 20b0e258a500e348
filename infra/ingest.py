"""S3 → SQS: the ingest queue, its dead-letter queue, and the notification that feeds them."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from image_analyzer.definitions import FUNCTIONS, QUEUE, UPLOAD_PREFIX
from infra.config import StackConfig
from infra.policies import policy_document


class Ingest(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: StackConfig,
        bucket: aws.s3.Bucket,
        account_id: pulumi.Input[str],
        tags: dict[str, str],
        opts: Any = None,
    ) -> None:
        super().__init__("image-analyzer:ingest:Ingest", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        consumer = FUNCTIONS[QUEUE.consumer]
        self.dlq = aws.sqs.Queue(
            "ingest-dlq",
            message_retention_seconds=QUEUE.dlq_retention_s,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child,
        )
        self.queue = aws.sqs.Queue(
            "ingest",
            visibility_timeout_seconds=QUEUE.visibility_timeout_s(consumer.timeout_s),
            message_retention_seconds=QUEUE.message_retention_s,
            sqs_managed_sse_enabled=True,
            redrive_policy=self.dlq.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": config.max_receive_count})
            ),
            tags=tags,
            opts=child,
        )
        queue_policy = aws.sqs.QueuePolicy(
            "ingest-from-bucket",
            queue_url=self.queue.id,
            policy=policy_document(
                [
                    {
                        "Sid": "AllowThisBucketOfThisAccountOnly",
                        "Effect": "Allow",
                        "Principal": {"Service": "s3.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": self.queue.arn,
                        # SourceArn alone would accept a bucket of that name re-created in another account.
                        "Condition": {
                            "ArnEquals": {"aws:SourceArn": bucket.arn},
                            "StringEquals": {"aws:SourceAccount": account_id},
                        },
                    }
                ]
            ),
            opts=child,
        )
        aws.s3.BucketNotification(
            "uploads-notification",
            bucket=bucket.id,
            queues=[{"queue_arn": self.queue.arn, "events": ["s3:ObjectCreated:*"], "filter_prefix": UPLOAD_PREFIX}],
            # S3 checks that it may send before it accepts the notification.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[queue_policy]),
        )
        self.register_outputs({"queue": self.queue.id, "dlq": self.dlq.id})

"""S3 → SQS: the ingest queue, its dead-letter queue, and the notification that feeds them."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from image_analyzer.definitions import FUNCTIONS, QUEUE, UPLOAD_PREFIX
from infra.component import Component
from infra.policies import policy_document


@dataclass(frozen=True)
class IngestArgs:
    bucket: aws.s3.Bucket  # whose uploads/ feed the queue
    account_id: pulumi.Input[str]
    max_receive_count: int  # deliveries before the dead-letter queue
    tags: dict[str, str]


class Ingest(Component):
    def __init__(self, name: str, args: IngestArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-analyzer:ingest:Ingest", name, opts)
        child = self.child()
        bucket, account_id, tags = args.bucket, args.account_id, args.tags
        consumer = FUNCTIONS[QUEUE.consumer]
        self.dlq = aws.sqs.Queue(
            self.named("dlq", former="ingest-dlq"),
            message_retention_seconds=QUEUE.dlq_retention_s,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child,
        )
        self.queue = aws.sqs.Queue(
            self.named("queue", former="ingest"),
            visibility_timeout_seconds=QUEUE.visibility_timeout_s(consumer.timeout_s),
            message_retention_seconds=QUEUE.message_retention_s,
            sqs_managed_sse_enabled=True,
            redrive_policy=self.dlq.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": args.max_receive_count})
            ),
            tags=tags,
            opts=child,
        )
        queue_policy = aws.sqs.QueuePolicy(
            self.named("from-bucket", former="ingest-from-bucket"),
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
            self.named("uploads-notification"),
            bucket=bucket.id,
            queues=[{"queue_arn": self.queue.arn, "events": ["s3:ObjectCreated:*"], "filter_prefix": UPLOAD_PREFIX}],
            # S3 checks that it may send before it accepts the notification.
            opts=self.child(depends_on=[queue_policy]),
        )
        self.register_outputs({"queue": self.queue.id, "dlq": self.dlq.id})

"""Alarms that reach someone: an SNS topic (optionally with an e-mail subscription) behind every alarm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from image_analyzer.definitions import METRICS_NAMESPACE, PROJECT
from infra.component import Component

PERIOD_S = 300
OLDEST_DEAD_LETTER_S = 3600  # a dead letter older than this: the consumer is not draining the queue
OLDEST_UPLOAD_S = 900  # an upload waiting longer than this: processing has fallen behind or stopped


@dataclass(frozen=True)
class MonitoringArgs:
    queue: aws.sqs.Queue
    dlq: aws.sqs.Queue
    functions: dict[str, aws.lambda_.Function]
    api: aws.apigatewayv2.Api
    key: aws.kms.Key | None  # encrypts the alarm topic when the stack has one
    tags: dict[str, str]
    alarm_email: str | None = None  # subscribed to the alarm topic


class Monitoring(Component):
    """An alarm topic, and alarms on the queues, the functions and the API that notify it."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-analyzer:monitoring:Monitoring", name, opts)
        child = self.child()
        queue, dlq, functions, api, key, tags = args.queue, args.dlq, args.functions, args.api, args.key, args.tags
        # Encrypted with the customer-managed key when there is one (its policy lets CloudWatch publish). The
        # AWS-managed SNS key is no option: CloudWatch may not use it, and alarms would reach nobody.
        self.topic = aws.sns.Topic(
            self.named("alarms"),
            name=f"{PROJECT}-{pulumi.get_stack()}-alarms",
            kms_master_key_id=key.arn if key else None,
            tags=tags,
            opts=child,
        )
        if args.alarm_email:
            aws.sns.TopicSubscription(
                self.named("alarms-email"),
                topic=self.topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=child,
            )
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        self._alarm(
            "dlq-not-empty", "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": dlq.name}, "Maximum", 0,
            "Dead-lettered uploads are waiting: the dead-letter consumer is failing to end their jobs.", tags,
        )  # fmt: skip
        self._alarm(
            "dlq-oldest-message", "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": dlq.name}, "Maximum",
            OLDEST_DEAD_LETTER_S, "A dead letter has waited over an hour: the dead-letter consumer is not running.",
            tags,
        )  # fmt: skip
        self._alarm(
            "ingest-oldest-message", "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": queue.name},
            "Maximum", OLDEST_UPLOAD_S, "Uploads have waited over 15 minutes: processing is behind or stopped.", tags,
        )  # fmt: skip
        self._alarm(
            "jobs-dead-lettered", METRICS_NAMESPACE, "JobsDeadLettered", {"service": PROJECT}, "Sum", 0,
            "Uploads failed on every delivery (worker killed, timed out or crashed); their jobs ended PROCESSING_FAILED.",
            tags,
        )  # fmt: skip
        for fn_name, function in functions.items():
            for metric, meaning in (("Errors", "raised errors"), ("Throttles", "was throttled")):
                self._alarm(
                    f"{fn_name}-{metric.lower()}", "AWS/Lambda", metric, {"FunctionName": function.name}, "Sum", 0,
                    f"{fn_name} {meaning} (metrics namespace {METRICS_NAMESPACE} has job counts).", tags,
                )  # fmt: skip
        self._alarm(
            "api-5xx", "AWS/ApiGateway", "5xx", {"ApiId": api.id}, "Sum", 0,
            "The API answered with server errors: see the functions' logs and the access log.", tags,
        )  # fmt: skip
        self.register_outputs({"topic": self.topic.arn})

    def _alarm(
        self,
        name: str,
        namespace: str,
        metric: str,
        dimensions: dict[str, Any],
        statistic: str,
        threshold: float,
        text: str,
        tags: dict[str, str],
    ) -> None:
        self.alarms[name] = aws.cloudwatch.MetricAlarm(
            self.named(name),
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            statistic=statistic,
            period=PERIOD_S,
            evaluation_periods=1,
            threshold=threshold,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_description=text,
            alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn],
            tags=tags,
            opts=self.child(),
        )

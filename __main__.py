"""Image Analyzer on AWS: every resource, least-privilege roles, one `pulumi up`.

Functions, routes, queue settings and environment come from ``image_analyzer.definitions``, the same
definitions the local stack reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from image_analyzer.definitions import (
    CONVERTED_PREFIX,
    FUNCTIONS,
    METRICS_NAMESPACE,
    PROJECT,
    QUEUE,
    ROUTES,
    SETTINGS,
    TABLE_HASH_KEY,
    TABLE_NAME,
    TABLE_TTL_ATTRIBUTE,
    UPLOAD_PREFIX,
    StackSettings,
)

ROOT = Path(__file__).resolve().parent
ARTIFACTS_PREFIX = "artifacts/"
LOGS_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]


@dataclass(frozen=True)
class StackConfig:
    architecture: str
    allowed_origins: list[str]
    max_upload_bytes: int
    url_expiry_seconds: int
    min_confidence: float
    max_labels: int
    retention_days: int
    processor_concurrency: int
    max_receive_count: int
    log_retention_days: int
    api_rate_limit: float
    api_burst_limit: int
    layer_zip: str | None
    force_destroy: bool
    # The optional classifier stage: a spec file (uploaded with its model by this program), or objects already in S3.
    classifier_spec: str | None = None
    classifier_spec_s3: str | None = None
    classifier_model_s3: str | None = None

    @staticmethod
    def load() -> StackConfig:
        cfg = pulumi.Config()
        defaults = SETTINGS
        architecture = cfg.get("architecture") or "arm64"
        if architecture not in ("arm64", "x86_64"):
            raise ValueError(f"image-analyzer:architecture must be arm64 or x86_64, not {architecture!r}")
        origins = cfg.get_object("allowedOrigins") or defaults["ALLOWED_ORIGINS"].default.split(",")
        return StackConfig(
            architecture=architecture,
            allowed_origins=[str(o) for o in origins],
            max_upload_bytes=cfg.get_int("maxUploadBytes") or int(defaults["MAX_UPLOAD_BYTES"].default),
            url_expiry_seconds=cfg.get_int("urlExpirySeconds") or int(defaults["URL_EXPIRY_SECONDS"].default),
            min_confidence=cfg.get_float("minConfidence") or float(defaults["MIN_CONFIDENCE"].default),
            max_labels=cfg.get_int("maxLabels") or int(defaults["MAX_LABELS"].default),
            retention_days=cfg.get_int("retentionDays") or int(defaults["RETENTION_DAYS"].default),
            processor_concurrency=cfg.get_int("processorConcurrency") or QUEUE.max_concurrency,
            max_receive_count=cfg.get_int("maxReceiveCount") or int(defaults["MAX_RECEIVE_COUNT"].default),
            log_retention_days=cfg.get_int("logRetentionDays") or 30,
            api_rate_limit=cfg.get_float("apiRateLimit") or 20.0,
            api_burst_limit=cfg.get_int("apiBurstLimit") or 40,
            layer_zip=cfg.get("layerZip"),
            force_destroy=cfg.get_bool("forceDestroy") or False,
            classifier_spec=cfg.get("classifierSpec"),
            classifier_spec_s3=cfg.get("classifierSpecS3"),
            classifier_model_s3=cfg.get("classifierModelS3"),
        )

    def settings(self) -> StackSettings:
        values = StackSettings().values | {
            "MAX_UPLOAD_BYTES": str(self.max_upload_bytes),
            "URL_EXPIRY_SECONDS": str(self.url_expiry_seconds),
            "MIN_CONFIDENCE": f"{self.min_confidence:g}",
            "MAX_LABELS": str(self.max_labels),
            "ALLOWED_ORIGINS": ",".join(self.allowed_origins),
            "RETENTION_DAYS": str(self.retention_days),
            "MAX_RECEIVE_COUNT": str(self.max_receive_count),
        }
        return StackSettings(values)


def statement(actions: list[str], resources: list[Any]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": resources}


def policy_document(statements: list[dict[str, Any]]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements})


def layer_archive(config: StackConfig) -> tuple[pulumi.Asset, str]:
    """The layer zip: given in config, or built now for the configured architecture (deterministic)."""
    if config.layer_zip:
        path = Path(config.layer_zip)
    else:
        import importlib

        build = importlib.import_module("layer.build")
        result = build.build(config.architecture)
        pulumi.log.info(f"layer built: {result.path.name}, {result.unzipped_bytes / 2**20:.0f} MB unzipped")
        path = result.path
    import base64
    import hashlib

    digest = base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()
    return pulumi.FileAsset(str(path)), digest


def s3_object_arn(uri: str) -> str:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"expected s3://bucket/key, got {uri!r}")
    return f"arn:aws:s3:::{uri[5:]}"


def classifier_objects(config: StackConfig, bucket: aws.s3.Bucket) -> tuple[Any, list[Any]] | None:
    """Where the processor reads its classifier (CLASSIFIER_SPEC) and the ARNs of the two objects it may read:
    a local spec is uploaded with its model under artifacts/classifier/; S3 objects are used where they are."""
    if config.classifier_spec:
        spec_path = Path(config.classifier_spec)
        model_name = json.loads(spec_path.read_text())["model"]
        model_path = spec_path.parent / model_name
        spec_key = f"{ARTIFACTS_PREFIX}classifier/{spec_path.name}"
        model_key = f"{ARTIFACTS_PREFIX}classifier/{model_name}"
        spec_object = aws.s3.BucketObjectv2(
            "classifier-spec", bucket=bucket.id, key=spec_key, source=pulumi.FileAsset(str(spec_path))
        )
        model_object = aws.s3.BucketObjectv2(
            "classifier-model", bucket=bucket.id, key=model_key, source=pulumi.FileAsset(str(model_path))
        )
        arns = [pulumi.Output.concat(bucket.arn, "/", o.key) for o in (spec_object, model_object)]
        return pulumi.Output.concat("s3://", bucket.id, "/", spec_object.key), arns
    if config.classifier_spec_s3:
        if not config.classifier_model_s3:
            raise ValueError("image-analyzer:classifierModelS3 is required with classifierSpecS3")
        arns = [s3_object_arn(config.classifier_spec_s3), s3_object_arn(config.classifier_model_s3)]
        return config.classifier_spec_s3, arns
    return None


def build_stack() -> dict[str, pulumi.Output[Any]]:
    config = StackConfig.load()
    stack = pulumi.get_stack()
    prefix = f"{PROJECT}-{stack}"
    tags = {"project": PROJECT, "stack": stack}

    # Storage: private, encrypted, TLS only, CORS for the page, uploads and renders expire.
    bucket = aws.s3.Bucket("uploads", force_destroy=config.force_destroy, tags=tags)
    public_block = aws.s3.BucketPublicAccessBlock(
        "uploads-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        "uploads-encryption",
        bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": True}],
    )
    aws.s3.BucketPolicy(
        "uploads-tls-only",
        bucket=bucket.id,
        policy=policy_document(
            [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ]
        ),
        opts=pulumi.ResourceOptions(depends_on=[public_block]),
    )
    aws.s3.BucketCorsConfiguration(
        "uploads-cors",
        bucket=bucket.id,
        cors_rules=[
            {
                "allowed_methods": ["GET", "PUT", "POST", "HEAD"],
                "allowed_origins": config.allowed_origins,
                "allowed_headers": ["*"],
                "expose_headers": ["ETag"],
                "max_age_seconds": 600,
            }
        ],
    )
    aws.s3.BucketLifecycleConfiguration(
        "uploads-lifecycle",
        bucket=bucket.id,
        rules=[
            {
                "id": f"expire-{p.rstrip('/')}",
                "status": "Enabled",
                "filter": {"prefix": p},
                "expiration": {"days": config.retention_days},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
            }
            for p in (UPLOAD_PREFIX, CONVERTED_PREFIX)
        ],
    )

    # Queueing: S3 → ingest queue → process_image, with a dead-letter queue.
    consumer = FUNCTIONS[QUEUE.consumer]
    dlq = aws.sqs.Queue(
        "ingest-dlq", message_retention_seconds=QUEUE.dlq_retention_s, sqs_managed_sse_enabled=True, tags=tags
    )
    queue = aws.sqs.Queue(
        "ingest",
        visibility_timeout_seconds=QUEUE.visibility_timeout_s(consumer.timeout_s),
        message_retention_seconds=QUEUE.message_retention_s,
        sqs_managed_sse_enabled=True,
        redrive_policy=dlq.arn.apply(
            lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": config.max_receive_count})
        ),
        tags=tags,
    )
    queue_policy = aws.sqs.QueuePolicy(
        "ingest-from-bucket",
        queue_url=queue.id,
        policy=policy_document(
            [
                {
                    "Sid": "AllowThisBucketOnly",
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue.arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": bucket.arn}},
                }
            ]
        ),
    )
    aws.s3.BucketNotification(
        "uploads-notification",
        bucket=bucket.id,
        queues=[{"queue_arn": queue.arn, "events": ["s3:ObjectCreated:*"], "filter_prefix": UPLOAD_PREFIX}],
        opts=pulumi.ResourceOptions(depends_on=[queue_policy]),  # S3 checks it may send before accepting
    )

    table = aws.dynamodb.Table(
        "jobs",
        name=f"{TABLE_NAME}-{stack}",
        billing_mode="PAY_PER_REQUEST",
        hash_key=TABLE_HASH_KEY,
        attributes=[{"name": TABLE_HASH_KEY, "type": "S"}],
        ttl={"attribute_name": TABLE_TTL_ATTRIBUTE, "enabled": True},
        point_in_time_recovery={"enabled": True},
        server_side_encryption={"enabled": True},
        tags=tags,
    )

    # Code: the layer (core + dependencies) goes through S3 (it is over the 50 MB direct-upload limit).
    layer_asset, layer_hash = layer_archive(config)
    layer_object = aws.s3.BucketObjectv2(
        "layer-zip", bucket=bucket.id, key=f"{ARTIFACTS_PREFIX}layer-{config.architecture}.zip", source=layer_asset
    )
    layer = aws.lambda_.LayerVersion(
        "core-layer",
        layer_name=f"{prefix}-core",
        s3_bucket=bucket.id,
        s3_key=layer_object.key,
        source_code_hash=layer_hash,
        compatible_runtimes=["python3.12"],
        compatible_architectures=[config.architecture],
        description="Image Analyzer core package and its pinned dependencies",
    )
    code = pulumi.AssetArchive({"handlers": pulumi.FileArchive(str(ROOT / "handlers"))})

    bucket_objects = lambda prefix_: pulumi.Output.concat(bucket.arn, "/", prefix_, "*")  # noqa: E731
    classifier = classifier_objects(config, bucket)
    permissions: dict[str, list[dict[str, Any]]] = {
        "request_upload": [
            statement(["s3:PutObject"], [bucket_objects(UPLOAD_PREFIX)]),
            statement(["dynamodb:PutItem"], [table.arn]),
        ],
        "process_image": [
            statement(["s3:GetObject"], [bucket_objects(UPLOAD_PREFIX)]),
            statement(["s3:PutObject"], [bucket_objects(CONVERTED_PREFIX)]),
            # DetectLabels has no resource-level permissions: AWS only accepts "*" here.
            statement(["rekognition:DetectLabels"], ["*"]),
            # GetItem: a conditional claim that fails re-reads the job to tell a duplicate from a busy one.
            statement(["dynamodb:UpdateItem", "dynamodb:GetItem"], [table.arn]),
            statement(
                ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
                [queue.arn],
            ),
            # The classifier's spec and model, and nothing else of the artifacts.
            *([statement(["s3:GetObject"], classifier[1])] if classifier else []),
        ],
        "dead_letter": [
            statement(["dynamodb:UpdateItem"], [table.arn]),
            statement(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], [dlq.arn]),
        ],
        "render_view": [
            statement(["dynamodb:GetItem"], [table.arn]),
            # The original upload is read; views are written once and read back under converted/.
            statement(["s3:GetObject"], [bucket_objects(UPLOAD_PREFIX), bucket_objects(CONVERTED_PREFIX)]),
            statement(["s3:PutObject"], [bucket_objects(CONVERTED_PREFIX)]),
        ],
        "get_results": [
            statement(["dynamodb:GetItem"], [table.arn]),
            statement(["s3:GetObject"], [bucket_objects(UPLOAD_PREFIX), bucket_objects(CONVERTED_PREFIX)]),
        ],
    }

    settings = config.settings()
    functions: dict[str, aws.lambda_.Function] = {}
    log_groups: dict[str, aws.cloudwatch.LogGroup] = {}
    for name, definition in FUNCTIONS.items():
        function_name = f"{prefix}-{name.replace('_', '-')}"
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/aws/lambda/{function_name}", retention_in_days=config.log_retention_days, tags=tags
        )
        log_groups[name] = log_group
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=tags,
        )
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=policy_document(
                [*permissions[name], statement(LOGS_ACTIONS, [pulumi.Output.concat(log_group.arn, ":*")])]
            ),
        )
        classifier_location = classifier[0] if classifier and name == QUEUE.consumer else ""
        environment = pulumi.Output.all(bucket.id, table.name, classifier_location).apply(
            lambda values, n=name: (
                settings.environment_for(n, values[0], values[1])
                | ({"CLASSIFIER_SPEC": values[2]} if values[2] else {})
            )
        )
        functions[name] = aws.lambda_.Function(
            name,
            name=function_name,
            description=definition.description,
            runtime="python3.12",
            architectures=[config.architecture],
            handler=definition.handler,
            memory_size=definition.memory_mb,
            timeout=definition.timeout_s,
            role=role.arn,
            code=code,
            layers=[layer.arn],
            environment={"variables": environment},
            logging_config={"log_format": "Text", "log_group": log_group.name},
            tags=tags,
            opts=pulumi.ResourceOptions(depends_on=[log_group]),
        )

    aws.lambda_.EventSourceMapping(
        "ingest-to-processor",
        event_source_arn=queue.arn,
        function_name=functions[QUEUE.consumer].arn,
        batch_size=QUEUE.batch_size,
        maximum_batching_window_in_seconds=QUEUE.max_batching_window_s,
        function_response_types=["ReportBatchItemFailures"],
        scaling_config={"maximum_concurrency": config.processor_concurrency},
    )
    aws.lambda_.EventSourceMapping(
        "dead-letters-to-consumer",
        event_source_arn=dlq.arn,
        function_name=functions[QUEUE.dead_letter_consumer].arn,
        batch_size=QUEUE.dead_letter_batch_size,
        function_response_types=["ReportBatchItemFailures"],
    )

    # HTTP API: the two routes, CORS, throttling and access logs.
    api = aws.apigatewayv2.Api(
        "api",
        protocol_type="HTTP",
        cors_configuration={
            "allow_origins": config.allowed_origins,
            "allow_methods": sorted({r.method for r in ROUTES} | {"OPTIONS"}),
            "allow_headers": ["content-type"],
            "max_age": 600,
        },
        tags=tags,
    )
    access_logs = aws.cloudwatch.LogGroup(
        "api-access-logs", name=f"/aws/apigateway/{prefix}", retention_in_days=config.log_retention_days, tags=tags
    )
    for route in ROUTES:
        slug = route.path.strip("/")
        integration = aws.apigatewayv2.Integration(
            f"{slug}-integration",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_uri=functions[route.function].invoke_arn,
            payload_format_version="2.0",
        )
        aws.apigatewayv2.Route(
            f"{slug}-route",
            api_id=api.id,
            route_key=f"{route.method} {route.path}",
            target=pulumi.Output.concat("integrations/", integration.id),
        )
        aws.lambda_.Permission(
            f"{slug}-invoke",
            action="lambda:InvokeFunction",
            function=functions[route.function].name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(api.execution_arn, "/*/", route.method, route.path),
        )
    stage = aws.apigatewayv2.Stage(
        "default-stage",
        api_id=api.id,
        name="$default",
        auto_deploy=True,
        default_route_settings={
            "throttling_rate_limit": config.api_rate_limit,
            "throttling_burst_limit": config.api_burst_limit,
        },
        access_log_settings={
            "destination_arn": access_logs.arn,
            "format": json.dumps(
                {
                    "requestId": "$context.requestId",
                    "routeKey": "$context.routeKey",
                    "status": "$context.status",
                    "latencyMs": "$context.responseLatency",
                    "integrationError": "$context.integrationErrorMessage",
                }
            ),
        },
        tags=tags,
    )

    # Alarms: anything in the DLQ, and any function error.
    def alarm(name: str, namespace: str, metric: str, dimensions: dict[str, Any], statistic: str, text: str) -> None:
        aws.cloudwatch.MetricAlarm(
            name,
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            statistic=statistic,
            period=300,
            evaluation_periods=1,
            threshold=0,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_description=text,
            tags=tags,
        )

    alarm(
        "dlq-not-empty",
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        {"QueueName": dlq.name},
        "Maximum",
        "Dead-lettered uploads are waiting: the dead-letter consumer is failing to end their jobs.",
    )
    alarm(
        "jobs-dead-lettered",
        METRICS_NAMESPACE,
        "JobsDeadLettered",
        {"service": PROJECT},
        "Sum",
        "Uploads failed on every delivery (worker killed, timed out or crashed); their jobs ended PROCESSING_FAILED.",
    )
    for name, function in functions.items():
        alarm(
            f"{name}-errors",
            "AWS/Lambda",
            "Errors",
            {"FunctionName": function.name},
            "Sum",
            f"{name} raised errors (metrics namespace {METRICS_NAMESPACE} has job counts).",
        )

    return {
        "apiUrl": stage.invoke_url,
        "bucketName": bucket.id,
        "tableName": table.name,
        "queueUrl": queue.id,
        "dlqUrl": dlq.id,
    }


if __name__ == "__main__":
    for output_name, value in build_stack().items():
        pulumi.export(output_name, value)

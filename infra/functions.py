"""The Lambda functions: the layer, one least-privilege role and log group each, tracing, the queue mappings."""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from image_analyzer.definitions import CONVERTED_PREFIX, FUNCTIONS, PROJECT, QUEUE, UPLOAD_PREFIX, StackSettings
from infra.component import Component
from infra.policies import LAMBDA_TRUST, policy_document, statement

ROOT = Path(__file__).resolve().parent.parent
CLASSIFIER_PREFIX = "classifier/"
LOGS_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
# X-Ray active tracing: what AWSXRayDaemonWriteAccess grants; X-Ray has no resource-level permissions.
XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
# Granted actions that no function's code calls: AWS calls them with the function's role on its behalf. Every other
# granted action is one the code calls (tests/infra/test_permissions.py checks both against the recorded calls).
USED_ON_THE_FUNCTIONS_BEHALF = {
    "sqs:ReceiveMessage": "the SQS event source mapping polls the queue with the consumer's role",
    "sqs:DeleteMessage": "the event source mapping deletes what the function processed",
    "sqs:GetQueueAttributes": "the event source mapping reads the queue's attributes",
    "sqs:ChangeMessageVisibility": "the event source mapping returns the batch's failed items",
    "logs:CreateLogStream": "the Lambda runtime writes the function's logs",
    "logs:PutLogEvents": "the Lambda runtime writes the function's logs",
    "xray:PutTraceSegments": "the X-Ray daemon in the sandbox sends the function's traces",
    "xray:PutTelemetryRecords": "the X-Ray daemon in the sandbox sends its telemetry",
    "kms:Decrypt": "S3 and DynamoDB decrypt with the stack's key for the caller (customerManagedKey)",
    "kms:GenerateDataKey": "S3 and DynamoDB encrypt with the stack's key for the caller (customerManagedKey)",
}


@dataclass(frozen=True)
class DataResources:
    bucket: aws.s3.Bucket
    artifacts: aws.s3.Bucket
    table: aws.dynamodb.Table
    queue: aws.sqs.Queue
    dlq: aws.sqs.Queue
    key: aws.kms.Key | None


@dataclass(frozen=True)
class FunctionsArgs:
    """What the functions are built from: the stack's data resources and the settings that shape the functions."""

    data: DataResources
    settings: StackSettings  # the functions' environment
    architecture: str
    log_retention_days: int
    processor_concurrency: int
    tags: dict[str, str]
    layer_zip: str | None = None  # built on `pulumi up` when None
    classifier_spec: str | None = None  # a local spec file, uploaded with its model
    classifier_spec_s3: str | None = None  # …or objects already in S3
    classifier_model_s3: str | None = None


def layer_archive(args: FunctionsArgs) -> tuple[pulumi.Asset, str]:
    """The layer zip: given in config, or built now for the configured architecture (deterministic)."""
    if args.layer_zip:
        path = Path(args.layer_zip)
    else:
        build = importlib.import_module("layer.build")
        result = build.build(args.architecture)
        pulumi.log.info(f"layer built: {result.path.name}, {result.unzipped_bytes / 2**20:.0f} MB unzipped")
        path = result.path
    digest = base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()
    return pulumi.FileAsset(str(path)), digest


def s3_object_arn(uri: str) -> str:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"expected s3://bucket/key, got {uri!r}")
    return f"arn:aws:s3:::{uri[5:]}"


def classifier_objects(args: FunctionsArgs, parent: Component) -> tuple[Any, list[Any]] | None:
    """Where the processor reads its classifier (CLASSIFIER_SPEC) and the ARNs of the two objects it may read:
    a local spec is uploaded with its model to the artifact bucket; S3 objects are used where they are."""
    child = parent.child()
    artifacts = args.data.artifacts
    if args.classifier_spec:
        spec_path = Path(args.classifier_spec)
        model_name = json.loads(spec_path.read_text())["model"]
        spec_object = aws.s3.BucketObjectv2(
            parent.named("classifier-spec"),
            bucket=artifacts.id,
            key=f"{CLASSIFIER_PREFIX}{spec_path.name}",
            source=pulumi.FileAsset(str(spec_path)),
            opts=child,
        )
        model_object = aws.s3.BucketObjectv2(
            parent.named("classifier-model"),
            bucket=artifacts.id,
            key=f"{CLASSIFIER_PREFIX}{model_name}",
            source=pulumi.FileAsset(str(spec_path.parent / model_name)),
            opts=child,
        )
        arns = [pulumi.Output.concat(artifacts.arn, "/", o.key) for o in (spec_object, model_object)]
        return pulumi.Output.concat("s3://", artifacts.id, "/", spec_object.key), arns
    if args.classifier_spec_s3:  # with classifierModelS3: StackConfig.load checked that they come together
        assert args.classifier_model_s3 is not None
        arns = [s3_object_arn(args.classifier_spec_s3), s3_object_arn(args.classifier_model_s3)]
        return args.classifier_spec_s3, arns
    return None


def permissions(data: DataResources, classifier_arns: list[Any] | None) -> dict[str, list[dict[str, Any]]]:
    """Each function's grants, and nothing more."""
    objects = lambda prefix: pulumi.Output.concat(data.bucket.arn, "/", prefix, "*")  # noqa: E731
    grants: dict[str, list[dict[str, Any]]] = {
        "request_upload": [
            statement(["s3:PutObject"], [objects(UPLOAD_PREFIX)]),
            # PutItem: the job; UpdateItem: the caller's daily upload counter.
            statement(["dynamodb:PutItem", "dynamodb:UpdateItem"], [data.table.arn]),
        ],
        "process_image": [
            # DeleteObject: the upload goes once its job has ended, and a job that ends in error removes what it
            # wrote under converted/.
            statement(["s3:GetObject", "s3:DeleteObject"], [objects(UPLOAD_PREFIX)]),
            statement(["s3:PutObject", "s3:DeleteObject"], [objects(CONVERTED_PREFIX)]),
            # DetectText finds burned-in text to redact, DetectLabels labels the redacted picture. Neither has
            # resource-level permissions: AWS only accepts "*" here.
            statement(["rekognition:DetectLabels", "rekognition:DetectText"], ["*"]),
            # GetItem: a conditional claim that fails re-reads the job to tell a duplicate from a busy one.
            statement(["dynamodb:UpdateItem", "dynamodb:GetItem"], [data.table.arn]),
            statement(
                ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
                [data.queue.arn],
            ),
            # The classifier's spec and model, and nothing else of the artifacts.
            *([statement(["s3:GetObject"], classifier_arns)] if classifier_arns else []),
        ],
        "dead_letter": [
            statement(["dynamodb:UpdateItem"], [data.table.arn]),
            # The upload, and what a killed attempt wrote under converted/ before its job ended here.
            statement(["s3:DeleteObject"], [objects(UPLOAD_PREFIX), objects(CONVERTED_PREFIX)]),
            statement(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], [data.dlq.arn]),
        ],
        "render_view": [
            # UpdateItem: the caller's daily render counter (dailyRenderQuota), taken for each view rendered.
            statement(["dynamodb:GetItem", "dynamodb:UpdateItem"], [data.table.arn]),
            # Views are drawn from the job's frame copy and kept, all under converted/.
            statement(["s3:GetObject", "s3:PutObject"], [objects(CONVERTED_PREFIX)]),
        ],
        "get_results": [
            statement(["dynamodb:GetItem"], [data.table.arn]),
            statement(["s3:GetObject"], [objects(CONVERTED_PREFIX)]),
        ],
    }
    if data.key is not None:  # SSE-KMS objects and the table: every function reads or writes one of them
        for name in grants:
            grants[name].append(statement(["kms:Decrypt", "kms:GenerateDataKey"], [data.key.arn]))
    return grants


class Functions(Component):
    """The layer, and each function of the definitions with its role, log group and queue mapping."""

    def __init__(self, name: str, args: FunctionsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-analyzer:functions:Functions", name, opts)
        child = self.child()
        data, tags = args.data, args.tags
        prefix = f"{PROJECT}-{pulumi.get_stack()}"

        # The layer (core + dependencies) goes through S3: it is over the 50 MB direct-upload limit.
        layer_asset, layer_hash = layer_archive(args)
        layer_object = aws.s3.BucketObjectv2(
            self.named("layer-zip"),
            bucket=data.artifacts.id,
            key=f"layers/layer-{args.architecture}.zip",
            source=layer_asset,
            opts=child,
        )
        self.layer = aws.lambda_.LayerVersion(
            self.named("core-layer"),
            layer_name=f"{prefix}-core",
            s3_bucket=data.artifacts.id,
            s3_key=layer_object.key,
            source_code_hash=layer_hash,
            compatible_runtimes=["python3.12"],
            compatible_architectures=[args.architecture],
            description="Image Analyzer core package and its pinned dependencies",
            opts=child,
        )
        code = pulumi.AssetArchive({"handlers": pulumi.FileArchive(str(ROOT / "handlers"))})
        classifier = classifier_objects(args, self)
        grants = permissions(data, classifier[1] if classifier else None)
        settings = args.settings

        self.functions: dict[str, aws.lambda_.Function] = {}
        self.log_groups: dict[str, aws.cloudwatch.LogGroup] = {}
        for fn_name, definition in FUNCTIONS.items():
            function_name = f"{prefix}-{fn_name.replace('_', '-')}"
            log_group = aws.cloudwatch.LogGroup(
                self.named(f"{fn_name}-logs"),
                name=f"/aws/lambda/{function_name}",
                retention_in_days=args.log_retention_days,
                tags=tags,
                opts=child,
            )
            self.log_groups[fn_name] = log_group
            role = aws.iam.Role(self.named(f"{fn_name}-role"), assume_role_policy=LAMBDA_TRUST, tags=tags, opts=child)
            aws.iam.RolePolicy(
                self.named(f"{fn_name}-policy"),
                role=role.id,
                policy=policy_document(
                    [
                        *grants[fn_name],
                        statement(LOGS_ACTIONS, [pulumi.Output.concat(log_group.arn, ":*")]),
                        statement(XRAY_ACTIONS, ["*"]),
                    ]
                ),
                opts=child,
            )
            classifier_location = classifier[0] if classifier and fn_name == QUEUE.consumer else ""
            environment = pulumi.Output.all(data.bucket.id, data.table.name, classifier_location).apply(
                lambda values, n=fn_name: (
                    settings.environment_for(n, values[0], values[1])
                    | ({"CLASSIFIER_SPEC": values[2]} if values[2] else {})
                )
            )
            self.functions[fn_name] = aws.lambda_.Function(
                self.named(fn_name),
                name=function_name,
                description=definition.description,
                runtime="python3.12",
                architectures=[args.architecture],
                handler=definition.handler,
                memory_size=definition.memory_mb,
                timeout=definition.timeout_s,
                role=role.arn,
                code=code,
                layers=[self.layer.arn],
                environment={"variables": environment},
                logging_config={"log_format": "Text", "log_group": log_group.name},
                tracing_config={"mode": "Active"},
                tags=tags,
                opts=self.child(depends_on=[log_group]),
            )

        aws.lambda_.EventSourceMapping(
            self.named("ingest-to-processor"),
            event_source_arn=data.queue.arn,
            function_name=self.functions[QUEUE.consumer].arn,
            batch_size=QUEUE.batch_size,
            maximum_batching_window_in_seconds=QUEUE.max_batching_window_s,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config={"maximum_concurrency": args.processor_concurrency},
            opts=child,
        )
        aws.lambda_.EventSourceMapping(
            self.named("dead-letters-to-consumer"),
            event_source_arn=data.dlq.arn,
            function_name=self.functions[QUEUE.dead_letter_consumer].arn,
            batch_size=QUEUE.dead_letter_batch_size,
            function_response_types=["ReportBatchItemFailures"],
            opts=child,
        )
        self.register_outputs({"functions": {n: f.name for n, f in self.functions.items()}})

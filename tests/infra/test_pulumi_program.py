"""The Pulumi program under Pulumi's mocks: inventory, least privilege, wiring and environment."""

from __future__ import annotations

import ast
import asyncio
import json
import runpy
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

from image_analyzer.definitions import FUNCTIONS, QUEUE, ROUTES

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[tuple[str, str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append((args.typ, args.name, dict(args.inputs)))
        physical = args.inputs.get("name") or f"{args.name}-id"
        service = args.typ.split(":")[1].split("/")[0]
        arn = f"arn:aws:{service}:us-east-1:{ACCOUNT}:{args.name}"
        if args.typ == "aws:s3/bucket:Bucket":
            arn = f"arn:aws:s3:::{physical}"
        state = {**args.inputs, "arn": arn, "name": physical, "id": physical}
        if args.typ == "aws:lambda/function:Function":
            state["invoke_arn"] = f"arn:aws:apigateway:us-east-1:lambda:path/functions/{arn}/invocations"
        if args.typ == "aws:apigatewayv2/api:Api":
            state["execution_arn"] = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:api123"
        if args.typ == "aws:apigatewayv2/stage:Stage":
            state["invoke_url"] = "https://api123.execute-api.us-east-1.amazonaws.com/"
        if args.typ == "aws:sqs/queue:Queue":
            state["id"] = physical = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{args.name}"
        return physical, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list]:
        return {}, []


def run_program(config: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    """The program under mocks with this stack config; every Output must resolve."""
    layer_zip = tmp_path / "layer.zip"
    with zipfile.ZipFile(layer_zip, "w") as archive:
        archive.writestr("python/placeholder.txt", "mock")
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="image-analyzer", stack="test", preview=False)
    pulumi.runtime.set_all_config({"image-analyzer:layerZip": str(layer_zip), **config})
    module = runpy.run_path(str(ROOT / "__main__.py"), run_name="image_analyzer_stack")
    outputs = module["build_stack"]()
    resolved = resolve(pulumi.Output.all(**outputs))
    from pulumi.runtime.stack import wait_for_rpcs

    _sync_await(asyncio.wait_for(wait_for_rpcs(), RESOLVE_TIMEOUT_S))
    return {"outputs": resolved, "resources": mocks.resources}


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    config = {
        "image-analyzer:allowedOrigins": json.dumps(["https://app.example.com"]),
        "image-analyzer:processorConcurrency": "4",
    }
    return run_program(config, tmp_path_factory.mktemp("layer"))


RESOLVE_TIMEOUT_S = 30


def resolve(output: pulumi.Output[Any], timeout_s: float = RESOLVE_TIMEOUT_S) -> Any:
    """The Output's value; an Output that never resolves fails here instead of passing silently."""
    try:
        return _sync_await(asyncio.wait_for(output.future(), timeout_s))
    except TimeoutError:
        raise AssertionError(f"an Output did not resolve within {timeout_s} s") from None


def test_the_resolution_guard_fails_on_an_output_that_never_resolves(program) -> None:
    never: asyncio.Future[str] = asyncio.get_event_loop().create_future()
    with pytest.raises(AssertionError, match="did not resolve"):
        resolve(pulumi.Output.from_input(never), timeout_s=0.2)


def of_type(program: dict[str, Any], typ: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, inputs) for t, name, inputs in program["resources"] if t == typ]


def one(program: dict[str, Any], typ: str) -> dict[str, Any]:
    found = of_type(program, typ)
    assert len(found) == 1, f"{typ}: {len(found)}"
    return found[0][1]


def test_outputs_resolved(program) -> None:
    outputs = program["outputs"]
    assert outputs is not None, "the program's outputs never resolved"
    assert outputs["apiUrl"].startswith("https://")
    assert outputs["queueUrl"].startswith("https://sqs.") and outputs["dlqUrl"].startswith("https://sqs.")
    assert outputs["bucketName"] and outputs["tableName"] == "ImageAnalysisResults-test"


def test_resource_inventory(program) -> None:
    counts = Counter(t for t, _, _ in program["resources"])
    functions, routes = len(FUNCTIONS), len(ROUTES)
    expected = {
        "aws:s3/bucket:Bucket": 1,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
        "aws:s3/bucketPolicy:BucketPolicy": 1,
        "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration": 1,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 1,
        "aws:s3/bucketNotification:BucketNotification": 1,
        "aws:s3/bucketObjectv2:BucketObjectv2": 1,
        "aws:sqs/queue:Queue": 2,
        "aws:sqs/queuePolicy:QueuePolicy": 1,
        "aws:dynamodb/table:Table": 1,
        "aws:lambda/layerVersion:LayerVersion": 1,
        "aws:lambda/function:Function": functions,
        "aws:iam/role:Role": functions,
        "aws:iam/rolePolicy:RolePolicy": functions,
        "aws:cloudwatch/logGroup:LogGroup": functions + 1,
        "aws:lambda/eventSourceMapping:EventSourceMapping": 2,
        "aws:apigatewayv2/api:Api": 1,
        "aws:apigatewayv2/integration:Integration": routes,
        "aws:apigatewayv2/route:Route": routes,
        "aws:apigatewayv2/stage:Stage": 1,
        "aws:lambda/permission:Permission": routes,
        "aws:cloudwatch/metricAlarm:MetricAlarm": functions + 2,
    }
    counts.pop("pulumi:providers:aws", None)
    assert dict(counts) == expected


def test_bucket_is_private_encrypted_tls_only_with_cors_and_expiry(program) -> None:
    block = one(program, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    sse = one(program, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    policy = json.loads(one(program, "aws:s3/bucketPolicy:BucketPolicy")["policy"])
    deny = policy["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    cors = one(program, "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration")["corsRules"][0]
    assert cors["allowedOrigins"] == ["https://app.example.com"] and "PUT" in cors["allowedMethods"]
    rules = one(program, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")["rules"]
    assert {r["filter"]["prefix"]: r["expiration"]["days"] for r in rules} == {"uploads/": 7, "converted/": 7}


def test_queues_and_notification(program) -> None:
    queues = dict(of_type(program, "aws:sqs/queue:Queue"))
    ingest = queues["ingest"]
    assert ingest["visibilityTimeoutSeconds"] >= 6 * FUNCTIONS["process_image"].timeout_s
    redrive = json.loads(ingest["redrivePolicy"])
    assert redrive["maxReceiveCount"] == 3 and redrive["deadLetterTargetArn"].endswith(":ingest-dlq")
    queue_policy = json.loads(one(program, "aws:sqs/queuePolicy:QueuePolicy")["policy"])["Statement"]
    assert len(queue_policy) == 1 and queue_policy[0]["Principal"] == {"Service": "s3.amazonaws.com"}
    assert queue_policy[0]["Action"] == "sqs:SendMessage"
    assert queue_policy[0]["Condition"]["ArnEquals"]["aws:SourceArn"].startswith("arn:aws:s3:::")
    notification = one(program, "aws:s3/bucketNotification:BucketNotification")["queues"][0]
    assert notification["filterPrefix"] == "uploads/" and notification["events"] == ["s3:ObjectCreated:*"]
    mappings = dict(of_type(program, "aws:lambda/eventSourceMapping:EventSourceMapping"))
    dead_letters = mappings["dead-letters-to-consumer"]
    assert dead_letters["eventSourceArn"].endswith(":ingest-dlq")
    assert dead_letters["functionName"].endswith(QUEUE.dead_letter_consumer)
    assert dead_letters["functionResponseTypes"] == ["ReportBatchItemFailures"]
    mapping = mappings["ingest-to-processor"]
    assert mapping["eventSourceArn"].endswith(":ingest") and mapping["functionName"].endswith(QUEUE.consumer)
    assert mapping["batchSize"] == QUEUE.batch_size
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["scalingConfig"] == {"maximumConcurrency": 4}


def test_table(program) -> None:
    table = one(program, "aws:dynamodb/table:Table")
    assert table["billingMode"] == "PAY_PER_REQUEST" and table["hashKey"] == "jobId"
    assert table["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert table["pointInTimeRecovery"]["enabled"] and table["serverSideEncryption"]["enabled"]


def test_functions_match_the_definitions(program) -> None:
    functions = dict(of_type(program, "aws:lambda/function:Function"))
    assert set(functions) == set(FUNCTIONS)
    for name, definition in FUNCTIONS.items():
        fn = functions[name]
        assert (fn["handler"], fn["memorySize"], fn["timeout"]) == (
            definition.handler,
            definition.memory_mb,
            definition.timeout_s,
        )
        assert fn["runtime"] == "python3.12" and fn["architectures"] == ["arm64"]
        assert len(fn["layers"]) == 1
    assert (functions["process_image"]["memorySize"], functions["process_image"]["timeout"]) == (1024, 300)


def _policy(program: dict[str, Any], function: str) -> dict[str, set[str]]:
    """action → the resources it is granted on, from the parsed role policy."""
    documents = dict(of_type(program, "aws:iam/rolePolicy:RolePolicy"))
    granted: dict[str, set[str]] = {}
    for st in json.loads(documents[f"{function}-policy"]["policy"])["Statement"]:
        assert st["Effect"] == "Allow"
        for action in st["Action"]:
            assert "*" not in action, f"wildcard action {action}"
            granted.setdefault(action, set()).update(st["Resource"])
    return granted


def test_each_role_has_exactly_the_permissions_it_needs(program) -> None:
    bucket = "arn:aws:s3:::uploads-id"
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:jobs"
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:ingest"

    def logs(fn: str) -> dict[str, set[str]]:
        group = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:{fn}-logs:*"
        return {"logs:CreateLogStream": {group}, "logs:PutLogEvents": {group}}

    assert _policy(program, "request_upload") == {
        "s3:PutObject": {f"{bucket}/uploads/*"},
        "dynamodb:PutItem": {table},
        **logs("request_upload"),
    }
    assert _policy(program, "process_image") == {
        "s3:GetObject": {f"{bucket}/uploads/*"},
        "s3:PutObject": {f"{bucket}/converted/*"},
        "rekognition:DetectLabels": {"*"},
        "dynamodb:UpdateItem": {table},
        "dynamodb:GetItem": {table},
        "sqs:ReceiveMessage": {queue},
        "sqs:DeleteMessage": {queue},
        "sqs:GetQueueAttributes": {queue},
        "sqs:ChangeMessageVisibility": {queue},
        **logs("process_image"),
    }
    dlq = f"{queue}-dlq"
    assert _policy(program, "dead_letter") == {
        "dynamodb:UpdateItem": {table},
        "sqs:ReceiveMessage": {dlq},
        "sqs:DeleteMessage": {dlq},
        "sqs:GetQueueAttributes": {dlq},
        **logs("dead_letter"),
    }
    assert _policy(program, "render_view") == {
        "dynamodb:GetItem": {table},
        "s3:GetObject": {f"{bucket}/uploads/*", f"{bucket}/converted/*"},
        "s3:PutObject": {f"{bucket}/converted/*"},
        **logs("render_view"),
    }
    assert _policy(program, "get_results") == {
        "dynamodb:GetItem": {table},
        "s3:GetObject": {f"{bucket}/uploads/*", f"{bucket}/converted/*"},
        **logs("get_results"),
    }


def _variables_read_by(module_paths: list[Path]) -> set[str]:
    """Environment variables a handler reads: literal names passed to the config accessors or os.environ."""
    readers = {"required", "setting", "int_setting", "float_setting", "list_setting", "getenv", "get"}
    names: set[str] = set()
    for path in module_paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                value = node.args[0].value
                # AWS_LAMBDA_* variables are set by Lambda itself, not by the program.
                readable = isinstance(value, str) and value.isupper() and "_" in value
                if called in readers and readable and not value.startswith("AWS_LAMBDA_"):
                    names.add(value)
    return names


def _modules_of(handler: Path) -> list[Path]:
    """The handler and every core module it imports, transitively."""
    core = ROOT / "layer" / "image_analyzer"
    seen: list[Path] = []
    pending = [handler]
    while pending:
        path = pending.pop()
        if path in seen or not path.exists():
            continue
        seen.append(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("image_analyzer"):
                parts = node.module.split(".")[1:]
                if parts:
                    pending.append(core.joinpath(*parts).with_suffix(".py"))
                else:
                    pending.extend(core / f"{alias.name}.py" for alias in node.names)
    return seen


def test_every_function_gets_every_variable_its_handler_reads(program) -> None:
    functions = dict(of_type(program, "aws:lambda/function:Function"))
    for name in FUNCTIONS:
        modules = _modules_of(ROOT / "handlers" / f"{name}.py")
        assert len(modules) > 3
        read = _variables_read_by(modules)
        assert read, f"no variables found for {name}: the scan is broken"
        given = set(functions[name]["environment"]["variables"])
        assert read <= given, f"{name} reads {sorted(read - given)} but is not given them"
    variables = functions["request_upload"]["environment"]["variables"]
    assert variables["ALLOWED_ORIGINS"] == "https://app.example.com" and variables["UPLOAD_BUCKET"] == "uploads-id"


def test_http_api_routes_cors_stage(program) -> None:
    api = one(program, "aws:apigatewayv2/api:Api")
    assert api["protocolType"] == "HTTP" and api["corsConfiguration"]["allowOrigins"] == ["https://app.example.com"]
    routes = {inputs["routeKey"] for _, inputs in of_type(program, "aws:apigatewayv2/route:Route")}
    assert routes == {f"{r.method} {r.path}" for r in ROUTES}
    for _, integration in of_type(program, "aws:apigatewayv2/integration:Integration"):
        assert integration["payloadFormatVersion"] == "2.0" and integration["integrationType"] == "AWS_PROXY"
    stage = one(program, "aws:apigatewayv2/stage:Stage")
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] == 20
    assert stage["accessLogSettings"]["destinationArn"].endswith("api-access-logs")
    permissions = [p for _, p in of_type(program, "aws:lambda/permission:Permission")]
    assert all(p["principal"] == "apigateway.amazonaws.com" for p in permissions)


def test_log_retention_and_alarms(program) -> None:
    assert all(g["retentionInDays"] == 30 for _, g in of_type(program, "aws:cloudwatch/logGroup:LogGroup"))
    alarms = dict(of_type(program, "aws:cloudwatch/metricAlarm:MetricAlarm"))
    assert alarms["dlq-not-empty"]["metricName"] == "ApproximateNumberOfMessagesVisible"
    dead_lettered = alarms["jobs-dead-lettered"]
    assert (dead_lettered["namespace"], dead_lettered["metricName"]) == ("ImageAnalyzer", "JobsDeadLettered")
    assert dead_lettered["dimensions"] == {"service": "image-analyzer"}
    assert {f"{n}-errors" for n in FUNCTIONS} <= set(alarms)

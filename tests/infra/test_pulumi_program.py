"""The Pulumi program under Pulumi's mocks: inventory, least privilege, wiring and environment."""

from __future__ import annotations

import ast
import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pulumi
import pytest

from image_analyzer.definitions import FUNCTIONS, QUEUE, ROUTES
from tests.harness import deployed
from tests.harness.pulumi_program import ACCOUNT, ROOT, SSE, buckets, of_component, of_type, one, run_program


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    config = {
        "image-analyzer:allowedOrigins": json.dumps(["https://app.example.com"]),
        "image-analyzer:processorConcurrency": "4",
    }
    return run_program(config, tmp_path_factory.mktemp("layer"))


resolve = deployed.resolve


def test_the_resolution_guard_fails_on_an_output_that_never_resolves(program) -> None:
    never: asyncio.Future[str] = asyncio.get_event_loop().create_future()
    with pytest.raises(AssertionError, match="did not resolve"):
        resolve(pulumi.Output.from_input(never), timeout_s=0.2)


def test_outputs_resolved(program) -> None:
    outputs = program["outputs"]
    assert outputs is not None, "the program's outputs never resolved"
    assert outputs["apiUrl"].startswith("https://")
    assert outputs["queueUrl"].startswith("https://sqs.") and outputs["dlqUrl"].startswith("https://sqs.")
    assert outputs["bucketName"] and outputs["tableName"] == "ImageAnalysisResults-test"


def test_resource_inventory(program) -> None:
    counts = Counter(t for t, _, _ in program["resources"])
    functions, routes = len(FUNCTIONS), len(ROUTES)
    buckets = 3  # data, artifacts, access logs
    expected = {
        "image-analyzer:storage:Storage": 1,
        "image-analyzer:ingest:Ingest": 1,
        "image-analyzer:functions:Functions": 1,
        "image-analyzer:api:Api": 1,
        "image-analyzer:monitoring:Monitoring": 1,
        "aws:s3/bucket:Bucket": buckets,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": buckets,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": buckets,
        "aws:s3/bucketPolicy:BucketPolicy": buckets,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": buckets,
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 1,
        "aws:s3/bucketLogging:BucketLogging": buckets - 1,
        "aws:s3/bucketVersioning:BucketVersioning": buckets - 1,
        "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration": 1,
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
        "aws:apigatewayv2/authorizer:Authorizer": 1,
        "aws:cognito/userPool:UserPool": 1,
        "aws:cognito/userPoolClient:UserPoolClient": 1,
        "aws:apigatewayv2/integration:Integration": routes,
        "aws:apigatewayv2/route:Route": routes,
        "aws:apigatewayv2/stage:Stage": 1,
        "aws:lambda/permission:Permission": routes,
        "aws:sns/topic:Topic": 1,
        # DLQ depth and age, ingest age, jobs dead-lettered, API 5xx; errors and throttles of each function.
        "aws:cloudwatch/metricAlarm:MetricAlarm": 5 + 2 * functions,
    }
    counts.pop("pulumi:providers:aws", None)
    assert dict(counts) == expected


def test_every_bucket_is_private_encrypted_and_tls_only(program) -> None:
    blocks = buckets(program, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert set(blocks) == {"uploads", "artifacts", "access-logs"}
    for block in blocks.values():
        assert all(
            block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
    for name, sse in buckets(program, SSE).items():
        assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256", name
    for name, policy in buckets(program, "aws:s3/bucketPolicy:BucketPolicy").items():
        deny = json.loads(policy["policy"])["Statement"][0]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, name


def test_data_bucket_cors_versioning_and_expiry(program) -> None:
    cors = one(program, "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration")["corsRules"][0]
    assert cors["allowedOrigins"] == ["https://app.example.com"] and "PUT" in cors["allowedMethods"]
    lifecycles = buckets(program, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rules = {r["filter"]["prefix"]: r for r in lifecycles["uploads"]["rules"]}
    # Uploads are deleted once processed; the rule only catches those never processed.
    assert {p: r["expiration"]["days"] for p, r in rules.items()} == {"uploads/": 1, "converted/": 7}
    assert all(r["noncurrentVersionExpiration"]["noncurrentDays"] == 7 for r in rules.values())
    versioning = buckets(program, "aws:s3/bucketVersioning:BucketVersioning")
    assert {n: v["versioningConfiguration"]["status"] for n, v in versioning.items()} == {
        "uploads": "Enabled",
        "artifacts": "Enabled",
    }


def test_access_logging_goes_to_its_own_bucket(program) -> None:
    logging = buckets(program, "aws:s3/bucketLogging:BucketLogging")
    assert set(logging) == {"uploads", "artifacts"}
    assert all(entry["targetBucket"] == "storage-access-logs-id" for entry in logging.values())
    statements = json.loads(buckets(program, "aws:s3/bucketPolicy:BucketPolicy")["access-logs"]["policy"])["Statement"]
    delivery = next(st for st in statements if st["Effect"] == "Allow")
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    expiry = buckets(program, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")["access-logs"]
    assert expiry["rules"][0]["expiration"]["days"] == 365


def test_the_layer_lives_in_the_artifact_bucket_which_expires_old_versions(program) -> None:
    layer_object = one(program, "aws:s3/bucketObjectv2:BucketObjectv2")
    assert layer_object["bucket"] == "storage-artifacts-id" and layer_object["key"].startswith("layers/")
    assert one(program, "aws:lambda/layerVersion:LayerVersion")["s3Bucket"] == "storage-artifacts-id"
    rule = buckets(program, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")["artifacts"]["rules"][0]
    assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 30


def test_queues_and_notification(program) -> None:
    queues = of_component(program, "aws:sqs/queue:Queue", "ingest")
    ingest = queues["queue"]
    assert ingest["visibilityTimeoutSeconds"] >= 6 * FUNCTIONS["process_image"].timeout_s
    redrive = json.loads(ingest["redrivePolicy"])
    assert redrive["maxReceiveCount"] == 3 and redrive["deadLetterTargetArn"].endswith(":ingest-dlq")
    queue_policy = json.loads(one(program, "aws:sqs/queuePolicy:QueuePolicy")["policy"])["Statement"]
    assert len(queue_policy) == 1 and queue_policy[0]["Principal"] == {"Service": "s3.amazonaws.com"}
    assert queue_policy[0]["Action"] == "sqs:SendMessage"
    assert queue_policy[0]["Condition"]["ArnEquals"]["aws:SourceArn"] == "arn:aws:s3:::storage-uploads-id"
    assert queue_policy[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    notification = one(program, "aws:s3/bucketNotification:BucketNotification")["queues"][0]
    assert notification["filterPrefix"] == "uploads/" and notification["events"] == ["s3:ObjectCreated:*"]
    mappings = of_component(program, "aws:lambda/eventSourceMapping:EventSourceMapping", "functions")
    dead_letters = mappings["dead-letters-to-consumer"]
    assert dead_letters["eventSourceArn"].endswith(":ingest-dlq")
    assert dead_letters["functionName"].endswith(QUEUE.dead_letter_consumer)
    assert dead_letters["functionResponseTypes"] == ["ReportBatchItemFailures"]
    mapping = mappings["ingest-to-processor"]
    assert mapping["eventSourceArn"].endswith(":ingest-queue") and mapping["functionName"].endswith(QUEUE.consumer)
    assert mapping["batchSize"] == QUEUE.batch_size
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["scalingConfig"] == {"maximumConcurrency": 4}


def test_table(program) -> None:
    table = one(program, "aws:dynamodb/table:Table")
    assert table["billingMode"] == "PAY_PER_REQUEST" and table["hashKey"] == "jobId"
    assert table["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert table["pointInTimeRecovery"]["enabled"] and table["serverSideEncryption"]["enabled"]
    assert table["deletionProtectionEnabled"] is True


def test_functions_match_the_definitions(program) -> None:
    functions = of_component(program, "aws:lambda/function:Function", "functions")
    assert set(functions) == set(FUNCTIONS)
    for name, definition in FUNCTIONS.items():
        fn = functions[name]
        assert (fn["handler"], fn["memorySize"], fn["timeout"]) == (
            definition.handler,
            definition.memory_mb,
            definition.timeout_s,
        )
        assert fn["runtime"] == "python3.12" and fn["architectures"] == ["arm64"]
        assert len(fn["layers"]) == 1 and fn["tracingConfig"] == {"mode": "Active"}
    assert (functions["process_image"]["memorySize"], functions["process_image"]["timeout"]) == (1024, 300)


def _policy(program: dict[str, Any], function: str) -> dict[str, set[str]]:
    """action → the resources it is granted on, from the parsed role policy."""
    documents = of_component(program, "aws:iam/rolePolicy:RolePolicy", "functions")
    granted: dict[str, set[str]] = {}
    for st in json.loads(documents[f"{function}-policy"]["policy"])["Statement"]:
        assert st["Effect"] == "Allow"
        for action in st["Action"]:
            assert "*" not in action, f"wildcard action {action}"
            granted.setdefault(action, set()).update(st["Resource"])
    return granted


def test_each_role_has_exactly_the_permissions_it_needs(program) -> None:
    bucket = "arn:aws:s3:::storage-uploads-id"
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:storage-jobs"
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:ingest-queue"

    def logs(fn: str) -> dict[str, set[str]]:
        group = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:functions-{fn}-logs:*"
        # X-Ray accepts no resource: the trace segments of active tracing.
        xray = {"xray:PutTraceSegments": {"*"}, "xray:PutTelemetryRecords": {"*"}}
        return {"logs:CreateLogStream": {group}, "logs:PutLogEvents": {group}, **xray}

    assert _policy(program, "request_upload") == {
        "s3:PutObject": {f"{bucket}/uploads/*"},
        "dynamodb:PutItem": {table},
        "dynamodb:UpdateItem": {table},  # the daily upload counter
        **logs("request_upload"),
    }
    assert _policy(program, "process_image") == {
        "s3:GetObject": {f"{bucket}/uploads/*"},
        "s3:DeleteObject": {f"{bucket}/uploads/*", f"{bucket}/converted/*"},  # what a failed job wrote
        "s3:PutObject": {f"{bucket}/converted/*"},
        "rekognition:DetectLabels": {"*"},
        "rekognition:DetectText": {"*"},  # burned-in text is found before anything is stored
        "dynamodb:UpdateItem": {table},
        "dynamodb:GetItem": {table},
        "sqs:ReceiveMessage": {queue},
        "sqs:DeleteMessage": {queue},
        "sqs:GetQueueAttributes": {queue},
        "sqs:ChangeMessageVisibility": {queue},
        **logs("process_image"),
    }
    dlq = f"arn:aws:sqs:us-east-1:{ACCOUNT}:ingest-dlq"
    assert _policy(program, "dead_letter") == {
        "dynamodb:UpdateItem": {table},
        "s3:DeleteObject": {f"{bucket}/uploads/*", f"{bucket}/converted/*"},
        "sqs:ReceiveMessage": {dlq},
        "sqs:DeleteMessage": {dlq},
        "sqs:GetQueueAttributes": {dlq},
        **logs("dead_letter"),
    }
    assert _policy(program, "render_view") == {
        "dynamodb:GetItem": {table},
        "dynamodb:UpdateItem": {table},  # the daily render counter (found missing by test_permissions.py)
        "s3:GetObject": {f"{bucket}/converted/*"},
        "s3:PutObject": {f"{bucket}/converted/*"},
        **logs("render_view"),
    }
    assert _policy(program, "get_results") == {
        "dynamodb:GetItem": {table},
        "s3:GetObject": {f"{bucket}/converted/*"},  # imageUrl never points at an upload
        **logs("get_results"),
    }


def _variables_read_by(module_paths: list[Path]) -> set[str]:
    """Environment variables a handler reads: literal names passed to the config accessors or os.environ."""
    readers = {"required", "setting", "int_setting", "float_setting", "bool_setting", "list_setting", "getenv", "get"}
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
                    pending.append(_source_of(core, parts))
                else:
                    pending.extend(_source_of(core, [alias.name]) for alias in node.names)
    return seen


def _source_of(core: Path, parts: list[str]) -> Path:
    """A module's file, or a package's ``__init__.py``."""
    package = core.joinpath(*parts) / "__init__.py"
    return package if package.exists() else core.joinpath(*parts).with_suffix(".py")


def test_every_function_gets_every_variable_its_handler_reads(program) -> None:
    functions = of_component(program, "aws:lambda/function:Function", "functions")
    for name in FUNCTIONS:
        modules = _modules_of(ROOT / "handlers" / f"{name}.py")
        assert len(modules) > 3
        read = _variables_read_by(modules)
        assert read, f"no variables found for {name}: the scan is broken"
        given = set(functions[name]["environment"]["variables"])
        assert read <= given, f"{name} reads {sorted(read - given)} but is not given them"
    variables = functions["request_upload"]["environment"]["variables"]
    assert (
        variables["ALLOWED_ORIGINS"] == "https://app.example.com" and variables["UPLOAD_BUCKET"] == "storage-uploads-id"
    )


def test_http_api_routes_cors_stage(program) -> None:
    api = one(program, "aws:apigatewayv2/api:Api")
    assert api["protocolType"] == "HTTP" and api["corsConfiguration"]["allowOrigins"] == ["https://app.example.com"]
    assert "authorization" in api["corsConfiguration"]["allowHeaders"]
    assert api["corsConfiguration"]["exposeHeaders"] == ["retry-after"]
    routes = {inputs["routeKey"] for _, inputs in of_type(program, "aws:apigatewayv2/route:Route")}
    assert routes == {f"{r.method} {r.path}" for r in ROUTES}
    for _, integration in of_type(program, "aws:apigatewayv2/integration:Integration"):
        assert integration["payloadFormatVersion"] == "2.0" and integration["integrationType"] == "AWS_PROXY"
    stage = one(program, "aws:apigatewayv2/stage:Stage")
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] == 20
    assert {s["routeKey"]: (s["throttlingRateLimit"], s["throttlingBurstLimit"]) for s in stage["routeSettings"]} == {
        f"{r.method} {r.path}": (r.rate_limit, r.burst_limit) for r in ROUTES
    }
    assert stage["accessLogSettings"]["destinationArn"].endswith("api-access-logs")
    permissions = [p for _, p in of_type(program, "aws:lambda/permission:Permission")]
    assert all(p["principal"] == "apigateway.amazonaws.com" for p in permissions)


def test_access_logs_name_the_caller_and_where_they_came_from(program) -> None:
    log_format = json.loads(one(program, "aws:apigatewayv2/stage:Stage")["accessLogSettings"]["format"])
    assert log_format["sourceIp"] == "$context.identity.sourceIp"
    assert log_format["subject"] == "$context.authorizer.claims.sub"
    assert {"requestId", "routeKey", "status", "authorizerError"} <= set(log_format)


def test_every_route_needs_a_jwt_from_the_created_user_pool_by_default(program) -> None:
    authorizer = one(program, "aws:apigatewayv2/authorizer:Authorizer")
    assert authorizer["authorizerType"] == "JWT"
    assert authorizer["identitySources"] == ["$request.header.Authorization"]
    jwt = authorizer["jwtConfiguration"]
    assert jwt["issuer"] == "https://cognito-idp.us-east-1.amazonaws.com/image-analyzer-test"
    assert jwt["audiences"] == ["api-users-client-id"]
    for _, route in of_type(program, "aws:apigatewayv2/route:Route"):
        assert route["authorizationType"] == "JWT" and route["authorizerId"] == "jwt", route["routeKey"]
    pool = one(program, "aws:cognito/userPool:UserPool")
    assert pool["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True  # no self sign-up
    assert program["outputs"]["userPoolClientId"] == "api-users-client-id"


def test_log_retention_and_alarms_notify_the_topic(program) -> None:
    assert all(g["retentionInDays"] == 365 for _, g in of_type(program, "aws:cloudwatch/logGroup:LogGroup"))
    alarms = of_component(program, "aws:cloudwatch/metricAlarm:MetricAlarm", "monitoring")
    topic = program["outputs"]["alarmTopicArn"]
    assert topic.endswith(":monitoring-alarms")
    for name, alarm in alarms.items():
        assert alarm["alarmActions"] == [topic] and alarm["okActions"] == [topic], name
    assert alarms["dlq-not-empty"]["metricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarms["dlq-oldest-message"]["metricName"] == "ApproximateAgeOfOldestMessage"
    assert alarms["ingest-oldest-message"]["dimensions"] == {"QueueName": "ingest-queue-id"}
    dead_lettered = alarms["jobs-dead-lettered"]
    assert (dead_lettered["namespace"], dead_lettered["metricName"]) == ("ImageAnalyzer", "JobsDeadLettered")
    assert dead_lettered["dimensions"] == {"service": "image-analyzer"}
    assert {f"{n}-errors" for n in FUNCTIONS} | {f"{n}-throttles" for n in FUNCTIONS} <= set(alarms)
    api_5xx = alarms["api-5xx"]
    assert (api_5xx["namespace"], api_5xx["metricName"], api_5xx["dimensions"]) == (
        "AWS/ApiGateway",
        "5xx",
        {"ApiId": "api-http-id"},
    )
    # Not the AWS-managed SNS key: CloudWatch could not publish to a topic encrypted with it.
    assert "kmsMasterKeyId" not in one(program, "aws:sns/topic:Topic")
    assert not of_type(program, "aws:sns/topicSubscription:TopicSubscription"), "no e-mail configured"


def test_every_child_is_named_after_its_component_and_keeps_its_former_name(program) -> None:
    components = {name for typ, name, _ in program["resources"] if typ.startswith("image-analyzer:")}
    assert components == {"storage", "ingest", "functions", "api", "monitoring"}
    children = [name for typ, name, _ in program["resources"] if not typ.startswith(("image-analyzer:", "pulumi:"))]
    assert children and [n for n in children if n.split("-")[0] not in components] == []
    # A stack deployed before the prefixes updates in place: each child is aliased to its former name.
    renamed = {"storage-jobs": "jobs", "storage-uploads": "uploads", "api-http": "api", "ingest-queue": "ingest"}
    for name, former in renamed.items():
        assert former in program["aliases"][name], name

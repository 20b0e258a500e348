"""The stack's security options under Pulumi's mocks: auth modes, alarm e-mail, KMS, deletion protection, retention."""

from __future__ import annotations

import json
from typing import Any

import pytest

from image_analyzer.definitions import FUNCTIONS
from tests.harness.pulumi_program import SSE, buckets, of_component, of_type, one, run_program


def routes(program: dict[str, Any]) -> list[dict[str, Any]]:
    return [inputs for _, inputs in of_type(program, "aws:apigatewayv2/route:Route")]


def test_an_open_api_must_be_asked_for(tmp_path) -> None:
    program = run_program({"image-analyzer:auth": "none"}, tmp_path)
    assert not of_type(program, "aws:apigatewayv2/authorizer:Authorizer")
    assert not of_type(program, "aws:cognito/userPool:UserPool")
    assert all(route["authorizationType"] == "NONE" for route in routes(program))
    assert program["outputs"]["auth"] == "none"


def test_any_oidc_issuer_can_be_trusted(tmp_path) -> None:
    config = {
        "image-analyzer:jwtIssuer": "https://login.example-hospital.org/realms/radiology",
        "image-analyzer:jwtAudience": json.dumps(["image-analyzer", "viewer"]),
    }
    program = run_program(config, tmp_path)
    jwt = one(program, "aws:apigatewayv2/authorizer:Authorizer")["jwtConfiguration"]
    assert jwt == {
        "issuer": "https://login.example-hospital.org/realms/radiology",
        "audiences": ["image-analyzer", "viewer"],
    }
    assert not of_type(program, "aws:cognito/userPool:UserPool")
    assert all(route["authorizationType"] == "JWT" for route in routes(program))


@pytest.mark.parametrize(
    "config",
    [
        {"image-analyzer:auth": "jwt"},
        {"image-analyzer:jwtIssuer": "http://insecure.example.org", "image-analyzer:jwtAudience": "x"},
        {"image-analyzer:jwtIssuer": "https://issuer.example.org"},
        {"image-analyzer:auth": "basic"},
    ],
)
def test_an_incomplete_auth_configuration_is_refused(tmp_path, config) -> None:
    with pytest.raises(Exception, match="image-analyzer:auth"):
        run_program(config, tmp_path)


def test_alarms_can_mail_someone(tmp_path) -> None:
    program = run_program({"image-analyzer:alarmEmail": "oncall@example.org"}, tmp_path)
    subscription = one(program, "aws:sns/topicSubscription:TopicSubscription")
    assert subscription["protocol"] == "email" and subscription["endpoint"] == "oncall@example.org"
    assert subscription["topic"] == program["outputs"]["alarmTopicArn"]


def test_a_customer_managed_key_encrypts_the_data_and_every_role_may_use_it(tmp_path) -> None:
    program = run_program({"image-analyzer:customerManagedKey": "true"}, tmp_path)
    key = one(program, "aws:kms/key:Key")
    assert key["enableKeyRotation"] is True
    statements = json.loads(key["policy"])["Statement"]
    publish = next(st for st in statements if st["Principal"] == {"Service": "cloudwatch.amazonaws.com"})
    assert set(publish["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}, "alarms can reach the encrypted topic"
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    key_arn = "arn:aws:kms:us-east-1:123456789012:storage-data-key"
    encryption = buckets(program, SSE)
    for name in ("uploads", "artifacts"):
        default = encryption[name]["rules"][0]["applyServerSideEncryptionByDefault"]
        assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}, name
    # S3 delivers access logs to SSE-S3 buckets only.
    assert encryption["access-logs"]["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    assert one(program, "aws:dynamodb/table:Table")["serverSideEncryption"]["kmsKeyArn"] == key_arn
    assert one(program, "aws:sns/topic:Topic")["kmsMasterKeyId"] == key_arn
    for name, policy in of_type(program, "aws:iam/rolePolicy:RolePolicy"):
        statements = json.loads(policy["policy"])["Statement"]
        kms = [st for st in statements if "kms:Decrypt" in st["Action"]]
        assert kms and kms[0]["Resource"] == [key_arn], name


def test_development_stacks_may_turn_deletion_protection_off(tmp_path) -> None:
    program = run_program({"image-analyzer:deletionProtection": "false", "image-analyzer:auth": "cognito"}, tmp_path)
    assert one(program, "aws:dynamodb/table:Table")["deletionProtectionEnabled"] is False
    assert one(program, "aws:cognito/userPool:UserPool")["deletionProtection"] == "INACTIVE"


def test_kept_originals_expire_with_the_retention(tmp_path) -> None:
    program = run_program({"image-analyzer:keepOriginals": "true", "image-analyzer:retentionDays": "30"}, tmp_path)
    rules = buckets(program, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")["uploads"]["rules"]
    assert {r["filter"]["prefix"]: r["expiration"]["days"] for r in rules} == {"uploads/": 30, "converted/": 30}
    functions = of_component(program, "aws:lambda/function:Function", "functions")
    for name in ("process_image", "dead_letter"):
        assert functions[name]["environment"]["variables"]["KEEP_ORIGINALS"] == "true"


def test_quota_and_log_retention_are_configurable(tmp_path) -> None:
    config = {
        "image-analyzer:dailyUploadQuota": "25",
        "image-analyzer:dailyRenderQuota": "40",
        "image-analyzer:maxCustomViews": "0",  # zero is a value too: presets only
        "image-analyzer:logRetentionDays": "731",
        "image-analyzer:minConfidence": "0",  # zero is a value, not "unset"
    }
    program = run_program(config, tmp_path)
    functions = of_component(program, "aws:lambda/function:Function", "functions")
    assert functions["request_upload"]["environment"]["variables"]["DAILY_UPLOAD_QUOTA"] == "25"
    assert functions["render_view"]["environment"]["variables"]["DAILY_RENDER_QUOTA"] == "40"
    assert functions["render_view"]["environment"]["variables"]["MAX_CUSTOM_VIEWS"] == "0"
    assert functions["process_image"]["environment"]["variables"]["MIN_CONFIDENCE"] == "0"
    groups = of_type(program, "aws:cloudwatch/logGroup:LogGroup")
    assert len(groups) == len(FUNCTIONS) + 1 and all(g["retentionInDays"] == 731 for _, g in groups)


def test_text_redaction_is_on_for_dicom_by_default_and_configurable(tmp_path) -> None:
    functions = of_component(run_program({}, tmp_path), "aws:lambda/function:Function", "functions")
    assert functions["process_image"]["environment"]["variables"]["REDACT_TEXT"] == "dicom"
    program = run_program({"image-analyzer:redactText": "all"}, tmp_path)
    functions = of_component(program, "aws:lambda/function:Function", "functions")
    assert functions["process_image"]["environment"]["variables"]["REDACT_TEXT"] == "all"
    with pytest.raises(Exception, match="image-analyzer:redactText"):
        run_program({"image-analyzer:redactText": "sometimes"}, tmp_path)


def test_the_decode_time_limit_is_configurable_and_kept_under_the_processor_timeout(tmp_path) -> None:
    variables = of_component(run_program({}, tmp_path), "aws:lambda/function:Function", "functions")["process_image"]
    assert variables["environment"]["variables"]["DECODE_TIME_LIMIT_S"] == "20"
    program = run_program({"image-analyzer:decodeTimeLimitSeconds": "7.5"}, tmp_path)
    functions = of_component(program, "aws:lambda/function:Function", "functions")
    assert functions["process_image"]["environment"]["variables"]["DECODE_TIME_LIMIT_S"] == "7.5"
    for outside in ("-1", "300", "1000"):
        with pytest.raises(Exception, match="image-analyzer:decodeTimeLimitSeconds"):
            run_program({"image-analyzer:decodeTimeLimitSeconds": outside}, tmp_path)

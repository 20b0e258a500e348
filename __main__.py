"""Image Analyzer on AWS: every resource, least-privilege roles, one `pulumi up`.

Functions, routes, queue settings and environment come from ``image_analyzer.definitions``, the same
definitions the local stack reads; the components live in ``infra/``.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from image_analyzer.definitions import PROJECT
from infra.api import Api, ApiArgs
from infra.component import args_from
from infra.config import StackConfig
from infra.functions import DataResources, Functions, FunctionsArgs
from infra.ingest import Ingest, IngestArgs
from infra.monitoring import Monitoring, MonitoringArgs
from infra.storage import Storage, StorageArgs


def build_stack() -> dict[str, pulumi.Output[Any]]:
    config = StackConfig.load()
    if config.auth == "none":
        pulumi.log.warn("image-analyzer:auth is none: anyone who finds the API URL can upload and read results")
    tags = {"project": PROJECT, "stack": pulumi.get_stack()}
    account_id = aws.get_caller_identity_output().account_id
    storage = Storage("storage", args_from(StorageArgs, config, account_id=account_id, tags=tags))
    ingest = Ingest("ingest", args_from(IngestArgs, config, bucket=storage.bucket, account_id=account_id, tags=tags))
    data = DataResources(storage.bucket, storage.artifacts, storage.table, ingest.queue, ingest.dlq, storage.key)
    functions = Functions(
        "functions", args_from(FunctionsArgs, config, data=data, settings=config.settings(), tags=tags)
    )
    api = Api("api", args_from(ApiArgs, config, functions=functions.functions, tags=tags))
    monitoring = Monitoring(
        "monitoring",
        args_from(
            MonitoringArgs, config, queue=ingest.queue, dlq=ingest.dlq, functions=functions.functions, api=api.api,
            key=storage.key, tags=tags,
        ),
    )  # fmt: skip
    outputs: dict[str, Any] = {
        "apiUrl": api.stage.invoke_url,
        "bucketName": storage.bucket.id,
        "artifactBucketName": storage.artifacts.id,
        "accessLogBucketName": storage.log_bucket.id,
        "tableName": storage.table.name,
        "queueUrl": ingest.queue.id,
        "dlqUrl": ingest.dlq.id,
        "alarmTopicArn": monitoring.topic.arn,
        "auth": pulumi.Output.from_input(config.auth),
    }
    authorization = api.authorization
    if authorization is not None:
        outputs["jwtIssuer"] = pulumi.Output.from_input(authorization.issuer)
        if authorization.user_pool is not None and authorization.user_pool_client is not None:
            outputs["userPoolId"] = authorization.user_pool.id
            outputs["userPoolClientId"] = authorization.user_pool_client.id
    return outputs


if __name__ == "__main__":
    for output_name, value in build_stack().items():
        pulumi.export(output_name, value)

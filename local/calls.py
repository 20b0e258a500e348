"""The AWS API calls each function makes, recorded in its local worker: what its IAM role must allow.

With ``IMAGE_ANALYZER_CALL_LOG`` set to a file, every worker of the local runtime appends one JSON line per call it
makes (what a run costs is counted from them; what a role needs, from the distinct ones): the function, the service and operation (botocore's names, presigned URLs included: they are signed
with the function's role), and the resource in the terms of the deployed stack (the data bucket's prefix, the
table, …). A botocore event hook on every client the function creates; nothing in the functions knows of it.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

CALL_LOG_ENV = "IMAGE_ANALYZER_CALL_LOG"

# Operations whose IAM action has another name than the operation.
_ACTIONS = {
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "PostObject"): "s3:PutObject",  # a presigned POST: the browser's upload form
}


def iam_action(service: str, operation: str) -> str:
    return _ACTIONS.get((service, operation), f"{service}:{operation}")


def resource_of(service: str, params: dict[str, Any], env: dict[str, str]) -> str:
    """The call's resource as the stack names it: ``bucket:uploads/`` (the data bucket and the key's prefix),
    ``table``, ``queue``; ``*`` for services without resources (Rekognition's image operations); a bucket that is
    not the data bucket is ``s3:<bucket>/<prefix>``."""
    if service == "s3":
        bucket, key = str(params.get("Bucket", "")), str(params.get("Key", ""))
        prefix = key.split("/", 1)[0] + "/" if "/" in key else key
        return f"bucket:{prefix}" if bucket == env.get("UPLOAD_BUCKET") else f"s3:{bucket}/{prefix}"
    if service == "dynamodb":
        return "table" if params.get("TableName") == env.get("TABLE_NAME") else f"dynamodb:{params.get('TableName')}"
    if service == "sqs":
        return "queue"
    return "*"


class CallRecorder:
    def __init__(self, path: Path, function: str) -> None:
        self._path = path
        self._function = function
        self._lock = threading.Lock()

    def on_parameters(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if context.get("is_presign_request") and model.name == "CreateBucket":
            return  # botocore builds a presigned POST on CreateBucket's model: recorded as PostObject instead
        service = model.service_model.signing_name
        self.record(service, model.name, resource_of(service, params, dict(os.environ)))

    def record(self, service: str, operation: str, resource: str) -> None:
        line = {"function": self._function, "service": service, "operation": operation, "resource": resource}
        # One short line per write on a file opened for appending: writers in several workers never interleave.
        with self._lock, self._path.open("a") as out:
            out.write(json.dumps(line) + "\n")


def install(path: Path, function: str) -> None:
    """Record every call of every botocore client this process creates from now on."""
    import botocore.session

    recorder = CallRecorder(path, function)
    create_client = botocore.session.Session.create_client

    def recording_create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("before-parameter-build", recorder.on_parameters)
        if client.meta.service_model.service_name == "s3":
            presigned_post = client.generate_presigned_post

            def recording_post(Bucket: str, Key: str, *rest: Any, **options: Any) -> Any:  # boto3's argument names
                recorder.record("s3", "PostObject", resource_of("s3", {"Bucket": Bucket, "Key": Key}, dict(os.environ)))
                return presigned_post(Bucket, Key, *rest, **options)

            client.generate_presigned_post = recording_post
        return client

    botocore.session.Session.create_client = recording_create_client


def read(path: Path) -> list[dict[str, str]]:
    """Every call recorded in the file, one entry per call."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

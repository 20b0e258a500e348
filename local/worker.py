"""A warm function worker: imports one handler once, then serves invocations from its parent.

Requests arrive as JSON lines on stdin; responses go out on a dedicated descriptor so that whatever the handler
prints (logs, metrics) stays on stdout, as on Lambda. Run by ``local.runtime``, never by hand.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

from local.services import exit_with_parent


@dataclass
class LocalContext:
    """The parts of Lambda's context object that handlers use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline_epoch_ms: int
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_epoch_ms - int(time.time() * 1000))


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exc().splitlines(),
    }


def main() -> int:
    handler_path, response_fd = sys.argv[1], int(sys.argv[2])
    exit_with_parent()
    if len(sys.argv) > 3:  # the runtime asks for the AWS calls to be recorded (local.calls)
        from pathlib import Path

        from local import calls

        calls.install(Path(sys.argv[3]), os.environ.get("AWS_LAMBDA_FUNCTION_NAME", handler_path))
    responses = os.fdopen(response_fd, "w", buffering=1)
    module_name, function_name = handler_path.rsplit(".", 1)
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # an init error is reported, then the worker exits like a failed Lambda init
        responses.write(json.dumps({"initError": _error(exc)}) + "\n")
        return 1
    responses.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", module_name)
    for line in sys.stdin:
        request = json.loads(line)
        context = LocalContext(
            function_name=name,
            memory_limit_in_mb=int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
            invoked_function_arn=f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'us-east-1')}:000000000000:function:{name}",
            aws_request_id=request["requestId"],
            deadline_epoch_ms=request["deadlineMs"],
        )
        try:
            response: dict[str, Any] = {"result": handler(request["event"], context)}
        except Exception as exc:
            response = {"error": _error(exc)}
        sys.stdout.flush()
        responses.write(json.dumps(response, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""X-Ray active tracing: every handler is traced by Powertools' Tracer, which sends segments on Lambda and stays
silent on the local stack (POWERTOOLS_TRACE_DISABLED)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from image_analyzer.definitions import FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: the Tracer decides at import whether it is enabled, and X-Ray's recorder is global.
SCRIPT = """
import json, sys
from aws_xray_sdk.core import xray_recorder

sent = []

class Emitter:
    ip, port = "127.0.0.1", 2000
    def send_entity(self, entity):
        sent.append(entity.to_dict())
    def set_daemon_address(self, address):
        pass

xray_recorder.configure(emitter=Emitter())
from handlers import get_results
from tests.harness.lambda_events import FakeContext, http_event

event = http_event("GET", "/get-results", query={"jobId": "not-a-job"})
response = get_results.lambda_handler(event, FakeContext(function_name="get_results"))
print(json.dumps({"status": response["statusCode"], "segments": [
    {"name": s.get("name"), "annotations": s.get("annotations")} for s in sent]}))
"""


def run_handler(**env: str) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "_X_AMZN"))} | {
        "AWS_LAMBDA_FUNCTION_NAME": "get_results",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "LAMBDA_TASK_ROOT": str(ROOT),
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "TABLE_NAME": "jobs",
        "UPLOAD_BUCKET": "bucket",
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_on_lambda_the_handler_sends_its_segment() -> None:
    result = run_handler()
    assert result["status"] == 400
    assert result["segments"] == [
        {"name": "## lambda_handler", "annotations": {"ColdStart": True, "Service": "image-analyzer"}}
    ]


def test_the_local_stack_turns_tracing_off() -> None:
    assert run_handler(POWERTOOLS_TRACE_DISABLED="true")["segments"] == []


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_handler_is_traced(name: str) -> None:
    tree = ast.parse((ROOT / "handlers" / f"{name}.py").read_text())
    handler = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "lambda_handler")
    decorators = [ast.unparse(d) for d in handler.decorator_list]
    # Traced, and without the response as trace metadata: it holds presigned URLs.
    assert decorators[0] == "tracer.capture_lambda_handler(capture_response=False)", decorators

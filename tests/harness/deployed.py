"""The Pulumi program under mocks that answer as AWS would: ARNs in each service's own format, so that what the
program writes into its policies can be read by an IAM linter and matched to the resources it names."""

from __future__ import annotations

import asyncio
import contextlib
import json
import runpy
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-east-1"
RESOLVE_TIMEOUT_S = 30

# Resource type → its ARN, from the physical name (AWS's own formats).
_ARNS = {
    "aws:s3/bucket:Bucket": "arn:aws:s3:::{name}",
    "aws:dynamodb/table:Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{{name}}",
    "aws:sqs/queue:Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{{name}}",
    "aws:cloudwatch/logGroup:LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{{name}}",
    "aws:kms/key:Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{{name}}",
    "aws:lambda/function:Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{{name}}",
    "aws:sns/topic:Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{{name}}",
    "aws:iam/role:Role": f"arn:aws:iam::{ACCOUNT}:role/{{name}}",
    "aws:cognito/userPool:UserPool": f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{{name}}",
}


class AwsLikeMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[tuple[str, str, dict[str, Any]]] = []
        self.arns: dict[tuple[str, str], str] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append((args.typ, args.name, dict(args.inputs)))
        physical = args.inputs.get("name") or args.inputs.get("bucket") or f"{args.name}-id"
        if not isinstance(physical, str):
            physical = f"{args.name}-id"
        arn = self.arn(args.typ, args.name, physical)
        self.arns[(args.typ, args.name)] = arn
        state = {**args.inputs, "arn": arn, "name": physical, "id": physical}
        if args.typ == "aws:lambda/function:Function":
            state["invoke_arn"] = f"arn:aws:apigateway:{REGION}:lambda:path/functions/{arn}/invocations"
        if args.typ == "aws:apigatewayv2/api:Api":
            state["execution_arn"] = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api123"
        if args.typ == "aws:apigatewayv2/stage:Stage":
            state["invoke_url"] = f"https://api123.execute-api.{REGION}.amazonaws.com/"
        if args.typ == "aws:sqs/queue:Queue":
            state["id"] = physical = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}"
        if args.typ == "aws:cognito/userPool:UserPool":
            state["endpoint"] = f"cognito-idp.{REGION}.amazonaws.com/{physical}"
        return physical, state

    def arn(self, typ: str, name: str, physical: str) -> str:
        service = typ.split(":")[1].split("/")[0]
        return _ARNS.get(typ, f"arn:aws:{service}:{REGION}:{ACCOUNT}:{{name}}").format(name=physical)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/test", "userId": "test"}, []
        return {}, []


@dataclass(frozen=True)
class Program:
    resources: list[tuple[str, str, dict[str, Any]]]  # (type, name, resolved inputs)
    arns: dict[tuple[str, str], str]  # (type, name) → the ARN the mocks gave it
    outputs: dict[str, Any]  # the stack's outputs, resolved
    aliases: dict[str, set[str]] = field(default_factory=dict)  # resource name → the former names it keeps

    def of_type(self, typ: str) -> dict[str, dict[str, Any]]:
        return {name: inputs for t, name, inputs in self.resources if t == typ}

    def policy_documents(self) -> dict[str, dict[str, Any]]:
        """Every IAM policy document the program writes, by "<resource name>.<input>"."""
        documents = {}
        for _, name, inputs in self.resources:
            for member in ("policy", "assumeRolePolicy"):
                if isinstance(inputs.get(member), str):
                    documents[f"{name}.{member}"] = json.loads(inputs[member])
        return documents


def run_program(config: dict[str, str], tmp_path: Path, mocks: Any = None) -> Program:
    """The whole program under ``mocks`` (AwsLikeMocks by default) with this stack config, every Output resolved
    (one that never resolves fails instead of passing silently)."""
    layer_zip = tmp_path / "layer.zip"
    with zipfile.ZipFile(layer_zip, "w") as archive:
        archive.writestr("python/placeholder.txt", "mock")
    mocks = mocks or AwsLikeMocks()
    pulumi.runtime.set_mocks(mocks, project="image-analyzer", stack="test", preview=False)
    aliases = _record_aliases()
    pulumi.runtime.set_all_config({"image-analyzer:layerZip": str(layer_zip), **config})
    module = runpy.run_path(str(ROOT / "__main__.py"), run_name="image_analyzer_stack")
    try:
        resolved = resolve(pulumi.Output.all(**module["build_stack"]()))
    except BaseException:
        # A program that stopped (a refused setting) leaves work queued: settle it, or the next run inherits it.
        with contextlib.suppress(BaseException):
            _sync_await(asyncio.wait_for(wait_for_rpcs(), RESOLVE_TIMEOUT_S))
        raise
    _sync_await(asyncio.wait_for(wait_for_rpcs(), RESOLVE_TIMEOUT_S))
    return Program(mocks.resources, getattr(mocks, "arns", {}), resolved, aliases)


def _record_aliases() -> dict[str, set[str]]:
    """The names each resource is aliased to, as the program registers them (the mocks are not told)."""
    monitor = pulumi.runtime.settings.SETTINGS.monitor
    register = monitor.RegisterResource
    aliases: dict[str, set[str]] = {}

    def recording(request: Any) -> Any:
        urns = [*request.aliasURNs, *(alias.urn for alias in request.aliases if alias.urn)]
        names = {alias.spec.name for alias in request.aliases if alias.HasField("spec") and alias.spec.name}
        names |= {urn.rsplit("::", 1)[-1] for urn in urns}
        aliases.setdefault(request.name, set()).update(names)
        return register(request)

    monitor.RegisterResource = recording
    return aliases


def resolve(output: pulumi.Output[Any], timeout_s: float = RESOLVE_TIMEOUT_S) -> Any:
    """The Output's value; an Output that never resolves fails here instead of passing silently."""
    try:
        return _sync_await(asyncio.wait_for(output.future(), timeout_s))
    except TimeoutError:
        raise AssertionError(f"an Output did not resolve within {timeout_s} s") from None

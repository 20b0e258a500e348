"""The Pulumi program run under mocks that name ARNs after each resource, and ways to find its resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.harness import deployed

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = deployed.ACCOUNT
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"


class RecordingMocks(deployed.AwsLikeMocks):
    """ARNs named after each resource's Pulumi name (``arn:aws:dynamodb:…:jobs``): what these tests assert."""

    def arn(self, typ: str, name: str, physical: str) -> str:
        if typ == "aws:s3/bucket:Bucket":
            return f"arn:aws:s3:::{physical}"
        return f"arn:aws:{typ.split(':')[1].split('/')[0]}:us-east-1:{ACCOUNT}:{name}"


def run_program(config: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    """The program under mocks with this stack config; every Output must resolve."""
    program = deployed.run_program(config, tmp_path, RecordingMocks())
    return {"outputs": program.outputs, "resources": program.resources, "aliases": program.aliases}


def of_type(program: dict[str, Any], typ: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, inputs) for t, name, inputs in program["resources"] if t == typ]


def one(program: dict[str, Any], typ: str) -> dict[str, Any]:
    found = of_type(program, typ)
    assert len(found) == 1, f"{typ}: {len(found)}"
    return found[0][1]


def of_component(program: dict[str, Any], typ: str, component: str) -> dict[str, dict[str, Any]]:
    """The resources of one type, by their name in ``component`` (``storage-uploads`` is ``uploads``); every one
    of them must be that component's child."""
    found = of_type(program, typ)
    assert all(name.startswith(f"{component}-") for name, _ in found), [name for name, _ in found]
    return {name.removeprefix(f"{component}-"): inputs for name, inputs in found}


def buckets(program: dict[str, Any], typ: str) -> dict[str, dict[str, Any]]:
    """The bucket-level resources of one type, by the name of the bucket they configure in the storage component."""
    return {
        inputs["bucket"].removesuffix("-id").removeprefix("storage-"): inputs for _, inputs in of_type(program, typ)
    }

"""The classifier stage as deployed: the spec and model wired to the processor, which may read those two objects."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.harness.pulumi_program import of_component, of_type, run_program
from tests.harness.user_models import brightness_model, write_classifier


def processor(program: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    functions = of_component(program, "aws:lambda/function:Function", "functions")
    policies = dict(of_type(program, "aws:iam/rolePolicy:RolePolicy"))
    statements = json.loads(policies["functions-process_image-policy"]["policy"])["Statement"]
    return functions["process_image"]["environment"]["variables"], statements


def reads(statements: list[dict[str, Any]]) -> list[str]:
    return sorted(r for st in statements if "s3:GetObject" in st["Action"] for r in st["Resource"])


def test_a_local_spec_is_uploaded_with_its_model_and_only_they_are_readable(tmp_path) -> None:
    spec = write_classifier(tmp_path / "model", brightness_model(), classes=["a", "b"], input={"width": 8, "height": 8})
    program = run_program({"image-analyzer:classifierSpec": str(spec)}, tmp_path)
    objects = {name: inputs for name, inputs in of_type(program, "aws:s3/bucketObjectv2:BucketObjectv2")}
    assert objects["functions-classifier-spec"]["key"] == "classifier/spec.json"
    assert objects["functions-classifier-model"]["key"] == "classifier/model.onnx"
    assert (
        objects["functions-classifier-spec"]["bucket"]
        == objects["functions-classifier-model"]["bucket"]
        == "storage-artifacts-id"
    )
    variables, statements = processor(program)
    assert variables["CLASSIFIER_SPEC"] == "s3://storage-artifacts-id/classifier/spec.json"
    assert reads(statements) == [
        "arn:aws:s3:::storage-artifacts-id/classifier/model.onnx",
        "arn:aws:s3:::storage-artifacts-id/classifier/spec.json",
        "arn:aws:s3:::storage-uploads-id/uploads/*",
    ], "exactly the two objects besides the uploads: not the layer, not the whole artifact bucket"
    others = of_component(program, "aws:lambda/function:Function", "functions")
    assert all(
        "CLASSIFIER_SPEC" not in f["environment"]["variables"] for n, f in others.items() if n != "process_image"
    )


def test_objects_already_in_s3_are_used_where_they_are(tmp_path) -> None:
    config = {
        "image-analyzer:classifierSpecS3": "s3://models-bucket/ett/spec.json",
        "image-analyzer:classifierModelS3": "s3://models-bucket/ett/ett.onnx",
    }
    program = run_program(config, tmp_path)
    assert not [name for name, _ in of_type(program, "aws:s3/bucketObjectv2:BucketObjectv2") if "classifier" in name]
    variables, statements = processor(program)
    assert variables["CLASSIFIER_SPEC"] == "s3://models-bucket/ett/spec.json"
    assert {"arn:aws:s3:::models-bucket/ett/spec.json", "arn:aws:s3:::models-bucket/ett/ett.onnx"} <= set(
        reads(statements)
    )
    assert not any(r.endswith("models-bucket/*") or r.endswith("ett/*") for r in reads(statements))


def test_without_a_classifier_the_stage_is_off(tmp_path) -> None:
    variables, statements = processor(run_program({}, tmp_path))
    assert variables["CLASSIFIER_SPEC"] == ""
    assert not any("artifacts" in r for r in reads(statements))


def test_a_spec_in_s3_needs_its_model_named(tmp_path) -> None:
    with pytest.raises(Exception, match="classifierModelS3"):
        run_program({"image-analyzer:classifierSpecS3": "s3://models-bucket/spec.json"}, tmp_path)

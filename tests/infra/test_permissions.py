"""Permissions proven by the calls the code makes, and every policy document checked by an IAM linter.

The end-to-end suite runs every function in local workers that record each AWS call they make (local.calls). Here,
after it (this module runs last), each function's role in the Pulumi program is checked against them both ways:
every action used is granted on the resource it was used on, and every action granted was used, or is one AWS uses
on the function's behalf (``USED_ON_THE_FUNCTIONS_BEHALF``, with its reason, beside the grants).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from parliament import analyze_policy_string

from image_analyzer.definitions import FUNCTIONS
from infra.functions import USED_ON_THE_FUNCTIONS_BEHALF
from local import calls
from tests.harness.deployed import Program, run_program
from tests.harness.session import E2E_IN_SESSION

Grants = dict[str, set[tuple[str, str]]]  # function → {(action, resource as the stack names it)}


def granted(program: Program) -> Grants:
    data_bucket = program.arns[("aws:s3/bucket:Bucket", "storage-uploads")]
    table = program.arns[("aws:dynamodb/table:Table", "storage-jobs")]

    def symbol(arn: str) -> str:
        if arn == "*":
            return "*"
        if arn.startswith(f"{data_bucket}/"):
            return "bucket:" + arn.removeprefix(f"{data_bucket}/").removesuffix("*")
        if arn == table:
            return "table"
        return arn.split(":")[2]  # sqs, logs, kms…: the service

    policies = program.of_type("aws:iam/rolePolicy:RolePolicy")
    grants: Grants = {}
    for function in FUNCTIONS:
        document = json.loads(policies[f"functions-{function}-policy"]["policy"])
        grants[function] = {
            (action, symbol(resource))
            for statement in document["Statement"]
            for action in statement["Action"]
            for resource in statement["Resource"]
        }
    return grants


def used(records: list[dict[str, str]]) -> Grants:
    actions: Grants = defaultdict(set)
    for record in records:
        actions[record["function"]].add((calls.iam_action(record["service"], record["operation"]), record["resource"]))
    return actions


@pytest.fixture(scope="module")
def recorded(request: pytest.FixtureRequest) -> list[dict[str, str]]:
    if not request.config.stash.get(E2E_IN_SESSION, False):
        reason = "the calls are recorded by the end-to-end suite: run it in the same session (e.g. `make test`)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    records = calls.read(Path(os.environ[calls.CALL_LOG_ENV]))
    assert records, "the end-to-end suite ran but no call was recorded"
    return records


def test_every_action_a_function_uses_is_granted_on_what_it_used_it_on(recorded, tmp_path) -> None:
    grants, uses = granted(run_program({}, tmp_path)), used(recorded)
    assert set(uses) == set(FUNCTIONS), f"functions that made no call in the e2e suite: {set(FUNCTIONS) - set(uses)}"
    missing = {function: sorted(uses[function] - grants[function]) for function in FUNCTIONS}
    assert not any(missing.values()), f"used but not granted (AccessDenied on AWS): {missing}"


def test_every_action_granted_is_used_or_used_on_the_functions_behalf(recorded, tmp_path) -> None:
    grants, uses = granted(run_program({}, tmp_path)), used(recorded)
    unused = {
        function: sorted(
            (action, resource)
            for action, resource in grants[function] - uses[function]
            if action not in USED_ON_THE_FUNCTIONS_BEHALF
        )
        for function in FUNCTIONS
    }
    assert not any(unused.values()), f"granted but never used by any test: {unused}"


def test_the_recording_and_the_check_can_fail(tmp_path) -> None:
    """A call the program does not grant is found (the check reads real policies, not a copy of them)."""
    grants = granted(run_program({}, tmp_path))
    invented = used(
        [{"function": "get_results", "service": "s3", "operation": "DeleteObject", "resource": "bucket:converted/"}]
    )
    assert invented["get_results"] - grants["get_results"] == {("s3:DeleteObject", "bucket:converted/")}


# Every optional part on, so that every kind of policy document the program can write is linted.
EVERYTHING = {
    "image-analyzer:customerManagedKey": "true",
    "image-analyzer:alarmEmail": "ops@example.org",
    "image-analyzer:classifierSpecS3": "s3://models-bucket/ett/spec.json",
    "image-analyzer:classifierModelS3": "s3://models-bucket/ett/ett.onnx",
}


def lint(document: dict[str, Any]) -> list[str]:
    return [f"{finding.issue} {finding.detail}" for finding in analyze_policy_string(json.dumps(document)).findings]


def test_every_policy_document_passes_the_iam_linter(tmp_path, report) -> None:
    """parliament knows AWS's action catalogue: actions exist, resources match each action's resource types,
    condition keys exist. Two kinds of document need its reading adjusted, not its verdict: a role's trust policy
    is the role's own resource policy (its resource is the role), and in a KMS key policy "*" means the key."""
    program = run_program(EVERYTHING, tmp_path)
    roles = program.of_type("aws:iam/role:Role")
    documents = program.policy_documents()
    findings = {}
    for name, document in documents.items():
        if name.endswith(".assumeRolePolicy"):
            role_arn = f"arn:aws:iam::123456789012:role/{roles[name.removesuffix('.assumeRolePolicy')].get('name')}"
            document = {**document, "Statement": [{**s, "Resource": role_arn} for s in document["Statement"]]}
        problems = lint(document)
        if name.endswith("-key.policy"):
            problems = [p for p in problems if not p.startswith("RESOURCE_STAR")]
        if problems:
            findings[name] = problems
    report(f"IAM linter (parliament): {len(documents)} policy documents, {len(findings)} with findings")
    assert len(documents) >= 15 and findings == {}


def test_the_linter_finds_what_it_should() -> None:
    wrong = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObjects"], "Resource": ["arn:aws:s3:::b/*"]},
            {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": ["arn:aws:s3:::b/*"]},
        ],
    }
    issues = {problem.split()[0] for problem in lint(wrong)}
    assert {"UNKNOWN_ACTION", "RESOURCE_MISMATCH"} <= issues, issues

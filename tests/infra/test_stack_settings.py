"""Every stack setting is validated before any resource is created: a value outside what is allowed, or a key the
program does not know, stops `pulumi up` with the key, the value and what is allowed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import KEYS, SettingError, StackConfig, from_values
from tests.harness import deployed

ROOT = Path(__file__).resolve().parents[2]
EXISTING_FILE = str(ROOT / "pyproject.toml")

# For every key: a value that is allowed (and not the default) with what it becomes, and one that is not.
CASES: dict[str, tuple[str, Any, str]] = {
    "architecture": ("x86_64", "x86_64", "amd64"),
    "allowedOrigins": ('["https://a.example.org", "http://localhost:8000"]',
                       ["https://a.example.org", "http://localhost:8000"], '["https://a.example.org/path"]'),
    "auth": ("none", "none", "basic"),
    "jwtIssuer": ("https://login.example.org/realm", "https://login.example.org/realm", "http://login.example.org"),
    "jwtAudience": ('["a", "b"]', ["a", "b"], "[]"),
    "dailyUploadQuota": ("0", 0, "-1"),
    "dailyRenderQuota": ("25", 25, "lots"),
    "maxCustomViews": ("3", 3, "1001"),
    "maxUploadBytes": ("1048576", 1048576, "0"),
    "urlExpirySeconds": ("3600", 3600, "604801"),
    "minConfidence": ("72.5", 72.5, "101"),
    "maxLabels": ("5", 5, "0"),
    "retentionDays": ("30", 30, "0"),
    "keepOriginals": ("true", True, "yes"),
    "redactText": ("all", "all", "sometimes"),
    "textDetection": ("function", "function", "tesseract"),
    "decodeTimeLimitSeconds": ("7.5", 7.5, "300"),
    "noncurrentVersionDays": ("1", 1, "3651"),
    "processorConcurrency": ("10", 10, "1"),
    "maxReceiveCount": ("5", 5, "1001"),
    "logRetentionDays": ("731", 731, "100"),
    "apiRateLimit": ("5.5", 5.5, "0"),
    "apiBurstLimit": ("10", 10, "-3"),
    "customerManagedKey": ("true", True, "1"),
    "deletionProtection": ("false", False, "no"),
    "forceDestroy": ("true", True, "TRUE!"),
    "alarmEmail": ("ops@example.org", "ops@example.org", "ops"),
    "layerZip": (EXISTING_FILE, EXISTING_FILE, "/nowhere/layer.zip"),
    "classifierSpec": (EXISTING_FILE, EXISTING_FILE, "/nowhere/spec.json"),
    "classifierSpecS3": ("s3://models-bucket/spec.json", "s3://models-bucket/spec.json", "https://bucket/spec.json"),
    "classifierModelS3": ("s3://models-bucket/m.onnx", "s3://models-bucket/m.onnx", "s3://x/m.onnx"),
}  # fmt: skip
# What a valid value needs beside it (settings that only make sense together).
COMPANIONS = {
    "jwtIssuer": {"jwtAudience": "api"},
    "jwtAudience": {"auth": "jwt", "jwtIssuer": "https://login.example.org"},
    "classifierSpecS3": {"classifierModelS3": "s3://models-bucket/m.onnx"},
}


def test_every_setting_has_its_cases() -> None:
    assert CASES.keys() == KEYS.keys(), "a new setting needs a valid and an invalid value here"


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_allowed_value_is_taken(name) -> None:
    raw, expected, _ = CASES[name]
    config = from_values({name: raw, **COMPANIONS.get(name, {})})
    assert getattr(config, KEYS[name].field) == expected
    assert expected != getattr(StackConfig(), KEYS[name].field), "the case must differ from the default"
    if KEYS[name].env:  # and it reaches the functions as they read it
        assert config.settings().values[KEYS[name].env] == KEYS[name].render(expected)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_value_outside_what_is_allowed_is_refused_with_the_key_the_value_and_what_is_allowed(name) -> None:
    _, _, bad = CASES[name]
    with pytest.raises(SettingError) as info:
        from_values({name: bad, **COMPANIONS.get(name, {})})
    message = str(info.value)
    assert f"image-analyzer:{name} must be " in message and repr(bad) in message, message


def test_unknown_keys_are_refused_with_a_suggestion_and_every_problem_is_named_at_once() -> None:
    with pytest.raises(SettingError) as info:
        from_values({"maxUploadByte": "10", "colour": "red", "maxLabels": "0"})
    message = str(info.value)
    assert "image-analyzer:maxUploadByte is not a setting of this program (did you mean maxUploadBytes?)" in message
    assert "image-analyzer:colour is not a setting of this program" in message
    assert "image-analyzer:maxLabels must be an integer from 1 to 1000, not '0'" in message


@pytest.mark.parametrize(
    "uri", ["s3://models-bucket/*", "s3://models-bucket/ett/*.onnx", "s3://models-bucket/ett/m?.onnx",
            "s3://models-bucket/${aws:username}/m.onnx"],
)  # fmt: skip
@pytest.mark.parametrize("name", ["classifierSpecS3", "classifierModelS3"])
def test_a_classifier_location_cannot_widen_the_processors_policy(name, uri) -> None:
    # The key becomes an object ARN in the processor's policy: a wildcard there grants every matching object.
    values = {"classifierSpecS3": "s3://models-bucket/spec.json", "classifierModelS3": "s3://models-bucket/m.onnx"}
    with pytest.raises(SettingError, match=rf"image-analyzer:{name} must be .*without \*"):
        from_values({**values, name: uri})


def test_settings_that_belong_together_are_checked_together() -> None:
    with pytest.raises(SettingError, match="auth jwt needs jwtIssuer"):
        from_values({"auth": "jwt"})
    with pytest.raises(SettingError, match="classifierModelS3 is required"):
        from_values({"classifierSpecS3": "s3://models-bucket/spec.json"})
    with pytest.raises(SettingError, match="set one"):
        from_values(
            {
                "classifierSpec": EXISTING_FILE,
                "classifierSpecS3": "s3://models-bucket/s.json",
                "classifierModelS3": "s3://models-bucket/m.onnx",
            }
        )
    assert from_values({"jwtIssuer": "https://login.example.org", "jwtAudience": "api"}).auth == "jwt"


def test_the_program_stops_on_a_typo_before_it_creates_anything(tmp_path) -> None:
    mocks = deployed.AwsLikeMocks()
    with pytest.raises(
        SettingError, match=re.escape("redactTxt is not a setting of this program (did you mean redactText?)")
    ):
        deployed.run_program({"image-analyzer:redactTxt": "none"}, tmp_path, mocks)
    assert mocks.resources == []


_EXAMPLE_KEY = re.compile(r"^\s*#?\s*image-analyzer:(\w+):")


def _as_text(value: Any) -> str:
    """A YAML value as `pulumi config` hands it to the program."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, list) else str(value)


def test_the_example_stack_file_lists_every_setting_and_shows_its_default() -> None:
    text = (ROOT / "Pulumi.example.yaml").read_text()
    listed = {m[1] for line in text.splitlines() if (m := _EXAMPLE_KEY.match(line))}
    assert listed == KEYS.keys(), f"missing: {sorted(KEYS.keys() - listed)}, unknown: {sorted(listed - KEYS.keys())}"
    shown = {
        k.removeprefix("image-analyzer:"): v
        for k, v in yaml.safe_load(text)["config"].items()
        if "image-analyzer:" in k
    }
    assert shown, "the example sets no value"
    for name, value in shown.items():
        assert KEYS[name].parse(_as_text(value)) == KEYS[name].default, f"{name}: the example shows {value!r}"


def test_the_readme_names_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Configuration") :]
    section = section[: section.index("\n## ")]
    assert [name for name in KEYS if f"`{name}`" not in section] == []

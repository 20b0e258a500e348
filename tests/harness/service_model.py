"""Test helper: a response checked against botocore's own service model (AWS's published shapes): member names,
types, enums and required members, recursively."""

from __future__ import annotations

from typing import Any

import botocore.session


def output_shape(service: str, operation: str) -> Any:
    return botocore.session.get_session().get_service_model(service).operation_model(operation).output_shape


def shape_errors(value: Any, shape: Any, path: str = "$") -> list[str]:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object for {shape.name}"]
        errors = [f"{path}.{m}: required by {shape.name}" for m in shape.required_members if m not in value]
        for name, item in value.items():
            if name == "ResponseMetadata":
                continue
            if name not in shape.members:
                errors.append(f"{path}.{name}: not a member of {shape.name}")
            else:
                errors += shape_errors(item, shape.members[name], f"{path}.{name}")
        return errors
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [e for i, item in enumerate(value) for e in shape_errors(item, shape.member, f"{path}[{i}]")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string"]
        enum = shape.enum
        return [f"{path}: {value!r} not in {enum}"] if enum and value not in enum else []
    if kind in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        low = shape.metadata.get("min")
        return [] if ok and (low is None or value >= low) else [f"{path}: expected an integer ≥ {low}"]
    if kind in ("float", "double"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean"]
    return []

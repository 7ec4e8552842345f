"""The JSON Schema of the result document and a small validator for it.

``result.schema.json`` (shipped in the package) describes what :mod:`jsonout` writes.
:func:`validate` implements the part of JSON Schema that document uses — ``type``,
``const``, ``enum``, ``required``, ``properties``, ``additionalProperties``, ``items``,
``oneOf``, ``minimum`` and local ``$ref`` — so checking needs no extra dependency;
any full JSON Schema validator accepts the same document.

Examples
--------
>>> validate({"a": 1}, {"type": "object", "required": ["a", "b"]})
['$: missing required property b']
>>> validate([1, "x"], {"type": "array", "items": {"type": "integer"}})
["$[1]: 'x' is not of type integer"]
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from absstruct.errors import AbsStructError

_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
_KNOWN = {
    "$schema",
    "$id",
    "$defs",
    "title",
    "description",
    "type",
    "const",
    "enum",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "oneOf",
    "minimum",
    "$ref",
}


@cache
def result_schema() -> dict[str, Any]:
    """The result document's JSON Schema (``result.schema.json``)."""
    text = resources.files("absstruct.report").joinpath("result.schema.json").read_text("utf-8")
    return json.loads(text)


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise AbsStructError(f"schema: only local references are supported, not {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _check(value: Any, schema: dict[str, Any], root: dict[str, Any], at: str, out: list[str]):
    unknown = set(schema) - _KNOWN
    if unknown:
        raise AbsStructError(f"schema at {at}: unsupported keywords {sorted(unknown)}")
    if "$ref" in schema:
        _check(value, _resolve(schema["$ref"], root), root, at, out)
    if "const" in schema and value != schema["const"]:
        out.append(f"{at}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{at}: {value!r} is not one of {schema['enum']}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            out.append(f"{at}: {value!r} is not of type {' or '.join(types)}")
            return
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        out.append(f"{at}: {value!r} is below {schema['minimum']}")
    if "oneOf" in schema:
        matches = 0
        for option in schema["oneOf"]:
            trial: list[str] = []
            _check(value, option, root, at, trial)
            matches += not trial
        if matches != 1:
            out.append(f"{at}: matches {matches} of the oneOf alternatives, not exactly one")
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                out.append(f"{at}: missing required property {name}")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            where = f"{at}.{name}"
            if name in properties:
                _check(item, properties[name], root, where, out)
            elif extra is False:
                out.append(f"{at}: property {name!r} is not allowed")
            elif isinstance(extra, dict):
                _check(item, extra, root, where, out)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], root, f"{at}[{index}]", out)


def validate(instance: Any, schema: dict[str, Any] | None = None) -> list[str]:
    """Every way ``instance`` breaks ``schema`` (the result schema by default); [] if none."""
    schema = result_schema() if schema is None else schema
    problems: list[str] = []
    _check(instance, schema, schema, "$", problems)
    return problems


def validate_result(document: Any) -> list[str]:
    """Schema problems plus table shape: every row has one value per column."""
    problems = validate(document)
    if problems or not isinstance(document, dict):
        return problems
    tables = dict(document["ledgers"])
    if document.get("grid") is not None:
        tables["grid"] = document["grid"]
    for name, table in tables.items():
        width = len(table["columns"])
        for index, row in enumerate(table["rows"]):
            if len(row) != width:
                problems.append(
                    f"$.ledgers.{name}.rows[{index}]: {len(row)} values for {width} columns"
                )
                break
    return problems

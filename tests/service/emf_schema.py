"""CloudWatch embedded metric format (EMF): a validator after the specification.

The schema follows the EMF specification (Embedded Metric Format, "Specification" page of the
CloudWatch user guide): a root object with ``_aws``; ``_aws.Timestamp`` in epoch milliseconds;
``_aws.CloudWatchMetrics`` an array of directives, each with ``Namespace``, ``Dimensions`` (an array of
dimension sets of at most 30 keys) and ``Metrics`` (at most 100 definitions, each a ``Name`` and an
optional ``Unit`` from CloudWatch's list and ``StorageResolution`` 1 or 60). What a schema cannot say
is checked beside it: every referenced dimension is a top-level string member and every referenced
metric a top-level number (or an array of at most 100 numbers).
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

UNITS = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
]

EMF_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024, "pattern": r"^[^:].*$"},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1, "maxLength": 1024},
                                        "Unit": {"type": "string", "enum": UNITS},
                                        "StorageResolution": {"type": "integer", "enum": [1, 60]},
                                    },
                                    "additionalProperties": False,
                                },
                            },
                        },
                        "additionalProperties": False,
                    },
                },
            },
        }
    },
}


def emf_problems(document: Any) -> list[str]:
    """Everything that makes ``document`` an invalid EMF document (empty: valid)."""
    validator = jsonschema.Draft202012Validator(EMF_SCHEMA)
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
    if problems:
        return problems
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension in {d for dimension_set in directive["Dimensions"] for d in dimension_set}:
            value = document.get(dimension)
            if not isinstance(value, str) or not value:
                problems.append(f"dimension {dimension} is not a top-level non-empty string: {value!r}")
        for metric in directive["Metrics"]:
            value = document.get(metric["Name"])
            numbers = value if isinstance(value, list) else [value]
            if not 1 <= len(numbers) <= 100 or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in numbers
            ):
                problems.append(f"metric {metric['Name']} is not a top-level number: {value!r}")
    return problems


def emf_lines(text: str) -> list[dict[str, Any]]:
    """The JSON lines of ``text`` that declare metrics."""
    documents = []
    for line in text.splitlines():
        if line.startswith("{"):
            document = json.loads(line)
            if isinstance(document, dict) and "_aws" in document:
                documents.append(document)
    return documents

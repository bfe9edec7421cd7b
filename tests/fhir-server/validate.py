#!/usr/bin/env python3
"""Validates FHIR R4 resources with an independent implementation.

Reads JSON lines (as written by server.mjs's record: {"method", "path",
"resource"}) or plain resources, one per line, from the files named on the
command line (or stdin), and checks each resource against PyPI
`fhir.resources` R4B models: structure, data types, cardinality, required
elements and FHIR invariants the models carry. `fhir.resources` describes
the codes of each required-binding element (`enum_values`) but leaves
checking them to the caller, so this script checks them too: an Appointment
with status "bogus" fails.

Prints one line per resource ("ok Appointment" or "FAIL Appointment: why")
and exits 1 if any failed, 2 on unusable input.
"""
import json
import sys

from pydantic import BaseModel
from fhir.resources.R4B import get_fhir_model_class


def enum_problems(model, where):
    """Codes outside their element's required value set, recursively."""
    problems = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name, None)
        if value is None:
            continue
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        allowed = extra.get("enum_values")
        values = value if isinstance(value, list) else [value]
        for index, item in enumerate(values):
            path = f"{where}.{field.alias or name}" + (f"[{index}]" if isinstance(value, list) else "")
            if allowed and isinstance(item, str) and item not in allowed:
                problems.append(f"{path} = {item!r} is not one of {allowed}")
            if isinstance(item, BaseModel):
                problems.extend(enum_problems(item, path))
    return problems


def validate(resource):
    """None when valid, else the reason."""
    if not isinstance(resource, dict) or "resourceType" not in resource:
        return "not a FHIR resource"
    try:
        model_class = get_fhir_model_class(resource["resourceType"])
    except Exception:  # noqa: BLE001 - unknown type names
        return f"unknown resourceType {resource['resourceType']!r}"
    try:
        model = model_class.model_validate(resource)
    except Exception as error:  # noqa: BLE001 - pydantic's ValidationError and FHIR errors
        return " ".join(str(error).split())[:800]
    problems = enum_problems(model, resource["resourceType"])
    return "; ".join(problems) if problems else None


def main():
    streams = [open(path, encoding="utf-8") for path in sys.argv[1:]] or [sys.stdin]
    count = failed = 0
    for stream in streams:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                print(f"line {number}: not JSON", file=sys.stderr)
                return 2
            resource = record.get("resource", record) if "resourceType" not in record else record
            count += 1
            problem = validate(resource)
            kind = resource.get("resourceType", "?") if isinstance(resource, dict) else "?"
            if problem:
                failed += 1
                print(f"FAIL {kind}: {problem}")
            else:
                print(f"ok {kind}")
    print(f"{count} resources, {failed} invalid")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
